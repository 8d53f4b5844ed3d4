// RMSNorm over the last dimension, fp32 CPU reference:
// out = in * rstd * w, rstd = 1 / sqrt(mean(in^2) + eps), where w = weight, or
// 1 + weight with apply_layernorm_1p (weight stored as an offset from one).
#pragma once

#include <cstdint>

namespace primus::ops::cpu {

// out, in: [rows, dim]; weight: [dim]; rstd: [rows] (saved for backward).
void rmsnorm_forward(float* out, float* rstd, const float* in, const float* weight, std::int64_t rows,
                     std::int64_t dim, float eps, bool apply_layernorm_1p);
// din: written (=). dweight: accumulated (+=).
void rmsnorm_backward(float* din, float* dweight, const float* dout, const float* in, const float* weight,
                      const float* rstd, std::int64_t rows, std::int64_t dim, bool apply_layernorm_1p);

}  // namespace primus::ops::cpu
