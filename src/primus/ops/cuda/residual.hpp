// Residual connection on the GPU, twin of primus::ops::cpu::residual_*: bf16 tensors,
// fp32 add, flat buffers of any length (16-byte vector accesses when the pointers allow).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

// out = a + b (out may alias a or b).
void residual_forward(__nv_bfloat16* out, const __nv_bfloat16* a, const __nv_bfloat16* b, std::int64_t count,
                      cudaStream_t stream);
// dresidual += dbranch (accumulates).
void residual_backward(__nv_bfloat16* dresidual, const __nv_bfloat16* dbranch, std::int64_t count, cudaStream_t stream);

}  // namespace primus::ops::cuda
