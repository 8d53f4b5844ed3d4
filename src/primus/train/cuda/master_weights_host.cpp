// Host split / join of fp32 master weights into bf16-high and 16-bit-low halves (exact).
#include <cstring>

#include "primus/train/cuda/master_weights.hpp"

namespace primus::train::cuda {

void split_master_weights(const float* in, std::uint16_t* high, std::uint16_t* low, std::int64_t count) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < count; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &in[i], sizeof bits);
    high[i] = static_cast<std::uint16_t>(bits >> 16);
    low[i] = static_cast<std::uint16_t>(bits & 0xffffu);
  }
}

void join_master_weights(const std::uint16_t* high, const std::uint16_t* low, float* out, std::int64_t count) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < count; ++i) {
    const std::uint32_t bits = (static_cast<std::uint32_t>(high[i]) << 16) | low[i];
    std::memcpy(&out[i], &bits, sizeof bits);
  }
}

}  // namespace primus::train::cuda
