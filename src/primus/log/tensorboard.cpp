#include "primus/log/tensorboard.hpp"

#include <bit>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <stdexcept>
#include <unistd.h>

#include "primus/log/crc32c.hpp"

namespace primus::log {

namespace {

// Protobuf wire types.
constexpr std::uint32_t kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_key(std::string& out, std::uint32_t field, std::uint32_t wire_type) { put_varint(out, (field << 3) | wire_type); }

template <typename T>
void put_little_endian(std::string& out, T value) {
  static_assert(std::endian::native == std::endian::little);
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

void put_bytes_field(std::string& out, std::uint32_t field, std::string_view bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes);
}

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::span<const std::byte> as_byte_span(std::string_view text) {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

}  // namespace

std::string encode_scalar_event(double wall_time, std::int64_t step, std::string_view tag, float value) {
  std::string summary_value;
  put_bytes_field(summary_value, 1, tag);  // Summary.Value.tag
  put_key(summary_value, 2, kFixed32);     // Summary.Value.simple_value
  put_little_endian(summary_value, value);
  std::string summary;
  put_bytes_field(summary, 1, summary_value);  // Summary.value
  std::string event;
  put_key(event, 1, kFixed64);  // Event.wall_time
  put_little_endian(event, wall_time);
  put_key(event, 2, kVarint);  // Event.step
  put_varint(event, static_cast<std::uint64_t>(step));
  put_bytes_field(event, 5, summary);  // Event.summary
  return event;
}

std::string encode_file_version_event(double wall_time, std::string_view file_version) {
  std::string event;
  put_key(event, 1, kFixed64);
  put_little_endian(event, wall_time);
  put_bytes_field(event, 3, file_version);  // Event.file_version
  return event;
}

std::string frame_tfrecord(std::string_view payload) {
  std::string record;
  std::string length;
  put_little_endian(length, static_cast<std::uint64_t>(payload.size()));
  record += length;
  put_little_endian(record, masked_crc32c(as_byte_span(length)));
  record += payload;
  put_little_endian(record, masked_crc32c(as_byte_span(payload)));
  return record;
}

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path& directory) {
  std::filesystem::create_directories(directory);
  char hostname[256] = {};
  if (::gethostname(hostname, sizeof hostname - 1) != 0) std::strcpy(hostname, "localhost");
  const double now = unix_seconds_now();
  path_ = directory / fmt::format("events.out.tfevents.{}.{}", static_cast<std::int64_t>(now), hostname);
  stream_.open(path_, std::ios::binary | std::ios::app);
  if (!stream_) throw std::runtime_error(fmt::format("cannot create TensorBoard event file '{}'", path_.string()));
  write_record(encode_file_version_event(now));
  flush();
}

void TensorBoardWriter::add_scalar(std::string_view tag, double value, std::int64_t step) {
  write_record(encode_scalar_event(unix_seconds_now(), step, tag, static_cast<float>(value)));
  flush();
}

void TensorBoardWriter::add_scalars(std::int64_t step, std::span<const std::pair<std::string, double>> scalars) {
  const double now = unix_seconds_now();
  for (const auto& [tag, value] : scalars) write_record(encode_scalar_event(now, step, tag, static_cast<float>(value)));
  flush();
}

void TensorBoardWriter::add_points(std::span<const ScalarPoint> points) {
  const double now = unix_seconds_now();
  for (const ScalarPoint& point : points)
    write_record(encode_scalar_event(now, point.step, point.tag, static_cast<float>(point.value)));
  flush();
}

void TensorBoardWriter::write_record(std::string_view payload) {
  const std::string record = frame_tfrecord(payload);
  stream_.write(record.data(), static_cast<std::streamsize>(record.size()));
}

void TensorBoardWriter::flush() {
  stream_.flush();
  if (!stream_) throw std::runtime_error(fmt::format("cannot write TensorBoard event file '{}'", path_.string()));
}

}  // namespace primus::log
