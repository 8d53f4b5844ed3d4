// Megatron's QKV split fused with rotary position embedding on the GPU: one pass over
// the fused qkv buffer, bit-identical to qkv_split_* followed (forward) or preceded
// (backward) by rope_* on Q and K. Layouts as in qkv_split.hpp and rope.hpp:
// qkv: bf16 [batch * seq, (num_heads + 2*num_query_groups) * head_dim], per query group
// [heads_per_group query heads, 1 key head, 1 value head]; q: [batch, seq, num_heads,
// head_dim]; k, v: [batch, seq, num_query_groups, head_dim]; cos, sin: fp32
// [>= seq, rotary_dim/2]. Only the first rotary_dim channels of Q and K heads rotate;
// V and the channels past rotary_dim are copied.
// Vectorised (16-byte accesses) when head_dim % 8 == 0, rotary_dim % 16 == 0
// (non-interleaved) or % 8 == 0 (interleaved) and every pointer is 16-byte aligned;
// otherwise a scalar path with the same results.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

// q, k, v: written (=), Q and K rotated. qkv is not modified.
void qkv_split_rope_forward(__nv_bfloat16* q, __nv_bfloat16* k, __nv_bfloat16* v, const __nv_bfloat16* qkv,
                            const float* cos, const float* sin, std::int64_t batch, std::int64_t seq,
                            std::int64_t num_heads, std::int64_t num_query_groups, std::int64_t head_dim,
                            std::int64_t rotary_dim, bool rotary_interleaved, cudaStream_t stream);
// dqkv: written (=), the dq and dk parts turned back by the inverse rotation. dq, dk, dv are not modified.
void qkv_split_rope_backward(__nv_bfloat16* dqkv, const __nv_bfloat16* dq, const __nv_bfloat16* dk,
                             const __nv_bfloat16* dv, const float* cos, const float* sin, std::int64_t batch,
                             std::int64_t seq, std::int64_t num_heads, std::int64_t num_query_groups,
                             std::int64_t head_dim, std::int64_t rotary_dim, bool rotary_interleaved,
                             cudaStream_t stream);

}  // namespace primus::ops::cuda
