// The primus binary as a user runs it: SIGKILLed mid-run, the same command with
// auto_continue_train resumes from the last complete checkpoint and finishes;
// SIGTERM stops it cleanly with a checkpoint of the iteration it stopped at.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <regex>

#include "trainer_test_support.hpp"

namespace primus::train::testing {
namespace {

// The primus command line for the fixture; `model_size` overrides make iterations slow enough to interrupt.
std::vector<std::string> primus_args(const std::filesystem::path& workspace, std::vector<std::string> extra) {
  std::vector<std::string> args = {"train",       "pretrain",        "--config", tiny_experiment_file().string(),
                                   "--workspace", workspace.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// A wider model (~30 ms per iteration) so that a run of 40 iterations can be caught in the middle.
const std::vector<std::string> kSlowerModel = {"--hidden_size", "128", "--ffn_hidden_size",         "352",
                                               "--seq_length",  "64",  "--max_position_embeddings", "64"};

std::filesystem::path checkpoints_of(const std::filesystem::path& workspace) {
  return workspace / "test_group" / "test_user" / "tiny_trainer" / "checkpoints";
}
std::filesystem::path log_of(const std::filesystem::path& workspace) {
  return workspace / "test_group" / "test_user" / "tiny_trainer" / "logs" / "rank-0.log";
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + ::strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

TEST(TrainerProcess, KilledRunContinuesFromItsLastCompleteCheckpoint) {
  ScratchDirectory scratch;
  std::vector<std::string> extra = {"--train_iters", "40", "--save_interval", "5", "--auto_continue_train", "true"};
  extra.insert(extra.end(), kSlowerModel.begin(), kSlowerModel.end());
  const auto args = primus_args(scratch.path(), extra);
  const auto checkpoints = checkpoints_of(scratch.path());
  {
    PrimusProcess run(args, scratch.path() / "first.out");
    const bool reached = wait_until(
        [&] { return run.finished() || checkpoint::latest_checkpoint_iteration(checkpoints).value_or(0) >= 10; });
    ASSERT_TRUE(reached) << "no checkpoint of iteration >= 10 within a minute";
    ASSERT_FALSE(run.finished()) << "the run ended before it could be killed (" << describe(run.wait())
                                 << "); output:\n"
                                 << read_text(scratch.path() / "first.out");
    run.signal(SIGKILL);
    const int status = run.wait();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << describe(status);
  }
  const auto last_complete = checkpoint::latest_checkpoint_iteration(checkpoints);
  ASSERT_TRUE(last_complete.has_value());
  const std::int64_t resumed_at = *last_complete;
  ASSERT_GE(resumed_at, 10);
  ASSERT_LT(resumed_at, 40);
  EXPECT_EQ(resumed_at % 5, 0);
  const std::string killed_log = read_text(log_of(scratch.path()));
  // Log lines are on disk as they are printed: the killed run's line for the checkpointed iteration survived.
  EXPECT_NE(killed_log.find(fmt::format(" iteration {:8d}/{:8d} |", resumed_at, 40)), std::string::npos) << killed_log;

  PrimusProcess again(args, scratch.path() / "second.out");
  const int status = again.wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe(status) << "\n"
                                                             << read_text(scratch.path() / "second.out");
  const std::string full_log = read_text(log_of(scratch.path()));
  ASSERT_GT(full_log.size(), killed_log.size());
  ASSERT_EQ(full_log.substr(0, killed_log.size()), killed_log) << "the log of the first run must be kept";
  const std::string resumed_log = full_log.substr(killed_log.size());
  EXPECT_NE(resumed_log.find(fmt::format("resumed from {} at iteration {} ({} consumed samples)", checkpoints.string(),
                                         resumed_at, resumed_at * 4)),
            std::string::npos)
      << resumed_log;
  std::smatch first_line;
  ASSERT_TRUE(std::regex_search(resumed_log, first_line,
                                std::regex(R"( iteration +(\d+)/ +40 \| consumed samples: +(\d+) \|)")));
  EXPECT_EQ(std::stoll(first_line[1].str()), resumed_at + 1);
  EXPECT_EQ(std::stoll(first_line[2].str()), (resumed_at + 1) * 4);
  EXPECT_NE(resumed_log.find(fmt::format(" iteration {:8d}/{:8d} |", 40, 40)), std::string::npos);
  EXPECT_NE(resumed_log.find("training finished at iteration 40"), std::string::npos);
  EXPECT_EQ(checkpoint::latest_checkpoint_iteration(checkpoints), 40);
  // The killed run's unfinished save (if any) was cleaned up: only complete iter_* directories remain.
  for (const auto& entry : std::filesystem::directory_iterator(checkpoints)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST(TrainerProcess, SigtermSavesTheIterationItStopsAtAndExitsZero) {
  ScratchDirectory scratch;
  const auto args = primus_args(scratch.path(), {"--train_iters", "100000"});
  const auto log_file = log_of(scratch.path());
  PrimusProcess run(args, scratch.path() / "run.out");
  const bool started = wait_until([&] {
    return run.finished() || read_text(log_file).find(fmt::format(" iteration {:8d}/", 3)) != std::string::npos;
  });
  ASSERT_TRUE(started) << "no iteration line within a minute";
  ASSERT_FALSE(run.finished()) << describe(run.wait()) << "\n" << read_text(scratch.path() / "run.out");
  EXPECT_EQ(checkpoint::latest_checkpoint_iteration(checkpoints_of(scratch.path())), std::nullopt);
  run.signal(SIGTERM);
  const int status = run.wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe(status) << "\n"
                                                             << read_text(scratch.path() / "run.out");

  const std::string log = read_text(log_file);
  std::smatch stopped;
  ASSERT_TRUE(std::regex_search(log, stopped,
                                std::regex(R"(stopping after iteration (\d+) as requested \(checkpoint saved\))")))
      << log;
  const std::int64_t iteration = std::stoll(stopped[1].str());
  EXPECT_GE(iteration, 3);
  EXPECT_LT(iteration, 100000);
  EXPECT_EQ(checkpoint::latest_checkpoint_iteration(checkpoints_of(scratch.path())), iteration);
  const checkpoint::LoadedCheckpoint saved(iteration_directory(checkpoints_of(scratch.path()), iteration));
  EXPECT_EQ(saved.consumed_train_samples(), iteration * 4);
  EXPECT_TRUE(saved.has_optimizer());
  // The run stopped there: no iteration after it was started.
  EXPECT_EQ(log.find(fmt::format(" iteration {:8d}/", iteration + 1)), std::string::npos);
}

}  // namespace
}  // namespace primus::train::testing
