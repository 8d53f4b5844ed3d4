// DeviceArena: one cudaMalloc carved into 256-byte aligned buffers, planned up front so
// the training step never allocates. Plan with a measuring arena (no memory), then
// build the real one with measuring.used() bytes and run the same plan again.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace primus::model::cuda {

class DeviceArena {
 public:
  DeviceArena() = default;  // measuring: hands out null pointers, counts bytes
  explicit DeviceArena(std::size_t bytes);
  ~DeviceArena();
  DeviceArena(DeviceArena&& other) noexcept;
  DeviceArena& operator=(DeviceArena&& other) noexcept;
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  template <typename T>
  T* allocate(std::int64_t count) {
    return static_cast<T*>(allocate_bytes(static_cast<std::size_t>(count) * sizeof(T)));
  }
  void* allocate_bytes(std::size_t bytes);
  // Rewinds to `offset` (from used()): buffers planned after it are reused (unions).
  void rewind(std::size_t offset) { used_ = offset; }
  std::size_t used() const { return used_; }
  std::size_t high_water() const { return high_water_; }
  std::size_t capacity() const { return capacity_; }
  bool measuring() const { return base_ == nullptr; }

 private:
  char* base_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t used_ = 0;
  std::size_t high_water_ = 0;
};

}  // namespace primus::model::cuda
