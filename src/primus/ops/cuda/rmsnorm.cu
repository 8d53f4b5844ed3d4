// RMSNorm kernels: one block per row (forward) or per group of rows (backward), the
// row held in registers between the sum-of-squares pass and the output pass.
#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/ops/cuda/kernel_common.cuh"
#include "primus/ops/cuda/rmsnorm.hpp"

namespace primus::ops::cuda {
namespace {

using detail::bf16;

// Elements of a row each thread keeps in registers: caps dim at 16 * 1024.
constexpr int kElementsPerThread = 16;
constexpr std::int64_t kMaxDim = kElementsPerThread * 1024;
// Most blocks of the backward pass, hence rows of partial dweight sums in scratch.
constexpr std::int64_t kBackwardMaxBlocks = 1024;

// Threads for a row of `packs` packs: a multiple of 32 with at most kElementsPerThread elements each.
int threads_for(std::int64_t packs, int pack) {
  const std::int64_t per_thread = kElementsPerThread / pack;
  const std::int64_t threads = detail::ceil_div(detail::ceil_div(packs, per_thread), 32) * 32;
  return static_cast<int>(threads < 32 ? 32 : threads);
}

template <int kVec, bool kResidual>
__global__ void rmsnorm_forward_kernel(bf16* out, bf16* residual_out, float* rstd, const bf16* in,
                                       const bf16* residual, const bf16* weight, std::int64_t dim, float eps,
                                       float weight_offset) {
  constexpr int kPacks = kElementsPerThread / kVec;
  __shared__ float shared[32];
  const std::int64_t row = blockIdx.x;
  const std::int64_t packs = dim / kVec;
  const std::int64_t base = row * dim;
  float x[kPacks][kVec];
  float sum_squares = 0.0f;
#pragma unroll
  for (int k = 0; k < kPacks; ++k) {
    const std::int64_t p = threadIdx.x + static_cast<std::int64_t>(k) * blockDim.x;
    if (p < packs) {
      detail::load_bf16<kVec>(in + base + p * kVec, x[k]);
      if constexpr (kResidual) {
        float r[kVec];
        detail::load_bf16<kVec>(residual + base + p * kVec, r);
        // The norm sees the sum as stored (bf16), so backward from residual_out is exact.
#pragma unroll
        for (int i = 0; i < kVec; ++i) x[k][i] = detail::round_bf16(x[k][i] + r[i]);
        detail::store_bf16<kVec>(residual_out + base + p * kVec, x[k]);
      }
#pragma unroll
      for (int i = 0; i < kVec; ++i) sum_squares += x[k][i] * x[k][i];
    }
  }
  const float total = detail::block_sum(sum_squares, shared);
  const float row_rstd = rsqrtf(total / static_cast<float>(dim) + eps);
  if (threadIdx.x == 0) rstd[row] = row_rstd;
#pragma unroll
  for (int k = 0; k < kPacks; ++k) {
    const std::int64_t p = threadIdx.x + static_cast<std::int64_t>(k) * blockDim.x;
    if (p < packs) {
      float w[kVec], y[kVec];
      detail::load_bf16<kVec>(weight + p * kVec, w);
#pragma unroll
      for (int i = 0; i < kVec; ++i) y[i] = x[k][i] * row_rstd * (w[i] + weight_offset);
      detail::store_bf16<kVec>(out + base + p * kVec, y);
    }
  }
}

// Each block walks rows blockIdx.x, blockIdx.x + gridDim.x, ...; a thread owns the same
// columns in every row, so it sums its dweight share in registers and writes one
// partial row to scratch[blockIdx.x, :] at the end.
template <int kVec, bool kAddResidualGrad>
__global__ void rmsnorm_backward_kernel(bf16* din, float* partial_dweight, const bf16* dout, const bf16* in,
                                        const bf16* weight, const float* rstd, const bf16* dresidual,
                                        std::int64_t rows, std::int64_t dim, float weight_offset) {
  constexpr int kPacks = kElementsPerThread / kVec;
  __shared__ float shared[32];
  const std::int64_t packs = dim / kVec;
  float dw[kPacks][kVec];
#pragma unroll
  for (int k = 0; k < kPacks; ++k)
#pragma unroll
    for (int i = 0; i < kVec; ++i) dw[k][i] = 0.0f;

  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const std::int64_t base = row * dim;
    const float r = rstd[row];
    float x[kPacks][kVec], g[kPacks][kVec];
    float dot = 0.0f;
#pragma unroll
    for (int k = 0; k < kPacks; ++k) {
      const std::int64_t p = threadIdx.x + static_cast<std::int64_t>(k) * blockDim.x;
      if (p < packs) {
        float dy[kVec], w[kVec];
        detail::load_bf16<kVec>(in + base + p * kVec, x[k]);
        detail::load_bf16<kVec>(dout + base + p * kVec, dy);
        detail::load_bf16<kVec>(weight + p * kVec, w);
#pragma unroll
        for (int i = 0; i < kVec; ++i) {
          g[k][i] = dy[i] * (w[i] + weight_offset);
          dot += g[k][i] * x[k][i];
          dw[k][i] += dy[i] * x[k][i] * r;
        }
      }
    }
    // dx = r * g - x * r^3 * mean(g * x)
    const float mean_dot = detail::block_sum(dot, shared) / static_cast<float>(dim);
    const float correction = r * r * r * mean_dot;
#pragma unroll
    for (int k = 0; k < kPacks; ++k) {
      const std::int64_t p = threadIdx.x + static_cast<std::int64_t>(k) * blockDim.x;
      if (p < packs) {
        float dx[kVec];
#pragma unroll
        for (int i = 0; i < kVec; ++i) dx[i] = r * g[k][i] - x[k][i] * correction;
        if constexpr (kAddResidualGrad) {
          float extra[kVec];
          detail::load_bf16<kVec>(dresidual + base + p * kVec, extra);
#pragma unroll
          for (int i = 0; i < kVec; ++i) dx[i] += extra[i];
        }
        detail::store_bf16<kVec>(din + base + p * kVec, dx);
      }
    }
  }
#pragma unroll
  for (int k = 0; k < kPacks; ++k) {
    const std::int64_t p = threadIdx.x + static_cast<std::int64_t>(k) * blockDim.x;
    if (p < packs) detail::store_f32<kVec>(partial_dweight + blockIdx.x * dim + p * kVec, dw[k]);
  }
}

// dweight[c] += sum over partial rows of partial[j, c], in a fixed order (deterministic).
// Block (32 columns) x (8 row slices); the slices combine through shared memory.
__global__ void sum_partial_rows_kernel(float* dweight, const float* partial, std::int64_t partial_rows,
                                        std::int64_t dim) {
  __shared__ float slice_sums[8][33];
  const std::int64_t column = static_cast<std::int64_t>(blockIdx.x) * 32 + threadIdx.x;
  float sum = 0.0f;
  if (column < dim)
    for (std::int64_t j = threadIdx.y; j < partial_rows; j += 8) sum += partial[j * dim + column];
  slice_sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && column < dim) {
    float total = 0.0f;
#pragma unroll
    for (int s = 0; s < 8; ++s) total += slice_sums[s][threadIdx.x];
    dweight[column] += total;
  }
}

void check_shape(const char* op, std::int64_t rows, std::int64_t dim) {
  require_kernel_argument(rows >= 0, op, "rows = " + std::to_string(rows) + " must be >= 0");
  require_kernel_argument(dim > 0 && dim <= kMaxDim, op,
                          "dim = " + std::to_string(dim) + " must lie in [1, " + std::to_string(kMaxDim) + "]");
  require_kernel_argument(rows < (std::int64_t{1} << 31), op, "rows = " + std::to_string(rows) + " must be < 2^31");
}

template <bool kResidual>
void launch_forward(const char* op, bf16* out, bf16* residual_out, float* rstd, const bf16* in, const bf16* residual,
                    const bf16* weight, std::int64_t rows, std::int64_t dim, float eps, bool apply_layernorm_1p,
                    cudaStream_t stream) {
  check_shape(op, rows, dim);
  if (rows == 0) return;
  const float offset = apply_layernorm_1p ? 1.0f : 0.0f;
  if (detail::can_vectorize(dim, {out, residual_out, in, residual, weight})) {
    rmsnorm_forward_kernel<detail::kPack, kResidual><<<rows, threads_for(dim / detail::kPack, detail::kPack), 0, stream>>>(
        out, residual_out, rstd, in, residual, weight, dim, eps, offset);
  } else {
    rmsnorm_forward_kernel<1, kResidual><<<rows, threads_for(dim, 1), 0, stream>>>(out, residual_out, rstd, in, residual,
                                                                                  weight, dim, eps, offset);
  }
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

struct BackwardArguments {
  bf16* din;
  float* partial_dweight;
  const bf16* dout;
  const bf16* in;
  const bf16* weight;
  const float* rstd;
  const bf16* dresidual;
  std::int64_t rows;
  std::int64_t dim;
  float weight_offset;
};

// Launches the backward pass with exactly as many blocks as fit on the GPU at once (one
// wave: each block then walks an equal share of rows), capped by rows and by the scratch
// size; returns that block count, the number of partial dweight rows written.
template <int kVec, bool kAddResidualGrad>
unsigned launch_backward(const BackwardArguments& a, cudaStream_t stream) {
  const auto kernel = rmsnorm_backward_kernel<kVec, kAddResidualGrad>;
  const int threads = threads_for(a.dim / kVec, kVec);
  int device = 0, multiprocessors = 0, blocks_per_multiprocessor = 0;
  PRIMUS_KERNEL_CHECK(cudaGetDevice(&device));
  PRIMUS_KERNEL_CHECK(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device));
  PRIMUS_KERNEL_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks_per_multiprocessor, kernel, threads, 0));
  std::int64_t blocks = static_cast<std::int64_t>(multiprocessors) * blocks_per_multiprocessor;
  if (blocks > a.rows) blocks = a.rows;
  if (blocks > kBackwardMaxBlocks) blocks = kBackwardMaxBlocks;
  if (blocks < 1) blocks = 1;
  kernel<<<static_cast<unsigned>(blocks), threads, 0, stream>>>(a.din, a.partial_dweight, a.dout, a.in, a.weight, a.rstd,
                                                                a.dresidual, a.rows, a.dim, a.weight_offset);
  PRIMUS_KERNEL_LAUNCH_CHECK();
  return static_cast<unsigned>(blocks);
}

}  // namespace

void rmsnorm_forward(bf16* out, float* rstd, const bf16* in, const bf16* weight, std::int64_t rows, std::int64_t dim,
                     float eps, bool apply_layernorm_1p, cudaStream_t stream) {
  launch_forward<false>("rmsnorm_forward", out, nullptr, rstd, in, nullptr, weight, rows, dim, eps, apply_layernorm_1p,
                        stream);
}

void rmsnorm_residual_forward(bf16* out, bf16* residual_out, float* rstd, const bf16* in, const bf16* residual,
                              const bf16* weight, std::int64_t rows, std::int64_t dim, float eps,
                              bool apply_layernorm_1p, cudaStream_t stream) {
  launch_forward<true>("rmsnorm_residual_forward", out, residual_out, rstd, in, residual, weight, rows, dim, eps,
                       apply_layernorm_1p, stream);
}

std::int64_t rmsnorm_backward_scratch_floats(std::int64_t rows, std::int64_t dim) {
  return (rows < kBackwardMaxBlocks ? rows : kBackwardMaxBlocks) * dim;
}

void rmsnorm_backward(bf16* din, float* dweight, const bf16* dout, const bf16* in, const bf16* weight,
                      const float* rstd, std::int64_t rows, std::int64_t dim, bool apply_layernorm_1p, float* scratch,
                      const bf16* dresidual, cudaStream_t stream) {
  constexpr const char* op = "rmsnorm_backward";
  check_shape(op, rows, dim);
  require_kernel_argument(scratch != nullptr, op, "scratch must hold rmsnorm_backward_scratch_floats(rows, dim) floats");
  if (rows == 0) return;
  const float offset = apply_layernorm_1p ? 1.0f : 0.0f;
  const BackwardArguments args{din, scratch, dout, in, weight, rstd, dresidual, rows, dim, offset};
  unsigned blocks = 0;
  if (detail::can_vectorize(dim, {din, dout, in, weight, dresidual, scratch}))
    blocks = dresidual != nullptr ? launch_backward<detail::kPack, true>(args, stream)
                                  : launch_backward<detail::kPack, false>(args, stream);
  else
    blocks = dresidual != nullptr ? launch_backward<1, true>(args, stream) : launch_backward<1, false>(args, stream);
  sum_partial_rows_kernel<<<static_cast<unsigned>(detail::ceil_div(dim, 32)), dim3(32, 8), 0, stream>>>(dweight, scratch,
                                                                                                       blocks, dim);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::ops::cuda
