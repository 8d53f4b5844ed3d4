// SwiGLU on the GPU, twin of primus::ops::cpu::swiglu_*: in is Megatron's fused fc1
// output, bf16 [rows, 2*ffn] (gate = first half, up = second half); out = silu(gate) * up,
// bf16 [rows, ffn]. fp32 math. Vectorised when ffn % 8 == 0 and pointers are 16-byte
// aligned; any ffn works.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

void swiglu_forward(__nv_bfloat16* out, const __nv_bfloat16* in, std::int64_t rows, std::int64_t ffn,
                    cudaStream_t stream);
// din [rows, 2*ffn]: written (=).
void swiglu_backward(__nv_bfloat16* din, const __nv_bfloat16* dout, const __nv_bfloat16* in, std::int64_t rows,
                     std::int64_t ffn, cudaStream_t stream);
// swiglu_backward and, in the same pass over `in`, swiglu_forward's output (bit-identical to
// it): for an activation recomputed in backward (recompute_modules: mlp), whose fc2 weight
// gradient can wait for it while fc2's input gradient, which does not need it, goes first.
void swiglu_backward_and_forward(__nv_bfloat16* out, __nv_bfloat16* din, const __nv_bfloat16* dout,
                                 const __nv_bfloat16* in, std::int64_t rows, std::int64_t ffn, cudaStream_t stream);

}  // namespace primus::ops::cuda
