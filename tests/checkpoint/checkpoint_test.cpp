// Checkpoint save/load: round trip, layout on disk, tracker fallback, clear errors
// for mismatched tensors, and a save killed half-way (SIGKILL in a forked child)
// leaving the previous checkpoint intact.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <numeric>
#include <vector>

#include "primus/checkpoint/checkpoint.hpp"
#include "test_directory.hpp"

namespace primus::checkpoint {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDirectory;

// A model with two parameters and Adam state, values depending on `seed`.
struct FakeState {
  std::vector<float> weight, norm, exp_avg_weight, exp_avg_sq_weight, exp_avg_norm, exp_avg_sq_norm;
  FakeState(std::size_t weight_rows, float seed)
      : weight(weight_rows * 8), norm(8), exp_avg_weight(weight.size()), exp_avg_sq_weight(weight.size()),
        exp_avg_norm(8), exp_avg_sq_norm(8) {
    for (std::size_t i = 0; i < weight.size(); ++i) {
      weight[i] = seed + 0.001f * static_cast<float>(i);
      exp_avg_weight[i] = -weight[i];
      exp_avg_sq_weight[i] = weight[i] * weight[i];
    }
    for (std::size_t i = 0; i < 8; ++i) norm[i] = exp_avg_norm[i] = exp_avg_sq_norm[i] = seed * static_cast<float>(i);
  }
  CheckpointContents contents(std::int64_t iteration, bool with_optimizer = true) const {
    const std::int64_t rows = static_cast<std::int64_t>(weight.size() / 8);
    CheckpointContents c;
    c.iteration = iteration;
    c.consumed_train_samples = iteration * 16;
    c.consumed_valid_samples = 32;
    c.optimizer_step = iteration - 1;
    c.scheduler_state = {{"num_steps", iteration}, {"lr_decay_style", "cosine"}};
    c.rng_state = {{"data", "12345 678"}};
    c.config = {{"model", {{"num_layers", 2}}}};
    c.parallel_layout = {{"tp", 1}, {"pp", 1}, {"dp", 1}, {"world", 1}};
    c.model = {{"decoder.weight", {rows, 8}, weight}, {"decoder.norm", {8}, norm}};
    if (with_optimizer)
      c.optimizer = {{"exp_avg.decoder.weight", {rows, 8}, exp_avg_weight},
                     {"exp_avg_sq.decoder.weight", {rows, 8}, exp_avg_sq_weight},
                     {"exp_avg.decoder.norm", {8}, exp_avg_norm},
                     {"exp_avg_sq.decoder.norm", {8}, exp_avg_sq_norm}};
    return c;
  }
};

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void expect_loads_identically(const LoadedCheckpoint& loaded, const FakeState& state) {
  const std::int64_t rows = static_cast<std::int64_t>(state.weight.size() / 8);
  std::vector<float> weight(state.weight.size()), norm(8), m(state.weight.size()), v(state.weight.size());
  loaded.read_tensor("decoder.weight", std::vector<std::int64_t>{rows, 8}, weight);
  loaded.read_tensor("decoder.norm", std::vector<std::int64_t>{8}, norm);
  EXPECT_TRUE(bit_identical(weight, state.weight));
  EXPECT_TRUE(bit_identical(norm, state.norm));
  ASSERT_TRUE(loaded.has_optimizer());
  loaded.read_optimizer_tensor("exp_avg.decoder.weight", std::vector<std::int64_t>{rows, 8}, m);
  loaded.read_optimizer_tensor("exp_avg_sq.decoder.weight", std::vector<std::int64_t>{rows, 8}, v);
  EXPECT_TRUE(bit_identical(m, state.exp_avg_weight));
  EXPECT_TRUE(bit_identical(v, state.exp_avg_sq_weight));
}

TEST(Checkpoint, RoundTripAndLayout) {
  ScratchDirectory scratch;
  const FakeState state(4, 0.5f);
  save_checkpoint(scratch.path(), state.contents(100));

  EXPECT_TRUE(fs::is_regular_file(scratch.path() / "iter_0000100" / "model.safetensors"));
  EXPECT_TRUE(fs::is_regular_file(scratch.path() / "iter_0000100" / "optimizer.safetensors"));
  EXPECT_TRUE(fs::is_regular_file(scratch.path() / "iter_0000100" / "manifest.json"));
  EXPECT_EQ(read_file(scratch.path() / "latest_checkpointed_iteration.txt"), "100");
  EXPECT_EQ(latest_checkpoint_iteration(scratch.path()), 100);

  const LoadedCheckpoint loaded = load_checkpoint(scratch.path());
  EXPECT_EQ(loaded.iteration(), 100);
  EXPECT_EQ(loaded.consumed_train_samples(), 1600);
  EXPECT_EQ(loaded.consumed_valid_samples(), 32);
  EXPECT_EQ(loaded.optimizer_step(), 99);
  EXPECT_EQ(loaded.scheduler_state()["lr_decay_style"], "cosine");
  EXPECT_EQ(loaded.rng_state()["data"], "12345 678");
  EXPECT_EQ(loaded.config()["model"]["num_layers"], 2);
  EXPECT_EQ(loaded.parallel_layout()["world"], 1);
  EXPECT_EQ(loaded.manifest()["format_version"], kCheckpointFormatVersion);
  EXPECT_EQ(loaded.manifest()["files"]["model.safetensors"]["size"],
            fs::file_size(scratch.path() / "iter_0000100" / "model.safetensors"));
  EXPECT_EQ(loaded.tensor_names(), (std::vector<std::string>{"decoder.weight", "decoder.norm"}));
  expect_loads_identically(loaded, state);
}

TEST(Checkpoint, WithoutOptimizerOrRng) {
  ScratchDirectory scratch;
  const FakeState state(2, 1.0f);
  auto contents = state.contents(7, /*with_optimizer=*/false);
  contents.rng_state = nullptr;
  save_checkpoint(scratch.path(), contents);
  const LoadedCheckpoint loaded = load_checkpoint(scratch.path(), 7);
  EXPECT_FALSE(loaded.has_optimizer());
  EXPECT_FALSE(fs::exists(scratch.path() / "iter_0000007" / "optimizer.safetensors"));
  EXPECT_TRUE(loaded.rng_state().is_null());
  std::vector<float> out(16);
  EXPECT_THROW(loaded.read_optimizer_tensor("exp_avg.decoder.weight", std::vector<std::int64_t>{2, 8}, out),
               std::runtime_error);
}

TEST(Checkpoint, MissingExtraAndMisshapenTensorsAreClearErrors) {
  ScratchDirectory scratch;
  const FakeState state(2, 1.0f);
  save_checkpoint(scratch.path(), state.contents(1));
  const LoadedCheckpoint loaded = load_checkpoint(scratch.path());
  EXPECT_NO_THROW(loaded.check_tensor_names(std::vector<std::string>{"decoder.norm", "decoder.weight"}));
  try {
    loaded.check_tensor_names(std::vector<std::string>{"decoder.weight", "decoder.bias"});
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("missing tensors [decoder.bias]"), std::string::npos) << message;
    EXPECT_NE(message.find("unexpected tensors [decoder.norm]"), std::string::npos) << message;
  }
  std::vector<float> out(16);
  try {
    loaded.read_tensor("decoder.weight", std::vector<std::int64_t>{4, 4}, out);
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'decoder.weight' has shape [2, 8] but [4, 4] was expected"), std::string::npos) << message;
  }
  EXPECT_THROW(loaded.read_tensor("decoder.bias", std::vector<std::int64_t>{8}, out), std::runtime_error);
}

TEST(Checkpoint, TrackerFallbackAndIncompleteDirectoriesIgnored) {
  ScratchDirectory scratch;
  const FakeState older(2, 1.0f), newer(2, 2.0f);
  EXPECT_EQ(latest_checkpoint_iteration(scratch.path()), std::nullopt);
  EXPECT_THROW(load_checkpoint(scratch.path()), std::runtime_error);
  save_checkpoint(scratch.path(), older.contents(10));
  save_checkpoint(scratch.path(), newer.contents(20));
  EXPECT_EQ(latest_checkpoint_iteration(scratch.path()), 20);

  fs::remove(scratch.path() / "latest_checkpointed_iteration.txt");
  EXPECT_EQ(latest_checkpoint_iteration(scratch.path()), 20);  // found by scanning

  // A truncated model file makes iteration 20 incomplete: the loader falls back to 10.
  const fs::path model = scratch.path() / "iter_0000020" / "model.safetensors";
  fs::resize_file(model, fs::file_size(model) - 8);
  std::ofstream(scratch.path() / "latest_checkpointed_iteration.txt") << "20";
  EXPECT_EQ(latest_checkpoint_iteration(scratch.path()), 10);
  EXPECT_EQ(load_checkpoint(scratch.path()).iteration(), 10);
  try {
    load_checkpoint(scratch.path(), 20);
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("model.safetensors' has"), std::string::npos) << error.what();
  }
  // A directory with no manifest at all is ignored too.
  fs::create_directories(scratch.path() / "iter_0000030");
  EXPECT_EQ(latest_checkpoint_iteration(scratch.path()), 10);
  // Re-saving an existing iteration replaces it.
  save_checkpoint(scratch.path(), newer.contents(20));
  EXPECT_EQ(latest_checkpoint_iteration(scratch.path()), 20);
  expect_loads_identically(load_checkpoint(scratch.path()), newer);
}

TEST(Checkpoint, KilledMidSaveLeavesPreviousCheckpointLatest) {
  ScratchDirectory scratch;
  const FakeState previous(64, 3.0f);
  save_checkpoint(scratch.path(), previous.contents(100));
  const std::string tracker_before = read_file(scratch.path() / "latest_checkpointed_iteration.txt");

  const FakeState large(1 << 17, 4.0f);  // 1M floats per buffer: 4 MiB model, 16 MiB optimizer
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    SaveOptions options;
    // Die abruptly once 2 MiB of the optimizer file (the second file) are on disk.
    bool model_done = false;
    options.observer = [&](std::uint64_t bytes) {
      if (bytes >= (4u << 20)) model_done = true;
      if (model_done && bytes < (4u << 20) && bytes >= (2u << 20)) ::raise(SIGKILL);
    };
    try {
      save_checkpoint(scratch.path(), large.contents(200), options);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(0);  // reaching here means the hook never fired
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited normally with " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);

  const fs::path leftover = scratch.path() / ("iter_0000200.tmp." + std::to_string(child));
  ASSERT_TRUE(fs::is_directory(leftover)) << "the kill should have left the staging directory behind";
  EXPECT_TRUE(fs::is_regular_file(leftover / "model.safetensors"));
  EXPECT_FALSE(fs::exists(leftover / "manifest.json"));
  EXPECT_FALSE(fs::exists(scratch.path() / "iter_0000200"));
  EXPECT_EQ(read_file(scratch.path() / "latest_checkpointed_iteration.txt"), tracker_before);
  EXPECT_EQ(latest_checkpoint_iteration(scratch.path()), 100);
  expect_loads_identically(load_checkpoint(scratch.path()), previous);

  // The next save cleans the dead process's staging directory (and a tracker temp file it might have left).
  const fs::path tracker_leftover = scratch.path() / ("latest_checkpointed_iteration.txt.tmp." + std::to_string(child));
  std::ofstream(tracker_leftover) << "200";
  const FakeState next(64, 5.0f);
  save_checkpoint(scratch.path(), next.contents(300));
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_FALSE(fs::exists(tracker_leftover));
  EXPECT_EQ(latest_checkpoint_iteration(scratch.path()), 300);
  expect_loads_identically(load_checkpoint(scratch.path()), next);
}

}  // namespace
}  // namespace primus::checkpoint
