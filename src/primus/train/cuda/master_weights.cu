// Split master weights: host split/join and the AdamW and loss kernels.
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

// Four elements per thread: 8-byte high/low, 16-byte moment and gradient accesses.
__global__ void split_adamw_kernel(std::uint16_t* high, std::uint16_t* low, float* exp_avg, float* exp_avg_sq,
                                   const float* grads, const float* clip_coeff, const std::int32_t* found_non_finite,
                                   const double* loss_sum, const AdamWSegment* segments, std::int64_t segment_count,
                                   std::int64_t numel, AdamWScalars s) {
  if ((found_non_finite != nullptr && *found_non_finite != 0) || (loss_sum != nullptr && !isfinite(*loss_sum))) return;
  const float clip = clip_coeff != nullptr ? *clip_coeff : 1.0f;
  const std::int64_t packs = numel / 4;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t pack = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; pack < packs;
       pack += stride) {
    const std::int64_t first = pack * 4;
    const std::int64_t seg_first = segment_of(segments, segment_count, first);
    const std::int64_t seg_last = segment_of(segments, segment_count, first + 3);
    uint2 hi4 = reinterpret_cast<const uint2*>(high)[pack];
    uint2 lo4 = reinterpret_cast<const uint2*>(low)[pack];
    float4 m4 = reinterpret_cast<const float4*>(exp_avg)[pack];
    float4 v4 = reinterpret_cast<const float4*>(exp_avg_sq)[pack];
    const float4 g4 = reinterpret_cast<const float4*>(grads)[pack];
    std::uint16_t h[4] = {static_cast<std::uint16_t>(hi4.x & 0xffffu), static_cast<std::uint16_t>(hi4.x >> 16),
                          static_cast<std::uint16_t>(hi4.y & 0xffffu), static_cast<std::uint16_t>(hi4.y >> 16)};
    std::uint16_t l[4] = {static_cast<std::uint16_t>(lo4.x & 0xffffu), static_cast<std::uint16_t>(lo4.x >> 16),
                          static_cast<std::uint16_t>(lo4.y & 0xffffu), static_cast<std::uint16_t>(lo4.y >> 16)};
    float m[4] = {m4.x, m4.y, m4.z, m4.w}, v[4] = {v4.x, v4.y, v4.z, v4.w};
    const float g[4] = {g4.x, g4.y, g4.z, g4.w};
    for (int i = 0; i < 4; ++i) {
      const std::int64_t seg = (seg_first == seg_last) ? seg_first : segment_of(segments, segment_count, first + i);
      if (seg < 0) continue;
      const float decay = __ldg(&segments[seg].weight_decay) ? s.decay_factor : 1.0f;
      update_one(h[i], l[i], m[i], v[i], g[i] * clip, decay, s);
    }
    reinterpret_cast<uint2*>(high)[pack] =
        make_uint2(h[0] | (static_cast<unsigned>(h[1]) << 16), h[2] | (static_cast<unsigned>(h[3]) << 16));
    reinterpret_cast<uint2*>(low)[pack] =
        make_uint2(l[0] | (static_cast<unsigned>(l[1]) << 16), l[2] | (static_cast<unsigned>(l[3]) << 16));
    reinterpret_cast<float4*>(exp_avg)[pack] = make_float4(m[0], m[1], m[2], m[3]);
    reinterpret_cast<float4*>(exp_avg_sq)[pack] = make_float4(v[0], v[1], v[2], v[3]);
  }
  // Tail (numel % 4 elements), by the first threads of block 0.
  if (blockIdx.x == 0 && threadIdx.x < numel - packs * 4) {
    const std::int64_t i = packs * 4 + threadIdx.x;
    const std::int64_t seg = segment_of(segments, segment_count, i);
    if (seg >= 0) {
      const float decay = __ldg(&segments[seg].weight_decay) ? s.decay_factor : 1.0f;
      update_one(high[i], low[i], exp_avg[i], exp_avg_sq[i], grads[i] * clip, decay, s);
    }
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
  ops::cuda::require_kernel_argument(is_aligned(high, 8) && is_aligned(low, 8) && is_aligned(exp_avg, 16) &&
                                         is_aligned(exp_avg_sq, 16) && is_aligned(grads, 16),
                                     "split_adamw_step", "8-byte aligned halves and 16-byte aligned fp32 buffers expected");
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
  const std::int64_t packs = (numel + 3) / 4;
  const int blocks = static_cast<int>(std::min<std::int64_t>((packs + threads - 1) / threads, 132 * 16));
  split_adamw_kernel<<<blocks, threads, 0, stream>>>(reinterpret_cast<std::uint16_t*>(high), low, exp_avg, exp_avg_sq,
                                                     grads, clip_coeff, found_non_finite, loss_sum, segments,
                                                     segment_count, numel, s);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void accumulate_weighted_loss(double* loss_sum, const float* losses, const float* weights, std::int64_t rows,
                              bool reset, cudaStream_t stream) {
  weighted_loss_kernel<<<1, 1024, 0, stream>>>(loss_sum, losses, weights, rows, reset);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::train::cuda
