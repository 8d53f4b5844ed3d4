// AdamW on the GPU in one launch over the flat fp32 master buffer, twin of
// primus::optim::AdamW::step: reads params, grads, exp_avg, exp_avg_sq (fp32); writes
// params, exp_avg, exp_avg_sq and the bf16 model-weight copy (same flat layout).
// The gradient is multiplied on the fly by *clip_coeff (a device scalar, so clipping
// needs no host sync); *found_non_finite != 0 (device flag) skips the whole update.
// Weight decay per parameter: a device table of segments sorted by begin; elements in
// no segment are left untouched (as the CPU twin skips elements outside every range).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

// One parameter's elements [begin, end) of the flat buffer and whether weight decay applies.
struct AdamWSegment {
  std::int64_t begin;
  std::int64_t end;
  std::int32_t weight_decay;  // 1: decay, 0: no decay (norms, biases)
  std::int32_t reserved;
};

struct AdamWHyperparameters {
  double lr;
  double beta1;
  double beta2;
  double eps;
  double weight_decay;
  std::int64_t step;  // 1 for the first update: drives the bias correction
};

// params, exp_avg, exp_avg_sq, grads: [numel] fp32. model_params: [numel] bf16 or nullptr.
// clip_coeff: device float or nullptr (1). found_non_finite: device int32 or nullptr (never skip).
// segments: device array of segment_count AdamWSegment, sorted by begin, non-overlapping, inside [0, numel).
void adamw_step(float* params, __nv_bfloat16* model_params, float* exp_avg, float* exp_avg_sq, const float* grads,
                const float* clip_coeff, const std::int32_t* found_non_finite, const AdamWSegment* segments,
                std::int64_t segment_count, std::int64_t numel, const AdamWHyperparameters& hyper, cudaStream_t stream);

}  // namespace primus::ops::cuda
