// One element of a split fp32 master weight (its bf16 high half and 16-bit low half) joined,
// moved by AdamW (adamw_update_fast) and split again: the update every split-master kernel
// applies (AdamW launches, the gather after a pending update, lazy word-embedding rows), so that
// all of them write the same bits.
#pragma once

#include <cstdint>

#include "primus/ops/cuda/adamw_math.cuh"

namespace primus::train::cuda {

__device__ __forceinline__ void update_one(std::uint16_t& high, std::uint16_t& low, float& m, float& v, float g,
                                           float decay, const ops::cuda::AdamWScalars& s) {
  const float p =
      ops::cuda::adamw_update_fast(__uint_as_float((static_cast<unsigned>(high) << 16) | low), m, v, g, decay, s);
  const unsigned bits = __float_as_uint(p);
  high = static_cast<std::uint16_t>(bits >> 16);
  low = static_cast<std::uint16_t>(bits & 0xffffu);
}

}  // namespace primus::train::cuda
