// The loop learns and reports its schedule: the loss of the tiny model falls on
// mock data (learnable arange sequences), and each iteration line shows the
// learning rate the scheduler holds after that step (Megatron's convention),
// checked against the warmup + cosine formula written out here.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "trainer_test_support.hpp"

namespace primus::train::testing {
namespace {

// Megatron's linear warmup then cosine decay to min_lr, after `step` optimizer steps.
double warmup_cosine_lr(double lr, double min_lr, std::int64_t warmup, std::int64_t decay, std::int64_t step) {
  if (step <= warmup) return lr * static_cast<double>(step) / static_cast<double>(warmup);
  if (step > decay) return min_lr;
  const double ratio = static_cast<double>(step - warmup) / static_cast<double>(decay - warmup);
  return min_lr + 0.5 * (std::cos(std::numbers::pi * ratio) + 1.0) * (lr - min_lr);
}

TEST(TrainerLearning, LossFallsAndTheLineShowsTheLearningRateAfterTheStep) {
  ScratchDirectory scratch;
  constexpr std::int64_t kIterations = 60;
  const auto experiment =
      tiny_experiment(scratch.path(), {"train_iters=60", "lr=3.0e-3", "min_lr=3.0e-4", "lr_warmup_iters=5",
                                       "lr_decay_iters=60", "disable_last_saving=true"});
  const TrainSummary summary = train(experiment);
  ASSERT_EQ(summary.iterations.size(), static_cast<std::size_t>(kIterations));

  const float first = summary.iterations.front().lm_loss;
  double last_five = 0.0;
  for (std::size_t i = kIterations - 5; i < kIterations; ++i) last_five += summary.iterations[i].lm_loss;
  last_five /= 5.0;
  EXPECT_NEAR(first, std::log(512.0), 0.2);  // a fresh model guesses uniformly over the vocabulary
  EXPECT_LT(last_five, 0.7 * first) << "first " << first << ", mean of the last five " << last_five;

  const std::string log = read_text(experiment_root(experiment) / "logs" / "rank-0.log");
  for (const auto& record : summary.iterations) {
    SCOPED_TRACE("iteration " + std::to_string(record.iteration));
    const double expected = warmup_cosine_lr(3.0e-3, 3.0e-4, 5, kIterations, record.iteration);
    EXPECT_NEAR(record.learning_rate, expected, 1e-12 * expected);
    const std::string head = fmt::format(" iteration {:8d}/{:8d} |", record.iteration, kIterations);
    const auto at = log.find(head);
    ASSERT_NE(at, std::string::npos);
    const std::string line = log.substr(at, log.find('\n', at) - at);
    EXPECT_NE(line.find(fmt::format("| learning rate: {:.6E} |", record.learning_rate)), std::string::npos) << line;
  }
  // Spot values worked out by hand: the end of warmup is the peak, the last step is min_lr.
  EXPECT_DOUBLE_EQ(summary.iterations[4].learning_rate, 3.0e-3);
  EXPECT_DOUBLE_EQ(summary.iterations.back().learning_rate, 3.0e-4);
}

}  // namespace
}  // namespace primus::train::testing
