// Split of Megatron's fused QKV projection into contiguous q, k, v, fp32 CPU reference.
// qkv row layout (megatron/core/transformer/attention.py), per query group g:
// [heads_per_group query heads, 1 key head, 1 value head], each head_dim wide.
#pragma once

#include <cstdint>

namespace primus::ops::cpu {

// qkv: [rows, (num_heads + 2*num_query_groups) * head_dim];
// q: [rows, num_heads, head_dim]; k, v: [rows, num_query_groups, head_dim].
void qkv_split_forward(float* q, float* k, float* v, const float* qkv, std::int64_t rows, std::int64_t num_heads,
                       std::int64_t num_query_groups, std::int64_t head_dim);
// dqkv: written (=).
void qkv_split_backward(float* dqkv, const float* dq, const float* dk, const float* dv, std::int64_t rows,
                        std::int64_t num_heads, std::int64_t num_query_groups, std::int64_t head_dim);

}  // namespace primus::ops::cpu
