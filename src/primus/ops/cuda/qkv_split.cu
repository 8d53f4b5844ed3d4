// QKV split kernels: element-wise over the fused qkv buffer; each pack finds its head
// slot in the row and copies to (forward) or from (backward) q, k or v.
#include "primus/ops/cuda/elementwise.cuh"
#include "primus/ops/cuda/qkv_split.hpp"

namespace primus::ops::cuda {
namespace {

using detail::bf16;

// Copies between qkv and q/k/v; kToSplit: qkv -> q, k, v (forward), else back (backward).
template <bool kToSplit>
struct QkvCopy {
  bf16* qkv;
  bf16* q;
  bf16* k;
  bf16* v;
  std::int64_t num_heads, num_query_groups, head_dim;
  template <int N>
  __device__ void apply(std::int64_t e) const {
    const std::int64_t heads_per_group = num_heads / num_query_groups;
    const std::int64_t slots = num_heads + 2 * num_query_groups;  // head_dim-wide slots per qkv row
    const std::int64_t row = e / (slots * head_dim);
    const std::int64_t in_row = e % (slots * head_dim);
    const std::int64_t slot = in_row / head_dim, d = in_row % head_dim;
    const std::int64_t group = slot / (heads_per_group + 2), j = slot % (heads_per_group + 2);
    bf16* split;
    if (j < heads_per_group)
      split = q + (row * num_heads + group * heads_per_group + j) * head_dim + d;
    else
      split = (j == heads_per_group ? k : v) + (row * num_query_groups + group) * head_dim + d;
    float values[N];
    if constexpr (kToSplit) {
      detail::load_bf16<N>(qkv + e, values);
      detail::store_bf16<N>(split, values);
    } else {
      detail::load_bf16<N>(split, values);
      detail::store_bf16<N>(qkv + e, values);
    }
  }
};

void check_shape(const char* op, std::int64_t rows, std::int64_t num_heads, std::int64_t num_query_groups,
                 std::int64_t head_dim) {
  require_kernel_argument(
      rows >= 0 && num_heads > 0 && num_query_groups > 0 && head_dim > 0 && num_heads % num_query_groups == 0, op,
      "rows, num_heads, num_query_groups, head_dim = " + std::to_string(rows) + ", " + std::to_string(num_heads) +
          ", " + std::to_string(num_query_groups) + ", " + std::to_string(head_dim) +
          ": expected positive sizes and num_heads % num_query_groups == 0");
}

}  // namespace

void qkv_split_forward(bf16* q, bf16* k, bf16* v, const bf16* qkv, std::int64_t rows, std::int64_t num_heads,
                       std::int64_t num_query_groups, std::int64_t head_dim, cudaStream_t stream) {
  check_shape("qkv_split_forward", rows, num_heads, num_query_groups, head_dim);
  const std::int64_t count = rows * (num_heads + 2 * num_query_groups) * head_dim;
  detail::launch_elementwise(count, detail::can_vectorize(head_dim, {q, k, v, qkv}),
                             QkvCopy<true>{const_cast<bf16*>(qkv), q, k, v, num_heads, num_query_groups, head_dim},
                             stream);
}

void qkv_split_backward(bf16* dqkv, const bf16* dq, const bf16* dk, const bf16* dv, std::int64_t rows,
                        std::int64_t num_heads, std::int64_t num_query_groups, std::int64_t head_dim,
                        cudaStream_t stream) {
  check_shape("qkv_split_backward", rows, num_heads, num_query_groups, head_dim);
  const std::int64_t count = rows * (num_heads + 2 * num_query_groups) * head_dim;
  // The backward only reads dq, dk, dv: the casts let one functor serve both directions.
  detail::launch_elementwise(count, detail::can_vectorize(head_dim, {dqkv, dq, dk, dv}),
                             QkvCopy<false>{dqkv, const_cast<bf16*>(dq), const_cast<bf16*>(dk), const_cast<bf16*>(dv),
                                            num_heads, num_query_groups, head_dim},
                             stream);
}

}  // namespace primus::ops::cuda
