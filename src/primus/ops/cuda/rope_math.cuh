// RoPE's arithmetic on the GPU, shared by the in-place RoPE kernels (rope.cu) and the
// fused QKV split + RoPE kernels (qkv_rope.cu) so that both round identically:
// rotate_pair turns one channel pair, rotate_pairs loads, turns and stores kPairs
// consecutive pairs of one head (one 16-byte access per half when kPairs is 8, or
// per pair group when interleaved with kPairs 4). Host side: the rotary_dim check
// and the condition for the vector path, so both files accept and vectorise alike.
#pragma once

#include <string>

#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/ops/cuda/kernel_common.cuh"

namespace primus::ops::cuda::detail {

// (first, second) turned by the angle whose cosine and sine are given. The backward
// passes the sine negated (exact), which is the inverse rotation.
__device__ __forceinline__ void rotate_pair(float& first, float& second, float cosine, float sine) {
  const float a = first, b = second;
  first = a * cosine - b * sine;
  second = b * cosine + a * sine;
}

// Pairs [pair, pair + kPairs) of one head: read from `in`, written to `out` (the same
// head in place, or another buffer). cos_row, sin_row: this token's table rows, `half`
// (= rotary_dim / 2) wide. Non-interleaved (rotate_half) pairs channel i with i + half;
// interleaved pairs (2i, 2i + 1).
template <int kPairs, bool kInterleaved>
__device__ __forceinline__ void rotate_pairs(bf16* out, const bf16* in, const float* cos_row, const float* sin_row,
                                             std::int64_t pair, std::int64_t half, float sin_sign) {
  float c[kPairs], s[kPairs];
  load_f32<kPairs>(cos_row + pair, c);
  load_f32<kPairs>(sin_row + pair, s);
  if constexpr (kInterleaved) {
    float v[2 * kPairs];
    load_bf16<2 * kPairs>(in + 2 * pair, v);
#pragma unroll
    for (int i = 0; i < kPairs; ++i) rotate_pair(v[2 * i], v[2 * i + 1], c[i], sin_sign * s[i]);
    store_bf16<2 * kPairs>(out + 2 * pair, v);
  } else {
    float a[kPairs], b[kPairs];
    load_bf16<kPairs>(in + pair, a);
    load_bf16<kPairs>(in + half + pair, b);
#pragma unroll
    for (int i = 0; i < kPairs; ++i) rotate_pair(a[i], b[i], c[i], sin_sign * s[i]);
    store_bf16<kPairs>(out + pair, a);
    store_bf16<kPairs>(out + half + pair, b);
  }
}

// Pairs per thread on the vector path: one 16-byte access per half (rotate_half) or for
// four interleaved pairs.
template <bool kInterleaved>
inline constexpr int kVectorPairs = kInterleaved ? kPack / 2 : kPack;

// Whether whole vectors of pairs tile the rotary channels (the caller checks head_dim
// and pointer alignment).
inline bool rotary_dim_vectorizes(std::int64_t rotary_dim, bool interleaved) {
  return (rotary_dim / 2) % (interleaved ? kVectorPairs<true> : kVectorPairs<false>) == 0;
}

inline void require_rotary_dim(const char* op, std::int64_t rotary_dim, std::int64_t head_dim) {
  require_kernel_argument(rotary_dim > 0 && rotary_dim % 2 == 0 && rotary_dim <= head_dim, op,
                          "rotary_dim = " + std::to_string(rotary_dim) +
                              " must be even and in [2, head_dim = " + std::to_string(head_dim) + "]");
}

}  // namespace primus::ops::cuda::detail
