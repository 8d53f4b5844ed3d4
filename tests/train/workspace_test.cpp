// What a run leaves in its workspace: the Primus folder layout, Megatron-format
// iteration and validation lines in logs/rank-0.log, checkpoints, and a
// TensorBoard event file whose scalars are the values the trainer recorded.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "../log/event_file_reader.hpp"
#include "trainer_test_support.hpp"

namespace primus::train::testing {
namespace {

std::vector<std::filesystem::path> event_files_under(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().filename().string().starts_with("events.out.tfevents.")) files.push_back(entry.path());
  }
  return files;
}

// The mean lm loss of iterations [first, last] (1-based), as the iteration line prints it.
double mean_loss(const TrainSummary& summary, std::int64_t first, std::int64_t last) {
  double sum = 0.0;
  for (std::int64_t i = first; i <= last; ++i) sum += summary.iterations.at(static_cast<std::size_t>(i - 1)).lm_loss;
  return sum / static_cast<double>(last - first + 1);
}

TEST(TrainerWorkspace, LayoutLogLinesCheckpointsAndTensorBoard) {
  ScratchDirectory scratch;
  const auto experiment =
      tiny_experiment(scratch.path(), {"train_iters=10", "log_interval=5", "disable_tensorboard=false"});
  // Each line is on disk once printed (a killed job keeps its log): look while the run goes on.
  const auto log_file = experiment_paths(experiment.config).logs / "rank-0.log";
  std::vector<std::int64_t> lines_on_disk;
  TrainerHooks hooks;
  hooks.after_iteration = [&](const IterationRecord& record) {
    if (read_text(log_file).find(fmt::format(" iteration {:8d}/", record.iteration)) != std::string::npos) {
      lines_on_disk.push_back(record.iteration);
    }
    return true;
  };
  const TrainSummary summary = train(experiment, hooks);
  ASSERT_EQ(summary.iterations.size(), 10u);
  EXPECT_EQ(lines_on_disk, (std::vector<std::int64_t>{5, 10}));

  const auto root = scratch.path() / "test_group" / "test_user" / "tiny_trainer";
  EXPECT_EQ(experiment_root(experiment), root);
  for (const char* folder : {"logs", "checkpoints", "tensorboard"}) {
    EXPECT_TRUE(std::filesystem::is_directory(root / folder)) << folder;
  }

  const std::string log = read_text(root / "logs" / "rank-0.log");
  for (const std::int64_t iteration : {5, 10}) {
    SCOPED_TRACE("iteration " + std::to_string(iteration));
    const auto& record = summary.iterations.at(static_cast<std::size_t>(iteration - 1));
    const std::string head =
        fmt::format(" iteration {:8d}/{:8d} | consumed samples: {:12d} | ", iteration, 10, iteration * 4);
    const auto at = log.find(head);
    ASSERT_NE(at, std::string::npos) << log;
    const std::string line = log.substr(at, log.find('\n', at) - at);
    EXPECT_TRUE(std::regex_search(line, std::regex(R"(\| elapsed time per iteration \(ms\): [0-9.]+(/[0-9.]+)? \|)")))
        << line;
    EXPECT_NE(line.find(fmt::format("| learning rate: {:.6E} |", record.learning_rate)), std::string::npos) << line;
    EXPECT_NE(line.find("| global batch size:     4 |"), std::string::npos) << line;
    EXPECT_NE(line.find(fmt::format("| lm loss: {:.6E} |", mean_loss(summary, iteration - 4, iteration))),
              std::string::npos)
        << line;
    EXPECT_NE(line.find(fmt::format("| grad norm: {:.3f} |", record.grad_norm)), std::string::npos) << line;
    EXPECT_NE(line.find("| number of skipped iterations:   0 | number of nan iterations:   0 |"), std::string::npos)
        << line;
  }
  // Only every log_interval-th iteration prints a line.
  EXPECT_EQ(log.find(" iteration        4/"), std::string::npos);

  const auto checkpoints = root / "checkpoints";
  EXPECT_TRUE(std::filesystem::is_directory(checkpoints / "iter_0000010"));
  EXPECT_EQ(read_text(checkpoints / "latest_checkpointed_iteration.txt").substr(0, 2), "10");
  EXPECT_EQ(checkpoint::latest_checkpoint_iteration(checkpoints), 10);

  const auto event_files = event_files_under(root / "tensorboard");
  ASSERT_EQ(event_files.size(), 1u);
  std::map<std::int64_t, float> lm_loss;
  std::map<std::int64_t, float> learning_rate;
  for (const auto& scalar : log::testing::read_scalar_events(event_files.front())) {
    if (scalar.tag == "lm loss") {
      EXPECT_TRUE(lm_loss.emplace(scalar.step, scalar.value).second) << "two lm loss events at step " << scalar.step;
    }
    if (scalar.tag == "learning-rate") learning_rate.emplace(scalar.step, scalar.value);
  }
  const std::map<std::int64_t, float> expected_loss = {{5, summary.iterations[4].lm_loss},
                                                       {10, summary.iterations[9].lm_loss}};
  EXPECT_EQ(lm_loss, expected_loss);
  const std::map<std::int64_t, float> expected_lr = {{5, static_cast<float>(summary.iterations[4].learning_rate)},
                                                     {10, static_cast<float>(summary.iterations[9].learning_rate)}};
  EXPECT_EQ(learning_rate, expected_lr);
}

TEST(TrainerWorkspace, DisableTensorBoardWritesNoEventFile) {
  ScratchDirectory scratch;
  const auto experiment = tiny_experiment(scratch.path(), {"train_iters=3", "disable_tensorboard=true"});
  train(experiment);
  EXPECT_TRUE(std::filesystem::exists(experiment_root(experiment) / "logs" / "rank-0.log"));
  EXPECT_TRUE(event_files_under(scratch.path()).empty());
  EXPECT_FALSE(std::filesystem::exists(experiment_root(experiment) / "tensorboard"));
}

TEST(TrainerEval, ValidationLinesAndSummaryWithoutDisturbingTraining) {
  ScratchDirectory scratch;
  const auto with_eval =
      tiny_experiment(scratch.path(), {"exp_name=eval", "train_iters=10", "eval_interval=5", "eval_iters=2"});
  const TrainSummary summary = train(with_eval);
  ASSERT_EQ(summary.validation_losses.size(), 2u);
  EXPECT_EQ(summary.validation_losses[0].first, 5);
  EXPECT_EQ(summary.validation_losses[1].first, 10);

  const std::string log = read_text(experiment_root(with_eval) / "logs" / "rank-0.log");
  for (const auto& [iteration, loss] : summary.validation_losses) {
    SCOPED_TRACE("iteration " + std::to_string(iteration));
    EXPECT_TRUE(std::isfinite(loss));
    // Near the training loss of the same moment (same data distribution), not some other quantity.
    EXPECT_NEAR(loss, summary.iterations.at(static_cast<std::size_t>(iteration - 1)).lm_loss, 0.5);
    const std::string line =
        fmt::format(" validation loss at iteration {} | lm loss value: {:.6E} | lm loss PPL: {:.6E} | ", iteration,
                    loss, std::exp(loss));
    EXPECT_NE(log.find(line), std::string::npos) << line << "\n" << log;
  }
  // The model learns between the two evaluations.
  EXPECT_LT(summary.validation_losses[1].second, summary.validation_losses[0].second);
  // Megatron's end-of-training evaluation: the next eval_iters validation batches, its own line.
  ASSERT_TRUE(summary.final_validation_loss.has_value());
  EXPECT_NEAR(*summary.final_validation_loss, summary.validation_losses[1].second, 0.5);
  const std::string final_line =
      fmt::format(" validation loss at iteration 10 on validation set | lm loss value: {:.6E} | lm loss PPL: {:.6E} | ",
                  *summary.final_validation_loss, std::exp(*summary.final_validation_loss));
  EXPECT_NE(log.find(final_line), std::string::npos) << final_line << "\n" << log;
  EXPECT_LT(log.find(final_line), log.find("training finished at iteration 10"));

  // Evaluating neither changes the parameters nor moves the training data.
  const auto without_eval = tiny_experiment(scratch.path(), {"exp_name=no_eval", "train_iters=10"});
  const TrainSummary plain = train(without_eval);
  EXPECT_TRUE(plain.validation_losses.empty());
  const auto no_eval_at_all = tiny_experiment(scratch.path(), {"exp_name=no_eval_iters", "train_iters=2", "eval_iters=0"});
  const TrainSummary none = train(no_eval_at_all);
  EXPECT_FALSE(none.final_validation_loss.has_value()) << "eval_iters 0: no evaluation at all";
  EXPECT_EQ(read_text(experiment_root(no_eval_at_all) / "logs" / "rank-0.log").find("validation loss at"),
            std::string::npos);
  EXPECT_EQ(losses_of(plain).size(), 10u);
  std::vector<std::uint32_t> a, b;
  for (float loss : losses_of(summary)) a.push_back(bits_of(loss));
  for (float loss : losses_of(plain)) b.push_back(bits_of(loss));
  EXPECT_EQ(a, b);
}

// With a test share in `split`, the end of training also evaluates eval_iters batches of the
// test split from its beginning, on Megatron's "on test set" line, after the validation one.
TEST(TrainerEval, EndOfTrainingEvaluatesTheTestSplitWhenThereIsOne) {
  ScratchDirectory scratch;
  const auto with_test = tiny_experiment(
      scratch.path(), {"exp_name=with_test", "train_iters=4", "eval_interval=4", "eval_iters=2", "split=90,5,5"});
  const TrainSummary summary = train(with_test);
  ASSERT_TRUE(summary.final_validation_loss.has_value());
  ASSERT_TRUE(summary.final_test_loss.has_value());
  EXPECT_TRUE(std::isfinite(*summary.final_test_loss));
  EXPECT_NEAR(*summary.final_test_loss, summary.iterations.back().lm_loss, 0.5);  // same distribution
  const std::string log = read_text(experiment_root(with_test) / "logs" / "rank-0.log");
  const std::string test_line =
      fmt::format(" validation loss at iteration 4 on test set | lm loss value: {:.6E} | lm loss PPL: {:.6E} | ",
                  *summary.final_test_loss, std::exp(*summary.final_test_loss));
  ASSERT_NE(log.find(test_line), std::string::npos) << test_line << "\n" << log;
  EXPECT_LT(log.find("iteration 4 on validation set"), log.find(test_line));
  EXPECT_LT(log.find(test_line), log.find("training finished at iteration 4"));

  // No test share: no test evaluation.
  const auto without_test = tiny_experiment(
      scratch.path(), {"exp_name=without_test", "train_iters=4", "eval_interval=4", "eval_iters=2", "split=95,5,0"});
  const TrainSummary plain = train(without_test);
  EXPECT_TRUE(plain.final_validation_loss.has_value());
  EXPECT_FALSE(plain.final_test_loss.has_value());
  EXPECT_EQ(read_text(experiment_root(without_test) / "logs" / "rank-0.log").find("on test set"), std::string::npos);
}

}  // namespace
}  // namespace primus::train::testing
