// Cross-entropy over the (padded) vocabulary: values and finite-difference backward.
#include <gtest/gtest.h>

#include <cmath>

#include "gradcheck.hpp"
#include "primus/ops/cpu/cross_entropy.hpp"

namespace primus::testing {
namespace {

TEST(CrossEntropy, UniformLogitsGiveLogVocab) {
  const std::int64_t rows = 3, vocab = 40;
  std::vector<float> logits(rows * vocab, 0.7f), losses(rows), lse(rows);
  std::vector<std::int32_t> labels = {0, 17, 39};
  ops::cpu::cross_entropy_forward(losses.data(), lse.data(), logits.data(), labels.data(), rows, vocab);
  for (float loss : losses) EXPECT_NEAR(loss, std::log(40.0), 1e-5);
}

TEST(CrossEntropy, MatchesLogSoftmax) {
  std::vector<float> logits = {1.0f, 2.0f, 3.0f}, losses(1), lse(1);
  std::vector<std::int32_t> labels = {0};
  ops::cpu::cross_entropy_forward(losses.data(), lse.data(), logits.data(), labels.data(), 1, 3);
  EXPECT_NEAR(losses[0], std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 1.0, 1e-6);
}

TEST(CrossEntropy, BackwardMatchesFiniteDifferences) {
  const std::int64_t rows = 4, vocab = 9;
  auto logits = random_vector(rows * vocab, 1, 3.0f), dlosses = random_vector(rows, 2);
  std::vector<std::int32_t> labels = {3, 0, 8, 3};
  std::vector<float> losses(rows), lse(rows);
  auto objective = [&] {
    ops::cpu::cross_entropy_forward(losses.data(), lse.data(), logits.data(), labels.data(), rows, vocab);
    return weighted_sum(losses, dlosses);
  };
  objective();
  std::vector<float> dlogits(logits.size(), 1e3f);
  ops::cpu::cross_entropy_backward(dlogits.data(), logits.data(), lse.data(), labels.data(), dlosses.data(), rows,
                                   vocab);
  auto report = gradcheck(objective, logits, dlogits, {.eps = 1e-3f});
  EXPECT_TRUE(report.passed) << report.describe();
  // In place (dlogits aliasing logits) gives the same result.
  objective();  // the checker left lse at a perturbed point
  std::vector<float> in_place = logits;
  ops::cpu::cross_entropy_backward(in_place.data(), in_place.data(), lse.data(), labels.data(), dlosses.data(), rows,
                                   vocab);
  for (std::size_t e = 0; e < in_place.size(); ++e) EXPECT_FLOAT_EQ(in_place[e], dlogits[e]);
}

TEST(CrossEntropy, RejectsLabelOutsideVocabulary) {
  std::vector<float> logits(6), losses(2), lse(2);
  std::vector<std::int32_t> labels = {0, 3};
  EXPECT_THROW(ops::cpu::cross_entropy_forward(losses.data(), lse.data(), logits.data(), labels.data(), 2, 3),
               std::out_of_range);
}

}  // namespace
}  // namespace primus::testing
