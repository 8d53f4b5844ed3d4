// Split master weights: host split/join and the AdamW and loss kernels.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "primus/ops/cuda/adamw_math.cuh"
#include "primus/ops/cuda/cuda_check.hpp"
#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/train/cuda/master_weights.hpp"

namespace primus::train::cuda {

using ops::cuda::AdamWHyperparameters;
using ops::cuda::AdamWScalars;
using ops::cuda::adamw_update;

namespace {

// The split master weight (high, low) joined, updated and split again.
__device__ __forceinline__ void update_one(std::uint16_t& high, std::uint16_t& low, float& m, float& v, float g,
                                           float decay, const AdamWScalars& s) {
  const float p = adamw_update(__uint_as_float((static_cast<unsigned>(high) << 16) | low), m, v, g, decay, s);
  const unsigned bits = __float_as_uint(p);
  high = static_cast<std::uint16_t>(bits >> 16);
  low = static_cast<std::uint16_t>(bits & 0xffffu);
}

// Index of the launch's segment holding `element`, scanning on from `from` (elements only
// move forward within a thread's pack).
__device__ __forceinline__ int segment_from(const SplitAdamWLaunch& launch, int from, std::int64_t element) {
  while (from + 1 < launch.segment_count && element >= launch.segment_end[from]) ++from;
  return from;
}

// The launch's elements, eight per thread: 16-byte high/low, moment and gradient accesses
// over the 8-aligned middle, all loads issued before any arithmetic; block 0 takes the
// unaligned head and tail. 1024-thread blocks, at most 64 registers: exactly one block per
// SM, so a grid of k blocks occupies k SMs (the overlapped optimizer relies on it).
__global__ void __launch_bounds__(1024, 1)
    split_adamw_kernel(const SplitAdamWLaunch launch, std::uint16_t* high, std::uint16_t* low, float* exp_avg,
                       float* exp_avg_sq, const float* grads, const float* clip_coeff,
                       const std::int32_t* found_non_finite, const double* loss_sum, AdamWScalars s) {
  if ((found_non_finite != nullptr && *found_non_finite != 0) || (loss_sum != nullptr && !isfinite(*loss_sum))) return;
  constexpr int kPack = 8;
  const float clip = clip_coeff != nullptr ? *clip_coeff : 1.0f;
  const std::int64_t begin = launch.begin, end = launch.end();
  const std::int64_t first_pack = (begin + kPack - 1) / kPack;
  const std::int64_t end_pack = end / kPack > first_pack ? end / kPack : first_pack;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t pack = first_pack + blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       pack < end_pack; pack += stride) {
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
    const std::int64_t first = pack * kPack;
    int seg = segment_from(launch, 0, first);
#pragma unroll
    for (int i = 0; i < kPack; ++i) {
      seg = segment_from(launch, seg, first + i);
      const float decay = (launch.decay_mask >> seg) & 1u ? s.decay_factor : 1.0f;
      update_one(h[i], l[i], m[i], v[i], __fmul_rn(g[i], clip), decay, s);
    }
    reinterpret_cast<uint4*>(high)[pack] = hi8;
    reinterpret_cast<uint4*>(low)[pack] = lo8;
    reinterpret_cast<float4*>(exp_avg)[2 * pack] = m8[0];
    reinterpret_cast<float4*>(exp_avg)[2 * pack + 1] = m8[1];
    reinterpret_cast<float4*>(exp_avg_sq)[2 * pack] = v8[0];
    reinterpret_cast<float4*>(exp_avg_sq)[2 * pack + 1] = v8[1];
  }
  // Head [begin, first_pack*8) and tail [end_pack*8, end): fewer than 8 elements each.
  if (blockIdx.x == 0 && threadIdx.x < 2 * kPack) {
    const std::int64_t head_end = first_pack * kPack < end ? first_pack * kPack : end;
    const std::int64_t tail_begin = end_pack * kPack > head_end ? end_pack * kPack : head_end;
    const std::int64_t i = threadIdx.x < kPack ? begin + threadIdx.x : tail_begin + (threadIdx.x - kPack);
    const bool in_head = threadIdx.x < kPack && i < head_end;
    const bool in_tail = threadIdx.x >= kPack && i < end;
    if (in_head || in_tail) {
      const int seg = segment_from(launch, 0, i);
      const float decay = (launch.decay_mask >> seg) & 1u ? s.decay_factor : 1.0f;
      update_one(high[i], low[i], exp_avg[i], exp_avg_sq[i], __fmul_rn(grads[i], clip), decay, s);
    }
  }
}

__global__ void gather_after_adamw_kernel(std::uint16_t* out, const std::int32_t* tokens, std::int64_t rows,
                                          std::int64_t vocab, std::int64_t hidden, std::int64_t table_offset,
                                          float decay, const std::uint16_t* high, const std::uint16_t* low,
                                          const float* exp_avg, const float* exp_avg_sq, const float* grads,
                                          const float* clip_coeff, const std::int32_t* found_non_finite,
                                          const double* loss_sum, AdamWScalars s) {
  const bool skip =
      (found_non_finite != nullptr && *found_non_finite != 0) || (loss_sum != nullptr && !isfinite(*loss_sum));
  const float clip = clip_coeff != nullptr ? *clip_coeff : 1.0f;
  const std::int64_t count = rows * hidden;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < count; e += stride) {
    const std::int32_t token = tokens[e / hidden];
    if (token < 0 || token >= vocab) {
      out[e] = 0x7fc0;  // bf16 NaN marks the bad token's row
      continue;
    }
    const std::int64_t i = table_offset + token * hidden + e % hidden;
    std::uint16_t h = high[i];
    if (!skip) {
      std::uint16_t l = low[i];
      float m = exp_avg[i], v = exp_avg_sq[i];
      update_one(h, l, m, v, __fmul_rn(grads[i], clip), decay, s);
    }
    out[e] = h;
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

int device_sm_count() {
  static const int count = [] {
    int device = 0, sms = 0;
    PRIMUS_CUDA_CHECK(cudaGetDevice(&device));
    PRIMUS_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return sms;
  }();
  return count;
}

void split_adamw_launch(const SplitAdamWLaunch& launch, __nv_bfloat16* high, std::uint16_t* low, float* exp_avg,
                        float* exp_avg_sq, const float* grads, const float* clip_coeff,
                        const std::int32_t* found_non_finite, const double* loss_sum,
                        const AdamWHyperparameters& hyper, int sms, cudaStream_t stream) {
  using ops::cuda::is_aligned;
  bool ordered = launch.segment_count >= 1 && launch.segment_count <= SplitAdamWLaunch::kMaxSegments &&
                 launch.begin >= 0 && launch.begin < launch.segment_end[0];
  for (int i = 1; ordered && i < launch.segment_count; ++i)
    ordered = launch.segment_end[i - 1] < launch.segment_end[i];
  ops::cuda::require_kernel_argument(ordered && hyper.step >= 1, "split_adamw_launch",
                                     "1..16 non-empty segments in order and step >= 1 expected");
  ops::cuda::require_kernel_argument(is_aligned(high, 16) && is_aligned(low, 16) && is_aligned(exp_avg, 16) &&
                                         is_aligned(exp_avg_sq, 16) && is_aligned(grads, 16),
                                     "split_adamw_launch", "16-byte aligned buffers expected");
  const AdamWScalars s = ops::cuda::adamw_scalars(hyper);
  const int threads = 1024;
  const std::int64_t packs = (launch.end() - launch.begin) / 8 + 2;
  const int limit = sms > 0 ? std::min(sms, device_sm_count()) : device_sm_count();
  const int blocks =
      static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>((packs + threads - 1) / threads, limit)));
  split_adamw_kernel<<<blocks, threads, 0, stream>>>(launch, reinterpret_cast<std::uint16_t*>(high), low, exp_avg,
                                                     exp_avg_sq, grads, clip_coeff, found_non_finite, loss_sum, s);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void gather_rows_after_adamw(__nv_bfloat16* out, const std::int32_t* tokens, std::int64_t rows, std::int64_t vocab,
                             std::int64_t hidden, std::int64_t table_offset, bool decay, const __nv_bfloat16* high,
                             const std::uint16_t* low, const float* exp_avg, const float* exp_avg_sq,
                             const float* grads, const float* clip_coeff, const std::int32_t* found_non_finite,
                             const double* loss_sum, const AdamWHyperparameters& hyper, cudaStream_t stream) {
  ops::cuda::require_kernel_argument(rows >= 0 && vocab > 0 && hidden > 0 && table_offset >= 0 && hyper.step >= 1,
                                     "gather_rows_after_adamw",
                                     "rows >= 0, vocab > 0, hidden > 0, table_offset >= 0 and step >= 1 expected");
  if (rows == 0) return;
  const AdamWScalars s = ops::cuda::adamw_scalars(hyper);
  const std::int64_t count = rows * hidden;
  const int blocks = static_cast<int>(std::min<std::int64_t>((count + 255) / 256, std::int64_t{132} * 16));
  gather_after_adamw_kernel<<<blocks, 256, 0, stream>>>(
      reinterpret_cast<std::uint16_t*>(out), tokens, rows, vocab, hidden, table_offset,
      decay ? s.decay_factor : 1.0f, reinterpret_cast<const std::uint16_t*>(high), low, exp_avg, exp_avg_sq, grads,
      clip_coeff, found_non_finite, loss_sum, s);
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
