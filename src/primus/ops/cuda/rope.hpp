// Rotary position embedding on the GPU, in place, twin of primus::ops::cpu::rope_*.
// x: bf16 [batch, seq, heads, head_dim] (call once for Q, once for K); cos, sin: fp32
// [seq, rotary_dim/2], computed once by the caller. Only the first rotary_dim channels
// of each head rotate; the rest are not touched. Non-interleaved (rotate_half) pairs
// channel i with i + rotary_dim/2; interleaved pairs (2i, 2i+1).
// Vectorised when head_dim % 8 == 0, rotary_dim % 16 == 0 (non-interleaved) or % 8 == 0
// (interleaved) and the pointers are 16-byte aligned; otherwise a scalar path.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

void rope_forward(__nv_bfloat16* x, const float* cos, const float* sin, std::int64_t batch, std::int64_t seq,
                  std::int64_t heads, std::int64_t head_dim, std::int64_t rotary_dim, bool rotary_interleaved,
                  cudaStream_t stream);
// dx holds d(out) on entry and d(in) on return (the inverse rotation, in place).
void rope_backward(__nv_bfloat16* dx, const float* cos, const float* sin, std::int64_t batch, std::int64_t seq,
                   std::int64_t heads, std::int64_t head_dim, std::int64_t rotary_dim, bool rotary_interleaved,
                   cudaStream_t stream);

}  // namespace primus::ops::cuda
