// RMSNorm kernels: one block per row (forward) or per group of rows (backward), the
// row held in registers between the sum-of-squares pass and the output pass.
#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/ops/cuda/kernel_common.cuh"
#include "primus/ops/cuda/norm_common.cuh"
#include "primus/ops/cuda/rmsnorm.hpp"

namespace primus::ops::cuda {
namespace {

using detail::bf16;
using detail::kElementsPerThread;

template <int kVec, int kMaxThreads>
__global__ void __launch_bounds__(kMaxThreads)
    rmsnorm_forward_kernel(bf16* out, float* rstd, const bf16* in, const bf16* weight, std::int64_t dim, float eps,
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

// x, dy and g = dy * (w + offset) for pack p of the row starting at base.
template <int kVec>
__device__ __forceinline__ void load_row_pack(const bf16* in, const bf16* dout, const bf16* weight, std::int64_t base,
                                              std::int64_t p, float weight_offset, float (&x)[kVec], float (&dy)[kVec],
                                              float (&g)[kVec]) {
  float w[kVec];
  detail::load_bf16<kVec>(in + base + p * kVec, x);
  detail::load_bf16<kVec>(dout + base + p * kVec, dy);
  detail::load_bf16<kVec>(weight + p * kVec, w);
#pragma unroll
  for (int i = 0; i < kVec; ++i) g[i] = dy[i] * (w[i] + weight_offset);
}

// Each block walks rows blockIdx.x, blockIdx.x + gridDim.x, ...; a thread owns the same
// columns in every row, so it sums its dweight share in registers and writes one
// partial row to scratch[blockIdx.x, :] at the end. Narrow blocks keep the row in
// registers between the two passes; 1024-thread blocks (dim > 8192) re-read it, as
// holding it would spill.
template <int kVec, bool kAddResidualGrad, int kMaxThreads>
__global__ void __launch_bounds__(kMaxThreads)
    rmsnorm_backward_kernel(bf16* din, float* partial_dweight, const bf16* dout, const bf16* in, const bf16* weight,
                            const float* rstd, const bf16* dresidual, std::int64_t rows, std::int64_t dim,
                            float weight_offset) {
  constexpr int kPacks = kElementsPerThread / kVec;
  constexpr bool kHoldRow = kMaxThreads <= detail::kNormNarrowBlock;
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
    float x[kPacks][kVec], g[kPacks][kVec];  // the row, kept only in narrow blocks (kHoldRow)
    float dot = 0.0f;
#pragma unroll
    for (int k = 0; k < kPacks; ++k) {
      const std::int64_t p = threadIdx.x + static_cast<std::int64_t>(k) * blockDim.x;
      if (p < packs) {
        float xv[kVec], dy[kVec], gv[kVec];
        load_row_pack<kVec>(in, dout, weight, base, p, weight_offset, xv, dy, gv);
#pragma unroll
        for (int i = 0; i < kVec; ++i) {
          dot += gv[i] * xv[i];
          dw[k][i] += dy[i] * xv[i] * r;
          if constexpr (kHoldRow) x[k][i] = xv[i], g[k][i] = gv[i];
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
        float xv[kVec], gv[kVec], dx[kVec];
        if constexpr (kHoldRow) {
#pragma unroll
          for (int i = 0; i < kVec; ++i) xv[i] = x[k][i], gv[i] = g[k][i];
        } else {
          float dy[kVec];
          load_row_pack<kVec>(in, dout, weight, base, p, weight_offset, xv, dy, gv);  // from L1/L2
        }
#pragma unroll
        for (int i = 0; i < kVec; ++i) dx[i] = r * gv[i] - xv[i] * correction;
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

template <int kVec>
void launch_forward_kernel(bf16* out, float* rstd, const bf16* in, const bf16* weight, std::int64_t rows,
                           std::int64_t dim, float eps, float offset, cudaStream_t stream) {
  const int threads = detail::norm_threads(dim / kVec, kVec);
  const auto kernel = threads <= detail::kNormNarrowBlock ? rmsnorm_forward_kernel<kVec, detail::kNormNarrowBlock>
                                                          : rmsnorm_forward_kernel<kVec, 1024>;
  kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(out, rstd, in, weight, dim, eps, offset);
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
  const int threads = detail::norm_threads(a.dim / kVec, kVec);
  const auto kernel = threads <= detail::kNormNarrowBlock
                          ? rmsnorm_backward_kernel<kVec, kAddResidualGrad, detail::kNormNarrowBlock>
                          : rmsnorm_backward_kernel<kVec, kAddResidualGrad, 1024>;
  const unsigned blocks = detail::norm_backward_blocks(kernel, threads, a.rows);
  kernel<<<blocks, threads, 0, stream>>>(a.din, a.partial_dweight, a.dout, a.in, a.weight, a.rstd, a.dresidual, a.rows,
                                         a.dim, a.weight_offset);
  PRIMUS_KERNEL_LAUNCH_CHECK();
  return blocks;
}

}  // namespace

void rmsnorm_forward(bf16* out, float* rstd, const bf16* in, const bf16* weight, std::int64_t rows, std::int64_t dim,
                     float eps, bool apply_layernorm_1p, cudaStream_t stream) {
  detail::check_norm_shape("rmsnorm_forward", rows, dim);
  if (rows == 0) return;
  const float offset = apply_layernorm_1p ? 1.0f : 0.0f;
  if (detail::can_vectorize(dim, {out, in, weight}))
    launch_forward_kernel<detail::kPack>(out, rstd, in, weight, rows, dim, eps, offset, stream);
  else
    launch_forward_kernel<1>(out, rstd, in, weight, rows, dim, eps, offset, stream);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

std::int64_t rmsnorm_backward_scratch_floats(std::int64_t rows, std::int64_t dim) {
  return (rows < detail::kNormBackwardMaxBlocks ? rows : detail::kNormBackwardMaxBlocks) * dim;
}

void rmsnorm_backward(bf16* din, float* dweight, const bf16* dout, const bf16* in, const bf16* weight,
                      const float* rstd, std::int64_t rows, std::int64_t dim, bool apply_layernorm_1p, float* scratch,
                      const bf16* dresidual, cudaStream_t stream) {
  constexpr const char* op = "rmsnorm_backward";
  detail::check_norm_shape(op, rows, dim);
  require_kernel_argument(scratch != nullptr, op,
                          "scratch must hold rmsnorm_backward_scratch_floats(rows, dim) floats");
  if (rows == 0) return;
  const float offset = apply_layernorm_1p ? 1.0f : 0.0f;
  const BackwardArguments args{din, scratch, dout, in, weight, rstd, dresidual, rows, dim, offset};
  unsigned blocks = 0;
  if (detail::can_vectorize(dim, {din, dout, in, weight, dresidual, scratch}))
    blocks = dresidual != nullptr ? launch_backward<detail::kPack, true>(args, stream)
                                  : launch_backward<detail::kPack, false>(args, stream);
  else
    blocks = dresidual != nullptr ? launch_backward<1, true>(args, stream) : launch_backward<1, false>(args, stream);
  detail::sum_partial_rows(dweight, scratch, blocks, dim, stream);
}

}  // namespace primus::ops::cuda
