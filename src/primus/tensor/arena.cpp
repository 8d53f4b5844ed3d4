// Arena layout and allocation.
#include "primus/tensor/arena.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace primus::tensor {

void Arena::FreeAligned::operator()(std::byte* p) const { std::free(p); }

Arena::Arena(const std::vector<std::pair<std::string, std::size_t>>& region_bytes) {
  std::size_t offset = 0;
  for (const auto& [name, bytes] : region_bytes) {
    for (const ArenaRegion& existing : regions_) {
      if (existing.name == name) throw std::invalid_argument("Arena: region '" + name + "' given twice");
    }
    regions_.push_back({name, offset, bytes});
    offset += (bytes + kAlignment - 1) / kAlignment * kAlignment;
  }
  bytes_ = offset;
  std::size_t allocation = bytes_ == 0 ? kAlignment : bytes_;
  auto* raw = static_cast<std::byte*>(std::aligned_alloc(kAlignment, allocation));
  if (raw == nullptr) throw std::bad_alloc();
  std::memset(raw, 0, allocation);
  data_.reset(raw);
}

const ArenaRegion& Arena::region_info(std::string_view name) const {
  for (const ArenaRegion& r : regions_) {
    if (r.name == name) return r;
  }
  throw std::out_of_range("Arena: no region named '" + std::string(name) + "'");
}

std::byte* Arena::region(std::string_view name) { return data_.get() + region_info(name).offset; }

}  // namespace primus::tensor
