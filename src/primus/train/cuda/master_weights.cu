// Split master weights: host split/join and the AdamW and loss kernels.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/train/cuda/master_weights.hpp"

namespace primus::train::cuda {

using ops::cuda::AdamWHyperparameters;
using ops::cuda::AdamWSegment;

namespace {

// Index of the segment holding `element`, or -1 (elements in no segment are left untouched).
__device__ __forceinline__ std::int64_t segment_of(const AdamWSegment* segments, std::int64_t count,
                                                   std::int64_t element) {
  std::int64_t low = 0, high = count;  // first segment with begin > element is in [low, high]
  while (low < high) {
    const std::int64_t mid = (low + high) / 2;
    if (__ldg(&segments[mid].begin) <= element)
      low = mid + 1;
    else
      high = mid;
  }
  const std::int64_t index = low - 1;
  return (index >= 0 && element < __ldg(&segments[index].end)) ? index : -1;
}

struct AdamWScalars {
  float beta1, beta2, eps, step_size, inv_sqrt_bias_correction2, decay_factor;
};

__device__ __forceinline__ void update_one(std::uint16_t& high, std::uint16_t& low, float& m, float& v, float g,
                                           float decay, const AdamWScalars& s) {
  float p = __uint_as_float((static_cast<unsigned>(high) << 16) | low);
  m = s.beta1 * m + (1.0f - s.beta1) * g;
  v = s.beta2 * v + (1.0f - s.beta2) * g * g;
  const float denom = sqrtf(v) * s.inv_sqrt_bias_correction2 + s.eps;
  p = p * decay - s.step_size * m / denom;
  const unsigned bits = __float_as_uint(p);
  high = static_cast<std::uint16_t>(bits >> 16);
  low = static_cast<std::uint16_t>(bits & 0xffffu);
}

// Eight elements per thread: 16-byte high/low, moment and gradient accesses.
__global__ void split_adamw_kernel(std::uint16_t* high, std::uint16_t* low, float* exp_avg, float* exp_avg_sq,
                                   const float* grads, const float* clip_coeff, const std::int32_t* found_non_finite,
                                   const double* loss_sum, const AdamWSegment* segments, std::int64_t segment_count,
                                   std::int64_t numel, AdamWScalars s) {
  if ((found_non_finite != nullptr && *found_non_finite != 0) || (loss_sum != nullptr && !isfinite(*loss_sum))) return;
  constexpr int kPack = 8;
  const float clip = clip_coeff != nullptr ? *clip_coeff : 1.0f;
  const std::int64_t packs = numel / kPack;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t pack = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; pack < packs;
       pack += stride) {
    const std::int64_t first = pack * kPack;
    const std::int64_t seg_first = segment_of(segments, segment_count, first);
    const std::int64_t seg_last = segment_of(segments, segment_count, first + kPack - 1);
    uint4 hi8 = reinterpret_cast<const uint4*>(high)[pack];
    uint4 lo8 = reinterpret_cast<const uint4*>(low)[pack];
    float4 m8[2] = {reinterpret_cast<const float4*>(exp_avg)[2 * pack], reinterpret_cast<const float4*>(exp_avg)[2 * pack + 1]};
    float4 v8[2] = {reinterpret_cast<const float4*>(exp_avg_sq)[2 * pack],
                    reinterpret_cast<const float4*>(exp_avg_sq)[2 * pack + 1]};
    const float4 g8[2] = {reinterpret_cast<const float4*>(grads)[2 * pack], reinterpret_cast<const float4*>(grads)[2 * pack + 1]};
    std::uint16_t* h = reinterpret_cast<std::uint16_t*>(&hi8);
    std::uint16_t* l = reinterpret_cast<std::uint16_t*>(&lo8);
    float* m = reinterpret_cast<float*>(m8);
    float* v = reinterpret_cast<float*>(v8);
    const float* g = reinterpret_cast<const float*>(g8);
#pragma unroll
    for (int i = 0; i < kPack; ++i) {
      const std::int64_t seg = (seg_first == seg_last) ? seg_first : segment_of(segments, segment_count, first + i);
      if (seg < 0) continue;
      const float decay = __ldg(&segments[seg].weight_decay) ? s.decay_factor : 1.0f;
      update_one(h[i], l[i], m[i], v[i], g[i] * clip, decay, s);
    }
    reinterpret_cast<uint4*>(high)[pack] = hi8;
    reinterpret_cast<uint4*>(low)[pack] = lo8;
    reinterpret_cast<float4*>(exp_avg)[2 * pack] = m8[0];
    reinterpret_cast<float4*>(exp_avg)[2 * pack + 1] = m8[1];
    reinterpret_cast<float4*>(exp_avg_sq)[2 * pack] = v8[0];
    reinterpret_cast<float4*>(exp_avg_sq)[2 * pack + 1] = v8[1];
  }
  // Tail (numel % 8 elements), by the first threads of block 0.
  if (blockIdx.x == 0 && threadIdx.x < numel - packs * kPack) {
    const std::int64_t i = packs * kPack + threadIdx.x;
    const std::int64_t seg = segment_of(segments, segment_count, i);
    if (seg >= 0) {
      const float decay = __ldg(&segments[seg].weight_decay) ? s.decay_factor : 1.0f;
      update_one(high[i], low[i], exp_avg[i], exp_avg_sq[i], grads[i] * clip, decay, s);
    }
  }
}

__global__ void split_kernel(const float* in, std::uint16_t* high, std::uint16_t* low, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count; i += stride) {
    const unsigned bits = __float_as_uint(in[i]);
    high[i] = static_cast<std::uint16_t>(bits >> 16);
    low[i] = static_cast<std::uint16_t>(bits & 0xffffu);
  }
}

__global__ void weighted_loss_kernel(double* loss_sum, const float* losses, const float* weights, std::int64_t rows,
                                     bool reset) {
  __shared__ double partial[1024];
  double sum = 0.0;
  for (std::int64_t r = threadIdx.x; r < rows; r += blockDim.x)
    sum += static_cast<double>(losses[r]) * static_cast<double>(weights[r]);
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned width = blockDim.x / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) partial[threadIdx.x] += partial[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x == 0) *loss_sum = (reset ? 0.0 : *loss_sum) + partial[0];
}

}  // namespace

void split_adamw_step(__nv_bfloat16* high, std::uint16_t* low, float* exp_avg, float* exp_avg_sq, const float* grads,
                      const float* clip_coeff, const std::int32_t* found_non_finite, const double* loss_sum,
                      const AdamWSegment* segments, std::int64_t segment_count, std::int64_t numel,
                      const AdamWHyperparameters& hyper, cudaStream_t stream) {
  using ops::cuda::is_aligned;
  ops::cuda::require_kernel_argument(numel >= 0 && hyper.step >= 1, "split_adamw_step",
                                     "numel >= 0 and step >= 1 expected");
  ops::cuda::require_kernel_argument(is_aligned(high, 16) && is_aligned(low, 16) && is_aligned(exp_avg, 16) &&
                                         is_aligned(exp_avg_sq, 16) && is_aligned(grads, 16),
                                     "split_adamw_step", "16-byte aligned buffers expected");
  if (numel == 0) return;
  const double bias_correction1 = 1.0 - std::pow(hyper.beta1, static_cast<double>(hyper.step));
  const double bias_correction2 = 1.0 - std::pow(hyper.beta2, static_cast<double>(hyper.step));
  AdamWScalars s;
  s.beta1 = static_cast<float>(hyper.beta1);
  s.beta2 = static_cast<float>(hyper.beta2);
  s.eps = static_cast<float>(hyper.eps);
  s.step_size = static_cast<float>(hyper.lr / bias_correction1);
  s.inv_sqrt_bias_correction2 = static_cast<float>(1.0 / std::sqrt(bias_correction2));
  s.decay_factor = static_cast<float>(1.0 - hyper.lr * hyper.weight_decay);
  const int threads = 256;
  const std::int64_t packs = (numel + 7) / 8;
  const int blocks = static_cast<int>(std::min<std::int64_t>((packs + threads - 1) / threads, 132 * 16));
  split_adamw_kernel<<<blocks, threads, 0, stream>>>(reinterpret_cast<std::uint16_t*>(high), low, exp_avg, exp_avg_sq,
                                                     grads, clip_coeff, found_non_finite, loss_sum, segments,
                                                     segment_count, numel, s);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void split_master_weights_on_device(const float* in, __nv_bfloat16* high, std::uint16_t* low, std::int64_t count,
                                    cudaStream_t stream) {
  if (count == 0) return;
  const int blocks = static_cast<int>(std::min<std::int64_t>((count + 255) / 256, 132 * 32));
  split_kernel<<<blocks, 256, 0, stream>>>(in, reinterpret_cast<std::uint16_t*>(high), low, count);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void accumulate_weighted_loss(double* loss_sum, const float* losses, const float* weights, std::int64_t rows,
                              bool reset, cudaStream_t stream) {
  weighted_loss_kernel<<<1, 1024, 0, stream>>>(loss_sum, losses, weights, rows, reset);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::train::cuda
