// Hugging Face safetensors files: an 8-byte little-endian header size, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}
// padded with spaces to 8 bytes, then the tensor bytes. Reader (mmap, validated)
// and writer (streaming, fsync'd).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "primus/checkpoint/durable_file.hpp"

namespace primus::checkpoint {

enum class SafetensorsDtype { F32, BF16, F16, I32, I64, U16 };

// The header's spelling of a dtype ("F32", "BF16", ...).
const char* safetensors_dtype_name(SafetensorsDtype dtype);
// Bytes per element of a dtype.
std::size_t safetensors_dtype_size(SafetensorsDtype dtype);

// One tensor to write: name, dtype, shape and its raw little-endian bytes.
struct SafetensorsTensorView {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::F32;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> bytes;
};

// Writes a safetensors file (tensors in the given order) and fsyncs it; validates names and sizes first.
void write_safetensors(const std::filesystem::path& path, std::span<const SafetensorsTensorView> tensors,
                       const std::map<std::string, std::string>& metadata, const BytesWrittenObserver& observer = {});

// One tensor as described by a file's header; offsets are relative to the data section.
struct SafetensorsTensorInfo {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t data_begin = 0;
  std::uint64_t data_end = 0;
};

// A safetensors file mapped read-only and validated on open; errors name the file and tensor.
class SafetensorsFile {
 public:
  // Maps and validates `path` (header size, JSON, dtypes, shapes vs byte lengths, offsets in range, no overlap or gap).
  explicit SafetensorsFile(std::filesystem::path path);
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) = delete;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  // The file's path.
  const std::filesystem::path& path() const { return path_; }
  // The "__metadata__" string map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Tensors in data-offset order.
  const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }
  // Whether a tensor of that name exists.
  bool contains(const std::string& name) const;
  // The tensor's header entry; throws naming the file when absent.
  const SafetensorsTensorInfo& tensor(const std::string& name) const;
  // The tensor's raw bytes inside the mapping.
  std::span<const std::byte> bytes(const std::string& name) const;
  // Copies the tensor into `out` as fp32 (from F32, BF16 or F16); throws when `shape` differs from the file's.
  void read_as_float(const std::string& name, std::span<const std::int64_t> shape, std::span<float> out) const;

 private:
  std::filesystem::path path_;
  const std::byte* mapping_ = nullptr;
  std::size_t mapping_size_ = 0;
  std::size_t data_start_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<SafetensorsTensorInfo> tensors_;
  std::map<std::string, std::size_t> index_;
};

}  // namespace primus::checkpoint
