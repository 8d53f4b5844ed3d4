// Non-finite gradients: the step is skipped (parameters, optimizer and schedule
// untouched), counted on the iteration line, and training continues; too many in
// a row abort the run with an error naming max_consecutive_nan_iterations.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <regex>
#include <set>

#include "trainer_test_support.hpp"

namespace primus::train::testing {
namespace {

// Makes the gradients of the given iterations non-finite (one NaN is enough).
TrainerHooks poison_gradients(std::set<std::int64_t> iterations) {
  TrainerHooks hooks;
  hooks.after_backward = [iterations](std::span<float> gradients, std::int64_t iteration) {
    if (iterations.count(iteration)) gradients[gradients.size() / 2] = std::numeric_limits<float>::quiet_NaN();
  };
  return hooks;
}

TEST(TrainerNan, SkippedStepsLeaveParametersAndAreCounted) {
  ScratchDirectory scratch;
  // Reference: the parameters after two clean iterations.
  const auto clean = tiny_experiment(scratch.path(), {"exp_name=clean", "train_iters=2"});
  train(clean);
  // Iterations 3 and 4 are poisoned: after 4 the parameters must still be those after 2.
  const auto poisoned = tiny_experiment(scratch.path(), {"exp_name=poisoned", "train_iters=4"});
  const TrainSummary summary = train(poisoned, poison_gradients({3, 4}));
  ASSERT_EQ(summary.iterations.size(), 4u);
  EXPECT_FALSE(summary.iterations[1].skipped);
  EXPECT_TRUE(summary.iterations[2].skipped);
  EXPECT_TRUE(summary.iterations[3].skipped);
  EXPECT_TRUE(std::isnan(summary.iterations[2].grad_norm));
  // The schedule does not advance on a skipped step (Megatron steps it only after a successful update).
  EXPECT_EQ(summary.iterations[2].learning_rate, summary.iterations[1].learning_rate);
  EXPECT_EQ(summary.iterations[3].learning_rate, summary.iterations[1].learning_rate);
  const auto after_two = iteration_directory(experiment_paths(clean.config).checkpoints, 2);
  const auto after_four = iteration_directory(experiment_paths(poisoned.config).checkpoints, 4);
  EXPECT_EQ(tensor_bytes(after_two / "model.safetensors"), tensor_bytes(after_four / "model.safetensors"));
  EXPECT_EQ(tensor_bytes(after_two / "optimizer.safetensors"), tensor_bytes(after_four / "optimizer.safetensors"));
  EXPECT_EQ(checkpoint::LoadedCheckpoint(after_four).optimizer_step(), 2);
  // The data position still advances past the bad batches.
  EXPECT_EQ(checkpoint::LoadedCheckpoint(after_four).consumed_train_samples(),
            4 * poisoned.config.training.global_batch_size);
}

TEST(TrainerNan, TrainingContinuesAndTheLineCountsSkippedIterations) {
  ScratchDirectory scratch;
  // log_interval 5: the line of iteration 5 covers 1..5 (two skipped), that of 10 covers 6..10 (none).
  // The losses stay finite, so (as in Megatron) they are skipped iterations but not nan iterations.
  const auto experiment = tiny_experiment(scratch.path(), {"train_iters=10", "log_interval=5"});
  const TrainSummary summary = train(experiment, poison_gradients({3, 4}));
  ASSERT_EQ(summary.iterations.size(), 10u);
  EXPECT_EQ(summary.final_iteration, 10);
  for (std::size_t i = 4; i < 10; ++i) {
    EXPECT_FALSE(summary.iterations[i].skipped) << "iteration " << i + 1;
    EXPECT_TRUE(std::isfinite(summary.iterations[i].lm_loss));
  }
  // Training went on and still learns.
  EXPECT_LT(summary.iterations[9].lm_loss, summary.iterations[0].lm_loss);

  const std::string log = read_text(experiment_paths(experiment.config).logs / "rank-0.log");
  const std::regex line5(
      R"( iteration +5/ +10 \|.*\| number of skipped iterations: +2 \| number of nan iterations: +0 \|)");
  const std::regex line10(
      R"( iteration +10/ +10 \|.*\| number of skipped iterations: +0 \| number of nan iterations: +0 \|)");
  EXPECT_TRUE(std::regex_search(log, line5)) << log;
  EXPECT_TRUE(std::regex_search(log, line10)) << log;
  // The line's lm loss is the mean over the iterations that were applied (1, 2 and 5).
  std::smatch match;
  ASSERT_TRUE(std::regex_search(log, match, std::regex(R"( iteration +5/ +10 \|.*\| lm loss: ([0-9.E+-]+) \|)")));
  const double expected = (static_cast<double>(summary.iterations[0].lm_loss) + summary.iterations[1].lm_loss +
                           summary.iterations[4].lm_loss) /
                          3.0;
  EXPECT_EQ(match[1].str(), fmt::format("{:.6E}", expected));
  EXPECT_NE(log.find("iteration 3: non-finite gradients; step skipped (1 in a row)"), std::string::npos);
  EXPECT_NE(log.find("iteration 4: non-finite gradients; step skipped (2 in a row)"), std::string::npos);
}

// Overwrites the first element of `tensor` in a safetensors file with NaN (the file keeps its size).
void poison_tensor(const std::filesystem::path& file, const std::string& tensor) {
  std::uint64_t offset = 0;
  {
    const checkpoint::SafetensorsFile reader(file);
    std::ifstream in(file, std::ios::binary);
    std::uint64_t header_size = 0;
    in.read(reinterpret_cast<char*>(&header_size), sizeof header_size);
    offset = 8 + header_size + reader.tensor(tensor).data_begin;
  }
  std::fstream out(file, std::ios::binary | std::ios::in | std::ios::out);
  out.seekp(static_cast<std::streamoff>(offset));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  out.write(reinterpret_cast<const char*>(&nan), sizeof nan);
}

TEST(TrainerNan, NonFiniteLossesAreNanIterations) {
  ScratchDirectory scratch;
  const auto healthy = tiny_experiment(scratch.path(), {"train_iters=2"});
  train(healthy);
  const auto checkpoints = experiment_paths(healthy.config).checkpoints;
  // A NaN in the final norm makes every later loss NaN: every step is skipped, none can recover.
  poison_tensor(iteration_directory(checkpoints, 2) / "model.safetensors", "decoder.final_layernorm.weight");
  const auto resumed = tiny_experiment(scratch.path(), {"train_iters=5", "log_interval=3", "auto_continue_train=true"});
  const TrainSummary summary = train(resumed);
  ASSERT_EQ(summary.iterations.size(), 3u);
  for (const auto& record : summary.iterations) {
    EXPECT_TRUE(record.skipped) << record.iteration;
    EXPECT_TRUE(std::isnan(record.lm_loss)) << record.iteration;
  }
  const std::string log = read_text(experiment_paths(resumed.config).logs / "rank-0.log");
  const std::regex line3(R"( iteration +3/ +5 \|.*\| number of skipped iterations: +1 \| number of nan iterations: +1 \|)");
  const std::regex line5(R"( iteration +5/ +5 \|.*\| number of skipped iterations: +2 \| number of nan iterations: +2 \|)");
  EXPECT_TRUE(std::regex_search(log, line3)) << log;
  EXPECT_TRUE(std::regex_search(log, line5)) << log;
  // A line whose iterations were all skipped has no loss to show.
  EXPECT_FALSE(std::regex_search(log, std::regex(R"( iteration +5/ +5 \|.*lm loss:)")));
  EXPECT_NE(log.find("iteration 3: non-finite loss; step skipped (1 in a row)"), std::string::npos);
}

TEST(TrainerNan, TooManyConsecutiveNonFiniteIterationsAbort) {
  ScratchDirectory scratch;
  // Two in a row with a limit of 2 is tolerated.
  const auto tolerated =
      tiny_experiment(scratch.path(), {"exp_name=tolerated", "train_iters=6", "max_consecutive_nan_iterations=2"});
  EXPECT_EQ(train(tolerated, poison_gradients({3, 4})).final_iteration, 6);

  // Three in a row aborts at the third, with an error naming the key.
  const auto aborted =
      tiny_experiment(scratch.path(), {"exp_name=aborted", "train_iters=8", "max_consecutive_nan_iterations=2"});
  std::vector<std::int64_t> seen;
  TrainerHooks hooks = poison_gradients({3, 4, 5});
  hooks.after_iteration = [&seen](const IterationRecord& record) {
    seen.push_back(record.iteration);
    return true;
  };
  try {
    train(aborted, hooks);
    FAIL() << "three consecutive non-finite iterations with max_consecutive_nan_iterations 2 must abort";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("iteration 5"), std::string::npos) << message;
    EXPECT_NE(message.find("max_consecutive_nan_iterations: 2"), std::string::npos) << message;
  }
  EXPECT_EQ(seen, (std::vector<std::int64_t>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace primus::train::testing
