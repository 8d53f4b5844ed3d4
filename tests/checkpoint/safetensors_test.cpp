// safetensors: reading a file built byte by byte in the test, the writer's exact
// layout, dtype conversion, and clear errors for damaged files.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "primus/checkpoint/safetensors.hpp"
#include "test_directory.hpp"

namespace primus::checkpoint {
namespace {

using testing::ScratchDirectory;

// Writes <u64 header size><header><data> exactly as given.
void write_raw(const std::filesystem::path& path, const std::string& header, const std::vector<unsigned char>& data,
               std::uint64_t declared_header_size = 0) {
  std::ofstream out(path, std::ios::binary);
  const std::uint64_t size = declared_header_size ? declared_header_size : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((size >> (8 * i)) & 0xff));
  out << header;
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

std::vector<unsigned char> float_bytes(std::initializer_list<float> values) {
  std::vector<unsigned char> bytes(values.size() * 4);
  std::memcpy(bytes.data(), std::data(values), bytes.size());
  return bytes;
}

std::string error_of(const std::filesystem::path& path) {
  try {
    SafetensorsFile file(path);
  } catch (const std::exception& error) {
    return error.what();
  }
  return "";
}

TEST(Safetensors, ReadsHandBuiltFile) {
  ScratchDirectory scratch;
  const auto path = scratch.path() / "hand.safetensors";
  auto data = float_bytes({1.5f, -2.0f, 3.25f});
  data.insert(data.end(), {0x00, 0x00, 0xff, 0xff});  // U16 [2]: 0, 65535
  write_raw(path,
            R"({"__metadata__":{"format":"pt"},"b":{"dtype":"U16","shape":[2],"data_offsets":[12,16]},)"
            R"("a":{"dtype":"F32","shape":[3,1],"data_offsets":[0,12]}})",
            data);
  SafetensorsFile file(path);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  ASSERT_EQ(file.tensors().size(), 2u);
  EXPECT_EQ(file.tensors()[0].name, "a");  // data-offset order
  EXPECT_EQ(file.tensor("b").dtype, SafetensorsDtype::U16);
  std::vector<float> a(3);
  file.read_as_float("a", std::vector<std::int64_t>{3, 1}, a);
  EXPECT_EQ(a, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  EXPECT_EQ(std::to_integer<int>(file.bytes("b")[2]), 0xff);
  EXPECT_THROW(file.read_as_float("a", std::vector<std::int64_t>{3}, a), std::runtime_error);
  EXPECT_THROW(file.tensor("missing"), std::runtime_error);
}

TEST(Safetensors, WriterLayoutIsTheSpecifiedFormat) {
  ScratchDirectory scratch;
  const auto path = scratch.path() / "out.safetensors";
  std::vector<float> weight = {1, 2, 3, 4, 5, 6};
  std::vector<std::uint16_t> half = {0x3FC0};  // bf16 1.5
  std::vector<SafetensorsTensorView> tensors = {
      {"layer.weight", SafetensorsDtype::F32, {2, 3}, std::as_bytes(std::span(weight))},
      {"layer.scale", SafetensorsDtype::BF16, {1}, std::as_bytes(std::span(half))}};
  write_safetensors(path, tensors, {{"format", "pt"}});

  std::ifstream in(path, std::ios::binary);
  std::vector<unsigned char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | raw[i];
  EXPECT_EQ(header_size % 8, 0u);
  ASSERT_EQ(raw.size(), 8 + header_size + 24 + 2);
  const std::string header(raw.begin() + 8, raw.begin() + 8 + static_cast<long>(header_size));
  EXPECT_EQ(header.front(), '{');
  const auto json = nlohmann::json::parse(header);  // trailing spaces are valid JSON whitespace
  EXPECT_EQ(json["__metadata__"]["format"], "pt");
  EXPECT_EQ(json["layer.weight"]["dtype"], "F32");
  EXPECT_EQ(json["layer.weight"]["shape"], nlohmann::json::array({2, 3}));
  EXPECT_EQ(json["layer.weight"]["data_offsets"], nlohmann::json::array({0, 24}));
  EXPECT_EQ(json["layer.scale"]["data_offsets"], nlohmann::json::array({24, 26}));
  EXPECT_EQ(std::memcmp(raw.data() + 8 + header_size, weight.data(), 24), 0);
  const auto last = header.find_last_not_of(' ');
  EXPECT_EQ(header[last], '}');

  SafetensorsFile file(path);
  std::vector<float> scale(1);
  file.read_as_float("layer.scale", std::vector<std::int64_t>{1}, scale);
  EXPECT_EQ(scale[0], 1.5f);
}

TEST(Safetensors, HalfPrecisionConversion) {
  ScratchDirectory scratch;
  const auto path = scratch.path() / "f16.safetensors";
  // f16: 1.5, -2, smallest subnormal 2^-24, +inf.
  std::vector<std::uint16_t> bits = {0x3E00, 0xC000, 0x0001, 0x7C00};
  std::vector<SafetensorsTensorView> tensors = {{"h", SafetensorsDtype::F16, {4}, std::as_bytes(std::span(bits))}};
  write_safetensors(path, tensors, {});
  std::vector<float> values(4);
  SafetensorsFile(path).read_as_float("h", std::vector<std::int64_t>{4}, values);
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_EQ(values[1], -2.0f);
  EXPECT_EQ(values[2], 0x1p-24f);
  EXPECT_TRUE(std::isinf(values[3]));
}

TEST(Safetensors, WriterRejectsSizeMismatch) {
  ScratchDirectory scratch;
  std::vector<float> weight = {1, 2, 3};
  std::vector<SafetensorsTensorView> tensors = {{"w", SafetensorsDtype::F32, {2, 2}, std::as_bytes(std::span(weight))}};
  EXPECT_THROW(write_safetensors(scratch.path() / "bad.safetensors", tensors, {}), std::invalid_argument);
}

TEST(Safetensors, TruncatedFileIsAClearError) {
  ScratchDirectory scratch;
  const auto path = scratch.path() / "model.safetensors";
  std::vector<float> weight(64, 1.0f);
  std::vector<SafetensorsTensorView> tensors = {{"w", SafetensorsDtype::F32, {64}, std::as_bytes(std::span(weight))}};
  write_safetensors(path, tensors, {});
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 4);
  const std::string message = error_of(path);
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("'w'"), std::string::npos) << message;
  std::filesystem::resize_file(path, 20);  // cut inside the header
  EXPECT_NE(error_of(path).find("header size"), std::string::npos) << error_of(path);
  std::filesystem::resize_file(path, 3);
  EXPECT_NE(error_of(path).find("not a safetensors file"), std::string::npos) << error_of(path);
}

TEST(Safetensors, DamagedHeadersAreClearErrors) {
  ScratchDirectory scratch;
  const auto path = scratch.path() / "x.safetensors";
  const auto data = float_bytes({1, 2, 3, 4});
  write_raw(path, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            data);
  EXPECT_NE(error_of(path).find("overlaps"), std::string::npos) << error_of(path);
  write_raw(path, R"({"a":{"dtype":"F8_E4M3","shape":[16],"data_offsets":[0,16]}})", data);
  EXPECT_NE(error_of(path).find("unsupported dtype"), std::string::npos) << error_of(path);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data);
  EXPECT_NE(error_of(path).find("needs 12 bytes"), std::string::npos) << error_of(path);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data);
  EXPECT_NE(error_of(path).find("gap"), std::string::npos) << error_of(path);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})", data);
  EXPECT_NE(error_of(path).find("not valid JSON"), std::string::npos) << error_of(path);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data, 1000);
  EXPECT_NE(error_of(path).find("exceeds"), std::string::npos) << error_of(path);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data);
  EXPECT_EQ(error_of(path), "");
}

}  // namespace
}  // namespace primus::checkpoint
