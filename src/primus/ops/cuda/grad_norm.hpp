// Global gradient norm and clip coefficient on the GPU, twin of
// primus::optim::global_grad_norm / clip_grad_by_global_norm, with no host sync.
// The sum of squares is taken per fixed chunk of the flat fp32 grad buffer (one double
// partial per chunk, accumulated in a fixed order inside the chunk) and the partials are
// then summed in chunk order: the result does not depend on how many blocks computed the
// partials (the GPU's SM count). A data-parallel caller
// all-reduces the sum; grad_clip_coefficient then writes the norm, the clip coefficient
// that the AdamW kernels read, and a non-finite flag that makes them skip the update.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

// Rows of the buffer known to be zero, not read (the sum's bits are the same): elements
// [begin, begin + rows * row_elements) form rows; a row whose mark is 0 is all zeros (see
// touched_rows.hpp). marks == nullptr: every element is read.
struct ZeroRows {
  const std::uint8_t* marks = nullptr;
  std::int64_t begin = 0, rows = 0, row_elements = 0;
};

// Partials (doubles of scratch) for a buffer of numel elements: one per chunk, at least 1.
std::int64_t grad_sum_of_squares_scratch_doubles(std::int64_t numel);

// *sum_of_squares = sum of grads[i]^2 over [0, numel); scratch
// holds grad_sum_of_squares_scratch_doubles(numel) doubles. NaN or Inf when any gradient is.
void grad_sum_of_squares(double* sum_of_squares, const float* grads, std::int64_t numel, double* scratch,
                         cudaStream_t stream, const ZeroRows& zero = {});

// From the device *sum_of_squares: *norm = sqrt(sum) (norm may be nullptr);
// *clip_coeff = min(1, max_norm / (norm + 1e-6)), or 1 when max_norm <= 0 or the norm is
// not finite; *found_non_finite = 1 when the norm is not finite, else 0.
void grad_clip_coefficient(float* clip_coeff, std::int32_t* found_non_finite, double* norm,
                           const double* sum_of_squares, double max_norm, cudaStream_t stream);

}  // namespace primus::ops::cuda
