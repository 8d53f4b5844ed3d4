// Global gradient norm and clipping by it (Megatron's clip_grad_norm_fp32 semantics).
#pragma once

#include <span>

namespace primus::optim {

// L2 norm of all gradients, accumulated in double; NaN or Inf when any gradient is non-finite.
double global_grad_norm(std::span<const float> grads);

// Scales grads by max_norm / (norm + 1e-6) when that is < 1; returns the factor applied (1 when none, or norm non-finite).
double clip_grad_by_global_norm(std::span<float> grads, double max_norm, double norm);

}  // namespace primus::optim
