// Cross-entropy kernels: one block per row. The row kernel keeps a running (max, sum of
// exp(x - max)) per thread and merges them across the block, and in training also writes
// dlogits in the same launch; the separate backward recomputes softmax from a saved lse.
#include "primus/ops/cuda/cross_entropy.hpp"

#include <algorithm>
#include <type_traits>

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

// Threads per row: 1024 keep 64 KB of loads in flight (four 16-byte loads a thread) with the
// one block per SM that the staged variant's shared memory allows.
constexpr int kRowThreads = 1024;
constexpr int kUnroll = 4;

// One row per block. Pass 1 keeps a running (max, sum of exp(x - max)) per thread over its
// columns, in a fixed order, and merges them across the block: lse, and the loss from the label's
// logit. kGrad: pass 1 also copies the row's first `staged` logits into shared memory, and pass 2
// writes dlogits = dloss * (softmax - onehot) (in place over the logits when they alias) from
// there, re-reading only the rest (still in L2: one row per SM is a few MB in flight), so the
// logits cross HBM once instead of twice. The forward-only variant runs the same pass 1: the same
// lse and loss bits.
template <int kVec, bool kGrad>
__global__ void __launch_bounds__(kRowThreads, 1)
    cross_entropy_row_kernel(float* losses, float* lse_out, bf16* dlogits, const bf16* logits,
                             const std::int32_t* labels, const float* dlosses, std::int64_t vocab,
                             std::int64_t staged) {
  extern __shared__ uint4 staged_words[];
  bf16* stage = reinterpret_cast<bf16*>(staged_words);
  __shared__ SoftmaxState shared[32];
  __shared__ float row_lse;
  const std::int64_t row = blockIdx.x;
  const bf16* x = logits + row * vocab;
  const std::int64_t step = static_cast<std::int64_t>(blockDim.x) * kVec;
  SoftmaxState state{-INFINITY, 0.0f};
  for (std::int64_t base = static_cast<std::int64_t>(threadIdx.x) * kVec; base < vocab; base += kUnroll * step) {
    // Raw 16-byte (or 2-byte) words: all kUnroll loads issued before any arithmetic, staged as loaded.
    using Word = std::conditional_t<kVec == detail::kPack, uint4, bf16>;
    Word raw[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t column = base + u * step;
      if (column < vocab) raw[u] = *reinterpret_cast<const Word*>(x + column);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t column = base + u * step;
      if (column >= vocab) break;
      if constexpr (kGrad) {
        if (column < staged) *reinterpret_cast<Word*>(stage + column) = raw[u];
      }
      float v[kVec];
      detail::load_bf16<kVec>(reinterpret_cast<const bf16*>(&raw[u]), v);
      float m = v[0];
#pragma unroll
      for (int i = 1; i < kVec; ++i) m = fmaxf(m, v[i]);
      const float new_max = fmaxf(state.max, m);
      float sum = state.sum * rescale(state.max, new_max);
#pragma unroll
      for (int i = 0; i < kVec; ++i) sum += __expf(v[i] - new_max);  // a NaN logit makes the sum NaN
      state = {new_max, sum};
    }
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
      row_lse = lse;
    }
  }
  if constexpr (kGrad) {
    __syncthreads();  // row_lse, the staged logits, and every read of x (the label's too) before any write
    const float lse = row_lse, dloss = dlosses[row];
    const std::int64_t label = labels[row];
    bf16* dx = dlogits + row * vocab;
    auto write = [&](const bf16* source, std::int64_t column) {
      float v[kVec];
      detail::load_bf16<kVec>(source, v);
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        const float onehot = (column + i == label) ? 1.0f : 0.0f;
        v[i] = (__expf(v[i] - lse) - onehot) * dloss;
      }
      detail::store_bf16<kVec>(dx + column, v);
    };
    // Two loops, so that each reads through one address space (shared, then global).
    std::int64_t column = static_cast<std::int64_t>(threadIdx.x) * kVec;
    for (; column < staged; column += step) write(stage + column, column);
    for (; column < vocab; column += step) write(x + column, column);
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

// Logits a row may stage in shared memory: what one block may opt into, less the static part.
std::int64_t stage_capacity_elements() {
  static const std::int64_t capacity = [] {
    int device = 0, optin = 0;
    PRIMUS_KERNEL_CHECK(cudaGetDevice(&device));
    PRIMUS_KERNEL_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    const std::int64_t bytes = std::max<std::int64_t>(0, optin - 1024);  // static shared: 32 states and the lse
    return bytes / 2 / detail::kPack * detail::kPack;
  }();
  return capacity;
}

template <int kVec, bool kGrad>
void launch_rows(float* losses, float* lse, bf16* dlogits, const bf16* logits, const std::int32_t* labels,
                 const float* dlosses, std::int64_t rows, std::int64_t vocab, cudaStream_t stream) {
  const std::int64_t staged = kGrad ? std::min(vocab, stage_capacity_elements()) / kVec * kVec : 0;
  const std::size_t shared_bytes = static_cast<std::size_t>(staged) * sizeof(bf16);
  if constexpr (kGrad) {
    static std::size_t opted_in = 0;  // per kernel instantiation; raised only when a larger row asks
    if (shared_bytes > opted_in) {
      PRIMUS_KERNEL_CHECK(cudaFuncSetAttribute(cross_entropy_row_kernel<kVec, kGrad>,
                                               cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(shared_bytes)));
      opted_in = shared_bytes;
    }
  }
  cross_entropy_row_kernel<kVec, kGrad><<<static_cast<unsigned>(rows), kRowThreads, shared_bytes, stream>>>(
      losses, lse, dlogits, logits, labels, dlosses, vocab, staged);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace

void cross_entropy_forward(float* losses, float* lse, const bf16* logits, const std::int32_t* labels, std::int64_t rows,
                           std::int64_t vocab, cudaStream_t stream) {
  check_shape("cross_entropy_forward", rows, vocab);
  if (rows == 0) return;
  if (detail::can_vectorize(vocab, {logits}))
    launch_rows<detail::kPack, false>(losses, lse, nullptr, logits, labels, nullptr, rows, vocab, stream);
  else
    launch_rows<1, false>(losses, lse, nullptr, logits, labels, nullptr, rows, vocab, stream);
}

void cross_entropy_forward_backward(float* losses, float* lse, bf16* dlogits, const bf16* logits,
                                    const std::int32_t* labels, const float* dlosses, std::int64_t rows,
                                    std::int64_t vocab, cudaStream_t stream) {
  check_shape("cross_entropy_forward_backward", rows, vocab);
  require_kernel_argument(dlogits == logits || dlogits + rows * vocab <= logits || logits + rows * vocab <= dlogits,
                          "cross_entropy_forward_backward", "dlogits must be the logits themselves or not overlap them");
  if (rows == 0) return;
  if (detail::can_vectorize(vocab, {logits, dlogits}))
    launch_rows<detail::kPack, true>(losses, lse, dlogits, logits, labels, dlosses, rows, vocab, stream);
  else
    launch_rows<1, true>(losses, lse, dlogits, logits, labels, dlosses, rows, vocab, stream);
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
