// NumPy .npy files (format version 1.0, C order, little-endian) for the GPT
// dataset's cached indices, so the cache can be inspected with numpy.load.
// Only int32 ("<i4") and int64 ("<i8") arrays are written and read.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace primus::data {

// Writes through a temporary file renamed into place.
void save_npy(const std::string& path, std::span<const std::int32_t> values,
              const std::vector<std::int64_t>& shape);
void save_npy(const std::string& path, std::span<const std::int64_t> values,
              const std::vector<std::int64_t>& shape);

// Throws std::runtime_error naming the file when it is not an .npy of that dtype
// or its data does not match the shape in its header.
std::vector<std::int32_t> load_npy_int32(const std::string& path, std::vector<std::int64_t>& shape);
std::vector<std::int64_t> load_npy_int64(const std::string& path, std::vector<std::int64_t>& shape);

}  // namespace primus::data
