// Residual connection, fp32 CPU reference: out = a + b; backward adds the
// branch's input gradient into the residual stream's gradient.
#pragma once

#include <cstdint>

namespace primus::ops::cpu {

void residual_forward(float* out, const float* a, const float* b, std::int64_t count);
// dresidual += dbranch (accumulates): the gradient of a + b flows unchanged to both inputs.
void residual_backward(float* dresidual, const float* dbranch, std::int64_t count);

}  // namespace primus::ops::cpu
