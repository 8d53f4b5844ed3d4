// AdamW kernel: grid-stride over packs of 4 elements (float4 accesses), each thread
// finding its pack's segment by binary search in the (small, cached) segment table.
#include <cmath>

#include "primus/ops/cuda/adamw.hpp"
#include "primus/ops/cuda/adamw_math.cuh"
#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/ops/cuda/kernel_common.cuh"

namespace primus::ops::cuda {
namespace {

using detail::bf16;

// Index of the last segment with begin <= element, or -1.
__device__ __forceinline__ std::int64_t find_segment(const AdamWSegment* segments, std::int64_t count,
                                                     std::int64_t element) {
  std::int64_t low = 0, high = count;  // first segment with begin > element lies in [low, high]
  while (low < high) {
    const std::int64_t mid = (low + high) / 2;
    if (__ldg(&segments[mid].begin) <= element)
      low = mid + 1;
    else
      high = mid;
  }
  return low - 1;
}

template <int kVec>
__global__ void adamw_kernel(float* params, bf16* model_params, float* exp_avg, float* exp_avg_sq, const float* grads,
                             const float* clip_coeff, const std::int32_t* found_non_finite,
                             const AdamWSegment* segments, std::int64_t segment_count, std::int64_t numel,
                             AdamWScalars s) {
  if (found_non_finite != nullptr && *found_non_finite != 0) return;
  const float clip = clip_coeff != nullptr ? *clip_coeff : 1.0f;
  const std::int64_t packs = numel / kVec;
  const std::int64_t thread = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  // The last iteration (p == packs) covers the numel % kVec tail one element at a time.
  for (std::int64_t p = thread; p <= packs; p += stride) {
    const std::int64_t first = p * kVec;
    const int width = p < packs ? kVec : static_cast<int>(numel - first);
    if (width <= 0) continue;
    float param[kVec], grad[kVec], m[kVec], v[kVec];
    if (p < packs) {
      detail::load_f32<kVec>(params + first, param);
      detail::load_f32<kVec>(grads + first, grad);
      detail::load_f32<kVec>(exp_avg + first, m);
      detail::load_f32<kVec>(exp_avg_sq + first, v);
    } else {
      for (int i = 0; i < width; ++i)
        param[i] = params[first + i], grad[i] = grads[first + i], m[i] = exp_avg[first + i],
        v[i] = exp_avg_sq[first + i];
    }
    std::int64_t segment = find_segment(segments, segment_count, first);
    bool touched = false;
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      if (i >= width) break;
      const std::int64_t element = first + i;
      // A pack may straddle segment boundaries: step forward past segments that end before it.
      while (segment + 1 < segment_count && __ldg(&segments[segment + 1].begin) <= element) ++segment;
      if (segment < 0 || element >= __ldg(&segments[segment].end)) continue;
      touched = true;
      const float decay = __ldg(&segments[segment].weight_decay) ? s.decay_factor : 1.0f;
      param[i] = adamw_update(param[i], m[i], v[i], grad[i] * clip, decay, s);
    }
    if (!touched) continue;
    if (p < packs) {
      detail::store_f32<kVec>(params + first, param);
      detail::store_f32<kVec>(exp_avg + first, m);
      detail::store_f32<kVec>(exp_avg_sq + first, v);
      if (model_params != nullptr) {
        if constexpr (kVec == 4) {
          __nv_bfloat162 pair[2] = {__floats2bfloat162_rn(param[0], param[1]),
                                    __floats2bfloat162_rn(param[2], param[3])};
          *reinterpret_cast<uint2*>(model_params + first) = *reinterpret_cast<const uint2*>(pair);
        } else {
          for (int i = 0; i < kVec; ++i) model_params[first + i] = __float2bfloat16_rn(param[i]);
        }
      }
    } else {
      for (int i = 0; i < width; ++i) {
        params[first + i] = param[i], exp_avg[first + i] = m[i], exp_avg_sq[first + i] = v[i];
        if (model_params != nullptr) model_params[first + i] = __float2bfloat16_rn(param[i]);
      }
    }
  }
}

}  // namespace

void adamw_step(float* params, bf16* model_params, float* exp_avg, float* exp_avg_sq, const float* grads,
                const float* clip_coeff, const std::int32_t* found_non_finite, const AdamWSegment* segments,
                std::int64_t segment_count, std::int64_t numel, const AdamWHyperparameters& hyper,
                cudaStream_t stream) {
  constexpr const char* op = "adamw_step";
  require_kernel_argument(
      numel >= 0 && segment_count >= 0, op,
      "numel = " + std::to_string(numel) + ", segment_count = " + std::to_string(segment_count) + " must be >= 0");
  require_kernel_argument(segment_count == 0 || segments != nullptr, op, "segments is null");
  require_kernel_argument(hyper.step >= 1, op, "step = " + std::to_string(hyper.step) + " must be >= 1");
  require_kernel_argument(hyper.beta1 >= 0.0 && hyper.beta1 < 1.0 && hyper.beta2 >= 0.0 && hyper.beta2 < 1.0, op,
                          "adam_beta1 = " + std::to_string(hyper.beta1) +
                              " and adam_beta2 = " + std::to_string(hyper.beta2) + " must lie in [0, 1)");
  require_kernel_argument(hyper.eps > 0.0, op, "adam_eps = " + std::to_string(hyper.eps) + " must be > 0");
  if (numel == 0 || segment_count == 0) return;
  const AdamWScalars scalars = adamw_scalars(hyper);
  constexpr int kThreads = 256;
  const bool vectorize = detail::is_aligned_16(params) && detail::is_aligned_16(grads) &&
                         detail::is_aligned_16(exp_avg) && detail::is_aligned_16(exp_avg_sq) &&
                         is_aligned(model_params, 8);
  if (vectorize)
    adamw_kernel<4><<<detail::grid_for(numel / 4 + 1, kThreads), kThreads, 0, stream>>>(
        params, model_params, exp_avg, exp_avg_sq, grads, clip_coeff, found_non_finite, segments, segment_count, numel,
        scalars);
  else
    adamw_kernel<1><<<detail::grid_for(numel + 1, kThreads), kThreads, 0, stream>>>(
        params, model_params, exp_avg, exp_avg_sq, grads, clip_coeff, found_non_finite, segments, segment_count, numel,
        scalars);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::ops::cuda
