// SwiGLU forward and backward: out = silu(gate) * up.
#include "primus/ops/cpu/swiglu.hpp"
#include "primus/ops/cpu/parallel.hpp"

#include <cmath>

namespace primus::ops::cpu {

void swiglu_forward(float* out, const float* in, std::int64_t rows, std::int64_t ffn) {
#pragma omp parallel for if(rows * ffn >= kParallelMinElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* gate = in + r * 2 * ffn;
    const float* up = gate + ffn;
    for (std::int64_t i = 0; i < ffn; ++i) {
      float sigmoid = 1.0f / (1.0f + std::exp(-gate[i]));
      out[r * ffn + i] = gate[i] * sigmoid * up[i];
    }
  }
}

void swiglu_backward(float* din, const float* dout, const float* in, std::int64_t rows, std::int64_t ffn) {
#pragma omp parallel for if(rows * ffn >= kParallelMinElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* gate = in + r * 2 * ffn;
    const float* up = gate + ffn;
    float* dgate = din + r * 2 * ffn;
    float* dup = dgate + ffn;
    for (std::int64_t i = 0; i < ffn; ++i) {
      float sigmoid = 1.0f / (1.0f + std::exp(-gate[i]));
      float silu = gate[i] * sigmoid;
      float dy = dout[r * ffn + i];
      dup[i] = dy * silu;
      dgate[i] = dy * up[i] * sigmoid * (1.0f + gate[i] * (1.0f - sigmoid));
    }
  }
}

}  // namespace primus::ops::cpu
