// Arena: one aligned flat allocation carved into named regions (parameters,
// gradients, optimizer state...), each region aligned, freed together.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace primus::tensor {

struct ArenaRegion {
  std::string name;
  std::size_t offset = 0;  // bytes from the arena's start
  std::size_t bytes = 0;
};

class Arena {
 public:
  static constexpr std::size_t kAlignment = 64;  // cache line / AVX-512 vector
  // Lays out the regions in order, each starting at a multiple of kAlignment, and
  // allocates them zero-filled. Throws std::invalid_argument on a repeated name.
  explicit Arena(const std::vector<std::pair<std::string, std::size_t>>& region_bytes);

  std::byte* region(std::string_view name);  // throws std::out_of_range naming the region
  const ArenaRegion& region_info(std::string_view name) const;
  const std::vector<ArenaRegion>& regions() const { return regions_; }
  std::size_t bytes() const { return bytes_; }
  std::byte* data() { return data_.get(); }

 private:
  struct FreeAligned {
    void operator()(std::byte* p) const;
  };
  std::vector<ArenaRegion> regions_;
  std::size_t bytes_ = 0;
  std::unique_ptr<std::byte, FreeAligned> data_;
};

}  // namespace primus::tensor
