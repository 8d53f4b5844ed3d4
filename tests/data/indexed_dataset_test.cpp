// The .bin/.idx format: a hand-assembled file pins the bytes, the builder must
// reproduce them, every dtype round-trips, and damaged files give clear errors.
#include "primus/data/indexed_dataset.hpp"

#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data_test_support.hpp"

namespace primus::data {
namespace {

using ::testing::HasSubstr;
using testing::read_bytes;
using testing::ScratchDir;
using testing::write_bytes;

// Little-endian bytes of an unsigned value, written out from the spec.
void append_le(std::vector<unsigned char>& bytes, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i) bytes.push_back(static_cast<unsigned char>((value >> (8 * i)) & 0xff));
}

// Two documents: {5, 6, 7} as one sequence, then {8, 9} and {10} as two sequences; int32 tokens.
std::vector<unsigned char> spec_index_bytes() {
  std::vector<unsigned char> bytes = {'M', 'M', 'I', 'D', 'I', 'D', 'X', 0, 0};
  append_le(bytes, 1, 8);  // version
  bytes.push_back(4);      // dtype code: int32
  append_le(bytes, 3, 8);  // sequence count
  append_le(bytes, 3, 8);  // document index count (documents + 1)
  for (const std::uint64_t length : {3, 2, 1}) append_le(bytes, length, 4);
  for (const std::uint64_t pointer : {0, 12, 20}) append_le(bytes, pointer, 8);
  for (const std::uint64_t index : {0, 1, 3}) append_le(bytes, index, 8);
  return bytes;
}

std::vector<unsigned char> spec_bin_bytes() {
  std::vector<unsigned char> bytes;
  for (const std::uint64_t token : {5, 6, 7, 8, 9, 10}) append_le(bytes, token, 4);
  return bytes;
}

TEST(IndexedDataset, ReadsHandAssembledFile) {
  ScratchDir dir;
  const std::string prefix = dir / "spec";
  write_bytes(prefix + ".idx", spec_index_bytes());
  write_bytes(prefix + ".bin", spec_bin_bytes());
  IndexedDataset dataset(prefix);
  EXPECT_EQ(dataset.dtype(), TokenDType::int32);
  EXPECT_EQ(dataset.num_sequences(), 3);
  EXPECT_EQ(dataset.num_documents(), 2);
  EXPECT_EQ(dataset.document_index(0), 0);
  EXPECT_EQ(dataset.document_index(1), 1);
  EXPECT_EQ(dataset.document_index(2), 3);
  EXPECT_EQ(dataset.sequence_pointer(1), 12);
  EXPECT_EQ(dataset.total_tokens(), 6);
  EXPECT_EQ(dataset.get(0), (std::vector<std::int64_t>{5, 6, 7}));
  EXPECT_EQ(dataset.get(1), (std::vector<std::int64_t>{8, 9}));
  EXPECT_EQ(dataset.get(2), (std::vector<std::int64_t>{10}));
  std::int64_t middle[2] = {};
  dataset.read_tokens(0, 1, 2, middle);
  EXPECT_EQ(middle[0], 6);
  EXPECT_EQ(middle[1], 7);
  EXPECT_THROW(dataset.read_tokens(1, 1, 2, middle), std::out_of_range);
}

TEST(IndexedDataset, BuilderWritesTheSpecBytes) {
  ScratchDir dir;
  const std::string prefix = dir / "built";
  IndexedDatasetBuilder builder(prefix, TokenDType::int32);
  builder.add_item(std::vector<std::int64_t>{5, 6, 7});
  builder.end_document();
  builder.add_item(std::vector<std::int64_t>{8, 9});
  builder.add_item(std::vector<std::int64_t>{10});
  builder.end_document();
  EXPECT_FALSE(std::filesystem::exists(prefix + ".idx"));  // nothing under the real name yet
  builder.finalize();
  EXPECT_EQ(read_bytes(prefix + ".idx"), spec_index_bytes());
  EXPECT_EQ(read_bytes(prefix + ".bin"), spec_bin_bytes());
  EXPECT_FALSE(std::filesystem::exists(prefix + ".bin.tmp"));
  EXPECT_FALSE(std::filesystem::exists(prefix + ".idx.tmp"));
}

TEST(IndexedDataset, AbandonedBuilderLeavesNoFiles) {
  ScratchDir dir;
  const std::string prefix = dir / "abandoned";
  {
    IndexedDatasetBuilder builder(prefix, TokenDType::uint16);
    builder.add_item(std::vector<std::int64_t>{1, 2});
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(IndexedDataset, EveryDtypeRoundTrips) {
  struct Case {
    TokenDType dtype;
    int code;
    std::size_t size;
    std::vector<std::int64_t> tokens;
  };
  const std::vector<Case> cases = {
      {TokenDType::uint8, 1, 1, {0, 1, 200, 255}},
      {TokenDType::int8, 2, 1, {-128, -1, 0, 127}},
      {TokenDType::int16, 3, 2, {-32768, -5, 0, 32767}},
      {TokenDType::int32, 4, 4, {std::numeric_limits<std::int32_t>::min(), 0, 128000, 2147483647}},
      {TokenDType::int64, 5, 8, {-(std::int64_t{1} << 40), 0, std::int64_t{1} << 50}},
      {TokenDType::float64, 6, 8, {0, 3, std::int64_t{1} << 52}},
      {TokenDType::float32, 7, 4, {0, 7, 1 << 24}},
      {TokenDType::uint16, 8, 2, {0, 50256, 65535}},
  };
  ScratchDir dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(token_dtype_name(c.dtype));
    EXPECT_EQ(static_cast<int>(c.dtype), c.code);
    EXPECT_EQ(token_dtype_size(c.dtype), c.size);
    const std::string prefix = dir / token_dtype_name(c.dtype);
    IndexedDatasetBuilder builder(prefix, c.dtype);
    builder.add_item(c.tokens);
    builder.add_item(std::vector<std::int64_t>(c.tokens.rbegin(), c.tokens.rend()));
    builder.end_document();
    builder.finalize();
    EXPECT_EQ(std::filesystem::file_size(prefix + ".bin"), 2 * c.tokens.size() * c.size);
    EXPECT_EQ(read_bytes(prefix + ".idx").at(17), c.code);
    IndexedDataset dataset(prefix);
    EXPECT_EQ(dataset.dtype(), c.dtype);
    EXPECT_EQ(dataset.get(0), c.tokens);
    EXPECT_EQ(dataset.get(1), std::vector<std::int64_t>(c.tokens.rbegin(), c.tokens.rend()));
    EXPECT_EQ(dataset.sequence_pointer(1), static_cast<std::int64_t>(c.tokens.size() * c.size));
  }
}

TEST(IndexedDataset, BuilderRejectsTokensOutsideTheDtype) {
  ScratchDir dir;
  IndexedDatasetBuilder builder(dir / "narrow", TokenDType::uint8);
  EXPECT_THROW(builder.add_item(std::vector<std::int64_t>{256}), std::out_of_range);
  EXPECT_THROW(builder.add_item(std::vector<std::int64_t>{-1}), std::out_of_range);
  IndexedDatasetBuilder wide(dir / "uint16", TokenDType::uint16);
  EXPECT_THROW(wide.add_item(std::vector<std::int64_t>{65536}), std::out_of_range);
}

TEST(IndexedDataset, OptimalDtypeFollowsMegatron) {
  EXPECT_EQ(optimal_token_dtype(50257), TokenDType::uint16);
  EXPECT_EQ(optimal_token_dtype(65500), TokenDType::int32);
  EXPECT_EQ(optimal_token_dtype(128256), TokenDType::int32);
}

// Writes the spec files with one damage applied and returns the error message.
template <typename Damage>
std::string open_error(const ScratchDir& dir, Damage damage) {
  const std::string prefix = dir / "damaged";
  auto index = spec_index_bytes();
  auto bin = spec_bin_bytes();
  damage(index, bin);
  write_bytes(prefix + ".idx", index);
  write_bytes(prefix + ".bin", bin);
  try {
    IndexedDataset dataset(prefix);
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  ADD_FAILURE() << "the damaged dataset opened without an error";
  return "";
}

TEST(IndexedDataset, CorruptFilesGiveClearErrors) {
  ScratchDir dir;
  using Bytes = std::vector<unsigned char>;
  const std::string idx_path = dir / "damaged.idx";

  auto message = open_error(dir, [](Bytes& index, Bytes&) { index[0] = 'X'; });
  EXPECT_THAT(message, HasSubstr(idx_path));
  EXPECT_THAT(message, HasSubstr("bad magic"));

  message = open_error(dir, [](Bytes& index, Bytes&) { index[9] = 2; });
  EXPECT_THAT(message, HasSubstr(idx_path));
  EXPECT_THAT(message, HasSubstr("bad version: expected 1, got 2"));

  message = open_error(dir, [](Bytes& index, Bytes&) { index[17] = 9; });
  EXPECT_THAT(message, HasSubstr("unknown dtype code 9"));
  message = open_error(dir, [](Bytes& index, Bytes&) { index[17] = 0; });
  EXPECT_THAT(message, HasSubstr("unknown dtype code 0"));

  message = open_error(dir, [](Bytes& index, Bytes&) { index.resize(20); });
  EXPECT_THAT(message, HasSubstr(idx_path));
  EXPECT_THAT(message, HasSubstr("file too short for the header: expected at least 34 bytes, got 20"));

  message = open_error(dir, [](Bytes& index, Bytes&) { index.resize(34 + 12 + 8); });
  EXPECT_THAT(message, HasSubstr("file too short in the sequence pointers"));
  EXPECT_THAT(message, HasSubstr("need 94 bytes, the file has 54"));

  message = open_error(dir, [](Bytes& index, Bytes&) { index.resize(index.size() - 1); });
  EXPECT_THAT(message, HasSubstr("file too short in the document indices"));

  message = open_error(dir, [](Bytes& index, Bytes&) { index[18] = 0xff; index[25] = 0x7f; });
  EXPECT_THAT(message, HasSubstr("file too short"));

  // The .bin lost its last token: sequence 2 (pointer 20, one int32) now ends past its end.
  message = open_error(dir, [](Bytes&, Bytes& bin) { bin.resize(20); });
  EXPECT_THAT(message, HasSubstr("sequence_pointers[2] = 20"));
  EXPECT_THAT(message, HasSubstr("beyond the size of " + dir / "damaged.bin" + " (20 bytes)"));

  // The last document index (byte 34 + 12 + 24 + 16) claims sequence 5 of 3.
  message = open_error(dir, [](Bytes& index, Bytes&) { index[34 + 12 + 24 + 16] = 5; });
  EXPECT_THAT(message, HasSubstr("document_indices[2] = 5 out of range"));

  message = open_error(dir, [](Bytes& index, Bytes&) { index[34 + 12 + 24 + 8] = 3; index[34 + 12 + 24 + 16] = 2; });
  EXPECT_THAT(message, HasSubstr("document_indices[2] = 2 out of range"));

  // The last document ends before the last sequence.
  message = open_error(dir, [](Bytes& index, Bytes&) { index[34 + 12 + 24 + 16] = 2; });
  EXPECT_THAT(message, HasSubstr("expected the last document to end at the sequence count 3"));
}

TEST(IndexedDataset, MissingBinNamesTheFile) {
  ScratchDir dir;
  const std::string prefix = dir / "lonely";
  write_bytes(prefix + ".idx", spec_index_bytes());
  try {
    IndexedDataset dataset(prefix);
    FAIL() << "opened without a .bin";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr(prefix + ".bin"));
  }
}

}  // namespace
}  // namespace primus::data
