// GELU, exact (erf) form, fp32 CPU reference: Megatron's default activation_func
// is torch.nn.functional.gelu, which is the erf form. (Megatron's optional
// bias-gelu fusion uses the tanh approximation; not reproduced here.)
#pragma once

#include <cstdint>

namespace primus::ops::cpu {

void gelu_forward(float* out, const float* in, std::int64_t count);
// din: written (=).
void gelu_backward(float* din, const float* dout, const float* in, std::int64_t count);

}  // namespace primus::ops::cpu
