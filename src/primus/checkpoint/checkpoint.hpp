// Training checkpoints under the `save` directory, Megatron-style:
//   <save>/iter_0000100/{model.safetensors, optimizer.safetensors, manifest.json}
//   <save>/latest_checkpointed_iteration.txt   (the tracker: "100")
// Saves are atomic (written to iter_0000100.tmp.<pid>/, fsync'd, renamed); a
// directory without a complete manifest is never loaded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "primus/checkpoint/durable_file.hpp"
#include "primus/checkpoint/safetensors.hpp"

namespace primus::checkpoint {

// Version of the manifest layout written by save_checkpoint.
inline constexpr int kCheckpointFormatVersion = 1;

// One fp32 tensor to save: its name, shape and data (prod(shape) elements).
struct CheckpointTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::span<const float> data;
};

// Everything a checkpoint holds. Null rng_state (no_save_rng) and empty optimizer (no_save_optim) are left out.
struct CheckpointContents {
  std::int64_t iteration = 0;
  std::int64_t consumed_train_samples = 0;
  std::int64_t consumed_valid_samples = 0;
  std::int64_t optimizer_step = 0;
  nlohmann::json scheduler_state;
  nlohmann::json rng_state;
  nlohmann::json config;
  nlohmann::json parallel_layout;  // {"tp":..,"pp":..,"dp":..,"world":..}
  std::vector<CheckpointTensor> model;
  std::vector<CheckpointTensor> optimizer;  // exp_avg.<name>, exp_avg_sq.<name>; empty when no_save_optim
};

// Knobs for save_checkpoint; observer is a test hook called as checkpoint files are written.
struct SaveOptions {
  BytesWrittenObserver observer;
};

// Name of an iteration's directory: iter_0000100 (Megatron's iter_{:07d}).
std::string checkpoint_directory_name(std::int64_t iteration);
// Name of the tracker file at the top of the save directory.
inline constexpr const char* kTrackerFileName = "latest_checkpointed_iteration.txt";

// Writes the checkpoint atomically, then points the tracker at it; removes stale tmp dirs of dead processes first.
// One process per save directory calls it (e.g. global rank 0 when all ranks hold the same full state).
void save_checkpoint(const std::filesystem::path& save_dir, const CheckpointContents& contents,
                     const SaveOptions& options = {});

// The newest complete checkpoint: the tracker's, or the highest complete iter_* when the tracker is missing or stale.
std::optional<std::int64_t> latest_checkpoint_iteration(const std::filesystem::path& save_dir);

// Why `directory` is not a complete checkpoint, or nullopt when it is (manifest parses, files present with their sizes).
std::optional<std::string> incomplete_checkpoint_reason(const std::filesystem::path& directory);

// A complete checkpoint opened for reading (tensors are mmap'd, read on demand).
class LoadedCheckpoint {
 public:
  // Opens `directory` (must be complete; throws saying why not).
  explicit LoadedCheckpoint(const std::filesystem::path& directory);

  // The iteration directory.
  const std::filesystem::path& directory() const { return directory_; }
  // The whole manifest.json.
  const nlohmann::json& manifest() const { return manifest_; }
  // Iteration the checkpoint was taken after.
  std::int64_t iteration() const;
  // Samples consumed by training so far.
  std::int64_t consumed_train_samples() const;
  // Samples consumed by validation so far.
  std::int64_t consumed_valid_samples() const;
  // Optimizer step counter (for AdamW bias correction).
  std::int64_t optimizer_step() const;
  // Scheduler state as saved (null when absent).
  const nlohmann::json& scheduler_state() const;
  // RNG state as saved (null when saved with no_save_rng).
  const nlohmann::json& rng_state() const;
  // The resolved config the run was saved with.
  const nlohmann::json& config() const;
  // {"tp","pp","dp","world"} of the run that saved it.
  const nlohmann::json& parallel_layout() const;
  // Whether optimizer.safetensors was saved.
  bool has_optimizer() const { return optimizer_ != nullptr; }
  // Names of the model tensors, in file order.
  std::vector<std::string> tensor_names() const;
  // Throws listing missing and unexpected model tensors unless the names equal `expected` (as sets).
  void check_tensor_names(std::span<const std::string> expected) const;
  // Copies model tensor `name` into `out`; throws when absent or its shape differs from `shape`.
  void read_tensor(const std::string& name, std::span<const std::int64_t> shape, std::span<float> out) const;
  // Copies optimizer tensor `name` (e.g. "exp_avg.<param>") into `out`; throws when absent, mismatched or not saved.
  void read_optimizer_tensor(const std::string& name, std::span<const std::int64_t> shape, std::span<float> out) const;

 private:
  std::filesystem::path directory_;
  nlohmann::json manifest_;
  std::unique_ptr<SafetensorsFile> model_;
  std::unique_ptr<SafetensorsFile> optimizer_;
};

// Opens the checkpoint for `iteration`, or the latest complete one; throws when there is none.
LoadedCheckpoint load_checkpoint(const std::filesystem::path& save_dir,
                                 std::optional<std::int64_t> iteration = std::nullopt);

}  // namespace primus::checkpoint
