// Split fp32 master weights: each fp32 master weight is stored as its bf16 high half
// (the model weight the GEMMs read directly; truncation rounding) and a 16-bit low
// half, so master + model copy cost 4 bytes per parameter instead of 6. AdamW
// reassembles the exact fp32 value, updates it and splits it again, in one launch over
// the flat buffer; the loss accumulator and non-finite flag live on the device.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "primus/ops/cuda/adamw.hpp"

namespace primus::train::cuda {

// Host: fp32 -> (high, low) halves and back (exact).
// (defined in master_weights_host.cpp; this header stays C++17 for nvcc)
void split_master_weights(const float* in, std::uint16_t* high, std::uint16_t* low, std::int64_t count);
void join_master_weights(const std::uint16_t* high, const std::uint16_t* low, float* out, std::int64_t count);

// Device: fp32 in[count] -> high, low halves (exact); in may be any scratch of count floats.
void split_master_weights_on_device(const float* in, __nv_bfloat16* high, std::uint16_t* low, std::int64_t count,
                                    cudaStream_t stream);

// AdamW (torch.optim.AdamW order, as primus::optim::AdamW::step) on the split master weights.
// The gradient is scaled by *clip_coeff; the whole update is skipped when *found_non_finite != 0
// or *loss_sum is not finite. segments: as ops::cuda::adamw_step's (device, sorted, weight-decay flag).
void split_adamw_step(__nv_bfloat16* high, std::uint16_t* low, float* exp_avg, float* exp_avg_sq, const float* grads,
                      const float* clip_coeff, const std::int32_t* found_non_finite, const double* loss_sum,
                      const ops::cuda::AdamWSegment* segments, std::int64_t segment_count, std::int64_t numel,
                      const ops::cuda::AdamWHyperparameters& hyper, cudaStream_t stream);

// *loss_sum (= when reset, else +=) Σ_r losses[r] * weights[r], one block, fixed order (deterministic).
void accumulate_weighted_loss(double* loss_sum, const float* losses, const float* weights, std::int64_t rows,
                              bool reset, cudaStream_t stream);

}  // namespace primus::train::cuda
