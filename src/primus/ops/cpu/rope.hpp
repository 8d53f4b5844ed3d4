// Rotary position embedding applied in place, fp32 CPU reference.
// x: [batch, seq, heads, head_dim]; only the first rotary_dim channels of each head
// rotate (rotary_percent < 1), the rest pass through. cos, sin: [seq, rotary_dim/2]
// (angle = position * inverse_frequency[i]). Pairs: non-interleaved (Megatron's
// default, rotate_half) pairs channel i with i + rotary_dim/2; interleaved pairs (2i, 2i+1).
#pragma once

#include <cstdint>

namespace primus::ops::cpu {

void rope_forward(float* x, const float* cos, const float* sin, std::int64_t batch, std::int64_t seq,
                  std::int64_t heads, std::int64_t head_dim, std::int64_t rotary_dim, bool rotary_interleaved);
// dx holds d(out) on entry and d(in) on return (the inverse rotation; in place, =).
void rope_backward(float* dx, const float* cos, const float* sin, std::int64_t batch, std::int64_t seq,
                   std::int64_t heads, std::int64_t head_dim, std::int64_t rotary_dim, bool rotary_interleaved);

}  // namespace primus::ops::cpu
