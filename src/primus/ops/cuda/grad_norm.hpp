// Global gradient norm and clip coefficient on the GPU, twin of
// primus::optim::global_grad_norm / clip_grad_by_global_norm, with no host sync:
// grad_sum_of_squares reduces the flat fp32 grad buffer into a device double (two
// stages through caller scratch, deterministic); a data-parallel caller all-reduces that
// sum; grad_clip_coefficient then writes the norm, the clip coefficient that adamw_step
// reads, and a non-finite flag that makes adamw_step skip the update.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

// Doubles of scratch grad_sum_of_squares needs (one partial sum per block).
std::int64_t grad_sum_of_squares_scratch_doubles();

// *sum_of_squares = sum of grads[i]^2 over [0, numel), accumulated in double (written, =).
// NaN or Inf when any gradient is non-finite.
void grad_sum_of_squares(double* sum_of_squares, const float* grads, std::int64_t numel, double* scratch,
                         cudaStream_t stream);

// From the device *sum_of_squares: *norm = sqrt(sum) (norm may be nullptr);
// *clip_coeff = min(1, max_norm / (norm + 1e-6)), or 1 when max_norm <= 0 or the norm is
// not finite; *found_non_finite = 1 when the norm is not finite, else 0.
void grad_clip_coefficient(float* clip_coeff, std::int32_t* found_non_finite, double* norm,
                           const double* sum_of_squares, double max_norm, cudaStream_t stream);

}  // namespace primus::ops::cuda
