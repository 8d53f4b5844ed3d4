// LayerNorm over the last dimension, fp32 CPU reference:
// out = (in - mean) * rstd * w + bias, w = weight or 1 + weight with apply_layernorm_1p.
#pragma once

#include <cstdint>

namespace primus::ops::cpu {

// out, in: [rows, dim]; weight, bias: [dim]; mean, rstd: [rows] (saved for backward).
void layernorm_forward(float* out, float* mean, float* rstd, const float* in, const float* weight,
                       const float* bias, std::int64_t rows, std::int64_t dim, float eps, bool apply_layernorm_1p);
// din: written (=). dweight, dbias: accumulated (+=).
void layernorm_backward(float* din, float* dweight, float* dbias, const float* dout, const float* in,
                        const float* weight, const float* mean, const float* rstd, std::int64_t rows,
                        std::int64_t dim, bool apply_layernorm_1p);

}  // namespace primus::ops::cpu
