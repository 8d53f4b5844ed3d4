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

// Four consecutive split master weights (their high and low halves, 8 bytes each) joined into
// fp32 values and split back, a pair at a time: one PRMT per element each way.
__device__ __forceinline__ void join_quad(uint2 high, uint2 low, float (&p)[4]) {
  p[0] = __uint_as_float(__byte_perm(low.x, high.x, 0x5410));
  p[1] = __uint_as_float(__byte_perm(low.x, high.x, 0x7632));
  p[2] = __uint_as_float(__byte_perm(low.y, high.y, 0x5410));
  p[3] = __uint_as_float(__byte_perm(low.y, high.y, 0x7632));
}
__device__ __forceinline__ void split_quad(const float (&p)[4], uint2& high, uint2& low) {
  const unsigned b0 = __float_as_uint(p[0]), b1 = __float_as_uint(p[1]), b2 = __float_as_uint(p[2]),
                 b3 = __float_as_uint(p[3]);
  high = make_uint2(__byte_perm(b0, b1, 0x7632), __byte_perm(b2, b3, 0x7632));
  low = make_uint2(__byte_perm(b0, b1, 0x5410), __byte_perm(b2, b3, 0x5410));
}

// Four consecutive elements (a quad q: elements 4q..4q+3) as one access of each array moves them.
struct Quad {
  uint2 high, low;
  float4 exp_avg, exp_avg_sq, grad;
  __device__ std::uint16_t* h() { return reinterpret_cast<std::uint16_t*>(&high); }
  __device__ std::uint16_t* l() { return reinterpret_cast<std::uint16_t*>(&low); }
  __device__ float* m() { return reinterpret_cast<float*>(&exp_avg); }
  __device__ float* v() { return reinterpret_cast<float*>(&exp_avg_sq); }
  __device__ const float* g() const { return reinterpret_cast<const float*>(&grad); }
};

// Writes quad q's new high, low and moments.
__device__ __forceinline__ void store_quad(const Quad& x, std::int64_t q, std::uint16_t* high, std::uint16_t* low,
                                           float* exp_avg, float* exp_avg_sq) {
  reinterpret_cast<uint2*>(high)[q] = x.high;
  reinterpret_cast<uint2*>(low)[q] = x.low;
  reinterpret_cast<float4*>(exp_avg)[q] = x.exp_avg;
  reinterpret_cast<float4*>(exp_avg_sq)[q] = x.exp_avg_sq;
}

}  // namespace primus::train::cuda
