// SwiGLU on Megatron's fused fc1 output, fp32 CPU reference: in is [rows, 2*ffn]
// with the gate in the first half and the up projection in the second
// (megatron/core/fusions/fused_bias_swiglu.py: silu(y_1) * y_2); out is [rows, ffn].
#pragma once

#include <cstdint>

namespace primus::ops::cpu {

void swiglu_forward(float* out, const float* in, std::int64_t rows, std::int64_t ffn);
// din [rows, 2*ffn]: written (=).
void swiglu_backward(float* din, const float* dout, const float* in, std::int64_t rows, std::int64_t ffn);

}  // namespace primus::ops::cpu
