// Flat element-wise launcher: a grid-stride loop that hands an op packs of kVec
// consecutive elements (kVec = 8 on the vector path) and finishes the count % kVec tail
// one element at a time. The op is a struct with
//   template <int N> __device__ void apply(std::int64_t first_element) const;
#pragma once

#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/ops/cuda/kernel_common.cuh"

namespace primus::ops::cuda::detail {

template <int kVec, typename Op>
__global__ void elementwise_kernel(std::int64_t count, Op op) {
  const std::int64_t packs = count / kVec;
  const std::int64_t thread = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t p = thread; p < packs; p += stride) op.template apply<kVec>(p * kVec);
  const std::int64_t tail = packs * kVec + thread;
  if (tail < count) op.template apply<1>(tail);
}

// Runs `op` over [0, count): vectorised when `vectorize` (the caller checked alignment).
template <typename Op>
void launch_elementwise(std::int64_t count, bool vectorize, const Op& op, cudaStream_t stream) {
  if (count <= 0) return;
  constexpr int kThreads = 256;
  if (vectorize)
    elementwise_kernel<kPack><<<grid_for(count / kPack + 1, kThreads), kThreads, 0, stream>>>(count, op);
  else
    elementwise_kernel<1><<<grid_for(count, kThreads), kThreads, 0, stream>>>(count, op);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::ops::cuda::detail
