// RoPE forward (rotate by +angle) and backward (rotate by -angle).
#include "primus/ops/cpu/rope.hpp"
#include "primus/ops/cpu/parallel.hpp"

namespace primus::ops::cpu {

namespace {
// direction +1 rotates forward, -1 applies the transpose (backward).
void rope_rotate(float* x, const float* cos, const float* sin, std::int64_t batch, std::int64_t seq,
                 std::int64_t heads, std::int64_t head_dim, std::int64_t rotary_dim, bool rotary_interleaved,
                 float direction) {
  const std::int64_t half = rotary_dim / 2;
#pragma omp parallel for collapse(2) if(batch * seq * heads * head_dim >= kParallelMinElements)
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t s = 0; s < seq; ++s) {
      const float* c = cos + s * half;
      const float* sn = sin + s * half;
      for (std::int64_t h = 0; h < heads; ++h) {
        float* v = x + ((b * seq + s) * heads + h) * head_dim;
        for (std::int64_t i = 0; i < half; ++i) {
          std::int64_t first = rotary_interleaved ? 2 * i : i;
          std::int64_t second = rotary_interleaved ? 2 * i + 1 : i + half;
          float a = v[first], bb = v[second];
          float si = direction * sn[i];
          v[first] = a * c[i] - bb * si;
          v[second] = bb * c[i] + a * si;
        }
      }
    }
  }
}
}  // namespace

void rope_forward(float* x, const float* cos, const float* sin, std::int64_t batch, std::int64_t seq,
                  std::int64_t heads, std::int64_t head_dim, std::int64_t rotary_dim, bool rotary_interleaved) {
  rope_rotate(x, cos, sin, batch, seq, heads, head_dim, rotary_dim, rotary_interleaved, 1.0f);
}

void rope_backward(float* dx, const float* cos, const float* sin, std::int64_t batch, std::int64_t seq,
                   std::int64_t heads, std::int64_t head_dim, std::int64_t rotary_dim, bool rotary_interleaved) {
  rope_rotate(dx, cos, sin, batch, seq, heads, head_dim, rotary_dim, rotary_interleaved, -1.0f);
}

}  // namespace primus::ops::cpu
