// Gradient-norm kernels: per-block double partial sums (float4 grid-stride loads), a
// one-block final sum in fixed order, and a one-thread clip-coefficient kernel.
#include "primus/ops/cuda/grad_norm.hpp"
#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/ops/cuda/kernel_common.cuh"

namespace primus::ops::cuda {
namespace {

constexpr int kThreads = 512;
// Blocks of the first stage: fills 132 SMs several times; also the scratch length.
constexpr int kPartialBlocks = 1056;

template <int kVec>
__global__ void sum_of_squares_partials_kernel(double* partials, const float* grads, std::int64_t numel) {
  __shared__ double shared[32];
  const std::int64_t packs = numel / kVec;
  const std::int64_t thread = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  double sum = 0.0;
  for (std::int64_t p = thread; p < packs; p += stride) {
    float g[kVec];
    detail::load_f32<kVec>(grads + p * kVec, g);
    // Squares and sums in double: 2.8e9 fp32 terms would lose digits in an fp32 sum.
#pragma unroll
    for (int i = 0; i < kVec; ++i) sum += static_cast<double>(g[i]) * g[i];
  }
  const std::int64_t tail = packs * kVec + thread;
  if (tail < numel) sum += static_cast<double>(grads[tail]) * grads[tail];
  sum = detail::block_sum(sum, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

__global__ void sum_partials_kernel(double* out, const double* partials, int count) {
  __shared__ double shared[32];
  double sum = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) sum += partials[i];
  sum = detail::block_sum(sum, shared);
  if (threadIdx.x == 0) *out = sum;
}

__global__ void clip_coefficient_kernel(float* clip_coeff, std::int32_t* found_non_finite, double* norm_out,
                                        const double* sum_of_squares, double max_norm) {
  const double norm = sqrt(*sum_of_squares);
  const bool finite = isfinite(norm);
  if (norm_out != nullptr) *norm_out = norm;
  if (found_non_finite != nullptr) *found_non_finite = finite ? 0 : 1;
  double coeff = 1.0;
  if (finite && max_norm > 0.0) {
    const double c = max_norm / (norm + 1.0e-6);
    if (c < 1.0) coeff = c;
  }
  *clip_coeff = static_cast<float>(coeff);
}

}  // namespace

std::int64_t grad_sum_of_squares_scratch_doubles() { return kPartialBlocks; }

void grad_sum_of_squares(double* sum_of_squares, const float* grads, std::int64_t numel, double* scratch,
                         cudaStream_t stream) {
  constexpr const char* op = "grad_sum_of_squares";
  require_kernel_argument(numel >= 0, op, "numel = " + std::to_string(numel) + " must be >= 0");
  require_kernel_argument(scratch != nullptr, op, "scratch must hold grad_sum_of_squares_scratch_doubles() doubles");
  if (detail::is_aligned_16(grads))
    sum_of_squares_partials_kernel<4><<<kPartialBlocks, kThreads, 0, stream>>>(scratch, grads, numel);
  else
    sum_of_squares_partials_kernel<1><<<kPartialBlocks, kThreads, 0, stream>>>(scratch, grads, numel);
  PRIMUS_KERNEL_LAUNCH_CHECK();
  sum_partials_kernel<<<1, 1024, 0, stream>>>(sum_of_squares, scratch, kPartialBlocks);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void grad_clip_coefficient(float* clip_coeff, std::int32_t* found_non_finite, double* norm,
                           const double* sum_of_squares, double max_norm, cudaStream_t stream) {
  require_kernel_argument(clip_coeff != nullptr && sum_of_squares != nullptr, "grad_clip_coefficient",
                          "clip_coeff and sum_of_squares must be device pointers");
  clip_coefficient_kernel<<<1, 1, 0, stream>>>(clip_coeff, found_non_finite, norm, sum_of_squares, max_norm);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::ops::cuda
