// RoPE: which channels pair up (Megatron's rotate_half vs interleaved), the pass-through
// of channels beyond rotary_dim, and the backward against finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "gradcheck.hpp"
#include "primus/ops/cpu/rope.hpp"

namespace primus::testing {
namespace {

constexpr std::int64_t kBatch = 2, kSeq = 3, kHeads = 2, kHeadDim = 8;

// Angles position * (0.3 + 0.2 i) for position s and frequency i.
void tables(std::int64_t rotary_dim, std::vector<float>& cos, std::vector<float>& sin) {
  cos.clear();
  sin.clear();
  for (std::int64_t s = 0; s < kSeq; ++s) {
    for (std::int64_t i = 0; i < rotary_dim / 2; ++i) {
      cos.push_back(std::cos(s * (0.3f + 0.2f * i)));
      sin.push_back(std::sin(s * (0.3f + 0.2f * i)));
    }
  }
}

TEST(Rope, NonInterleavedPairsChannelWithChannelPlusHalf) {
  std::vector<float> cos, sin;
  tables(kHeadDim, cos, sin);
  std::vector<float> x(kBatch * kSeq * kHeads * kHeadDim, 0.0f);
  const std::int64_t s = 2, h = 1, i = 1;  // one unit vector at channel i of (b=0, s, h)
  float* head = x.data() + (s * kHeads + h) * kHeadDim;
  head[i] = 1.0f;
  ops::cpu::rope_forward(x.data(), cos.data(), sin.data(), kBatch, kSeq, kHeads, kHeadDim, kHeadDim, false);
  // rotate_half: out = x cos + cat(-x2, x1) sin, so e_i -> cos e_i + sin e_{i+half}.
  EXPECT_NEAR(head[i], std::cos(s * (0.3f + 0.2f * i)), 1e-6);
  EXPECT_NEAR(head[i + kHeadDim / 2], std::sin(s * (0.3f + 0.2f * i)), 1e-6);
  for (std::int64_t c = 0; c < kHeadDim; ++c) {
    if (c != i && c != i + kHeadDim / 2) {
      EXPECT_EQ(head[c], 0.0f) << "channel " << c;
    }
  }
}

TEST(Rope, InterleavedPairsEvenWithOdd) {
  std::vector<float> cos, sin;
  tables(kHeadDim, cos, sin);
  std::vector<float> x(kBatch * kSeq * kHeads * kHeadDim, 0.0f);
  const std::int64_t s = 1, i = 2;
  float* head = x.data() + (kSeq + s) * kHeads * kHeadDim;  // batch 1, head 0
  head[2 * i + 1] = 1.0f;
  ops::cpu::rope_forward(x.data(), cos.data(), sin.data(), kBatch, kSeq, kHeads, kHeadDim, kHeadDim, true);
  // e_{2i+1} -> cos e_{2i+1} - sin e_{2i}
  EXPECT_NEAR(head[2 * i + 1], std::cos(s * (0.3f + 0.2f * i)), 1e-6);
  EXPECT_NEAR(head[2 * i], -std::sin(s * (0.3f + 0.2f * i)), 1e-6);
}

TEST(Rope, PartialRotaryLeavesTheRestUnchanged) {
  const std::int64_t rotary_dim = 4;
  std::vector<float> cos, sin;
  tables(rotary_dim, cos, sin);
  auto x = random_vector(kBatch * kSeq * kHeads * kHeadDim, 1);
  auto original = x;
  ops::cpu::rope_forward(x.data(), cos.data(), sin.data(), kBatch, kSeq, kHeads, kHeadDim, rotary_dim, false);
  for (std::size_t e = 0; e < x.size(); ++e) {
    if (e % kHeadDim >= rotary_dim) {
      EXPECT_EQ(x[e], original[e]) << "element " << e;
    }
  }
  EXPECT_NE(x[kHeads * kHeadDim], original[kHeads * kHeadDim]);  // position 1, channel 0 rotates
}

struct RopeCase {
  std::int64_t rotary_dim;
  bool interleaved;
};
class RopeGradient : public ::testing::TestWithParam<RopeCase> {};

TEST_P(RopeGradient, BackwardMatchesFiniteDifferences) {
  const RopeCase c = GetParam();
  std::vector<float> cos, sin;
  tables(c.rotary_dim, cos, sin);
  auto x = random_vector(kBatch * kSeq * kHeads * kHeadDim, 2);
  auto dout = random_vector(x.size(), 3);
  std::vector<float> work(x.size());
  auto objective = [&] {
    work = x;
    ops::cpu::rope_forward(work.data(), cos.data(), sin.data(), kBatch, kSeq, kHeads, kHeadDim, c.rotary_dim,
                           c.interleaved);
    return weighted_sum(work, dout);
  };
  std::vector<float> dx = dout;
  ops::cpu::rope_backward(dx.data(), cos.data(), sin.data(), kBatch, kSeq, kHeads, kHeadDim, c.rotary_dim,
                          c.interleaved);
  auto report = gradcheck(objective, x, dx);
  EXPECT_TRUE(report.passed) << report.describe();
}

INSTANTIATE_TEST_SUITE_P(Variants, RopeGradient,
                         ::testing::Values(RopeCase{kHeadDim, false}, RopeCase{kHeadDim, true},
                                           RopeCase{4, false}, RopeCase{4, true}));

}  // namespace
}  // namespace primus::testing
