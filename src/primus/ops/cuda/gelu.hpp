// GELU (exact erf form, Megatron's default activation) on the GPU, twin of
// primus::ops::cpu::gelu_*: bf16 in and out, fp32 math, flat buffers of any length.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

void gelu_forward(__nv_bfloat16* out, const __nv_bfloat16* in, std::int64_t count, cudaStream_t stream);
// din: written (=).
void gelu_backward(__nv_bfloat16* din, const __nv_bfloat16* dout, const __nv_bfloat16* in, std::int64_t count,
                   cudaStream_t stream);

}  // namespace primus::ops::cuda
