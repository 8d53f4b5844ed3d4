// Reads an event file back with a decoder written here (TFRecord framing, a
// bit-by-bit CRC-32C, a generic protobuf walker) and checks every field.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>

#include "primus/log/tensorboard.hpp"

namespace primus::log {
namespace {

// Bitwise CRC-32C, independent of the table-driven one under test.
std::uint32_t reference_crc32c(const std::string& data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}
std::uint32_t reference_masked(const std::string& data) {
  const std::uint32_t crc = reference_crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

template <typename T>
T read_le(const std::string& data, std::size_t at) {
  T value;
  std::memcpy(&value, data.data() + at, sizeof(T));
  return value;
}

// One protobuf field: number, wire type and either an integer payload or bytes.
struct Field {
  std::uint32_t number;
  std::uint32_t wire_type;
  std::uint64_t integer = 0;
  std::string bytes;
};

std::uint64_t read_varint(const std::string& data, std::size_t& at) {
  std::uint64_t value = 0;
  for (int shift = 0;; shift += 7) {
    const auto byte = static_cast<unsigned char>(data.at(at++));
    value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if (!(byte & 0x80)) return value;
  }
}

std::vector<Field> parse_message(const std::string& data) {
  std::vector<Field> fields;
  std::size_t at = 0;
  while (at < data.size()) {
    const std::uint64_t key = read_varint(data, at);
    Field field{static_cast<std::uint32_t>(key >> 3), static_cast<std::uint32_t>(key & 7), 0, {}};
    switch (field.wire_type) {
      case 0: field.integer = read_varint(data, at); break;
      case 1: field.integer = read_le<std::uint64_t>(data, at); at += 8; break;
      case 5: field.integer = read_le<std::uint32_t>(data, at); at += 4; break;
      case 2: {
        const std::uint64_t length = read_varint(data, at);
        field.bytes = data.substr(at, length);
        at += length;
        break;
      }
      default: ADD_FAILURE() << "unexpected wire type " << field.wire_type; return fields;
    }
    fields.push_back(field);
  }
  EXPECT_EQ(at, data.size());
  return fields;
}

std::vector<std::string> read_records(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> records;
  std::size_t at = 0;
  while (at < data.size()) {
    const std::string length_bytes = data.substr(at, 8);
    const auto length = read_le<std::uint64_t>(data, at);
    EXPECT_EQ(read_le<std::uint32_t>(data, at + 8), reference_masked(length_bytes)) << "length CRC at " << at;
    const std::string payload = data.substr(at + 12, length);
    EXPECT_EQ(read_le<std::uint32_t>(data, at + 12 + length), reference_masked(payload)) << "payload CRC at " << at;
    records.push_back(payload);
    at += 12 + length + 4;
  }
  EXPECT_EQ(at, data.size());
  return records;
}

struct DecodedScalar {
  double wall_time;
  std::int64_t step;
  std::string tag;
  float value;
};

DecodedScalar decode_scalar_event(const std::string& payload) {
  DecodedScalar scalar{};
  for (const Field& field : parse_message(payload)) {
    if (field.number == 1 && field.wire_type == 1) std::memcpy(&scalar.wall_time, &field.integer, 8);
    if (field.number == 2 && field.wire_type == 0) scalar.step = static_cast<std::int64_t>(field.integer);
    if (field.number == 5 && field.wire_type == 2) {
      const auto summary = parse_message(field.bytes);
      EXPECT_EQ(summary.size(), 1u);
      EXPECT_EQ(summary.at(0).number, 1u);
      for (const Field& value_field : parse_message(summary.at(0).bytes)) {
        if (value_field.number == 1 && value_field.wire_type == 2) scalar.tag = value_field.bytes;
        if (value_field.number == 2 && value_field.wire_type == 5) {
          const auto bits = static_cast<std::uint32_t>(value_field.integer);
          std::memcpy(&scalar.value, &bits, 4);
        }
      }
    }
  }
  return scalar;
}

TEST(TensorBoard, EventFileDecodesBack) {
  const auto directory = std::filesystem::temp_directory_path() / ("primus_tb_" + std::to_string(::getpid()));
  std::filesystem::remove_all(directory);
  const double before = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::filesystem::path path;
  {
    TensorBoardWriter writer(directory);
    path = writer.path();
    writer.add_scalar("lm loss", 8.5, 1);
    const std::vector<std::pair<std::string, double>> batch = {{"learning-rate", 3e-4}, {"grad-norm", 1.25}};
    writer.add_scalars(300, batch);
    writer.add_scalar("iteration-time", -0.5, 1LL << 40);
    // Flushed on every batch: the file is complete while the writer is still open.
    EXPECT_EQ(read_records(path).size(), 5u);
  }
  char hostname[256] = {};
  ::gethostname(hostname, sizeof hostname - 1);
  EXPECT_TRUE(std::regex_match(path.filename().string(), std::regex(R"(events\.out\.tfevents\.\d{10}\.)" + std::string(hostname))))
      << path;

  const auto records = read_records(path);
  ASSERT_EQ(records.size(), 5u);
  const auto version = parse_message(records[0]);
  ASSERT_EQ(version.size(), 2u);
  EXPECT_EQ(version[0].number, 1u);
  EXPECT_EQ(version[1].number, 3u);
  EXPECT_EQ(version[1].bytes, "brain.Event:2");

  const DecodedScalar loss = decode_scalar_event(records[1]);
  EXPECT_EQ(loss.tag, "lm loss");
  EXPECT_EQ(loss.value, 8.5f);
  EXPECT_EQ(loss.step, 1);
  EXPECT_GE(loss.wall_time, before - 1.0);
  EXPECT_LE(loss.wall_time, before + 60.0);
  const DecodedScalar lr = decode_scalar_event(records[2]);
  EXPECT_EQ(lr.tag, "learning-rate");
  EXPECT_EQ(lr.value, 3e-4f);
  EXPECT_EQ(lr.step, 300);
  EXPECT_EQ(decode_scalar_event(records[3]).tag, "grad-norm");
  const DecodedScalar big = decode_scalar_event(records[4]);
  EXPECT_EQ(big.step, 1LL << 40);
  EXPECT_EQ(big.value, -0.5f);
  std::filesystem::remove_all(directory);
}

TEST(TensorBoard, PointsKeepTheirOwnSteps) {
  const auto directory = std::filesystem::temp_directory_path() / ("primus_tb_points_" + std::to_string(::getpid()));
  std::filesystem::remove_all(directory);
  std::filesystem::path path;
  {
    TensorBoardWriter writer(directory);
    path = writer.path();
    const std::vector<ScalarPoint> points = {{"lm loss", 3.0, 10}, {"lm loss vs samples", 3.0, 320}};
    writer.add_points(points);
  }
  const auto records = read_records(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(decode_scalar_event(records[1]).step, 10);
  EXPECT_EQ(decode_scalar_event(records[2]).step, 320);
  EXPECT_EQ(decode_scalar_event(records[2]).tag, "lm loss vs samples");
  std::filesystem::remove_all(directory);
}

TEST(TensorBoard, ScalarEventBytesMatchHandEncoding) {
  // Event{wall_time=1.0, step=3, summary{value{tag="a", simple_value=2.0}}}, encoded by hand.
  const std::string expected("\x09\x00\x00\x00\x00\x00\x00\xf0\x3f"  // field 1, fixed64: 1.0
                             "\x10\x03"                                // field 2, varint: 3
                             "\x2a\x0a"                                // field 5, 10 bytes
                             "\x0a\x08"                                // Summary.value, 8 bytes
                             "\x0a\x01" "a"                            // tag "a"
                             "\x15\x00\x00\x00\x40",                   // simple_value 2.0f
                             23);
  EXPECT_EQ(encode_scalar_event(1.0, 3, "a", 2.0f), expected);
}

}  // namespace
}  // namespace primus::log
