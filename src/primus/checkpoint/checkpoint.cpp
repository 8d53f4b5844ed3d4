#include "primus/checkpoint/checkpoint.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace primus::checkpoint {

namespace fs = std::filesystem;

namespace {

constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kManifestFile = "manifest.json";

// iter_<digits>, iter_<digits>.tmp.<pid>, iter_<digits>.old.<pid>
const std::regex& iteration_directory_pattern() {
  static const std::regex pattern(R"(iter_(\d{7,}))");
  return pattern;
}
const std::regex& leftover_pattern() {
  static const std::regex pattern(R"((?:iter_\d{7,}\.(?:tmp|old)|latest_checkpointed_iteration\.txt\.tmp)\.(\d+))");
  return pattern;
}

std::optional<std::int64_t> parse_integer(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

std::string read_text_file(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw std::runtime_error(fmt::format("cannot read '{}'", path.string()));
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

std::vector<SafetensorsTensorView> tensor_views(const fs::path& file, std::span<const CheckpointTensor> tensors) {
  std::vector<SafetensorsTensorView> views;
  views.reserve(tensors.size());
  for (const CheckpointTensor& tensor : tensors) {
    std::int64_t count = 1;
    for (std::int64_t dim : tensor.shape) count *= dim;
    if (count != static_cast<std::int64_t>(tensor.data.size()))
      throw std::invalid_argument(fmt::format("checkpoint tensor '{}' for '{}': shape [{}] has {} elements but {} were given",
                                              tensor.name, file.string(), fmt::join(tensor.shape, ", "), count,
                                              tensor.data.size()));
    views.push_back({tensor.name, SafetensorsDtype::F32, tensor.shape, std::as_bytes(tensor.data)});
  }
  return views;
}

// Removes iter_*.tmp.<pid>, iter_*.old.<pid> and tracker temp files left by processes that no longer exist.
void remove_stale_leftovers(const fs::path& save_dir) {
  for (const fs::directory_entry& entry : fs::directory_iterator(save_dir)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (!std::regex_match(name, match, leftover_pattern())) continue;
    const auto pid = parse_integer(match[1].str());
    const bool owner_alive = pid && *pid != ::getpid() && (::kill(static_cast<pid_t>(*pid), 0) == 0 || errno == EPERM);
    if (!owner_alive) fs::remove_all(entry.path());
  }
}

void write_tensor_file(const fs::path& path, std::span<const CheckpointTensor> tensors, std::int64_t iteration,
                       const SaveOptions& options) {
  const auto views = tensor_views(path, tensors);
  write_safetensors(path, views, {{"format", "pt"}, {"iteration", std::to_string(iteration)}}, options.observer);
}

}  // namespace

std::string checkpoint_directory_name(std::int64_t iteration) { return fmt::format("iter_{:07d}", iteration); }

void save_checkpoint(const fs::path& save_dir, const CheckpointContents& contents, const SaveOptions& options) {
  if (contents.iteration < 0)
    throw std::invalid_argument(fmt::format("checkpoint iteration {} must be >= 0", contents.iteration));
  fs::create_directories(save_dir);
  remove_stale_leftovers(save_dir);

  const std::string final_name = checkpoint_directory_name(contents.iteration);
  const fs::path final_dir = save_dir / final_name;
  const fs::path staging_dir = save_dir / fmt::format("{}.tmp.{}", final_name, ::getpid());
  fs::remove_all(staging_dir);
  fs::create_directory(staging_dir);
  try {
    nlohmann::ordered_json files = nlohmann::ordered_json::object();
    write_tensor_file(staging_dir / kModelFile, contents.model, contents.iteration, options);
    files[kModelFile] = {{"size", fs::file_size(staging_dir / kModelFile)}};
    if (!contents.optimizer.empty()) {
      write_tensor_file(staging_dir / kOptimizerFile, contents.optimizer, contents.iteration, options);
      files[kOptimizerFile] = {{"size", fs::file_size(staging_dir / kOptimizerFile)}};
    }
    nlohmann::ordered_json manifest = {{"format_version", kCheckpointFormatVersion},
                                       {"iteration", contents.iteration},
                                       {"consumed_train_samples", contents.consumed_train_samples},
                                       {"consumed_valid_samples", contents.consumed_valid_samples},
                                       {"optimizer_step", contents.optimizer_step},
                                       {"scheduler_state", contents.scheduler_state},
                                       {"parallel_layout", contents.parallel_layout},
                                       {"files", files},
                                       {"config", contents.config}};
    if (!contents.rng_state.is_null()) manifest["rng_state"] = contents.rng_state;
    // The manifest is written last: its presence marks the directory complete.
    DurableFile manifest_file(staging_dir / kManifestFile);
    manifest_file.write(manifest.dump(2) + "\n");
    manifest_file.sync_and_close();
    fsync_directory(staging_dir);

    // Re-saving an iteration: move the old copy aside so the rename target is free, then drop it.
    const fs::path previous_dir = save_dir / fmt::format("{}.old.{}", final_name, ::getpid());
    const bool replacing = fs::exists(final_dir);
    if (replacing) fs::rename(final_dir, previous_dir);
    fs::rename(staging_dir, final_dir);
    fsync_directory(save_dir);
    if (replacing) fs::remove_all(previous_dir);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(staging_dir, ignored);
    throw;
  }
  write_file_atomically(save_dir / kTrackerFileName, std::to_string(contents.iteration));
}

std::optional<std::string> incomplete_checkpoint_reason(const fs::path& directory) {
  const fs::path manifest_path = directory / kManifestFile;
  if (!fs::is_regular_file(manifest_path)) return fmt::format("'{}' is missing", manifest_path.string());
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(read_text_file(manifest_path));
  } catch (const std::exception& error) {
    return fmt::format("'{}' does not parse: {}", manifest_path.string(), error.what());
  }
  if (!manifest.is_object() || !manifest.contains("format_version") ||
      manifest["format_version"] != kCheckpointFormatVersion)
    return fmt::format("'{}' has format_version {} (expected {})", manifest_path.string(),
                       manifest.is_object() && manifest.contains("format_version") ? manifest["format_version"].dump()
                                                                                      : "missing",
                       kCheckpointFormatVersion);
  for (const char* key : {"iteration", "consumed_train_samples", "consumed_valid_samples", "optimizer_step"})
    if (!manifest.contains(key) || !manifest[key].is_number_integer())
      return fmt::format("'{}' lacks integer '{}'", manifest_path.string(), key);
  if (!manifest.contains("files") || !manifest["files"].is_object() || !manifest["files"].contains(kModelFile))
    return fmt::format("'{}' does not list {}", manifest_path.string(), kModelFile);
  for (const auto& [name, entry] : manifest["files"].items()) {
    const fs::path file = directory / name;
    std::error_code error;
    const auto size = fs::file_size(file, error);
    if (error) return fmt::format("'{}' listed in the manifest is missing", file.string());
    if (!entry.contains("size") || entry["size"] != size)
      return fmt::format("'{}' has {} bytes but the manifest records {}", file.string(), size,
                         entry.contains("size") ? entry["size"].dump() : "none");
  }
  return std::nullopt;
}

std::optional<std::int64_t> latest_checkpoint_iteration(const fs::path& save_dir) {
  if (!fs::is_directory(save_dir)) return std::nullopt;
  const fs::path tracker = save_dir / kTrackerFileName;
  if (fs::is_regular_file(tracker)) {
    const auto tracked = parse_integer(read_text_file(tracker));
    if (tracked && !incomplete_checkpoint_reason(save_dir / checkpoint_directory_name(*tracked))) return tracked;
  }
  std::optional<std::int64_t> latest;
  for (const fs::directory_entry& entry : fs::directory_iterator(save_dir)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || !std::regex_match(name, match, iteration_directory_pattern())) continue;
    const auto iteration = parse_integer(match[1].str());
    if (iteration && (!latest || *iteration > *latest) && !incomplete_checkpoint_reason(entry.path())) latest = iteration;
  }
  return latest;
}

LoadedCheckpoint::LoadedCheckpoint(const fs::path& directory) : directory_(directory) {
  if (const auto reason = incomplete_checkpoint_reason(directory))
    throw std::runtime_error(fmt::format("'{}' is not a complete checkpoint: {}", directory.string(), *reason));
  manifest_ = nlohmann::json::parse(read_text_file(directory / kManifestFile));
  model_ = std::make_unique<SafetensorsFile>(directory / kModelFile);
  if (manifest_["files"].contains(kOptimizerFile))
    optimizer_ = std::make_unique<SafetensorsFile>(directory / kOptimizerFile);
}

std::int64_t LoadedCheckpoint::iteration() const { return manifest_.at("iteration").get<std::int64_t>(); }
std::int64_t LoadedCheckpoint::consumed_train_samples() const {
  return manifest_.at("consumed_train_samples").get<std::int64_t>();
}
std::int64_t LoadedCheckpoint::consumed_valid_samples() const {
  return manifest_.at("consumed_valid_samples").get<std::int64_t>();
}
std::int64_t LoadedCheckpoint::optimizer_step() const { return manifest_.at("optimizer_step").get<std::int64_t>(); }

namespace {
const nlohmann::json& member_or_null(const nlohmann::json& object, const char* key) {
  static const nlohmann::json null_value;  // immutable sentinel for absent members
  const auto found = object.find(key);
  return found == object.end() ? null_value : *found;
}
}  // namespace

const nlohmann::json& LoadedCheckpoint::scheduler_state() const { return member_or_null(manifest_, "scheduler_state"); }
const nlohmann::json& LoadedCheckpoint::rng_state() const { return member_or_null(manifest_, "rng_state"); }
const nlohmann::json& LoadedCheckpoint::config() const { return member_or_null(manifest_, "config"); }
const nlohmann::json& LoadedCheckpoint::parallel_layout() const { return member_or_null(manifest_, "parallel_layout"); }

std::vector<std::string> LoadedCheckpoint::tensor_names() const {
  std::vector<std::string> names;
  for (const SafetensorsTensorInfo& info : model_->tensors()) names.push_back(info.name);
  return names;
}

void LoadedCheckpoint::check_tensor_names(std::span<const std::string> expected) const {
  const std::set<std::string> wanted(expected.begin(), expected.end());
  std::vector<std::string> missing, unexpected;
  for (const std::string& name : wanted)
    if (!model_->contains(name)) missing.push_back(name);
  for (const SafetensorsTensorInfo& info : model_->tensors())
    if (!wanted.contains(info.name)) unexpected.push_back(info.name);
  if (!missing.empty() || !unexpected.empty())
    throw std::runtime_error(fmt::format("checkpoint '{}' does not match the model: missing tensors [{}]; unexpected tensors [{}]",
                                         model_->path().string(), fmt::join(missing, ", "), fmt::join(unexpected, ", ")));
}

void LoadedCheckpoint::read_tensor(const std::string& name, std::span<const std::int64_t> shape,
                                   std::span<float> out) const {
  model_->read_as_float(name, shape, out);
}

void LoadedCheckpoint::read_optimizer_tensor(const std::string& name, std::span<const std::int64_t> shape,
                                             std::span<float> out) const {
  if (!optimizer_)
    throw std::runtime_error(fmt::format("checkpoint '{}' was saved without optimizer state (no_save_optim)",
                                         directory_.string()));
  optimizer_->read_as_float(name, shape, out);
}

LoadedCheckpoint load_checkpoint(const fs::path& save_dir, std::optional<std::int64_t> iteration) {
  if (!iteration) {
    iteration = latest_checkpoint_iteration(save_dir);
    if (!iteration)
      throw std::runtime_error(fmt::format("no complete checkpoint (iter_*/manifest.json) under '{}'", save_dir.string()));
  }
  return LoadedCheckpoint(save_dir / checkpoint_directory_name(*iteration));
}

}  // namespace primus::checkpoint
