#include "primus/data/indexed_dataset.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

namespace primus::data {
namespace {

constexpr char kIndexMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};

// The .idx arrays start at offset 34, so they are unaligned: read through memcpy.
template <typename T>
T load(const std::byte* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

template <typename T>
void convert_tokens(const std::byte* from, std::int64_t count, std::int64_t* out) {
  for (std::int64_t i = 0; i < count; ++i) {
    out[i] = static_cast<std::int64_t>(load<T>(from + i * static_cast<std::int64_t>(sizeof(T))));
  }
}

template <typename T>
void store_token(std::int64_t token, TokenDType dtype, std::byte* at) {
  if constexpr (std::is_integral_v<T>) {
    if (token < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        token > static_cast<std::int64_t>(std::numeric_limits<T>::max())) {
      throw std::out_of_range(fmt::format("IndexedDatasetBuilder: token {} does not fit dtype {}",
                                          token, token_dtype_name(dtype)));
    }
  }
  const T value = static_cast<T>(token);
  std::memcpy(at, &value, sizeof(T));
}

std::string errno_text() { return std::system_category().message(errno); }

}  // namespace

std::size_t token_dtype_size(TokenDType dtype) {
  switch (dtype) {
    case TokenDType::uint8:
    case TokenDType::int8: return 1;
    case TokenDType::int16:
    case TokenDType::uint16: return 2;
    case TokenDType::int32:
    case TokenDType::float32: return 4;
    case TokenDType::int64:
    case TokenDType::float64: return 8;
  }
  throw std::invalid_argument(
      fmt::format("unknown token dtype code {} (expected 1..8)", static_cast<int>(dtype)));
}

const char* token_dtype_name(TokenDType dtype) {
  switch (dtype) {
    case TokenDType::uint8: return "uint8";
    case TokenDType::int8: return "int8";
    case TokenDType::int16: return "int16";
    case TokenDType::int32: return "int32";
    case TokenDType::int64: return "int64";
    case TokenDType::float64: return "float64";
    case TokenDType::float32: return "float32";
    case TokenDType::uint16: return "uint16";
  }
  return "unknown";
}

TokenDType optimal_token_dtype(std::int64_t vocab_size) {
  return vocab_size < 65500 ? TokenDType::uint16 : TokenDType::int32;
}

// ---------------------------------------------------------------- MappedFile

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error(fmt::format("cannot open {}: {}", path, errno_text()));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const std::string reason = errno_text();
    ::close(fd);
    throw std::runtime_error(fmt::format("cannot stat {}: {}", path, reason));
  }
  size_ = static_cast<std::size_t>(info.st_size);
  if (size_ > 0) {
    void* mapping = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (mapping == MAP_FAILED) {
      const std::string reason = errno_text();
      ::close(fd);
      throw std::runtime_error(fmt::format("cannot mmap {}: {}", path, reason));
    }
    data_ = static_cast<const std::byte*>(mapping);
  }
  ::close(fd);  // the mapping stays valid after close
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

// ------------------------------------------------------------ IndexedDataset

IndexedDataset::IndexedDataset(std::string path_prefix)
    : path_prefix_(std::move(path_prefix)),
      index_(path_prefix_ + ".idx"),
      bin_(path_prefix_ + ".bin") {
  const std::string& idx_path = index_.path();
  if (index_.size() < kIndexHeaderBytes) {
    throw std::runtime_error(fmt::format(
        "{}: file too short for the header: expected at least {} bytes, got {}", idx_path,
        kIndexHeaderBytes, index_.size()));
  }
  const std::byte* header = index_.data();
  if (std::memcmp(header, kIndexMagic, sizeof(kIndexMagic)) != 0) {
    throw std::runtime_error(fmt::format(
        "{}: bad magic: expected \"MMIDIDX\\x00\\x00\" (a Megatron indexed dataset), got bytes {:02x}",
        idx_path, fmt::join(reinterpret_cast<const unsigned char*>(header),
                            reinterpret_cast<const unsigned char*>(header) + 9, " ")));
  }
  const auto version = load<std::uint64_t>(header + 9);
  if (version != 1) {
    throw std::runtime_error(
        fmt::format("{}: bad version: expected 1, got {}", idx_path, version));
  }
  const auto code = load<std::uint8_t>(header + 17);
  if (code < 1 || code > 8) {
    throw std::runtime_error(fmt::format(
        "{}: unknown dtype code {}: expected 1..8 (uint8, int8, int16, int32, int64, float64, "
        "float32, uint16)",
        idx_path, code));
  }
  dtype_ = static_cast<TokenDType>(code);
  const auto sequence_count = load<std::uint64_t>(header + 18);
  const auto document_count = load<std::uint64_t>(header + 26);
  // Bound the counts before multiplying so a garbage count cannot overflow.
  const std::uint64_t max_count = index_.size();
  if (sequence_count > max_count || document_count > max_count) {
    throw std::runtime_error(fmt::format(
        "{}: file too short: header claims {} sequences and {} document indices (12 and 8 bytes "
        "each after the {}-byte header), but the file has {} bytes",
        idx_path, sequence_count, document_count, kIndexHeaderBytes, index_.size()));
  }
  sequence_count_ = static_cast<std::int64_t>(sequence_count);
  document_count_ = static_cast<std::int64_t>(document_count);
  pointers_offset_ = lengths_offset_ + 4 * sequence_count;
  document_indices_offset_ = pointers_offset_ + 8 * sequence_count;
  const std::size_t needed = document_indices_offset_ + 8 * document_count;
  if (index_.size() < needed) {
    const char* field = index_.size() < pointers_offset_        ? "sequence lengths"
                        : index_.size() < document_indices_offset_ ? "sequence pointers"
                                                                   : "document indices";
    throw std::runtime_error(fmt::format(
        "{}: file too short in the {} array: {} sequences and {} document indices need {} "
        "bytes, the file has {}",
        idx_path, field, sequence_count, document_count, needed, index_.size()));
  }
  total_tokens_ = validate();
}

std::int64_t IndexedDataset::validate() const {
  const std::string& idx_path = index_.path();
  if (document_count_ < 1) {
    throw std::runtime_error(fmt::format(
        "{}: document count is 0: expected at least 1 (document indices start with 0)", idx_path));
  }
  const auto item_size = static_cast<std::int64_t>(token_dtype_size(dtype_));
  const auto bin_size = static_cast<std::int64_t>(bin_.size());
  std::int64_t total = 0;
  for (std::int64_t i = 0; i < sequence_count_; ++i) {
    const std::int64_t length = sequence_length(i);
    const std::int64_t pointer = sequence_pointer(i);
    if (length < 0) {
      throw std::runtime_error(
          fmt::format("{}: sequence_lengths[{}] = {} is negative", idx_path, i, length));
    }
    if (pointer < 0 || pointer % item_size != 0 || pointer > bin_size ||
        length > (bin_size - pointer) / item_size) {
      throw std::runtime_error(fmt::format(
          "{}: sequence_pointers[{}] = {} with sequence_lengths[{}] = {} ({} bytes per {} token) "
          "ends at byte {}, beyond the size of {} ({} bytes)",
          idx_path, i, pointer, i, length, item_size, token_dtype_name(dtype_),
          pointer + length * item_size, bin_.path(), bin_size));
    }
    total += length;
  }
  std::int64_t previous = 0;
  for (std::int64_t k = 0; k < document_count_; ++k) {
    const std::int64_t value = document_index(k);
    if (value < previous || value > sequence_count_ || (k == 0 && value != 0)) {
      throw std::runtime_error(fmt::format(
          "{}: document_indices[{}] = {} out of range: expected non-decreasing values in [{}, {}] "
          "starting at 0",
          idx_path, k, value, previous, sequence_count_));
    }
    previous = value;
  }
  if (previous != sequence_count_) {
    throw std::runtime_error(fmt::format(
        "{}: document_indices[{}] = {}: expected the last document to end at the sequence count {}",
        idx_path, document_count_ - 1, previous, sequence_count_));
  }
  return total;
}

std::int64_t IndexedDataset::document_index(std::int64_t k) const {
  return load<std::int64_t>(index_.data() + document_indices_offset_ + 8 * k);
}

std::int64_t IndexedDataset::sequence_pointer(std::int64_t sequence) const {
  return load<std::int64_t>(index_.data() + pointers_offset_ + 8 * sequence);
}

std::int64_t IndexedDataset::sequence_length(std::int64_t sequence) const {
  return load<std::int32_t>(index_.data() + lengths_offset_ + 4 * sequence);
}

void IndexedDataset::read_tokens(std::int64_t sequence, std::int64_t offset, std::int64_t length,
                                 std::int64_t* out) const {
  if (sequence < 0 || sequence >= sequence_count_ || offset < 0 || length < 0 ||
      offset + length > sequence_length(sequence)) {
    throw std::out_of_range(fmt::format(
        "{}: tokens [{}, {}) of sequence {} requested; the dataset has {} sequences and this one "
        "has {} tokens",
        path_prefix_, offset, offset + length, sequence, sequence_count_,
        sequence >= 0 && sequence < sequence_count_ ? sequence_length(sequence) : 0));
  }
  if (length == 0) return;
  const auto item_size = static_cast<std::int64_t>(token_dtype_size(dtype_));
  const std::byte* from = bin_.data() + sequence_pointer(sequence) + offset * item_size;
  switch (dtype_) {
    case TokenDType::uint8: convert_tokens<std::uint8_t>(from, length, out); break;
    case TokenDType::int8: convert_tokens<std::int8_t>(from, length, out); break;
    case TokenDType::int16: convert_tokens<std::int16_t>(from, length, out); break;
    case TokenDType::int32: convert_tokens<std::int32_t>(from, length, out); break;
    case TokenDType::int64: convert_tokens<std::int64_t>(from, length, out); break;
    case TokenDType::float64: convert_tokens<double>(from, length, out); break;
    case TokenDType::float32: convert_tokens<float>(from, length, out); break;
    case TokenDType::uint16: convert_tokens<std::uint16_t>(from, length, out); break;
  }
}

std::vector<std::int64_t> IndexedDataset::get(std::int64_t sequence) const {
  if (sequence < 0 || sequence >= sequence_count_) {
    throw std::out_of_range(fmt::format("{}: sequence {} requested; the dataset has {}",
                                        path_prefix_, sequence, sequence_count_));
  }
  std::vector<std::int64_t> tokens(static_cast<std::size_t>(sequence_length(sequence)));
  read_tokens(sequence, 0, static_cast<std::int64_t>(tokens.size()), tokens.data());
  return tokens;
}

// ----------------------------------------------------- IndexedDatasetBuilder

IndexedDatasetBuilder::IndexedDatasetBuilder(std::string path_prefix, TokenDType dtype)
    : path_prefix_(std::move(path_prefix)), dtype_(dtype) {
  token_dtype_size(dtype_);  // rejects an unknown code early
  bin_temp_path_ = path_prefix_ + ".bin.tmp";
  bin_.open(bin_temp_path_, std::ios::binary | std::ios::trunc);
  if (!bin_) {
    throw std::runtime_error(
        fmt::format("cannot create {}: {}", bin_temp_path_, errno_text()));
  }
}

IndexedDatasetBuilder::~IndexedDatasetBuilder() {
  if (!finalized_) {
    bin_.close();
    std::error_code ignored;
    std::filesystem::remove(bin_temp_path_, ignored);
  }
}

void IndexedDatasetBuilder::add_item(std::span<const std::int64_t> tokens) {
  if (finalized_) throw std::logic_error("IndexedDatasetBuilder: add_item after finalize");
  if (tokens.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw std::out_of_range(fmt::format(
        "IndexedDatasetBuilder: a sequence of {} tokens exceeds the int32 length field",
        tokens.size()));
  }
  const std::size_t item_size = token_dtype_size(dtype_);
  buffer_.resize(tokens.size() * item_size);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::byte* at = buffer_.data() + i * item_size;
    switch (dtype_) {
      case TokenDType::uint8: store_token<std::uint8_t>(tokens[i], dtype_, at); break;
      case TokenDType::int8: store_token<std::int8_t>(tokens[i], dtype_, at); break;
      case TokenDType::int16: store_token<std::int16_t>(tokens[i], dtype_, at); break;
      case TokenDType::int32: store_token<std::int32_t>(tokens[i], dtype_, at); break;
      case TokenDType::int64: store_token<std::int64_t>(tokens[i], dtype_, at); break;
      case TokenDType::float64: store_token<double>(tokens[i], dtype_, at); break;
      case TokenDType::float32: store_token<float>(tokens[i], dtype_, at); break;
      case TokenDType::uint16: store_token<std::uint16_t>(tokens[i], dtype_, at); break;
    }
  }
  bin_.write(reinterpret_cast<const char*>(buffer_.data()),
             static_cast<std::streamsize>(buffer_.size()));
  if (!bin_) throw std::runtime_error(fmt::format("write to {} failed", bin_temp_path_));
  sequence_lengths_.push_back(static_cast<std::int32_t>(tokens.size()));
}

void IndexedDatasetBuilder::end_document() {
  document_indices_.push_back(static_cast<std::int64_t>(sequence_lengths_.size()));
}

void IndexedDatasetBuilder::finalize() {
  if (finalized_) throw std::logic_error("IndexedDatasetBuilder: finalize called twice");
  bin_.close();
  if (!bin_) throw std::runtime_error(fmt::format("closing {} failed", bin_temp_path_));

  const std::string idx_temp_path = path_prefix_ + ".idx.tmp";
  {
    std::ofstream idx(idx_temp_path, std::ios::binary | std::ios::trunc);
    if (!idx) throw std::runtime_error(fmt::format("cannot create {}: {}", idx_temp_path, errno_text()));
    auto put = [&idx](const void* bytes, std::size_t count) {
      idx.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(count));
    };
    // Little-endian host assumed (x86-64 / aarch64), as Megatron's "<Q" packing writes.
    const std::uint64_t version = 1;
    const auto code = static_cast<std::uint8_t>(dtype_);
    const std::uint64_t sequence_count = sequence_lengths_.size();
    const std::uint64_t document_count = document_indices_.size();
    put(kIndexMagic, sizeof(kIndexMagic));
    put(&version, 8);
    put(&code, 1);
    put(&sequence_count, 8);
    put(&document_count, 8);
    put(sequence_lengths_.data(), 4 * sequence_lengths_.size());
    const auto item_size = static_cast<std::int64_t>(token_dtype_size(dtype_));
    std::vector<std::int64_t> pointers(sequence_lengths_.size());
    std::int64_t pointer = 0;
    for (std::size_t i = 0; i < sequence_lengths_.size(); ++i) {
      pointers[i] = pointer;
      pointer += sequence_lengths_[i] * item_size;
    }
    put(pointers.data(), 8 * pointers.size());
    put(document_indices_.data(), 8 * document_indices_.size());
    idx.close();
    if (!idx) throw std::runtime_error(fmt::format("write to {} failed", idx_temp_path));
  }
  std::filesystem::rename(bin_temp_path_, path_prefix_ + ".bin");
  std::filesystem::rename(idx_temp_path, path_prefix_ + ".idx");
  finalized_ = true;
}

}  // namespace primus::data
