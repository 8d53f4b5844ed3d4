// Fused QKV split + RoPE kernels: each thread moves one unit of one head slot of a qkv
// row between qkv and q/k/v. A slot's first units each hold kPairs channel pairs
// (both halves' vectors when non-interleaved), rotated for Q and K slots
// (rotate_pairs, shared with rope.cu) and copied for V; the rest hold kCopy channels
// past rotary_dim, copied.
#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/ops/cuda/kernel_common.cuh"
#include "primus/ops/cuda/qkv_rope.hpp"
#include "primus/ops/cuda/rope_math.cuh"

namespace primus::ops::cuda {
namespace {

using detail::bf16;

struct QkvRopeShape {
  std::int64_t rows, seq, num_heads, num_query_groups, head_dim, rotary_dim;
};

// How one head slot is cut into thread units: half / kPairs units of pairs, then
// (head_dim - rotary_dim) / kCopy pass-through units.
template <bool kVector, bool kInterleaved>
struct SlotUnits {
  static constexpr int kPairs = kVector ? detail::kVectorPairs<kInterleaved> : 1;
  static constexpr int kCopy = kVector ? detail::kPack : 1;
  __host__ __device__ static std::int64_t pair_units(const QkvRopeShape& s) { return s.rotary_dim / 2 / kPairs; }
  __host__ __device__ static std::int64_t count(const QkvRopeShape& s) {
    return pair_units(s) + (s.head_dim - s.rotary_dim) / kCopy;
  }
};

template <int N>
__device__ __forceinline__ void copy_channels(bf16* out, const bf16* in) {
  float values[N];
  detail::load_bf16<N>(in, values);
  detail::store_bf16<N>(out, values);
}

// The channels rotate_pairs<kPairs, kInterleaved> would touch, copied unturned (V slots).
template <int kPairs, bool kInterleaved>
__device__ __forceinline__ void copy_pairs(bf16* out, const bf16* in, std::int64_t pair, std::int64_t half) {
  if constexpr (kInterleaved) {
    copy_channels<2 * kPairs>(out + 2 * pair, in + 2 * pair);
  } else {
    copy_channels<kPairs>(out + pair, in + pair);
    copy_channels<kPairs>(out + half + pair, in + half + pair);
  }
}

// kToSplit: qkv -> q, k, v (forward); else q, k, v -> qkv (backward, sin_sign = -1).
template <bool kVector, bool kInterleaved, bool kToSplit>
__global__ void qkv_rope_kernel(bf16* qkv, bf16* q, bf16* k, bf16* v, const float* cos_table, const float* sin_table,
                                QkvRopeShape shape, float sin_sign) {
  using Units = SlotUnits<kVector, kInterleaved>;
  const std::int64_t head_dim = shape.head_dim, half = shape.rotary_dim / 2;
  const std::int64_t heads_per_group = shape.num_heads / shape.num_query_groups;
  const std::int64_t slots = shape.num_heads + 2 * shape.num_query_groups;  // head_dim-wide slots per qkv row
  const std::int64_t pair_units = Units::pair_units(shape), units = Units::count(shape);
  const std::int64_t items = shape.rows * slots * units;
  for (std::int64_t item = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; item < items;
       item += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t unit = item % units, row_slot = item / units;
    const std::int64_t row = row_slot / slots, slot = row_slot % slots;
    const std::int64_t group = slot / (heads_per_group + 2), j = slot % (heads_per_group + 2);
    bf16* split;
    if (j < heads_per_group)
      split = q + (row * shape.num_heads + group * heads_per_group + j) * head_dim;
    else
      split = (j == heads_per_group ? k : v) + (row * shape.num_query_groups + group) * head_dim;
    bf16* fused = qkv + row_slot * head_dim;
    bf16* out = kToSplit ? split : fused;
    const bf16* in = kToSplit ? fused : split;
    if (unit < pair_units) {
      const std::int64_t pair = unit * Units::kPairs;
      if (j <= heads_per_group) {  // a query or key head
        const std::int64_t position = row % shape.seq;
        detail::rotate_pairs<Units::kPairs, kInterleaved>(out, in, cos_table + position * half,
                                                          sin_table + position * half, pair, half, sin_sign);
      } else {
        copy_pairs<Units::kPairs, kInterleaved>(out, in, pair, half);
      }
    } else {
      const std::int64_t channel = shape.rotary_dim + (unit - pair_units) * Units::kCopy;
      copy_channels<Units::kCopy>(out + channel, in + channel);
    }
  }
}

template <bool kVector, bool kInterleaved, bool kToSplit>
void launch(bf16* qkv, bf16* q, bf16* k, bf16* v, const float* cos, const float* sin, const QkvRopeShape& shape,
            cudaStream_t stream) {
  constexpr int kThreads = 256;
  const std::int64_t items =
      shape.rows * (shape.num_heads + 2 * shape.num_query_groups) * SlotUnits<kVector, kInterleaved>::count(shape);
  qkv_rope_kernel<kVector, kInterleaved, kToSplit><<<detail::grid_for(items, kThreads), kThreads, 0, stream>>>(
      qkv, q, k, v, cos, sin, shape, kToSplit ? 1.0f : -1.0f);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

template <bool kToSplit>
void launch_qkv_rope(const char* op, bf16* qkv, bf16* q, bf16* k, bf16* v, const float* cos, const float* sin,
                     std::int64_t batch, std::int64_t seq, std::int64_t num_heads, std::int64_t num_query_groups,
                     std::int64_t head_dim, std::int64_t rotary_dim, bool interleaved, cudaStream_t stream) {
  require_kernel_argument(batch >= 0 && seq > 0 && num_heads > 0 && num_query_groups > 0 && head_dim > 0 &&
                              num_heads % num_query_groups == 0,
                          op,
                          "batch, seq, num_heads, num_query_groups, head_dim = " + std::to_string(batch) + ", " +
                              std::to_string(seq) + ", " + std::to_string(num_heads) + ", " +
                              std::to_string(num_query_groups) + ", " + std::to_string(head_dim) +
                              ": expected positive sizes (batch may be 0) and num_heads % num_query_groups == 0");
  detail::require_rotary_dim(op, rotary_dim, head_dim);
  const QkvRopeShape shape{batch * seq, seq, num_heads, num_query_groups, head_dim, rotary_dim};
  if (shape.rows == 0) return;
  // Vector path: every slot start, pair group and pass-through vector is 16-byte aligned in
  // qkv, q, k, v and in the tables (the same conditions as rope.cu's).
  const bool vectorize = detail::can_vectorize(head_dim, {qkv, q, k, v}) && detail::is_aligned_16(cos) &&
                         detail::is_aligned_16(sin) && detail::rotary_dim_vectorizes(rotary_dim, interleaved);
  if (interleaved) {
    if (vectorize)
      launch<true, true, kToSplit>(qkv, q, k, v, cos, sin, shape, stream);
    else
      launch<false, true, kToSplit>(qkv, q, k, v, cos, sin, shape, stream);
  } else {
    if (vectorize)
      launch<true, false, kToSplit>(qkv, q, k, v, cos, sin, shape, stream);
    else
      launch<false, false, kToSplit>(qkv, q, k, v, cos, sin, shape, stream);
  }
}

}  // namespace

void qkv_split_rope_forward(bf16* q, bf16* k, bf16* v, const bf16* qkv, const float* cos, const float* sin,
                            std::int64_t batch, std::int64_t seq, std::int64_t num_heads, std::int64_t num_query_groups,
                            std::int64_t head_dim, std::int64_t rotary_dim, bool rotary_interleaved,
                            cudaStream_t stream) {
  launch_qkv_rope<true>("qkv_split_rope_forward", const_cast<bf16*>(qkv), q, k, v, cos, sin, batch, seq, num_heads,
                        num_query_groups, head_dim, rotary_dim, rotary_interleaved, stream);
}

void qkv_split_rope_backward(bf16* dqkv, const bf16* dq, const bf16* dk, const bf16* dv, const float* cos,
                             const float* sin, std::int64_t batch, std::int64_t seq, std::int64_t num_heads,
                             std::int64_t num_query_groups, std::int64_t head_dim, std::int64_t rotary_dim,
                             bool rotary_interleaved, cudaStream_t stream) {
  // The backward only reads dq, dk, dv (the forward only reads qkv): the casts let one kernel serve both directions.
  launch_qkv_rope<false>("qkv_split_rope_backward", dqkv, const_cast<bf16*>(dq), const_cast<bf16*>(dk),
                         const_cast<bf16*>(dv), cos, sin, batch, seq, num_heads, num_query_groups, head_dim, rotary_dim,
                         rotary_interleaved, stream);
}

}  // namespace primus::ops::cuda
