// Precision casts on the GPU: fp32 -> bf16 (round to nearest even) and bf16 -> fp32,
// over flat buffers of any length (16-byte vector accesses when the pointers allow).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

void cast_fp32_to_bf16(__nv_bfloat16* out, const float* in, std::int64_t count, cudaStream_t stream);
void cast_bf16_to_fp32(float* out, const __nv_bfloat16* in, std::int64_t count, cudaStream_t stream);

}  // namespace primus::ops::cuda
