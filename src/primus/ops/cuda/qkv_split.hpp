// Split of Megatron's fused QKV projection on the GPU, twin of
// primus::ops::cpu::qkv_split_*. qkv row layout, per query group g: [heads_per_group
// query heads, 1 key head, 1 value head], each head_dim wide. bf16; vectorised when
// head_dim % 8 == 0 and pointers are 16-byte aligned.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

// qkv: [rows, (num_heads + 2*num_query_groups) * head_dim];
// q: [rows, num_heads, head_dim]; k, v: [rows, num_query_groups, head_dim].
void qkv_split_forward(__nv_bfloat16* q, __nv_bfloat16* k, __nv_bfloat16* v, const __nv_bfloat16* qkv,
                       std::int64_t rows, std::int64_t num_heads, std::int64_t num_query_groups, std::int64_t head_dim,
                       cudaStream_t stream);
// dqkv: written (=).
void qkv_split_backward(__nv_bfloat16* dqkv, const __nv_bfloat16* dq, const __nv_bfloat16* dk, const __nv_bfloat16* dv,
                        std::int64_t rows, std::int64_t num_heads, std::int64_t num_query_groups, std::int64_t head_dim,
                        cudaStream_t stream);

}  // namespace primus::ops::cuda
