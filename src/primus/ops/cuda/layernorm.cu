// LayerNorm kernels: one block per row (forward, mean then variance from registers) and
// one resident wave of blocks walking rows (backward, partial dweight / dbias per block).
#include "primus/ops/cuda/layernorm.hpp"
#include "primus/ops/cuda/norm_common.cuh"

namespace primus::ops::cuda {
namespace {

using detail::bf16;
using detail::kElementsPerThread;

// The pack a thread kept in registers (kHold), or the same pack read again from memory.
template <int kVec, bool kHold>
__device__ __forceinline__ void held_or_load(const float (&held)[kVec], const bf16* source, float (&out)[kVec]) {
  if constexpr (kHold) {
#pragma unroll
    for (int i = 0; i < kVec; ++i) out[i] = held[i];
  } else {
    detail::load_bf16<kVec>(source, out);
  }
}

template <int kVec, int kMaxThreads>
__global__ void __launch_bounds__(kMaxThreads)
    layernorm_forward_kernel(bf16* out, float* mean_out, float* rstd_out, const bf16* in, const bf16* weight,
                             const bf16* bias, std::int64_t dim, float eps, float weight_offset) {
  constexpr int kPacks = kElementsPerThread / kVec;
  constexpr bool kHoldRow = kMaxThreads <= detail::kNormNarrowBlock;
  __shared__ float shared[32];
  const std::int64_t base = static_cast<std::int64_t>(blockIdx.x) * dim;
  const std::int64_t packs = dim / kVec;
  float x[kPacks][kVec];  // the row, kept only in narrow blocks; wide blocks re-read it (L1/L2)
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < kPacks; ++k) {
    const std::int64_t p = threadIdx.x + static_cast<std::int64_t>(k) * blockDim.x;
    if (p < packs) {
      float xv[kVec];
      detail::load_bf16<kVec>(in + base + p * kVec, xv);
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        sum += xv[i];
        if constexpr (kHoldRow) x[k][i] = xv[i];
      }
    }
  }
  const float mean = detail::block_sum(sum, shared) / static_cast<float>(dim);
  // Variance from the centred values (two passes over registers): no cancellation.
  float squares = 0.0f;
#pragma unroll
  for (int k = 0; k < kPacks; ++k) {
    const std::int64_t p = threadIdx.x + static_cast<std::int64_t>(k) * blockDim.x;
    if (p < packs) {
      float xv[kVec];
      held_or_load<kVec, kHoldRow>(x[k], in + base + p * kVec, xv);
#pragma unroll
      for (int i = 0; i < kVec; ++i) squares += (xv[i] - mean) * (xv[i] - mean);
    }
  }
  const float rstd = rsqrtf(detail::block_sum(squares, shared) / static_cast<float>(dim) + eps);
  if (threadIdx.x == 0) mean_out[blockIdx.x] = mean, rstd_out[blockIdx.x] = rstd;
#pragma unroll
  for (int k = 0; k < kPacks; ++k) {
    const std::int64_t p = threadIdx.x + static_cast<std::int64_t>(k) * blockDim.x;
    if (p < packs) {
      float xv[kVec], w[kVec], b[kVec], y[kVec];
      held_or_load<kVec, kHoldRow>(x[k], in + base + p * kVec, xv);
      detail::load_bf16<kVec>(weight + p * kVec, w);
      detail::load_bf16<kVec>(bias + p * kVec, b);
#pragma unroll
      for (int i = 0; i < kVec; ++i) y[i] = (xv[i] - mean) * rstd * (w[i] + weight_offset) + b[i];
      detail::store_bf16<kVec>(out + base + p * kVec, y);
    }
  }
}

// xhat = (x - mean) * rstd, dy and g = dy * (w + offset) for pack p of the row starting at base.
template <int kVec>
__device__ __forceinline__ void load_row_pack(const bf16* in, const bf16* dout, const bf16* weight, std::int64_t base,
                                              std::int64_t p, float mean, float rstd, float weight_offset,
                                              float (&xhat)[kVec], float (&dy)[kVec], float (&g)[kVec]) {
  float w[kVec];
  detail::load_bf16<kVec>(in + base + p * kVec, xhat);
  detail::load_bf16<kVec>(dout + base + p * kVec, dy);
  detail::load_bf16<kVec>(weight + p * kVec, w);
#pragma unroll
  for (int i = 0; i < kVec; ++i) {
    xhat[i] = (xhat[i] - mean) * rstd;
    g[i] = dy[i] * (w[i] + weight_offset);
  }
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w, xhat = (x - mean) * rstd;
// dweight += dy * xhat, dbias += dy, summed per thread in registers over the block's rows.
// Narrow blocks keep the row in registers between passes; 1024-thread blocks re-read it.
template <int kVec, int kMaxThreads>
__global__ void __launch_bounds__(kMaxThreads)
    layernorm_backward_kernel(bf16* din, float* partial_dweight, float* partial_dbias, const bf16* dout, const bf16* in,
                              const bf16* weight, const float* mean, const float* rstd, std::int64_t rows,
                              std::int64_t dim, float weight_offset) {
  constexpr int kPacks = kElementsPerThread / kVec;
  constexpr bool kHoldRow = kMaxThreads <= detail::kNormNarrowBlock;
  __shared__ float shared[32];
  const std::int64_t packs = dim / kVec;
  float dw[kPacks][kVec], db[kPacks][kVec];
#pragma unroll
  for (int k = 0; k < kPacks; ++k)
#pragma unroll
    for (int i = 0; i < kVec; ++i) dw[k][i] = 0.0f, db[k][i] = 0.0f;

  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const std::int64_t base = row * dim;
    const float mu = mean[row], r = rstd[row];
    float xhat[kPacks][kVec], g[kPacks][kVec];  // the row, kept only in narrow blocks (kHoldRow)
    float sum_g = 0.0f, sum_gx = 0.0f;
#pragma unroll
    for (int k = 0; k < kPacks; ++k) {
      const std::int64_t p = threadIdx.x + static_cast<std::int64_t>(k) * blockDim.x;
      if (p < packs) {
        float xv[kVec], dy[kVec], gv[kVec];
        load_row_pack<kVec>(in, dout, weight, base, p, mu, r, weight_offset, xv, dy, gv);
#pragma unroll
        for (int i = 0; i < kVec; ++i) {
          sum_g += gv[i];
          sum_gx += gv[i] * xv[i];
          dw[k][i] += dy[i] * xv[i];
          db[k][i] += dy[i];
          if constexpr (kHoldRow) xhat[k][i] = xv[i], g[k][i] = gv[i];
        }
      }
    }
    const float mean_g = detail::block_sum(sum_g, shared) / static_cast<float>(dim);
    const float mean_gx = detail::block_sum(sum_gx, shared) / static_cast<float>(dim);
#pragma unroll
    for (int k = 0; k < kPacks; ++k) {
      const std::int64_t p = threadIdx.x + static_cast<std::int64_t>(k) * blockDim.x;
      if (p < packs) {
        float xv[kVec], gv[kVec], dx[kVec];
        if constexpr (kHoldRow) {
#pragma unroll
          for (int i = 0; i < kVec; ++i) xv[i] = xhat[k][i], gv[i] = g[k][i];
        } else {
          float dy[kVec];
          load_row_pack<kVec>(in, dout, weight, base, p, mu, r, weight_offset, xv, dy, gv);  // from L1/L2
        }
#pragma unroll
        for (int i = 0; i < kVec; ++i) dx[i] = r * (gv[i] - mean_g - xv[i] * mean_gx);
        detail::store_bf16<kVec>(din + base + p * kVec, dx);
      }
    }
  }
#pragma unroll
  for (int k = 0; k < kPacks; ++k) {
    const std::int64_t p = threadIdx.x + static_cast<std::int64_t>(k) * blockDim.x;
    if (p < packs) {
      detail::store_f32<kVec>(partial_dweight + blockIdx.x * dim + p * kVec, dw[k]);
      detail::store_f32<kVec>(partial_dbias + blockIdx.x * dim + p * kVec, db[k]);
    }
  }
}

template <int kVec>
void launch_forward(bf16* out, float* mean, float* rstd, const bf16* in, const bf16* weight, const bf16* bias,
                    std::int64_t rows, std::int64_t dim, float eps, float offset, cudaStream_t stream) {
  const int threads = detail::norm_threads(dim / kVec, kVec);
  const auto kernel = threads <= detail::kNormNarrowBlock ? layernorm_forward_kernel<kVec, detail::kNormNarrowBlock>
                                                          : layernorm_forward_kernel<kVec, 1024>;
  kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(out, mean, rstd, in, weight, bias, dim, eps, offset);
}

template <int kVec>
void launch_backward(bf16* din, float* dweight, float* dbias, const bf16* dout, const bf16* in, const bf16* weight,
                     const float* mean, const float* rstd, std::int64_t rows, std::int64_t dim, float offset,
                     float* scratch, cudaStream_t stream) {
  const int threads = detail::norm_threads(dim / kVec, kVec);
  auto kernel = layernorm_backward_kernel<kVec, detail::kNormNarrowBlock>;
  if constexpr (kVec == 1) {
    // 1024 scalar threads would need dweight and dbias shares beyond 64 registers.
    require_kernel_argument(
        threads <= detail::kNormNarrowBlock, "layernorm_backward",
        "dim = " + std::to_string(dim) + " > 8192 needs dim % 8 == 0 and 16-byte aligned pointers (the vector path)");
  } else {
    if (threads > detail::kNormNarrowBlock) kernel = layernorm_backward_kernel<kVec, 1024>;
  }
  const unsigned blocks = detail::norm_backward_blocks(kernel, threads, rows);
  float* partial_dbias = scratch + static_cast<std::int64_t>(blocks) * dim;
  kernel<<<blocks, threads, 0, stream>>>(din, scratch, partial_dbias, dout, in, weight, mean, rstd, rows, dim, offset);
  PRIMUS_KERNEL_LAUNCH_CHECK();
  detail::sum_partial_rows(dweight, scratch, blocks, dim, stream);
  detail::sum_partial_rows(dbias, partial_dbias, blocks, dim, stream);
}

}  // namespace

void layernorm_forward(bf16* out, float* mean, float* rstd, const bf16* in, const bf16* weight, const bf16* bias,
                       std::int64_t rows, std::int64_t dim, float eps, bool apply_layernorm_1p, cudaStream_t stream) {
  detail::check_norm_shape("layernorm_forward", rows, dim);
  if (rows == 0) return;
  const float offset = apply_layernorm_1p ? 1.0f : 0.0f;
  if (detail::can_vectorize(dim, {out, in, weight, bias}))
    launch_forward<detail::kPack>(out, mean, rstd, in, weight, bias, rows, dim, eps, offset, stream);
  else
    launch_forward<1>(out, mean, rstd, in, weight, bias, rows, dim, eps, offset, stream);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

std::int64_t layernorm_backward_scratch_floats(std::int64_t rows, std::int64_t dim) {
  return 2 * (rows < detail::kNormBackwardMaxBlocks ? rows : detail::kNormBackwardMaxBlocks) * dim;
}

void layernorm_backward(bf16* din, float* dweight, float* dbias, const bf16* dout, const bf16* in, const bf16* weight,
                        const float* mean, const float* rstd, std::int64_t rows, std::int64_t dim,
                        bool apply_layernorm_1p, float* scratch, cudaStream_t stream) {
  constexpr const char* op = "layernorm_backward";
  detail::check_norm_shape(op, rows, dim);
  require_kernel_argument(scratch != nullptr, op,
                          "scratch must hold layernorm_backward_scratch_floats(rows, dim) floats");
  if (rows == 0) return;
  const float offset = apply_layernorm_1p ? 1.0f : 0.0f;
  if (detail::can_vectorize(dim, {din, dout, in, weight, scratch}))
    launch_backward<detail::kPack>(din, dweight, dbias, dout, in, weight, mean, rstd, rows, dim, offset, scratch,
                                   stream);
  else
    launch_backward<1>(din, dweight, dbias, dout, in, weight, mean, rstd, rows, dim, offset, scratch, stream);
}

}  // namespace primus::ops::cuda
