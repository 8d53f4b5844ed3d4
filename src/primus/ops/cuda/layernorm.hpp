// LayerNorm on the GPU, twin of primus::ops::cpu::layernorm_*: bf16 activations, weight
// and bias, fp32 math, fp32 mean and rstd saved for backward, fp32 dweight and dbias
// (main grads) accumulated deterministically through caller scratch.
// out = (in - mean) * rstd * w + bias, w = weight or 1 + weight with apply_layernorm_1p.
// dim <= 16384 (larger throws); vectorised when dim % 8 == 0 and pointers are 16-byte aligned;
// the backward's scalar path (other dims or alignments) takes dim <= 8192.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

// out, in: [rows, dim]; weight, bias: [dim]; mean, rstd: [rows] fp32.
void layernorm_forward(__nv_bfloat16* out, float* mean, float* rstd, const __nv_bfloat16* in,
                       const __nv_bfloat16* weight, const __nv_bfloat16* bias, std::int64_t rows, std::int64_t dim,
                       float eps, bool apply_layernorm_1p, cudaStream_t stream);

// Floats of scratch layernorm_backward needs (per-block partial dweight and dbias sums).
std::int64_t layernorm_backward_scratch_floats(std::int64_t rows, std::int64_t dim);

// din: written (=). dweight, dbias: fp32, accumulated (+=).
void layernorm_backward(__nv_bfloat16* din, float* dweight, float* dbias, const __nv_bfloat16* dout,
                        const __nv_bfloat16* in, const __nv_bfloat16* weight, const float* mean, const float* rstd,
                        std::int64_t rows, std::int64_t dim, bool apply_layernorm_1p, float* scratch,
                        cudaStream_t stream);

}  // namespace primus::ops::cuda
