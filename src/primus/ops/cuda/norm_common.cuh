// Pieces shared by the RMSNorm and LayerNorm kernels: a row is held in registers
// (kElementsPerThread per thread, so dim <= 16384), the block size for a row, the shape
// check, the one-resident-wave block count of the backward passes, and the
// deterministic column sum of their per-block partial weight gradients.
#pragma once

#include <string>

#include "primus/ops/cuda/device_info.hpp"
#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/ops/cuda/kernel_common.cuh"

namespace primus::ops::cuda::detail {

// Elements of a row each thread keeps in registers: caps dim at 16 * 1024.
constexpr int kElementsPerThread = 16;
constexpr std::int64_t kNormMaxDim = kElementsPerThread * 1024;
// Most blocks of a backward pass, hence rows of partial weight-gradient sums in scratch.
constexpr std::int64_t kNormBackwardMaxBlocks = 1024;

// Each norm kernel is compiled twice: __launch_bounds__(512) and (1024). Blocks of up
// to 512 threads take the first (up to 128 registers a thread, no spills in practice);
// wider rows the second, which the compiler fits in 64 registers a thread (it may spill),
// since a row held in registers by 1024 threads would otherwise exceed the 64K registers
// of a multiprocessor and fail to launch.
constexpr int kNormNarrowBlock = 512;

// Threads for a row of `packs` packs of `pack` elements: a multiple of 32, at most kElementsPerThread elements each.
inline int norm_threads(std::int64_t packs, int pack) {
  const std::int64_t per_thread = kElementsPerThread / pack;
  const std::int64_t threads = ceil_div(ceil_div(packs, per_thread), 32) * 32;
  return static_cast<int>(threads < 32 ? 32 : threads);
}

inline void check_norm_shape(const char* op, std::int64_t rows, std::int64_t dim) {
  require_kernel_argument(rows >= 0, op, "rows = " + std::to_string(rows) + " must be >= 0");
  require_kernel_argument(dim > 0 && dim <= kNormMaxDim, op,
                          "dim = " + std::to_string(dim) + " must lie in [1, " + std::to_string(kNormMaxDim) + "]");
  require_kernel_argument(rows < (std::int64_t{1} << 31), op, "rows = " + std::to_string(rows) + " must be < 2^31");
}

// Blocks of `kernel` (at `threads` each) that are resident on the GPU at once, capped by
// rows and kNormBackwardMaxBlocks: one wave, each block then walks an equal share of rows.
template <typename Kernel>
unsigned norm_backward_blocks(Kernel kernel, int threads, std::int64_t rows) {
  const int multiprocessors = device_sm_count();
  int blocks_per_multiprocessor = 0;
  PRIMUS_KERNEL_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks_per_multiprocessor, kernel, threads, 0));
  std::int64_t blocks = static_cast<std::int64_t>(multiprocessors) * blocks_per_multiprocessor;
  if (blocks > rows) blocks = rows;
  if (blocks > kNormBackwardMaxBlocks) blocks = kNormBackwardMaxBlocks;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

// gradient[c] += sum over j of partial[j, c] for j in [0, partial_rows), in a fixed order
// (deterministic). Block: 32 columns x kSlices row slices, combined through shared memory.
// (A template so that every .cu file including this header may instantiate it.)
template <int kSlices = 8>
__global__ void sum_partial_rows_kernel(float* gradient, const float* partial, std::int64_t partial_rows,
                                        std::int64_t dim) {
  __shared__ float slice_sums[kSlices][33];
  const std::int64_t column = static_cast<std::int64_t>(blockIdx.x) * 32 + threadIdx.x;
  float sum = 0.0f;
  if (column < dim)
    for (std::int64_t j = threadIdx.y; j < partial_rows; j += kSlices) sum += partial[j * dim + column];
  slice_sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && column < dim) {
    float total = 0.0f;
#pragma unroll
    for (int s = 0; s < kSlices; ++s) total += slice_sums[s][threadIdx.x];
    gradient[column] += total;
  }
}

inline void sum_partial_rows(float* gradient, const float* partial, std::int64_t partial_rows, std::int64_t dim,
                             cudaStream_t stream) {
  sum_partial_rows_kernel<8>
      <<<static_cast<unsigned>(ceil_div(dim, 32)), dim3(32, 8), 0, stream>>>(gradient, partial, partial_rows, dim);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::ops::cuda::detail
