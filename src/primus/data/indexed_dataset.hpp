// Megatron's indexed dataset (<prefix>.idx + <prefix>.bin, "MMIDIDX" format):
// a memory-mapped reader that validates the index against both files, and a
// writer (IndexedDatasetBuilder) that produces the same bytes atomically.
//
// .idx layout (little-endian): magic "MMIDIDX\0\0" (9 bytes), version u64 = 1,
// dtype code u8, sequence count u64 (n), document count u64 (d = documents + 1),
// sequence lengths int32[n], sequence pointers int64[n] (byte offsets into .bin),
// document indices int64[d] (0, then the sequence index that ends each document).
// A trailing multimodal mode array (int8[n]) is allowed and ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <span>
#include <string>
#include <vector>

namespace primus::data {

// The token dtype codes of Megatron's DType enum (indexed_dataset.py).
enum class TokenDType : std::uint8_t {
  uint8 = 1,
  int8 = 2,
  int16 = 3,
  int32 = 4,
  int64 = 5,
  float64 = 6,
  float32 = 7,
  uint16 = 8,
};

// Bytes per token; throws std::invalid_argument for a code outside 1..8.
std::size_t token_dtype_size(TokenDType dtype);
const char* token_dtype_name(TokenDType dtype);
// Megatron's choice for a tokenizer vocabulary: uint16 below 65500 tokens, else int32.
TokenDType optimal_token_dtype(std::int64_t vocab_size);

inline constexpr std::size_t kIndexHeaderBytes = 34;  // magic 9 + version 8 + dtype 1 + counts 16

// A corpus of token sequences as the GPT dataset sees it (Megatron's "low-level
// dataset"): the GPT dataset samples across sequences, not documents.
class TokenSequences {
 public:
  virtual ~TokenSequences() = default;
  virtual std::int64_t num_sequences() const = 0;
  virtual std::int64_t sequence_length(std::int64_t sequence) const = 0;
  // Copies tokens [offset, offset + length) of one sequence into out.
  virtual void read_tokens(std::int64_t sequence, std::int64_t offset, std::int64_t length,
                           std::int64_t* out) const = 0;
  // Identifies the corpus in cache descriptions (the path prefix, or "mock").
  virtual std::string identity() const = 0;
};

// A read-only memory mapping of one file; empty files map to nothing.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

class IndexedDataset : public TokenSequences {
 public:
  // Opens <path_prefix>.idx and <path_prefix>.bin; throws std::runtime_error naming
  // the file, the field and the expected vs actual value when they are inconsistent.
  explicit IndexedDataset(std::string path_prefix);

  const std::string& path_prefix() const { return path_prefix_; }
  TokenDType dtype() const { return dtype_; }
  // Documents are ranges of sequences: document k is sequences [document_index(k), document_index(k+1)).
  std::int64_t num_documents() const { return document_count_ - 1; }
  std::int64_t document_index(std::int64_t k) const;  // k in [0, num_documents()]
  std::int64_t sequence_pointer(std::int64_t sequence) const;
  std::int64_t total_tokens() const { return total_tokens_; }
  // All tokens of one sequence, widened to int64.
  std::vector<std::int64_t> get(std::int64_t sequence) const;

  std::int64_t num_sequences() const override { return sequence_count_; }
  std::int64_t sequence_length(std::int64_t sequence) const override;
  void read_tokens(std::int64_t sequence, std::int64_t offset, std::int64_t length,
                   std::int64_t* out) const override;
  std::string identity() const override { return path_prefix_; }

 private:
  // Checks every length, pointer and document index; returns the token count.
  std::int64_t validate() const;

  std::string path_prefix_;
  MappedFile index_;
  MappedFile bin_;
  TokenDType dtype_ = TokenDType::int32;
  std::int64_t sequence_count_ = 0;
  std::int64_t document_count_ = 0;
  std::int64_t total_tokens_ = 0;
  std::size_t lengths_offset_ = kIndexHeaderBytes;
  std::size_t pointers_offset_ = 0;
  std::size_t document_indices_offset_ = 0;
};

// Writes <prefix>.bin and <prefix>.idx through temporary files renamed on
// finalize(), so a crash never leaves a half-written dataset under the real name.
class IndexedDatasetBuilder {
 public:
  IndexedDatasetBuilder(std::string path_prefix, TokenDType dtype);
  ~IndexedDatasetBuilder();  // removes the temporary files when finalize() was not reached
  IndexedDatasetBuilder(const IndexedDatasetBuilder&) = delete;
  IndexedDatasetBuilder& operator=(const IndexedDatasetBuilder&) = delete;

  // Appends one sequence; throws std::out_of_range when a token does not fit the dtype.
  void add_item(std::span<const std::int64_t> tokens);
  // Ends the current document after the sequences added since the last call.
  void end_document();
  void finalize();

 private:
  std::string path_prefix_;
  TokenDType dtype_;
  std::string bin_temp_path_;
  std::ofstream bin_;
  std::vector<std::int32_t> sequence_lengths_;
  std::vector<std::int64_t> document_indices_{0};
  std::vector<std::byte> buffer_;
  bool finalized_ = false;
};

}  // namespace primus::data
