// Embedding kernels: a gather forward, a sort-then-segment-sum backward, and the
// position-embedding add and its batch-summed backward.
#include <algorithm>
#include <cub/device/device_radix_sort.cuh>

#include "primus/ops/cuda/elementwise.cuh"
#include "primus/ops/cuda/embedding.hpp"

namespace primus::ops::cuda {
namespace {

using detail::bf16;

constexpr std::size_t kScratchAlignment = 256;

std::size_t align_up(std::size_t bytes) {
  return (bytes + kScratchAlignment - 1) / kScratchAlignment * kScratchAlignment;
}

struct EmbeddingGather {
  bf16* out;
  const std::int32_t* tokens;
  const bf16* weight;
  std::int64_t vocab;
  std::int64_t hidden;
  template <int N>
  __device__ void apply(std::int64_t e) const {
    const std::int64_t row = e / hidden, column = e % hidden;
    const std::int32_t token = tokens[row];
    float v[N];
    if (token >= 0 && token < vocab) {
      detail::load_bf16<N>(weight + token * hidden + column, v);
    } else {
#pragma unroll
      for (int i = 0; i < N; ++i) v[i] = __int_as_float(0x7fc00000);  // NaN marks the bad token's row
    }
    detail::store_bf16<N>(out + e, v);
  }
};

__global__ void iota_kernel(std::int32_t* values, std::int64_t count) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    values[i] = static_cast<std::int32_t>(i);
}

// One block per sorted position; the block at the first position of each run of equal
// tokens sums that run's dout rows in row order and adds the sum into dweight.
template <int kVec>
__global__ void embedding_segment_sum_kernel(float* dweight, const bf16* dout, const std::int32_t* sorted_tokens,
                                             const std::int32_t* sorted_rows, std::int64_t rows, std::int64_t vocab,
                                             std::int64_t hidden) {
  const std::int64_t start = blockIdx.x;
  const std::int32_t token = sorted_tokens[start];
  if (start > 0 && sorted_tokens[start - 1] == token) return;
  if (token < 0 || token >= vocab) return;
  std::int64_t end = start + 1;
  while (end < rows && sorted_tokens[end] == token) ++end;
  for (std::int64_t column = static_cast<std::int64_t>(threadIdx.x) * kVec; column < hidden;
       column += static_cast<std::int64_t>(blockDim.x) * kVec) {
    float sum[kVec];
    detail::load_f32<kVec>(dweight + token * hidden + column, sum);
    for (std::int64_t j = start; j < end; ++j) {
      float v[kVec];
      detail::load_bf16<kVec>(dout + static_cast<std::int64_t>(sorted_rows[j]) * hidden + column, v);
#pragma unroll
      for (int i = 0; i < kVec; ++i) sum[i] += v[i];
    }
    detail::store_f32<kVec>(dweight + token * hidden + column, sum);
  }
}

// dweight[s, c] += sum over b of dout[b, s, c], b in order.
template <int kVec>
__global__ void position_embedding_backward_kernel(float* dweight, const bf16* dout, std::int64_t batch,
                                                   std::int64_t seq, std::int64_t hidden) {
  const std::int64_t items = seq * hidden / kVec;
  for (std::int64_t item = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; item < items;
       item += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t e = item * kVec;
    float sum[kVec];
    detail::load_f32<kVec>(dweight + e, sum);
    for (std::int64_t b = 0; b < batch; ++b) {
      float v[kVec];
      detail::load_bf16<kVec>(dout + b * seq * hidden + e, v);
#pragma unroll
      for (int i = 0; i < kVec; ++i) sum[i] += v[i];
    }
    detail::store_f32<kVec>(dweight + e, sum);
  }
}

struct PositionAdd {
  bf16* out;
  const bf16* weight;
  std::int64_t seq_hidden;  // seq * hidden: the stride of one batch entry
  template <int N>
  __device__ void apply(std::int64_t e) const {
    float x[N], w[N];
    detail::load_bf16<N>(out + e, x);
    detail::load_bf16<N>(weight + e % seq_hidden, w);
#pragma unroll
    for (int i = 0; i < N; ++i) x[i] += w[i];
    detail::store_bf16<N>(out + e, x);
  }
};

std::size_t cub_temp_bytes(std::int64_t rows) {
  std::size_t bytes = 0;
  PRIMUS_KERNEL_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, bytes, static_cast<const std::int32_t*>(nullptr), static_cast<std::int32_t*>(nullptr),
      static_cast<const std::int32_t*>(nullptr), static_cast<std::int32_t*>(nullptr), static_cast<int>(rows)));
  return bytes;
}

void check_shape(const char* op, std::int64_t rows, std::int64_t vocab, std::int64_t hidden) {
  require_kernel_argument(rows >= 0 && rows < (std::int64_t{1} << 31) && vocab > 0 && hidden > 0, op,
                          "rows, vocab, hidden = " + std::to_string(rows) + ", " + std::to_string(vocab) + ", " +
                              std::to_string(hidden) + ": expected 0 <= rows < 2^31, vocab > 0, hidden > 0");
}

}  // namespace

void embedding_forward(bf16* out, const std::int32_t* tokens, const bf16* weight, std::int64_t rows, std::int64_t vocab,
                       std::int64_t hidden, cudaStream_t stream) {
  check_shape("embedding_forward", rows, vocab, hidden);
  detail::launch_elementwise(rows * hidden, detail::can_vectorize(hidden, {out, weight}),
                             EmbeddingGather{out, tokens, weight, vocab, hidden}, stream);
}

std::size_t embedding_backward_scratch_bytes(std::int64_t rows) {
  check_shape("embedding_backward_scratch_bytes", rows, 1, 1);
  const std::size_t ints = align_up(static_cast<std::size_t>(rows) * sizeof(std::int32_t));
  return 3 * ints + align_up(cub_temp_bytes(rows));
}

void embedding_backward(float* dweight, const bf16* dout, const std::int32_t* tokens, std::int64_t rows,
                        std::int64_t vocab, std::int64_t hidden, void* scratch, std::size_t scratch_bytes,
                        cudaStream_t stream) {
  constexpr const char* op = "embedding_backward";
  check_shape(op, rows, vocab, hidden);
  if (rows == 0) return;
  const std::size_t needed = embedding_backward_scratch_bytes(rows);
  require_kernel_argument(scratch != nullptr && scratch_bytes >= needed, op,
                          "scratch of " + std::to_string(scratch_bytes) + " bytes, need " + std::to_string(needed) +
                              " (embedding_backward_scratch_bytes)");
  require_kernel_argument(detail::is_aligned_16(scratch), op, "scratch must be 16-byte aligned");
  const std::size_t ints = align_up(static_cast<std::size_t>(rows) * sizeof(std::int32_t));
  auto* bytes = static_cast<unsigned char*>(scratch);
  auto* row_ids = reinterpret_cast<std::int32_t*>(bytes);
  auto* sorted_tokens = reinterpret_cast<std::int32_t*>(bytes + ints);
  auto* sorted_rows = reinterpret_cast<std::int32_t*>(bytes + 2 * ints);
  void* temp = bytes + 3 * ints;
  std::size_t temp_bytes = scratch_bytes - 3 * ints;

  iota_kernel<<<detail::grid_for(rows, 256), 256, 0, stream>>>(row_ids, rows);
  PRIMUS_KERNEL_LAUNCH_CHECK();
  // Stable radix sort: rows of one token stay in row order, so the sums are reproducible.
  PRIMUS_KERNEL_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, tokens, sorted_tokens, row_ids, sorted_rows,
                                                      static_cast<int>(rows), 0, 32, stream));
  const bool vectorize = detail::can_vectorize(hidden, {dweight, dout});
  const int threads = static_cast<int>(
      std::min<std::int64_t>(256, detail::ceil_div(detail::ceil_div(hidden, vectorize ? 8 : 1), 32) * 32));
  if (vectorize)
    embedding_segment_sum_kernel<detail::kPack><<<static_cast<unsigned>(rows), threads, 0, stream>>>(
        dweight, dout, sorted_tokens, sorted_rows, rows, vocab, hidden);
  else
    embedding_segment_sum_kernel<1><<<static_cast<unsigned>(rows), threads, 0, stream>>>(
        dweight, dout, sorted_tokens, sorted_rows, rows, vocab, hidden);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void position_embedding_forward(bf16* out, const bf16* weight, std::int64_t batch, std::int64_t seq,
                                std::int64_t hidden, cudaStream_t stream) {
  check_shape("position_embedding_forward", batch * seq, 1, hidden);
  detail::launch_elementwise(batch * seq * hidden, detail::can_vectorize(hidden, {out, weight}),
                             PositionAdd{out, weight, seq * hidden}, stream);
}

void position_embedding_backward(float* dweight, const bf16* dout, std::int64_t batch, std::int64_t seq,
                                 std::int64_t hidden, cudaStream_t stream) {
  check_shape("position_embedding_backward", batch * seq, 1, hidden);
  if (batch == 0 || seq == 0) return;
  constexpr int kThreads = 256;
  if (detail::can_vectorize(hidden, {dweight, dout}))
    position_embedding_backward_kernel<detail::kPack>
        <<<detail::grid_for(seq * hidden / detail::kPack, kThreads), kThreads, 0, stream>>>(dweight, dout, batch, seq,
                                                                                            hidden);
  else
    position_embedding_backward_kernel<1>
        <<<detail::grid_for(seq * hidden, kThreads), kThreads, 0, stream>>>(dweight, dout, batch, seq, hidden);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::ops::cuda
