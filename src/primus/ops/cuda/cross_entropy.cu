// Cross-entropy kernels: one block per row. Forward keeps a running (max, sum of
// exp(x - max)) per thread and merges them across the block; backward recomputes
// softmax from the saved lse.
#include "primus/ops/cuda/cross_entropy.hpp"
#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/ops/cuda/kernel_common.cuh"

namespace primus::ops::cuda {
namespace {

using detail::bf16;

constexpr int kThreads = 512;

// Running log-sum-exp state: the sum is of exp(x - max).
struct SoftmaxState {
  float max;
  float sum;
};

// exp(old_max - new_max), exactly 1 when they are equal (both -inf included, where the
// difference would be NaN); a NaN sum stays NaN either way.
__device__ __forceinline__ float rescale(float old_max, float new_max) {
  return old_max == new_max ? 1.0f : __expf(old_max - new_max);
}

__device__ __forceinline__ SoftmaxState merge(SoftmaxState a, SoftmaxState b) {
  const float m = fmaxf(a.max, b.max);
  return {m, a.sum * rescale(a.max, m) + b.sum * rescale(b.max, m)};
}

__device__ __forceinline__ SoftmaxState warp_merge(SoftmaxState s) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    SoftmaxState other{__shfl_xor_sync(0xffffffffu, s.max, offset), __shfl_xor_sync(0xffffffffu, s.sum, offset)};
    s = merge(s, other);
  }
  return s;
}

template <int kVec>
__global__ void cross_entropy_forward_kernel(float* losses, float* lse_out, const bf16* logits,
                                             const std::int32_t* labels, std::int64_t vocab) {
  __shared__ SoftmaxState shared[32];
  const std::int64_t row = blockIdx.x;
  const bf16* x = logits + row * vocab;
  SoftmaxState state{-INFINITY, 0.0f};
  for (std::int64_t column = static_cast<std::int64_t>(threadIdx.x) * kVec; column < vocab;
       column += static_cast<std::int64_t>(blockDim.x) * kVec) {
    float v[kVec];
    detail::load_bf16<kVec>(x + column, v);
    float m = v[0];
#pragma unroll
    for (int i = 1; i < kVec; ++i) m = fmaxf(m, v[i]);
    const float new_max = fmaxf(state.max, m);
    float sum = state.sum * rescale(state.max, new_max);
#pragma unroll
    for (int i = 0; i < kVec; ++i) sum += __expf(v[i] - new_max);  // a NaN logit makes the sum NaN
    state = {new_max, sum};
  }
  state = warp_merge(state);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) shared[warp] = state;
  __syncthreads();
  if (warp == 0) {
    state = lane < static_cast<int>(blockDim.x / 32) ? shared[lane] : SoftmaxState{-INFINITY, 0.0f};
    state = warp_merge(state);
    if (lane == 0) {
      const float lse = state.max + logf(state.sum);
      const std::int32_t label = labels[row];
      const float target = (label >= 0 && label < vocab) ? __bfloat162float(x[label]) : __int_as_float(0x7fc00000);
      lse_out[row] = lse;
      losses[row] = lse - target;
    }
  }
}

template <int kVec>
__global__ void cross_entropy_backward_kernel(bf16* dlogits, const bf16* logits, const float* lse,
                                              const std::int32_t* labels, const float* dlosses, std::int64_t vocab) {
  const std::int64_t row = blockIdx.x;
  const float row_lse = lse[row], dloss = dlosses[row];
  const std::int64_t label = labels[row];
  const bf16* x = logits + row * vocab;
  bf16* dx = dlogits + row * vocab;
  for (std::int64_t column = static_cast<std::int64_t>(threadIdx.x) * kVec; column < vocab;
       column += static_cast<std::int64_t>(blockDim.x) * kVec) {
    float v[kVec];
    detail::load_bf16<kVec>(x + column, v);
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      const float onehot = (column + i == label) ? 1.0f : 0.0f;
      v[i] = (__expf(v[i] - row_lse) - onehot) * dloss;
    }
    detail::store_bf16<kVec>(dx + column, v);
  }
}

void check_shape(const char* op, std::int64_t rows, std::int64_t vocab) {
  require_kernel_argument(rows >= 0 && rows < (std::int64_t{1} << 31) && vocab > 0, op,
                          "rows = " + std::to_string(rows) + ", vocab = " + std::to_string(vocab) +
                              ": expected 0 <= rows < 2^31 and vocab > 0");
}

}  // namespace

void cross_entropy_forward(float* losses, float* lse, const bf16* logits, const std::int32_t* labels, std::int64_t rows,
                           std::int64_t vocab, cudaStream_t stream) {
  check_shape("cross_entropy_forward", rows, vocab);
  if (rows == 0) return;
  if (detail::can_vectorize(vocab, {logits}))
    cross_entropy_forward_kernel<detail::kPack>
        <<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(losses, lse, logits, labels, vocab);
  else
    cross_entropy_forward_kernel<1>
        <<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(losses, lse, logits, labels, vocab);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void cross_entropy_backward(bf16* dlogits, const bf16* logits, const float* lse, const std::int32_t* labels,
                            const float* dlosses, std::int64_t rows, std::int64_t vocab, cudaStream_t stream) {
  check_shape("cross_entropy_backward", rows, vocab);
  if (rows == 0) return;
  if (detail::can_vectorize(vocab, {dlogits, logits}))
    cross_entropy_backward_kernel<detail::kPack>
        <<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(dlogits, logits, lse, labels, dlosses, vocab);
  else
    cross_entropy_backward_kernel<1>
        <<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(dlogits, logits, lse, labels, dlosses, vocab);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::ops::cuda
