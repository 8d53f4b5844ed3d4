// DType sizes, names and the 16-bit float conversions.
#include "primus/tensor/dtype.hpp"

#include <bit>
#include <stdexcept>
#include <string>

namespace primus::tensor {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::fp32: return 4;
    case DType::bf16: return 2;
    case DType::fp16: return 2;
    case DType::int32: return 4;
    case DType::int64: return 8;
    case DType::uint16: return 2;
  }
  throw std::invalid_argument("dtype_size: unknown DType value " + std::to_string(static_cast<int>(dtype)));
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::fp32: return "fp32";
    case DType::bf16: return "bf16";
    case DType::fp16: return "fp16";
    case DType::int32: return "int32";
    case DType::int64: return "int64";
    case DType::uint16: return "uint16";
  }
  throw std::invalid_argument("dtype_name: unknown DType value " + std::to_string(static_cast<int>(dtype)));
}

DType dtype_from_name(std::string_view name) {
  for (DType d : {DType::fp32, DType::bf16, DType::fp16, DType::int32, DType::int64, DType::uint16}) {
    if (dtype_name(d) == name) return d;
  }
  throw std::invalid_argument("unknown dtype '" + std::string(name) +
                              "', expected one of fp32, bf16, fp16, int32, int64, uint16");
}

std::uint16_t fp32_to_bf16(float value) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);  // quiet NaN, keep sign
  }
  std::uint32_t rounding_bias = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding_bias) >> 16);
}

float bf16_to_fp32(std::uint16_t bits) { return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16); }

std::uint16_t fp32_to_fp16(float value) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  std::uint32_t sign = (bits >> 16) & 0x8000u;
  std::uint32_t exponent = (bits >> 23) & 0xffu;
  std::uint32_t mantissa = bits & 0x007fffffu;
  if (exponent == 0xffu) {  // inf or NaN
    return static_cast<std::uint16_t>(sign | 0x7c00u | (mantissa ? 0x0200u : 0u));
  }
  int half_exponent = static_cast<int>(exponent) - 127 + 15;
  if (half_exponent >= 31) return static_cast<std::uint16_t>(sign | 0x7c00u);  // overflow
  if (half_exponent <= 0) {                                                    // subnormal or zero
    if (half_exponent < -10) return static_cast<std::uint16_t>(sign);
    mantissa |= 0x00800000u;
    int shift = 14 - half_exponent;
    std::uint32_t half_mantissa = mantissa >> shift;
    std::uint32_t remainder = mantissa & ((1u << shift) - 1u);
    std::uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (half_mantissa & 1u))) ++half_mantissa;
    return static_cast<std::uint16_t>(sign | half_mantissa);
  }
  std::uint32_t result = sign | (static_cast<std::uint32_t>(half_exponent) << 10) | (mantissa >> 13);
  std::uint32_t remainder = mantissa & 0x1fffu;
  if (remainder > 0x1000u || (remainder == 0x1000u && (result & 1u))) ++result;  // carry may reach inf: correct
  return static_cast<std::uint16_t>(result);
}

float fp16_to_fp32(std::uint16_t half) {
  std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  std::uint32_t exponent = (half >> 10) & 0x1fu;
  std::uint32_t mantissa = half & 0x03ffu;
  if (exponent == 0x1fu) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);  // mantissa * 2^-24
    return sign ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

}  // namespace primus::tensor
