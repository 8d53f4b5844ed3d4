// DeviceArena: one allocation, bump pointer, checked.
#include "primus/model/cuda/device_arena.hpp"

#include <stdexcept>
#include <string>
#include <utility>

#include "primus/ops/cuda/cuda_check.hpp"

namespace primus::model::cuda {

namespace {
constexpr std::size_t kAlignment = 256;
}

DeviceArena::DeviceArena(std::size_t bytes) : capacity_(bytes) {
  if (bytes > 0) {
    void* pointer = nullptr;
    const cudaError_t status = cudaMalloc(&pointer, bytes);
    if (status != cudaSuccess) {
      throw std::runtime_error("DeviceArena: cudaMalloc of " + std::to_string(bytes >> 20) +
                               " MiB failed: " + cudaGetErrorString(status) +
                               " (model, micro_batch_size or seq_length too large for this GPU's memory?)");
    }
    base_ = static_cast<char*>(pointer);
  }
}

DeviceArena::~DeviceArena() {
  if (base_ != nullptr) cudaFree(base_);  // no throw from a destructor; a failure here is not actionable
}

DeviceArena::DeviceArena(DeviceArena&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)),
      used_(std::exchange(other.used_, 0)),
      high_water_(std::exchange(other.high_water_, 0)) {}

DeviceArena& DeviceArena::operator=(DeviceArena&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) cudaFree(base_);
    base_ = std::exchange(other.base_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    used_ = std::exchange(other.used_, 0);
    high_water_ = std::exchange(other.high_water_, 0);
  }
  return *this;
}

void* DeviceArena::allocate_bytes(std::size_t bytes) {
  const std::size_t offset = (used_ + kAlignment - 1) / kAlignment * kAlignment;
  const std::size_t end = offset + (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (base_ != nullptr && end > capacity_) {
    throw std::logic_error("DeviceArena: plan asks for " + std::to_string(end) + " bytes, arena holds " +
                           std::to_string(capacity_) + " (plan differs from its measuring pass)");
  }
  used_ = end;
  if (used_ > high_water_) high_water_ = used_;
  return base_ == nullptr ? nullptr : base_ + offset;
}

}  // namespace primus::model::cuda
