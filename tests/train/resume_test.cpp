// Exact resume: a run stopped at iteration 10 and continued from its checkpoint
// reproduces the uninterrupted run bit for bit (losses, learning rates, final
// parameters and optimizer state); `load` continues another experiment's run.
#include <gtest/gtest.h>

#include "trainer_test_support.hpp"

namespace primus::train::testing {
namespace {

// Stops the run after `iteration` (as a signal would: the trainer saves, then returns).
TrainerHooks stop_after(std::int64_t iteration) {
  TrainerHooks hooks;
  hooks.after_iteration = [iteration](const IterationRecord& record) { return record.iteration < iteration; };
  return hooks;
}

TEST(TrainerResume, StoppedAndContinuedRunIsBitwiseTheUninterruptedRun) {
  ScratchDirectory scratch;
  // Evaluation every 5 iterations: its data position (consumed validation samples) must resume too.
  const std::vector<std::string> run = {"train_iters=20", "eval_interval=5", "eval_iters=1"};
  const auto straight = tiny_experiment(scratch.path() / "straight", run);
  const TrainSummary full = train(straight);
  ASSERT_EQ(full.iterations.size(), 20u);
  EXPECT_FALSE(full.interrupted);

  const auto first_half = tiny_experiment(scratch.path() / "resumed", run);
  const TrainSummary stopped = train(first_half, stop_after(10));
  EXPECT_TRUE(stopped.interrupted);
  ASSERT_EQ(stopped.final_iteration, 10);
  const auto checkpoints = experiment_paths(first_half.config).checkpoints;
  ASSERT_EQ(checkpoint::latest_checkpoint_iteration(checkpoints), 10);

  auto continue_run = run;
  continue_run.push_back("auto_continue_train=true");
  const auto second_half = tiny_experiment(scratch.path() / "resumed", continue_run);
  const TrainSummary continued = train(second_half);
  ASSERT_EQ(continued.resumed_from, 10);
  EXPECT_EQ(continued.start_iteration, 10);
  EXPECT_EQ(continued.final_iteration, 20);
  ASSERT_EQ(continued.iterations.size(), 10u);
  EXPECT_EQ(continued.iterations.front().iteration, 11);

  std::vector<IterationRecord> joined = stopped.iterations;
  joined.insert(joined.end(), continued.iterations.begin(), continued.iterations.end());
  for (std::size_t i = 0; i < 20; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i + 1));
    EXPECT_EQ(joined[i].iteration, full.iterations[i].iteration);
    EXPECT_EQ(bits_of(joined[i].lm_loss), bits_of(full.iterations[i].lm_loss))
        << joined[i].lm_loss << " vs " << full.iterations[i].lm_loss;
    EXPECT_EQ(joined[i].learning_rate, full.iterations[i].learning_rate);
    EXPECT_EQ(joined[i].grad_norm, full.iterations[i].grad_norm);
  }
  auto validation = stopped.validation_losses;
  validation.insert(validation.end(), continued.validation_losses.begin(), continued.validation_losses.end());
  ASSERT_EQ(full.validation_losses.size(), 4u);
  EXPECT_EQ(validation, full.validation_losses);
  // The end-of-training evaluation: none for the interrupted run; the resumed run's equals the
  // straight run's bit for bit (the validation position is restored from the checkpoint).
  EXPECT_FALSE(stopped.final_validation_loss.has_value());
  ASSERT_TRUE(full.final_validation_loss.has_value());
  ASSERT_TRUE(continued.final_validation_loss.has_value());
  EXPECT_EQ(*continued.final_validation_loss, *full.final_validation_loss);
  // Training changed the parameters, so equal final checkpoints are not a trivial match.
  EXPECT_NE(tensor_bytes(iteration_directory(checkpoints, 10) / "model.safetensors"),
            tensor_bytes(iteration_directory(checkpoints, 20) / "model.safetensors"));
  const auto straight_final = iteration_directory(experiment_paths(straight.config).checkpoints, 20);
  const auto resumed_final = iteration_directory(checkpoints, 20);
  EXPECT_EQ(tensor_bytes(straight_final / "model.safetensors"), tensor_bytes(resumed_final / "model.safetensors"));
  EXPECT_EQ(tensor_bytes(straight_final / "optimizer.safetensors"),
            tensor_bytes(resumed_final / "optimizer.safetensors"));
}

TEST(TrainerResume, LoadContinuesAnotherExperimentAndSavesIntoItsOwn) {
  ScratchDirectory scratch;
  const auto source = tiny_experiment(scratch.path(), {"exp_name=source", "train_iters=10"});
  train(source);
  const auto source_checkpoints = experiment_paths(source.config).checkpoints;
  ASSERT_EQ(checkpoint::latest_checkpoint_iteration(source_checkpoints), 10);

  const auto target =
      tiny_experiment(scratch.path(), {"exp_name=target", "train_iters=20", "load=" + source_checkpoints.string()});
  const TrainSummary summary = train(target);
  EXPECT_EQ(summary.resumed_from, 10);
  EXPECT_EQ(summary.start_iteration, 10);
  ASSERT_FALSE(summary.iterations.empty());
  EXPECT_EQ(summary.iterations.front().iteration, 11);
  EXPECT_EQ(summary.final_iteration, 20);
  const auto target_checkpoints = experiment_paths(target.config).checkpoints;
  EXPECT_NE(target_checkpoints, source_checkpoints);
  EXPECT_EQ(checkpoint::latest_checkpoint_iteration(target_checkpoints), 20);
  // The source experiment is read, never written.
  EXPECT_EQ(checkpoint::latest_checkpoint_iteration(source_checkpoints), 10);
  EXPECT_FALSE(std::filesystem::exists(iteration_directory(source_checkpoints, 20)));

  // Continuing from the source's checkpoint is the source run carried on: same as 20 straight iterations.
  const auto straight = tiny_experiment(scratch.path(), {"exp_name=straight", "train_iters=20"});
  const TrainSummary full = train(straight);
  ASSERT_EQ(full.iterations.size(), 20u);
  ASSERT_EQ(summary.iterations.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(bits_of(summary.iterations[i].lm_loss), bits_of(full.iterations[i + 10].lm_loss))
        << "iteration " << i + 11;
  }
}

}  // namespace
}  // namespace primus::train::testing
