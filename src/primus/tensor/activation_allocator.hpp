// ActivationAllocator: a bump allocator over one aligned buffer for the
// activations of a step; reset() between steps, high_water() reports the peak.
// A measuring allocator (no capacity) hands out nullptr and only counts, so a
// model can size its buffer by running its allocation plan once.
#pragma once

#include <cstddef>
#include <memory>

namespace primus::tensor {

class ActivationAllocator {
 public:
  static constexpr std::size_t kAlignment = 64;
  static ActivationAllocator measuring() { return ActivationAllocator(); }
  explicit ActivationAllocator(std::size_t capacity_bytes);

  // Throws std::length_error (with sizes) when the capacity is exceeded.
  void* allocate_bytes(std::size_t bytes);
  template <typename T>
  T* allocate(std::size_t count) {
    return static_cast<T*>(allocate_bytes(count * sizeof(T)));
  }
  void reset() { used_ = 0; }
  std::size_t used() const { return used_; }
  std::size_t high_water() const { return high_water_; }
  std::size_t capacity() const { return capacity_; }
  bool is_measuring() const { return measuring_; }

 private:
  ActivationAllocator() : measuring_(true) {}
  struct FreeAligned {
    void operator()(std::byte* p) const;
  };
  bool measuring_ = false;
  std::size_t capacity_ = 0;
  std::size_t used_ = 0;
  std::size_t high_water_ = 0;
  std::unique_ptr<std::byte, FreeAligned> data_;
};

}  // namespace primus::tensor
