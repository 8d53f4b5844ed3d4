// TensorBoard event files written without TensorFlow: TFRecord framing around
// hand-encoded tensorflow.Event protobufs carrying scalar summaries
// (events.out.tfevents.<time>.<hostname> under the tensorboard directory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace primus::log {

// Serialized tensorflow.Event {wall_time=1, step=2, summary=5 {value=1 {tag=1, simple_value=2}}} with one scalar.
std::string encode_scalar_event(double wall_time, std::int64_t step, std::string_view tag, float value);
// Serialized tensorflow.Event {wall_time=1, file_version=3} (the first record of every event file).
std::string encode_file_version_event(double wall_time, std::string_view file_version = "brain.Event:2");
// TFRecord framing: u64 length, masked CRC-32C of the length, payload, masked CRC-32C of the payload.
std::string frame_tfrecord(std::string_view payload);

// One scalar at one step (Megatron writes "vs samples" twins at step = consumed samples).
struct ScalarPoint {
  std::string tag;
  double value = 0.0;
  std::int64_t step = 0;
};

// Appends scalar events to one new event file; every call flushes.
class TensorBoardWriter {
 public:
  // Creates `directory` and events.out.tfevents.<unix seconds>.<hostname> in it, starting with the version event.
  explicit TensorBoardWriter(const std::filesystem::path& directory);

  // Writes one scalar at `step` and flushes.
  void add_scalar(std::string_view tag, double value, std::int64_t step);
  // Writes one event per (tag, value) at `step`, then flushes once.
  void add_scalars(std::int64_t step, std::span<const std::pair<std::string, double>> scalars);
  // Writes one event per point, then flushes once.
  void add_points(std::span<const ScalarPoint> points);
  // The event file's path.
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_record(std::string_view payload);
  void flush();
  std::filesystem::path path_;
  std::ofstream stream_;
};

}  // namespace primus::log
