// Causal scaled-dot-product self-attention with grouped-query attention, fp32 CPU
// reference. Layout [batch, seq, heads, head_dim]; query head h reads K/V group
// h / (num_heads / num_query_groups) (K/V are never repeated per head). Scores
// are scaled by softmax_scale (1/sqrt(kv_channels)). Forward saves the softmax
// log-sum-exp per (batch, head, query) so backward recomputes the probabilities.
#pragma once

#include <cstdint>

namespace primus::ops::cpu {

// out, q: [batch, seq, num_heads, head_dim]; k, v: [batch, seq, num_query_groups, head_dim];
// lse: [batch, num_heads, seq].
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       std::int64_t batch, std::int64_t seq, std::int64_t num_heads,
                       std::int64_t num_query_groups, std::int64_t head_dim, float softmax_scale);
// dq, dk, dv: written (=).
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, std::int64_t batch, std::int64_t seq,
                        std::int64_t num_heads, std::int64_t num_query_groups, std::int64_t head_dim,
                        float softmax_scale);

}  // namespace primus::ops::cpu
