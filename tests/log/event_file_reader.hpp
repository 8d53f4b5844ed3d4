// An independent reader of TensorBoard event files for tests: TFRecord framing
// checked with a bit-by-bit CRC-32C, a generic protobuf walker, and the scalar
// Event decoder. Shared by tests/log and tests/train.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace primus::log::testing {

// Bitwise CRC-32C, independent of the table-driven one under test.
inline std::uint32_t reference_crc32c(const std::string& data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}
inline std::uint32_t reference_masked(const std::string& data) {
  const std::uint32_t crc = reference_crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

template <typename T>
inline T read_le(const std::string& data, std::size_t at) {
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

inline std::uint64_t read_varint(const std::string& data, std::size_t& at) {
  std::uint64_t value = 0;
  for (int shift = 0;; shift += 7) {
    const auto byte = static_cast<unsigned char>(data.at(at++));
    value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if (!(byte & 0x80)) return value;
  }
}

inline std::vector<Field> parse_message(const std::string& data) {
  std::vector<Field> fields;
  std::size_t at = 0;
  while (at < data.size()) {
    const std::uint64_t key = read_varint(data, at);
    Field field{static_cast<std::uint32_t>(key >> 3), static_cast<std::uint32_t>(key & 7), 0, {}};
    switch (field.wire_type) {
      case 0:
        field.integer = read_varint(data, at);
        break;
      case 1:
        field.integer = read_le<std::uint64_t>(data, at);
        at += 8;
        break;
      case 5:
        field.integer = read_le<std::uint32_t>(data, at);
        at += 4;
        break;
      case 2: {
        const std::uint64_t length = read_varint(data, at);
        field.bytes = data.substr(at, length);
        at += length;
        break;
      }
      default:
        ADD_FAILURE() << "unexpected wire type " << field.wire_type;
        return fields;
    }
    fields.push_back(field);
  }
  EXPECT_EQ(at, data.size());
  return fields;
}

inline std::vector<std::string> read_records(const std::filesystem::path& path) {
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

inline DecodedScalar decode_scalar_event(const std::string& payload) {
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

// Every scalar event of an event file (the file-version record first is skipped).
inline std::vector<DecodedScalar> read_scalar_events(const std::filesystem::path& path) {
  std::vector<DecodedScalar> scalars;
  for (const std::string& record : read_records(path)) {
    DecodedScalar scalar = decode_scalar_event(record);
    if (!scalar.tag.empty()) scalars.push_back(std::move(scalar));
  }
  return scalars;
}

}  // namespace primus::log::testing
