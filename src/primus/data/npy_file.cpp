#include "primus/data/npy_file.hpp"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <stdexcept>

#include <fmt/format.h>

namespace primus::data {
namespace {

constexpr char kNpyMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
constexpr std::size_t kPreambleBytes = 10;  // magic 6 + version 2 + header length 2

std::string shape_text(const std::vector<std::int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

std::int64_t element_count(const std::vector<std::int64_t>& shape) {
  std::int64_t count = 1;
  for (const std::int64_t extent : shape) count *= extent;
  return count;
}

void save(const std::string& path, const char* descr, const void* data, std::size_t item_size,
          std::size_t count, const std::vector<std::int64_t>& shape) {
  if (element_count(shape) != static_cast<std::int64_t>(count)) {
    throw std::invalid_argument(fmt::format("save_npy {}: shape {} does not hold {} values", path,
                                            shape_text(shape), count));
  }
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                   descr, shape_text(shape));
  // numpy pads the header with spaces so the data starts on a 64-byte boundary.
  const std::size_t unpadded = kPreambleBytes + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  // A per-process temporary name: several ranks may write the same cache at once.
  const std::string temp_path = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(fmt::format("cannot create {}", temp_path));
    const unsigned char version[2] = {1, 0};
    const auto header_length = static_cast<std::uint16_t>(header.size());
    out.write(kNpyMagic, sizeof(kNpyMagic));
    out.write(reinterpret_cast<const char*>(version), 2);
    out.write(reinterpret_cast<const char*>(&header_length), 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(count * item_size));
    out.close();
    if (!out) throw std::runtime_error(fmt::format("write to {} failed", temp_path));
  }
  std::filesystem::rename(temp_path, path);
}

template <typename T>
std::vector<T> load(const std::string& path, const char* expected_descr,
                    std::vector<std::int64_t>& shape) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot open {}", path));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < kPreambleBytes || std::memcmp(bytes.data(), kNpyMagic, 6) != 0 ||
      bytes[6] != 1) {
    throw std::runtime_error(fmt::format("{}: not a version 1 .npy file", path));
  }
  std::uint16_t header_length = 0;
  std::memcpy(&header_length, bytes.data() + 8, 2);
  if (bytes.size() < kPreambleBytes + header_length) {
    throw std::runtime_error(fmt::format("{}: truncated .npy header", path));
  }
  const std::string header = bytes.substr(kPreambleBytes, header_length);
  std::smatch match;
  static const std::regex descr_pattern(R"('descr':\s*'([^']*)')");
  static const std::regex order_pattern(R"('fortran_order':\s*(True|False))");
  static const std::regex shape_pattern(R"('shape':\s*\(([0-9,\s]*)\))");
  if (!std::regex_search(header, match, descr_pattern) || match[1] != expected_descr) {
    throw std::runtime_error(fmt::format("{}: expected dtype '{}' in the .npy header, got: {}",
                                         path, expected_descr, header));
  }
  if (!std::regex_search(header, match, order_pattern) || match[1] != "False") {
    throw std::runtime_error(fmt::format("{}: expected a C-order .npy array, got: {}", path, header));
  }
  if (!std::regex_search(header, match, shape_pattern)) {
    throw std::runtime_error(fmt::format("{}: no shape in the .npy header: {}", path, header));
  }
  shape.clear();
  const std::string extents = match[1];
  static const std::regex number(R"([0-9]+)");
  for (auto it = std::sregex_iterator(extents.begin(), extents.end(), number);
       it != std::sregex_iterator(); ++it) {
    shape.push_back(std::stoll(it->str()));
  }
  const auto count = static_cast<std::size_t>(element_count(shape));
  const std::size_t data_bytes = bytes.size() - kPreambleBytes - header_length;
  if (data_bytes != count * sizeof(T)) {
    throw std::runtime_error(fmt::format("{}: shape {} needs {} data bytes, the file has {}", path,
                                         shape_text(shape), count * sizeof(T), data_bytes));
  }
  std::vector<T> values(count);
  std::memcpy(values.data(), bytes.data() + kPreambleBytes + header_length, data_bytes);
  return values;
}

}  // namespace

void save_npy(const std::string& path, std::span<const std::int32_t> values,
              const std::vector<std::int64_t>& shape) {
  save(path, "<i4", values.data(), 4, values.size(), shape);
}

void save_npy(const std::string& path, std::span<const std::int64_t> values,
              const std::vector<std::int64_t>& shape) {
  save(path, "<i8", values.data(), 8, values.size(), shape);
}

std::vector<std::int32_t> load_npy_int32(const std::string& path, std::vector<std::int64_t>& shape) {
  return load<std::int32_t>(path, "<i4", shape);
}

std::vector<std::int64_t> load_npy_int64(const std::string& path, std::vector<std::int64_t>& shape) {
  return load<std::int64_t>(path, "<i8", shape);
}

}  // namespace primus::data
