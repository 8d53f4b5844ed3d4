// Gradient-norm kernels: one double partial per fixed chunk of the grad buffer (16-byte
// loads, eight in flight per thread, one 1024-thread block per SM), a one-block sum of the
// partials in chunk order, and a one-thread clip-coefficient kernel.
#include <algorithm>
#include <cstdint>
#include <string>

#include "primus/ops/cuda/device_info.hpp"
#include "primus/ops/cuda/grad_norm.hpp"
#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/ops/cuda/kernel_common.cuh"

namespace primus::ops::cuda {
namespace {

constexpr int kThreads = 1024;
// float4 loads each thread issues before it adds: ~128 KB in flight per SM, what one SM
// needs to stream ~100 GB/s when a side stream gives it only a few SMs.
constexpr int kUnroll = 8;
constexpr std::int64_t kChunk = std::int64_t{1} << 18;  // 1 MB of fp32 per partial

// The squares of a 16-byte-aligned chunk, each thread's in a fixed order, eight float4 loads
// in flight per thread. kSkipZeroRows: rows the marks call zero are not read (a +0 term
// leaves a double sum's bits unchanged); the rows must start on 4-element boundaries.
template <bool kSkipZeroRows>
__device__ __forceinline__ double aligned_chunk_sum(const float* chunk, std::int64_t begin, std::int64_t count,
                                                    const ZeroRows& zero) {
  const float4* vectors = reinterpret_cast<const float4*>(chunk);
  const std::int64_t vector_count = count / 4;
  // kSkipZeroRows: the row (and the offset in it) of this thread's next vector, relative to the
  // zero rows' start, advanced by a fixed step per vector instead of a 64-bit division each
  // (which made the mostly-skipped embedding chunks compute-bound); row < 0: not reached yet.
  constexpr std::int64_t kStep = 4 * kThreads;  // elements between a thread's consecutive vectors
  std::int64_t relative = 0, row = -1, offset = 0, step_rows = 0, step_offset = 0;
  if constexpr (kSkipZeroRows) {
    relative = begin + 4 * static_cast<std::int64_t>(threadIdx.x) - zero.begin;
    step_rows = kStep / zero.row_elements;
    step_offset = kStep % zero.row_elements;
    if (relative >= 0) row = relative / zero.row_elements, offset = relative % zero.row_elements;
  }
  double sum = 0.0;
  for (std::int64_t base = threadIdx.x; base < vector_count; base += kThreads * kUnroll) {
    float4 x[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t v = base + u * kThreads;
      bool load = v < vector_count;
      if constexpr (kSkipZeroRows) {
        load = load && !(row >= 0 && row < zero.rows && zero.marks[row] == 0);
        relative += kStep;
        if (row >= 0) {
          row += step_rows;
          offset += step_offset;
          if (offset >= zero.row_elements) offset -= zero.row_elements, ++row;
        } else if (relative >= 0) {
          row = relative / zero.row_elements, offset = relative % zero.row_elements;
        }
      }
      x[u] = load ? __ldg(vectors + v) : make_float4(0.f, 0.f, 0.f, 0.f);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      sum = fma(static_cast<double>(x[u].x), static_cast<double>(x[u].x), sum);
      sum = fma(static_cast<double>(x[u].y), static_cast<double>(x[u].y), sum);
      sum = fma(static_cast<double>(x[u].z), static_cast<double>(x[u].z), sum);
      sum = fma(static_cast<double>(x[u].w), static_cast<double>(x[u].w), sum);
    }
  }
  const std::int64_t rest = vector_count * 4 + threadIdx.x;  // the last count % 4 elements
  if (rest < count) sum = fma(static_cast<double>(chunk[rest]), static_cast<double>(chunk[rest]), sum);
  return sum;
}

// One block per SM, each taking chunks blockIdx.x, blockIdx.x + grid, ...: each chunk's partial
// is computed the same way whatever the grid.
__global__ void __launch_bounds__(kThreads, 1)
    chunk_sum_of_squares_kernel(double* partials, const float* grads, std::int64_t numel, std::int64_t chunks,
                                ZeroRows zero) {
  __shared__ double shared[32];
  for (std::int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
    const std::int64_t begin = c * kChunk;
    const std::int64_t count = numel - begin < kChunk ? numel - begin : kChunk;
    const float* chunk = grads + begin;
    // Squares and sums in double: 2.8e9 fp32 terms would lose digits in an fp32 sum.
    double sum = 0.0;
    const bool aligned = reinterpret_cast<std::uintptr_t>(chunk) % 16 == 0;
    const bool maybe_zero = zero.marks != nullptr && begin < zero.begin + zero.rows * zero.row_elements &&
                            begin + count > zero.begin && zero.row_elements % 4 == 0 && (begin - zero.begin) % 4 == 0;
    if (aligned && maybe_zero) {
      sum = aligned_chunk_sum<true>(chunk, begin, count, zero);
    } else if (aligned) {
      sum = aligned_chunk_sum<false>(chunk, begin, count, zero);
    } else {  // a misaligned buffer (never the engine's): scalar loads
      for (std::int64_t i = threadIdx.x; i < count; i += kThreads)
        sum = fma(static_cast<double>(chunk[i]), static_cast<double>(chunk[i]), sum);
    }
    sum = detail::block_sum(sum, shared);
    if (threadIdx.x == 0) partials[c] = sum;
  }
}

// Each thread sums a fixed strided subset, then a fixed tree: the same order every call.
__global__ void sum_partials_kernel(double* out, const double* partials, std::int64_t count) {
  __shared__ double shared[32];
  double sum = 0.0;
  for (std::int64_t i = threadIdx.x; i < count; i += blockDim.x) sum += partials[i];
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

std::int64_t grad_sum_of_squares_scratch_doubles(std::int64_t numel) {
  return std::max<std::int64_t>(1, (numel + kChunk - 1) / kChunk);
}

void grad_sum_of_squares(double* sum_of_squares, const float* grads, std::int64_t numel, double* scratch,
                         cudaStream_t stream, const ZeroRows& zero) {
  constexpr const char* op = "grad_sum_of_squares";
  require_kernel_argument(scratch != nullptr, op, "scratch must hold grad_sum_of_squares_scratch_doubles(numel) doubles");
  require_kernel_argument(numel >= 0, op, "numel = " + std::to_string(numel) + " must be >= 0");
  require_kernel_argument(zero.marks == nullptr || (zero.begin >= 0 && zero.rows >= 0 && zero.row_elements > 0 &&
                                                    zero.begin + zero.rows * zero.row_elements <= numel),
                          op, "the zero rows must lie inside the buffer");
  const std::int64_t chunks = (numel + kChunk - 1) / kChunk;
  if (chunks > 0) {
    const int blocks = static_cast<int>(std::min<std::int64_t>(chunks, device_sm_count()));
    chunk_sum_of_squares_kernel<<<blocks, kThreads, 0, stream>>>(scratch, grads, numel, chunks, zero);
    PRIMUS_KERNEL_LAUNCH_CHECK();
  }
  sum_partials_kernel<<<1, 1024, 0, stream>>>(sum_of_squares, scratch, chunks);
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
