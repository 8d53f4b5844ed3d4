// Tensor view helpers.
#include "primus/tensor/tensor.hpp"

#include <cstdint>
#include <stdexcept>

namespace primus::tensor {

std::vector<std::int64_t> contiguous_strides(const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> strides(shape.size());
  std::int64_t stride = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

Tensor::Tensor(void* data, DType dtype, std::vector<std::int64_t> shape, Device device)
    : data(data), dtype(dtype), device(device), shape(std::move(shape)) {
  for (std::int64_t extent : this->shape) {
    if (extent < 0) throw std::invalid_argument("Tensor: negative extent in shape " + describe());
  }
  strides = contiguous_strides(this->shape);
}

std::int64_t Tensor::numel() const {
  std::int64_t n = 1;
  for (std::int64_t extent : shape) n *= extent;
  return n;
}

bool Tensor::is_contiguous() const {
  return strides == contiguous_strides(shape);
}

namespace {
template <typename T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::fp32; }
template <> constexpr DType dtype_of<std::int32_t>() { return DType::int32; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::int64; }
template <> constexpr DType dtype_of<std::uint16_t>() { return DType::uint16; }
}  // namespace

template <typename T>
T* Tensor::data_as() const {
  // bf16 and fp16 are stored as uint16_t bit patterns.
  bool ok = dtype == dtype_of<T>() ||
            (std::is_same_v<T, std::uint16_t> && (dtype == DType::bf16 || dtype == DType::fp16));
  if (!ok) throw std::invalid_argument("Tensor::data_as: element type does not match " + describe());
  return static_cast<T*>(data);
}
template float* Tensor::data_as<float>() const;
template std::int32_t* Tensor::data_as<std::int32_t>() const;
template std::int64_t* Tensor::data_as<std::int64_t>() const;
template std::uint16_t* Tensor::data_as<std::uint16_t>() const;

std::string Tensor::describe() const {
  std::string text = std::string(dtype_name(dtype)) + "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "] " + (device == Device::cpu ? "cpu" : "cuda");
}

}  // namespace primus::tensor
