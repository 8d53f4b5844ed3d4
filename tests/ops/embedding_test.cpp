// Token and position embeddings: lookup, scatter-add backward, bad token ids; the
// fused-QKV split layout and its inverse.
#include <gtest/gtest.h>

#include "gradcheck.hpp"
#include "primus/ops/cpu/embedding.hpp"
#include "primus/ops/cpu/qkv_split.hpp"

namespace primus::testing {
namespace {

constexpr std::int64_t kVocab = 7, kHidden = 4;

TEST(Embedding, ForwardLooksUpRows) {
  auto weight = random_vector(kVocab * kHidden, 1);
  std::vector<std::int32_t> tokens = {3, 0, 6};
  std::vector<float> out(3 * kHidden);
  ops::cpu::embedding_forward(out.data(), tokens.data(), weight.data(), 3, kVocab, kHidden);
  for (std::int64_t r = 0; r < 3; ++r) {
    for (std::int64_t i = 0; i < kHidden; ++i) EXPECT_EQ(out[r * kHidden + i], weight[tokens[r] * kHidden + i]);
  }
}

TEST(Embedding, BackwardMatchesFiniteDifferencesWithRepeatedTokens) {
  auto weight = random_vector(kVocab * kHidden, 2);
  std::vector<std::int32_t> tokens = {3, 0, 3, 5, 3};
  auto dout = random_vector(tokens.size() * kHidden, 3);
  std::vector<float> out(dout.size()), dweight(weight.size(), 0.25f);
  auto objective = [&] {
    ops::cpu::embedding_forward(out.data(), tokens.data(), weight.data(), 5, kVocab, kHidden);
    return weighted_sum(out, dout);
  };
  ops::cpu::embedding_backward(dweight.data(), dout.data(), tokens.data(), 5, kVocab, kHidden);
  for (float& g : dweight) g -= 0.25f;
  auto report = gradcheck(objective, weight, dweight);
  EXPECT_TRUE(report.passed) << report.describe();
}

TEST(Embedding, RejectsTokenOutsideVocabulary) {
  auto weight = random_vector(kVocab * kHidden, 4);
  std::vector<std::int32_t> tokens = {1, kVocab};
  std::vector<float> out(2 * kHidden);
  EXPECT_THROW(ops::cpu::embedding_forward(out.data(), tokens.data(), weight.data(), 2, kVocab, kHidden),
               std::out_of_range);
}

TEST(PositionEmbedding, BackwardMatchesFiniteDifferences) {
  const std::int64_t batch = 2, seq = 3, max_positions = 5;
  auto weight = random_vector(max_positions * kHidden, 5), base = random_vector(batch * seq * kHidden, 6);
  auto dout = random_vector(base.size(), 7);
  std::vector<float> out, dweight(weight.size(), 0.0f);
  auto objective = [&] {
    out = base;
    ops::cpu::position_embedding_forward(out.data(), weight.data(), batch, seq, kHidden);
    return weighted_sum(out, dout);
  };
  ops::cpu::position_embedding_backward(dweight.data(), dout.data(), batch, seq, kHidden);
  auto report = gradcheck(objective, weight, dweight);
  EXPECT_TRUE(report.passed) << report.describe();
  for (std::int64_t e = seq * kHidden; e < max_positions * kHidden; ++e) EXPECT_EQ(dweight[e], 0.0f);
}

TEST(QkvSplit, FollowsMegatronPerGroupLayout) {
  // 4 heads in 2 groups, head_dim 1: a row is [q0 q1 k0 v0 | q2 q3 k1 v1].
  const std::int64_t heads = 4, groups = 2, head_dim = 1;
  std::vector<float> qkv = {0, 1, 2, 3, 4, 5, 6, 7}, q(4), k(2), v(2);
  ops::cpu::qkv_split_forward(q.data(), k.data(), v.data(), qkv.data(), 1, heads, groups, head_dim);
  EXPECT_EQ(q, (std::vector<float>{0, 1, 4, 5}));
  EXPECT_EQ(k, (std::vector<float>{2, 6}));
  EXPECT_EQ(v, (std::vector<float>{3, 7}));
  std::vector<float> back(8, -1.0f);
  ops::cpu::qkv_split_backward(back.data(), q.data(), k.data(), v.data(), 1, heads, groups, head_dim);
  EXPECT_EQ(back, qkv);
}

}  // namespace
}  // namespace primus::testing
