// ActivationAllocator implementation.
#include "primus/tensor/activation_allocator.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

namespace primus::tensor {

void ActivationAllocator::FreeAligned::operator()(std::byte* p) const { std::free(p); }

ActivationAllocator::ActivationAllocator(std::size_t capacity_bytes) : capacity_(capacity_bytes) {
  std::size_t allocation = (std::max<std::size_t>(capacity_bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  auto* raw = static_cast<std::byte*>(std::aligned_alloc(kAlignment, allocation));
  if (raw == nullptr) throw std::bad_alloc();
  data_.reset(raw);
}

void* ActivationAllocator::allocate_bytes(std::size_t bytes) {
  std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (!measuring_ && used_ + rounded > capacity_) {
    throw std::length_error("ActivationAllocator: request of " + std::to_string(bytes) + " bytes with " +
                            std::to_string(used_) + " of " + std::to_string(capacity_) + " bytes in use");
  }
  void* result = measuring_ ? nullptr : data_.get() + used_;
  used_ += rounded;
  high_water_ = std::max(high_water_, used_);
  return result;
}

}  // namespace primus::tensor
