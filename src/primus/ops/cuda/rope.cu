// RoPE kernel: each thread rotates kPairs channel pairs of one (token, head) in place
// (rotate_pairs, rope_math.cuh); the backward pass is the same rotation with the sine negated.
#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/ops/cuda/kernel_common.cuh"
#include "primus/ops/cuda/rope.hpp"
#include "primus/ops/cuda/rope_math.cuh"

namespace primus::ops::cuda {
namespace {

using detail::bf16;

template <int kPairs, bool kInterleaved>
__global__ void rope_kernel(bf16* x, const float* cos_table, const float* sin_table, std::int64_t tokens,
                            std::int64_t seq, std::int64_t heads, std::int64_t head_dim, std::int64_t rotary_dim,
                            float sin_sign) {
  const std::int64_t half = rotary_dim / 2;
  const std::int64_t groups = half / kPairs;  // pair groups per head
  const std::int64_t items = tokens * heads * groups;
  for (std::int64_t item = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; item < items;
       item += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t group = item % groups;
    const std::int64_t token_head = item / groups;
    const std::int64_t position = (token_head / heads) % seq;
    bf16* head = x + token_head * head_dim;
    detail::rotate_pairs<kPairs, kInterleaved>(head, head, cos_table + position * half, sin_table + position * half,
                                               group * kPairs, half, sin_sign);
  }
}

void launch_rope(const char* op, bf16* x, const float* cos, const float* sin, std::int64_t batch, std::int64_t seq,
                 std::int64_t heads, std::int64_t head_dim, std::int64_t rotary_dim, bool interleaved, float sin_sign,
                 cudaStream_t stream) {
  require_kernel_argument(batch >= 0 && seq > 0 && heads > 0 && head_dim > 0, op,
                          "batch, seq, heads, head_dim = " + std::to_string(batch) + ", " + std::to_string(seq) + ", " +
                              std::to_string(heads) + ", " + std::to_string(head_dim) +
                              " must be positive (batch may be 0)");
  detail::require_rotary_dim(op, rotary_dim, head_dim);
  const std::int64_t tokens = batch * seq;
  if (tokens == 0) return;
  const std::int64_t half = rotary_dim / 2;
  constexpr int kThreads = 256;
  // Vector path: every head start and every pair group is 16-byte aligned in x and in the tables.
  const bool vectorize = detail::can_vectorize(head_dim, {x}) && detail::is_aligned_16(cos) &&
                         detail::is_aligned_16(sin) && detail::rotary_dim_vectorizes(rotary_dim, interleaved);
  if (interleaved) {
    constexpr int kPairs = detail::kVectorPairs<true>;
    if (vectorize) {
      rope_kernel<kPairs, true><<<detail::grid_for(tokens * heads * (half / kPairs), kThreads), kThreads, 0, stream>>>(
          x, cos, sin, tokens, seq, heads, head_dim, rotary_dim, sin_sign);
    } else {
      rope_kernel<1, true><<<detail::grid_for(tokens * heads * half, kThreads), kThreads, 0, stream>>>(
          x, cos, sin, tokens, seq, heads, head_dim, rotary_dim, sin_sign);
    }
  } else {
    constexpr int kPairs = detail::kVectorPairs<false>;
    if (vectorize) {
      rope_kernel<kPairs, false><<<detail::grid_for(tokens * heads * (half / kPairs), kThreads), kThreads, 0, stream>>>(
          x, cos, sin, tokens, seq, heads, head_dim, rotary_dim, sin_sign);
    } else {
      rope_kernel<1, false><<<detail::grid_for(tokens * heads * half, kThreads), kThreads, 0, stream>>>(
          x, cos, sin, tokens, seq, heads, head_dim, rotary_dim, sin_sign);
    }
  }
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace

void rope_forward(bf16* x, const float* cos, const float* sin, std::int64_t batch, std::int64_t seq, std::int64_t heads,
                  std::int64_t head_dim, std::int64_t rotary_dim, bool rotary_interleaved, cudaStream_t stream) {
  launch_rope("rope_forward", x, cos, sin, batch, seq, heads, head_dim, rotary_dim, rotary_interleaved, 1.0f, stream);
}

void rope_backward(bf16* dx, const float* cos, const float* sin, std::int64_t batch, std::int64_t seq,
                   std::int64_t heads, std::int64_t head_dim, std::int64_t rotary_dim, bool rotary_interleaved,
                   cudaStream_t stream) {
  launch_rope("rope_backward", dx, cos, sin, batch, seq, heads, head_dim, rotary_dim, rotary_interleaved, -1.0f,
              stream);
}

}  // namespace primus::ops::cuda
