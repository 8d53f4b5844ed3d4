// Tensor: a non-owning view (dtype, shape, strides, device, data pointer).
// Ownership lives in arenas (arena.hpp) and the activation allocator.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "primus/tensor/dtype.hpp"

namespace primus::tensor {

enum class Device { cpu, cuda };

struct Tensor {
  void* data = nullptr;
  DType dtype = DType::fp32;
  Device device = Device::cpu;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> strides;  // in elements

  Tensor() = default;
  // A contiguous (row-major) view.
  Tensor(void* data, DType dtype, std::vector<std::int64_t> shape, Device device = Device::cpu);

  std::int64_t numel() const;
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype); }
  bool is_contiguous() const;
  int dim() const { return static_cast<int>(shape.size()); }
  // Typed access; throws std::invalid_argument when T does not match dtype.
  template <typename T>
  T* data_as() const;
  std::string describe() const;  // "fp32[2, 3] cpu" for error messages
};

std::vector<std::int64_t> contiguous_strides(const std::vector<std::int64_t>& shape);

}  // namespace primus::tensor
