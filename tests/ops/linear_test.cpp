// Linear: forward against a naive product, backward against finite differences;
// and the checker itself must reject a wrong gradient (negative test).
#include <gtest/gtest.h>

#include "gradcheck.hpp"
#include "primus/ops/cpu/linear.hpp"

namespace primus::testing {
namespace {

constexpr std::int64_t kRows = 6, kIn = 7, kOut = 5;

TEST(Linear, ForwardMatchesNaiveProduct) {
  auto in = random_vector(kRows * kIn, 1), weight = random_vector(kOut * kIn, 2), bias = random_vector(kOut, 3);
  std::vector<float> out(kRows * kOut);
  ops::cpu::linear_forward(out.data(), in.data(), weight.data(), bias.data(), kRows, kIn, kOut);
  for (std::int64_t r = 0; r < kRows; ++r) {
    for (std::int64_t o = 0; o < kOut; ++o) {
      double expected = bias[o];
      for (std::int64_t i = 0; i < kIn; ++i) expected += double(in[r * kIn + i]) * weight[o * kIn + i];
      EXPECT_NEAR(out[r * kOut + o], expected, 1e-5);
    }
  }
}

struct LinearGradients {
  std::vector<float> in, weight, bias, dout, din, dweight, dbias;
  std::function<double()> objective;
};

LinearGradients linear_gradients(bool with_bias) {
  LinearGradients g;
  g.in = random_vector(kRows * kIn, 4);
  g.weight = random_vector(kOut * kIn, 5);
  g.bias = random_vector(kOut, 6);
  g.dout = random_vector(kRows * kOut, 7);
  g.din.assign(g.in.size(), 1e3f);        // must be overwritten
  g.dweight.assign(g.weight.size(), 0.5f);  // must be accumulated into
  g.dbias.assign(g.bias.size(), 0.5f);
  ops::cpu::linear_backward(g.din.data(), g.dweight.data(), with_bias ? g.dbias.data() : nullptr, g.dout.data(),
                            g.in.data(), g.weight.data(), kRows, kIn, kOut);
  for (float& v : g.dweight) v -= 0.5f;
  for (float& v : g.dbias) v -= 0.5f;
  return g;
}

class LinearTest : public ::testing::TestWithParam<bool> {};

TEST_P(LinearTest, BackwardMatchesFiniteDifferences) {
  const bool with_bias = GetParam();
  LinearGradients g = linear_gradients(with_bias);
  std::vector<float> out(kRows * kOut);
  auto objective = [&] {
    ops::cpu::linear_forward(out.data(), g.in.data(), g.weight.data(), with_bias ? g.bias.data() : nullptr, kRows,
                             kIn, kOut);
    return weighted_sum(out, g.dout);
  };
  auto in_report = gradcheck(objective, g.in, g.din);
  EXPECT_TRUE(in_report.passed) << "d input: " << in_report.describe();
  auto weight_report = gradcheck(objective, g.weight, g.dweight);
  EXPECT_TRUE(weight_report.passed) << "d weight: " << weight_report.describe();
  if (with_bias) {
    auto bias_report = gradcheck(objective, g.bias, g.dbias);
    EXPECT_TRUE(bias_report.passed) << "d bias: " << bias_report.describe();
  } else {
    for (float v : g.dbias) EXPECT_EQ(v, 0.0f) << "no bias: dbias must be untouched";
  }
}

INSTANTIATE_TEST_SUITE_P(WithBias, LinearTest, ::testing::Bool());

TEST(Gradcheck, RejectsAPerturbedGradient) {
  LinearGradients g = linear_gradients(true);
  std::vector<float> out(kRows * kOut);
  auto objective = [&] {
    ops::cpu::linear_forward(out.data(), g.in.data(), g.weight.data(), g.bias.data(), kRows, kIn, kOut);
    return weighted_sum(out, g.dout);
  };
  ASSERT_TRUE(gradcheck(objective, g.weight, g.dweight).passed);
  // A 5% error in one element of the weight gradient must be caught.
  float scale = 0.0f;
  for (float v : g.dweight) scale = std::max(scale, std::abs(v));
  g.dweight[3] += 0.05f * scale;
  GradcheckReport report = gradcheck(objective, g.weight, g.dweight);
  EXPECT_FALSE(report.passed) << report.describe();
  EXPECT_EQ(report.worst_index, 3u);
  // A sign error of the whole gradient too.
  for (float& v : g.din) v = -v;
  EXPECT_FALSE(gradcheck(objective, g.in, g.din).passed);
}

}  // namespace
}  // namespace primus::testing
