// RMSNorm on the GPU, twin of primus::ops::cpu::rmsnorm_*: bf16 activations and
// weight, fp32 math, fp32 rstd saved for backward, fp32 dweight (main grad) accumulated.
// Shapes: dim <= 16384 (larger throws). Any rows and dim work; dim % 8 == 0 with
// 16-byte aligned pointers takes the vectorised path (16-byte loads), else a scalar path.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

// out, in: [rows, dim]; weight: [dim]; rstd: [rows]. weight is used as 1 + weight with apply_layernorm_1p.
void rmsnorm_forward(__nv_bfloat16* out, float* rstd, const __nv_bfloat16* in, const __nv_bfloat16* weight,
                     std::int64_t rows, std::int64_t dim, float eps, bool apply_layernorm_1p, cudaStream_t stream);

// Floats of scratch rmsnorm_backward needs (per-block partial dweight sums).
std::int64_t rmsnorm_backward_scratch_floats(std::int64_t rows, std::int64_t dim);

// din: written (=). dweight: fp32, accumulated (+=) through a two-stage deterministic
// reduction in `scratch` (rmsnorm_backward_scratch_floats(rows, dim) floats).
// dresidual (nullable): a gradient of the same shape added into din: the residual stream's
// gradient, which meets the norm input's where the stream enters the norm.
void rmsnorm_backward(__nv_bfloat16* din, float* dweight, const __nv_bfloat16* dout, const __nv_bfloat16* in,
                      const __nv_bfloat16* weight, const float* rstd, std::int64_t rows, std::int64_t dim,
                      bool apply_layernorm_1p, float* scratch, const __nv_bfloat16* dresidual, cudaStream_t stream);

}  // namespace primus::ops::cuda
