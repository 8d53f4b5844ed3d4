#include "primus/checkpoint/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace primus::checkpoint {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

constexpr SafetensorsDtype kAllDtypes[] = {SafetensorsDtype::F32, SafetensorsDtype::BF16, SafetensorsDtype::F16,
                                           SafetensorsDtype::I32, SafetensorsDtype::I64, SafetensorsDtype::U16};

// Guards against a corrupt size field asking for an absurd allocation.
constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;

std::uint64_t element_count(std::span<const std::int64_t> shape) {
  std::uint64_t count = 1;
  for (std::int64_t dim : shape) count *= static_cast<std::uint64_t>(dim);
  return count;
}

float bf16_to_float(std::uint16_t bits) { return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16); }

float f16_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  std::uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf / nan
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Subnormal half: value = mantissa * 2^-24.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

}  // namespace

const char* safetensors_dtype_name(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::F32: return "F32";
    case SafetensorsDtype::BF16: return "BF16";
    case SafetensorsDtype::F16: return "F16";
    case SafetensorsDtype::I32: return "I32";
    case SafetensorsDtype::I64: return "I64";
    case SafetensorsDtype::U16: return "U16";
  }
  return "unknown";
}

std::size_t safetensors_dtype_size(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::F32:
    case SafetensorsDtype::I32: return 4;
    case SafetensorsDtype::BF16:
    case SafetensorsDtype::F16:
    case SafetensorsDtype::U16: return 2;
    case SafetensorsDtype::I64: return 8;
  }
  return 0;
}

void write_safetensors(const std::filesystem::path& path, std::span<const SafetensorsTensorView> tensors,
                       const std::map<std::string, std::string>& metadata, const BytesWrittenObserver& observer) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const SafetensorsTensorView& tensor : tensors) {
    if (tensor.name.empty() || tensor.name == "__metadata__")
      throw std::invalid_argument(fmt::format("'{}': invalid tensor name '{}'", path.string(), tensor.name));
    if (header.contains(tensor.name))
      throw std::invalid_argument(fmt::format("'{}': tensor '{}' given twice", path.string(), tensor.name));
    for (std::int64_t dim : tensor.shape)
      if (dim < 0)
        throw std::invalid_argument(fmt::format("'{}': tensor '{}' has negative dimension in shape [{}]", path.string(),
                                                tensor.name, fmt::join(tensor.shape, ", ")));
    const std::uint64_t expected = element_count(tensor.shape) * safetensors_dtype_size(tensor.dtype);
    if (expected != tensor.bytes.size())
      throw std::invalid_argument(fmt::format("'{}': tensor '{}' of shape [{}] {} needs {} bytes but {} were given",
                                              path.string(), tensor.name, fmt::join(tensor.shape, ", "),
                                              safetensors_dtype_name(tensor.dtype), expected, tensor.bytes.size()));
    header[tensor.name] = {{"dtype", safetensors_dtype_name(tensor.dtype)},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + expected}}};
    offset += expected;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // data section starts 8-byte aligned
  std::byte size_field[8];
  const std::uint64_t header_size = header_text.size();
  std::memcpy(size_field, &header_size, sizeof size_field);

  DurableFile file(path, observer);
  file.write(std::span<const std::byte>(size_field));
  file.write(header_text);
  for (const SafetensorsTensorView& tensor : tensors) file.write(tensor.bytes);
  file.sync_and_close();
}

SafetensorsFile::SafetensorsFile(std::filesystem::path path) : path_(std::move(path)) {
  const std::string file = path_.string();
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open safetensors file '{}': {}", file, std::strerror(errno)));
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    ::close(fd);
    throw std::runtime_error(fmt::format("cannot stat safetensors file '{}': {}", file, std::strerror(errno)));
  }
  mapping_size_ = static_cast<std::size_t>(status.st_size);
  if (mapping_size_ < 8) {
    ::close(fd);
    throw std::runtime_error(
        fmt::format("'{}' is not a safetensors file: {} bytes, less than the 8-byte header size", file, mapping_size_));
  }
  void* mapping = ::mmap(nullptr, mapping_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping == MAP_FAILED) throw std::runtime_error(fmt::format("cannot mmap '{}': {}", file, std::strerror(errno)));
  mapping_ = static_cast<const std::byte*>(mapping);

  try {
    std::uint64_t header_size = 0;
    std::memcpy(&header_size, mapping_, sizeof header_size);
    if (header_size > mapping_size_ - 8 || header_size > kMaxHeaderBytes)
      throw std::runtime_error(fmt::format(
          "'{}': header size {} exceeds the {} bytes after the size field (truncated or not a safetensors file)", file,
          header_size, mapping_size_ - 8));
    data_start_ = 8 + static_cast<std::size_t>(header_size);
    const std::uint64_t data_size = mapping_size_ - data_start_;
    const std::string_view header_text(reinterpret_cast<const char*>(mapping_ + 8), header_size);
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(header_text);
    } catch (const nlohmann::json::parse_error& error) {
      throw std::runtime_error(fmt::format("'{}': header is not valid JSON: {}", file, error.what()));
    }
    if (!header.is_object()) throw std::runtime_error(fmt::format("'{}': header is not a JSON object", file));
    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        if (!entry.is_object()) throw std::runtime_error(fmt::format("'{}': __metadata__ is not an object", file));
        for (const auto& [key, value] : entry.items()) {
          if (!value.is_string())
            throw std::runtime_error(fmt::format("'{}': __metadata__ value of '{}' is not a string", file, key));
          metadata_[key] = value.get<std::string>();
        }
        continue;
      }
      const auto bad = [&](std::string_view why) {
        return std::runtime_error(fmt::format("'{}': tensor '{}': {}", file, name, why));
      };
      if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
        throw bad("entry needs dtype, shape and data_offsets");
      SafetensorsTensorInfo info;
      info.name = name;
      const auto& dtype = entry.at("dtype");
      const auto known = std::find_if(std::begin(kAllDtypes), std::end(kAllDtypes), [&](SafetensorsDtype candidate) {
        return dtype.is_string() && dtype.get<std::string>() == safetensors_dtype_name(candidate);
      });
      if (known == std::end(kAllDtypes))
        throw bad(fmt::format("unsupported dtype {} (expected one of F32, BF16, F16, I32, I64, U16)", dtype.dump()));
      info.dtype = *known;
      if (!entry.at("shape").is_array()) throw bad("shape is not an array");
      for (const auto& dim : entry.at("shape")) {
        if (!dim.is_number_integer() || dim.get<std::int64_t>() < 0)
          throw bad(fmt::format("shape {} has a non-integer or negative dimension", entry.at("shape").dump()));
        info.shape.push_back(dim.get<std::int64_t>());
      }
      const auto& offsets = entry.at("data_offsets");
      if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
          !offsets[1].is_number_unsigned())
        throw bad(fmt::format("data_offsets {} is not [begin, end]", offsets.dump()));
      info.data_begin = offsets[0].get<std::uint64_t>();
      info.data_end = offsets[1].get<std::uint64_t>();
      if (info.data_begin > info.data_end || info.data_end > data_size)
        throw bad(fmt::format("data_offsets [{}, {}] fall outside the {}-byte data section (truncated file?)",
                              info.data_begin, info.data_end, data_size));
      const std::uint64_t expected = element_count(info.shape) * safetensors_dtype_size(info.dtype);
      if (expected != info.data_end - info.data_begin)
        throw bad(fmt::format("shape [{}] x {} needs {} bytes but data_offsets span {}", fmt::join(info.shape, ", "),
                              safetensors_dtype_name(info.dtype), expected, info.data_end - info.data_begin));
      tensors_.push_back(std::move(info));
    }
    std::sort(tensors_.begin(), tensors_.end(), [](const auto& a, const auto& b) {
      return a.data_begin != b.data_begin ? a.data_begin < b.data_begin : a.data_end < b.data_end;
    });
    std::uint64_t covered = 0;
    for (const SafetensorsTensorInfo& info : tensors_) {
      if (info.data_begin < covered)
        throw std::runtime_error(fmt::format("'{}': tensor '{}' [{}, {}) overlaps the previous tensor (which ends at {})",
                                             file, info.name, info.data_begin, info.data_end, covered));
      if (info.data_begin > covered)
        throw std::runtime_error(fmt::format("'{}': {}-byte gap before tensor '{}' at offset {}", file,
                                             info.data_begin - covered, info.name, covered));
      covered = info.data_end;
    }
    if (covered != data_size)
      throw std::runtime_error(
          fmt::format("'{}': tensors cover {} bytes but the data section holds {}", file, covered, data_size));
    for (std::size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
  } catch (...) {
    ::munmap(const_cast<std::byte*>(mapping_), mapping_size_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_ != nullptr) ::munmap(const_cast<std::byte*>(mapping_), mapping_size_);
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      mapping_(std::exchange(other.mapping_, nullptr)),
      mapping_size_(other.mapping_size_),
      data_start_(other.data_start_),
      metadata_(std::move(other.metadata_)),
      tensors_(std::move(other.tensors_)),
      index_(std::move(other.index_)) {}

bool SafetensorsFile::contains(const std::string& name) const { return index_.contains(name); }

const SafetensorsTensorInfo& SafetensorsFile::tensor(const std::string& name) const {
  const auto found = index_.find(name);
  if (found == index_.end())
    throw std::runtime_error(fmt::format("'{}' has no tensor named '{}'", path_.string(), name));
  return tensors_[found->second];
}

std::span<const std::byte> SafetensorsFile::bytes(const std::string& name) const {
  const SafetensorsTensorInfo& info = tensor(name);
  return {mapping_ + data_start_ + info.data_begin, static_cast<std::size_t>(info.data_end - info.data_begin)};
}

void SafetensorsFile::read_as_float(const std::string& name, std::span<const std::int64_t> shape,
                                    std::span<float> out) const {
  const SafetensorsTensorInfo& info = tensor(name);
  if (!std::equal(shape.begin(), shape.end(), info.shape.begin(), info.shape.end()))
    throw std::runtime_error(fmt::format("'{}': tensor '{}' has shape [{}] but [{}] was expected", path_.string(), name,
                                         fmt::join(info.shape, ", "), fmt::join(shape, ", ")));
  const std::uint64_t count = element_count(info.shape);
  if (out.size() != count)
    throw std::runtime_error(fmt::format("'{}': tensor '{}' has {} elements but the destination holds {}",
                                         path_.string(), name, count, out.size()));
  const std::span<const std::byte> raw = bytes(name);
  switch (info.dtype) {
    case SafetensorsDtype::F32: std::memcpy(out.data(), raw.data(), raw.size()); return;
    case SafetensorsDtype::BF16:
    case SafetensorsDtype::F16:
      for (std::size_t i = 0; i < out.size(); ++i) {
        std::uint16_t bits = 0;
        std::memcpy(&bits, raw.data() + 2 * i, 2);
        out[i] = info.dtype == SafetensorsDtype::BF16 ? bf16_to_float(bits) : f16_to_float(bits);
      }
      return;
    default:
      throw std::runtime_error(fmt::format("'{}': tensor '{}' has dtype {}, not a floating-point type", path_.string(),
                                           name, safetensors_dtype_name(info.dtype)));
  }
}

}  // namespace primus::checkpoint
