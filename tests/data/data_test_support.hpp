// Helpers shared by the data tests: a per-test scratch folder and small corpora.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "primus/data/indexed_dataset.hpp"

namespace primus::data::testing {

// A fresh folder named after the running test, removed when the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("primus_data_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" +
             info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<unsigned char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Writes one document per sequence and returns the sequences.
inline std::vector<std::vector<std::int64_t>> write_corpus(
    const std::string& prefix, const std::vector<std::vector<std::int64_t>>& sequences,
    TokenDType dtype = TokenDType::int32) {
  IndexedDatasetBuilder builder(prefix, dtype);
  for (const auto& sequence : sequences) {
    builder.add_item(sequence);
    builder.end_document();
  }
  builder.finalize();
  return sequences;
}

// `count` sequences of varied lengths in [1, max_length]; token values start at `base`
// and count up so that every token of the corpus is distinct.
inline std::vector<std::vector<std::int64_t>> varied_sequences(int count, int max_length,
                                                               std::int64_t base = 0) {
  std::vector<std::vector<std::int64_t>> sequences;
  std::int64_t next = base;
  for (int i = 0; i < count; ++i) {
    const int length = 1 + (i * 7 + 3) % max_length;
    std::vector<std::int64_t> sequence;
    for (int j = 0; j < length; ++j) sequence.push_back(next++);
    sequences.push_back(sequence);
  }
  return sequences;
}

}  // namespace primus::data::testing
