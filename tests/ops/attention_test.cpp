// Causal GQA attention: forward against a naive double-precision reference,
// backward (dq, dk, dv) against finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "gradcheck.hpp"
#include "primus/ops/cpu/attention.hpp"

namespace primus::testing {
namespace {

constexpr std::int64_t kBatch = 2, kHeads = 4, kHeadDim = 3;
const float kScale = 1.0f / std::sqrt(float(kHeadDim));

struct Shape {
  std::int64_t groups;
  std::int64_t seq;  // 150: several 64-query blocks, the last one partial
};
void PrintTo(const Shape& shape, std::ostream* os) { *os << shape.groups << " groups, seq " << shape.seq; }

std::vector<double> naive_attention(const std::vector<float>& q, const std::vector<float>& k,
                                    const std::vector<float>& v, std::int64_t groups, std::int64_t kSeq) {
  std::vector<double> out(q.size(), 0.0);
  const std::int64_t per_group = kHeads / groups;
  for (std::int64_t b = 0; b < kBatch; ++b) {
    for (std::int64_t h = 0; h < kHeads; ++h) {
      const std::int64_t g = h / per_group;
      for (std::int64_t i = 0; i < kSeq; ++i) {
        std::vector<double> weights(static_cast<std::size_t>(i + 1));
        double total = 0.0;
        for (std::int64_t j = 0; j <= i; ++j) {
          double dot = 0.0;
          for (std::int64_t d = 0; d < kHeadDim; ++d) {
            dot += double(q[((b * kSeq + i) * kHeads + h) * kHeadDim + d]) * k[((b * kSeq + j) * groups + g) * kHeadDim + d];
          }
          weights[j] = std::exp(dot * kScale);
          total += weights[j];
        }
        for (std::int64_t j = 0; j <= i; ++j) {
          for (std::int64_t d = 0; d < kHeadDim; ++d) {
            out[((b * kSeq + i) * kHeads + h) * kHeadDim + d] +=
                weights[j] / total * v[((b * kSeq + j) * groups + g) * kHeadDim + d];
          }
        }
      }
    }
  }
  return out;
}

class AttentionTest : public ::testing::TestWithParam<Shape> {};

TEST_P(AttentionTest, ForwardMatchesNaiveReference) {
  const std::int64_t groups = GetParam().groups, kSeq = GetParam().seq;
  auto q = random_vector(kBatch * kSeq * kHeads * kHeadDim, 1, 2.0f);
  auto k = random_vector(kBatch * kSeq * groups * kHeadDim, 2, 2.0f);
  auto v = random_vector(k.size(), 3);
  std::vector<float> out(q.size()), lse(kBatch * kHeads * kSeq);
  ops::cpu::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), kBatch, kSeq, kHeads, groups,
                              kHeadDim, kScale);
  std::vector<double> expected = naive_attention(q, k, v, groups, kSeq);
  for (std::size_t e = 0; e < out.size(); ++e) EXPECT_NEAR(out[e], expected[e], 1e-5) << "element " << e;
}

TEST_P(AttentionTest, BackwardMatchesFiniteDifferences) {
  const std::int64_t groups = GetParam().groups, kSeq = GetParam().seq;
  auto q = random_vector(kBatch * kSeq * kHeads * kHeadDim, 4, 2.0f);
  auto k = random_vector(kBatch * kSeq * groups * kHeadDim, 5, 2.0f);
  auto v = random_vector(k.size(), 6);
  auto dout = random_vector(q.size(), 7);
  std::vector<float> out(q.size()), lse(kBatch * kHeads * kSeq);
  auto objective = [&] {
    ops::cpu::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), kBatch, kSeq, kHeads, groups,
                                kHeadDim, kScale);
    return weighted_sum(out, dout);
  };
  objective();
  std::vector<float> dq(q.size(), 1e3f), dk(k.size(), 1e3f), dv(v.size(), 1e3f);  // must be overwritten
  ops::cpu::attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(), v.data(),
                               out.data(), lse.data(), kBatch, kSeq, kHeads, groups, kHeadDim, kScale);
  // Long sequences: a sample of elements, always including the first and last position.
  auto options_for = [&](std::size_t count) {
    GradcheckOptions options{.eps = 1e-3f};
    if (count <= 400) return options;
    std::mt19937_64 engine(8);
    options.indices = {0, count - 1};
    for (int n = 0; n < 150; ++n) options.indices.push_back(engine() % count);
    return options;
  };
  auto q_report = gradcheck(objective, q, dq, options_for(q.size()));
  EXPECT_TRUE(q_report.passed) << "dq: " << q_report.describe();
  auto k_report = gradcheck(objective, k, dk, options_for(k.size()));
  EXPECT_TRUE(k_report.passed) << "dk: " << k_report.describe();
  auto v_report = gradcheck(objective, v, dv, options_for(v.size()));
  EXPECT_TRUE(v_report.passed) << "dv: " << v_report.describe();
}

// 4 groups: plain multi-head; 2: GQA; 1: multi-query.
INSTANTIATE_TEST_SUITE_P(Shapes, AttentionTest,
                         ::testing::Values(Shape{4, 5}, Shape{2, 5}, Shape{1, 5}, Shape{2, 150}, Shape{1, 64},
                                           Shape{4, 129}));

TEST(Attention, RejectsHeadsNotDivisibleByGroups) {
  std::vector<float> buffer(1000);
  EXPECT_THROW(ops::cpu::attention_forward(buffer.data(), buffer.data(), buffer.data(), buffer.data(), buffer.data(),
                                           1, 2, 4, 3, 2, 1.0f),
               std::invalid_argument);
}

}  // namespace
}  // namespace primus::testing
