// The checkpoint keys as the trainer honours them: no_save_optim / no_load_optim,
// finetune, disable_last_saving, save_interval and override_opt_param_scheduler.
#include <gtest/gtest.h>

#include "trainer_test_support.hpp"

namespace primus::train::testing {
namespace {

TEST(TrainerCheckpointFlags, NoSaveOptimThenResumeNeedsNoLoadOptim) {
  ScratchDirectory scratch;
  const auto first = tiny_experiment(scratch.path(), {"train_iters=10", "no_save_optim=true"});
  train(first);
  const auto checkpoints = experiment_paths(first.config).checkpoints;
  const auto saved = iteration_directory(checkpoints, 10);
  ASSERT_TRUE(std::filesystem::exists(saved / "model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(saved / "optimizer.safetensors"));

  const auto resume = tiny_experiment(scratch.path(), {"train_iters=15", "auto_continue_train=true"});
  try {
    train(resume);
    FAIL() << "resuming a checkpoint without optimizer state must fail unless no_load_optim is set";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(saved.string()), std::string::npos) << message;
    EXPECT_NE(message.find("without optimizer state"), std::string::npos) << message;
    EXPECT_NE(message.find("no_load_optim: true"), std::string::npos) << message;
  }
  // The failed attempt wrote nothing.
  EXPECT_EQ(checkpoint::latest_checkpoint_iteration(checkpoints), 10);

  const auto without_optimizer =
      tiny_experiment(scratch.path(), {"train_iters=15", "auto_continue_train=true", "no_load_optim=true"});
  const TrainSummary summary = train(without_optimizer);
  EXPECT_EQ(summary.resumed_from, 10);
  ASSERT_EQ(summary.iterations.size(), 5u);
  EXPECT_EQ(summary.iterations.front().iteration, 11);
  // A fresh optimizer restarts the learning-rate schedule (Megatron loads neither without the optimizer):
  // the first step is warmup step 1 of 5.
  EXPECT_DOUBLE_EQ(summary.iterations.front().learning_rate, without_optimizer.config.optimizer.lr / 5.0);
}

TEST(TrainerCheckpointFlags, FinetuneLoadsWeightsAndRestartsAtIterationZero) {
  ScratchDirectory scratch;
  const auto pretrain = tiny_experiment(scratch.path(), {"exp_name=pretrain", "train_iters=10", "no_save_optim=true"});
  const TrainSummary pretrained = train(pretrain);
  const auto source = experiment_paths(pretrain.config).checkpoints;

  // finetune ignores the optimizer state, so a checkpoint saved without it is fine.
  const auto finetune = tiny_experiment(
      scratch.path(), {"exp_name=finetune", "train_iters=5", "finetune=true", "load=" + source.string()});
  const TrainSummary summary = train(finetune);
  EXPECT_EQ(summary.resumed_from, 10);
  EXPECT_EQ(summary.start_iteration, 0);
  ASSERT_EQ(summary.iterations.size(), 5u);
  EXPECT_EQ(summary.iterations.front().iteration, 1);
  EXPECT_EQ(summary.final_iteration, 5);
  // Iteration 1 sees the first batch again, with trained weights: not the fresh-initialisation loss, and lower.
  EXPECT_NE(bits_of(summary.iterations.front().lm_loss), bits_of(pretrained.iterations.front().lm_loss));
  EXPECT_LT(summary.iterations.front().lm_loss, pretrained.iterations.front().lm_loss - 0.1f);
  // Schedule and data restart too: iteration 1's learning rate is warmup step 1.
  EXPECT_DOUBLE_EQ(summary.iterations.front().learning_rate, finetune.config.optimizer.lr / 5.0);
  const auto own = experiment_paths(finetune.config).checkpoints;
  EXPECT_EQ(checkpoint::latest_checkpoint_iteration(own), 5);
  const checkpoint::LoadedCheckpoint saved(iteration_directory(own, 5));
  EXPECT_EQ(saved.consumed_train_samples(), 5 * finetune.config.training.global_batch_size);
}

TEST(TrainerCheckpointFlags, RelaunchedFinetuneContinuesItsOwnCheckpoint) {
  ScratchDirectory scratch;
  const auto pretrain = tiny_experiment(scratch.path(), {"exp_name=pretrain", "train_iters=10"});
  train(pretrain);
  const auto source = experiment_paths(pretrain.config).checkpoints;
  const auto finetune = tiny_experiment(scratch.path(), {"exp_name=finetune", "train_iters=10", "finetune=true",
                                                         "auto_continue_train=true", "load=" + source.string()});
  // The first launch starts from the pretrained weights at iteration 0 and is stopped after 4.
  TrainerHooks stop_after_four;
  stop_after_four.after_iteration = [](const IterationRecord& record) { return record.iteration < 4; };
  const TrainSummary first = train(finetune, stop_after_four);
  EXPECT_EQ(first.start_iteration, 0);
  EXPECT_EQ(first.final_iteration, 4);
  // The relaunch (same command) continues the finetuning run instead of starting it over.
  const TrainSummary relaunch = train(finetune);
  EXPECT_EQ(relaunch.resumed_from, 4);
  EXPECT_EQ(relaunch.start_iteration, 4);
  ASSERT_EQ(relaunch.iterations.size(), 6u);
  EXPECT_EQ(relaunch.iterations.front().iteration, 5);
  EXPECT_EQ(checkpoint::latest_checkpoint_iteration(source), 10);
}

TEST(TrainerCheckpointFlags, DisableLastSavingLeavesNoFinalCheckpoint) {
  ScratchDirectory scratch;
  const auto never = tiny_experiment(scratch.path(), {"exp_name=never", "train_iters=7", "disable_last_saving=true"});
  const TrainSummary summary = train(never);
  EXPECT_EQ(summary.final_iteration, 7);
  const auto never_checkpoints = experiment_paths(never.config).checkpoints;
  EXPECT_EQ(checkpoint::latest_checkpoint_iteration(never_checkpoints), std::nullopt);
  EXPECT_FALSE(std::filesystem::exists(never_checkpoints / checkpoint::kTrackerFileName));

  const auto interval = tiny_experiment(
      scratch.path(), {"exp_name=interval", "train_iters=7", "save_interval=5", "disable_last_saving=true"});
  train(interval);
  const auto interval_checkpoints = experiment_paths(interval.config).checkpoints;
  EXPECT_EQ(checkpoint::latest_checkpoint_iteration(interval_checkpoints), 5);
  EXPECT_TRUE(std::filesystem::exists(iteration_directory(interval_checkpoints, 5)));
  EXPECT_FALSE(std::filesystem::exists(iteration_directory(interval_checkpoints, 7)));

  // Without the flag the last iteration is saved.
  const auto last = tiny_experiment(scratch.path(), {"exp_name=last", "train_iters=7", "save_interval=5"});
  train(last);
  EXPECT_EQ(checkpoint::latest_checkpoint_iteration(experiment_paths(last.config).checkpoints), 7);
}


// Resuming under a different schedule (train_iters changed, lr_decay_iters following it) is an
// error naming the key to set, unless override_opt_param_scheduler lets the config's schedule win.
TEST(TrainerCheckpointFlags, ChangedScheduleNeedsOverrideOptParamScheduler) {
  ScratchDirectory scratch;
  const auto first = tiny_experiment(scratch.path(), {"train_iters=10", "lr_decay_iters=null"});
  train(first);
  const auto strict = tiny_experiment(scratch.path(), {"train_iters=20", "lr_decay_iters=null",
                                                       "auto_continue_train=true",
                                                       "override_opt_param_scheduler=false"});
  try {
    train(strict);
    FAIL() << "a checkpoint saved under another schedule was resumed silently";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("override_opt_param_scheduler: true"), std::string::npos) << message;
  }
  const auto overriding = tiny_experiment(scratch.path(), {"train_iters=20", "lr_decay_iters=null",
                                                           "auto_continue_train=true",
                                                           "override_opt_param_scheduler=true"});
  const TrainSummary summary = train(overriding);
  EXPECT_EQ(summary.resumed_from, 10);
  EXPECT_EQ(summary.final_iteration, 20);
}

}  // namespace
}  // namespace primus::train::testing
