// Linear layer, fp32 CPU reference (OpenBLAS sgemm): out = in * weight^T + bias,
// weight [out_features, in_features] as Megatron and PyTorch store it.
#pragma once

#include <cstdint>

namespace primus::ops::cpu {

// out: [rows, out_features]; in: [rows, in_features]; bias: [out_features] or nullptr.
void linear_forward(float* out, const float* in, const float* weight, const float* bias, std::int64_t rows,
                    std::int64_t in_features, std::int64_t out_features);
// din: written (=), skipped when nullptr. dweight: accumulated (+=). dbias: accumulated, skipped when nullptr.
void linear_backward(float* din, float* dweight, float* dbias, const float* dout, const float* in,
                     const float* weight, std::int64_t rows, std::int64_t in_features, std::int64_t out_features);

}  // namespace primus::ops::cpu
