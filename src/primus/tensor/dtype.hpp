// DType: the element types tensors hold (fp32, bf16, fp16, int32, int64, uint16),
// their sizes and names, and bf16/fp16 <-> fp32 conversions (round-to-nearest-even).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace primus::tensor {

enum class DType { fp32, bf16, fp16, int32, int64, uint16 };

std::size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);
// Inverse of dtype_name; throws std::invalid_argument naming the unknown text.
DType dtype_from_name(std::string_view name);

// bf16 is the upper half of an fp32; rounding to nearest even, NaN stays NaN.
std::uint16_t fp32_to_bf16(float value);
float bf16_to_fp32(std::uint16_t bits);
// IEEE half precision; rounding to nearest even, overflow to infinity, subnormals kept.
std::uint16_t fp32_to_fp16(float value);
float fp16_to_fp32(std::uint16_t bits);

}  // namespace primus::tensor
