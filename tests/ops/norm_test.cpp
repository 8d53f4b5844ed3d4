// RMSNorm and LayerNorm: forward against the formula, backward against finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "gradcheck.hpp"
#include "primus/ops/cpu/layernorm.hpp"
#include "primus/ops/cpu/rmsnorm.hpp"

namespace primus::testing {
namespace {

constexpr std::int64_t kRows = 5, kDim = 12;
constexpr float kEps = 1e-5f;
constexpr float kAccumulated = 0.25f;  // parameter grads start here: backward must add, not overwrite
constexpr float kGarbage = 1e3f;       // input grads start here: backward must overwrite

class RmsNormTest : public ::testing::TestWithParam<bool> {};

TEST_P(RmsNormTest, ForwardMatchesFormula) {
  const bool one_p = GetParam();
  auto in = random_vector(kRows * kDim, 1), weight = random_vector(kDim, 2);
  std::vector<float> out(in.size()), rstd(kRows);
  ops::cpu::rmsnorm_forward(out.data(), rstd.data(), in.data(), weight.data(), kRows, kDim, kEps, one_p);
  for (std::int64_t r = 0; r < kRows; ++r) {
    double ms = 0.0;
    for (std::int64_t i = 0; i < kDim; ++i) ms += double(in[r * kDim + i]) * in[r * kDim + i] / kDim;
    for (std::int64_t i = 0; i < kDim; ++i) {
      double expected = in[r * kDim + i] / std::sqrt(ms + kEps) * (weight[i] + (one_p ? 1.0 : 0.0));
      EXPECT_NEAR(out[r * kDim + i], expected, 1e-5);
    }
  }
}

TEST_P(RmsNormTest, BackwardMatchesFiniteDifferences) {
  const bool one_p = GetParam();
  auto in = random_vector(kRows * kDim, 3), weight = random_vector(kDim, 4), dout = random_vector(kRows * kDim, 5);
  std::vector<float> out(in.size()), rstd(kRows), din(in.size(), kGarbage), dweight(kDim, kAccumulated);
  auto objective = [&] {
    ops::cpu::rmsnorm_forward(out.data(), rstd.data(), in.data(), weight.data(), kRows, kDim, kEps, one_p);
    return weighted_sum(out, dout);
  };
  objective();
  ops::cpu::rmsnorm_backward(din.data(), dweight.data(), dout.data(), in.data(), weight.data(), rstd.data(), kRows,
                             kDim, one_p);
  for (float& g : dweight) g -= kAccumulated;
  GradcheckOptions options{.eps = 1e-3f};
  auto input_report = gradcheck(objective, in, din, options);
  EXPECT_TRUE(input_report.passed) << "d input: " << input_report.describe();
  auto weight_report = gradcheck(objective, weight, dweight, options);
  EXPECT_TRUE(weight_report.passed) << "d weight: " << weight_report.describe();
}

INSTANTIATE_TEST_SUITE_P(ApplyLayernorm1p, RmsNormTest, ::testing::Bool());

class LayerNormTest : public ::testing::TestWithParam<bool> {};

TEST_P(LayerNormTest, ForwardMatchesFormula) {
  const bool one_p = GetParam();
  auto in = random_vector(kRows * kDim, 6), weight = random_vector(kDim, 7), bias = random_vector(kDim, 8);
  std::vector<float> out(in.size()), mean(kRows), rstd(kRows);
  ops::cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), in.data(), weight.data(), bias.data(), kRows,
                              kDim, kEps, one_p);
  for (std::int64_t r = 0; r < kRows; ++r) {
    double m = 0.0, var = 0.0;
    for (std::int64_t i = 0; i < kDim; ++i) m += in[r * kDim + i] / double(kDim);
    for (std::int64_t i = 0; i < kDim; ++i) var += (in[r * kDim + i] - m) * (in[r * kDim + i] - m) / kDim;
    for (std::int64_t i = 0; i < kDim; ++i) {
      double expected = (in[r * kDim + i] - m) / std::sqrt(var + kEps) * (weight[i] + (one_p ? 1.0 : 0.0)) + bias[i];
      EXPECT_NEAR(out[r * kDim + i], expected, 1e-5);
    }
  }
}

TEST_P(LayerNormTest, BackwardMatchesFiniteDifferences) {
  const bool one_p = GetParam();
  auto in = random_vector(kRows * kDim, 9), weight = random_vector(kDim, 10), bias = random_vector(kDim, 11);
  auto dout = random_vector(kRows * kDim, 12);
  std::vector<float> out(in.size()), mean(kRows), rstd(kRows), din(in.size(), kGarbage);
  std::vector<float> dweight(kDim, kAccumulated), dbias(kDim, kAccumulated);
  auto objective = [&] {
    ops::cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), in.data(), weight.data(), bias.data(), kRows,
                                kDim, kEps, one_p);
    return weighted_sum(out, dout);
  };
  objective();
  ops::cpu::layernorm_backward(din.data(), dweight.data(), dbias.data(), dout.data(), in.data(), weight.data(),
                               mean.data(), rstd.data(), kRows, kDim, one_p);
  for (float& g : dweight) g -= kAccumulated;
  for (float& g : dbias) g -= kAccumulated;
  GradcheckOptions options{.eps = 1e-3f};
  auto input_report = gradcheck(objective, in, din, options);
  EXPECT_TRUE(input_report.passed) << "d input: " << input_report.describe();
  auto weight_report = gradcheck(objective, weight, dweight, options);
  EXPECT_TRUE(weight_report.passed) << "d weight: " << weight_report.describe();
  auto bias_report = gradcheck(objective, bias, dbias, options);
  EXPECT_TRUE(bias_report.passed) << "d bias: " << bias_report.describe();
}

INSTANTIATE_TEST_SUITE_P(ApplyLayernorm1p, LayerNormTest, ::testing::Bool());

}  // namespace
}  // namespace primus::testing
