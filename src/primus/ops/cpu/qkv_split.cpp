// Fused-QKV split (gather) and its backward (scatter back into the fused layout).
#include "primus/ops/cpu/qkv_split.hpp"
#include "primus/ops/cpu/parallel.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace primus::ops::cpu {

namespace {
// Copies each head between the fused row and the split tensors; to_fused picks the direction.
void qkv_copy(float* fused, float* q, float* k, float* v, std::int64_t rows, std::int64_t num_heads,
              std::int64_t num_query_groups, std::int64_t head_dim, bool to_fused) {
  if (num_query_groups <= 0 || num_heads % num_query_groups != 0) {
    throw std::invalid_argument("qkv_split: num_attention_heads (" + std::to_string(num_heads) +
                                ") must be a multiple of num_query_groups (" + std::to_string(num_query_groups) + ")");
  }
  const std::int64_t heads_per_group = num_heads / num_query_groups;
  const std::int64_t fused_width = (num_heads + 2 * num_query_groups) * head_dim;
  auto copy = [&](float* fused_head, float* split_head) {
    if (to_fused) std::copy(split_head, split_head + head_dim, fused_head);
    else std::copy(fused_head, fused_head + head_dim, split_head);
  };
#pragma omp parallel for if(rows * fused_width >= kParallelMinElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = fused + r * fused_width;
    for (std::int64_t g = 0; g < num_query_groups; ++g) {
      float* group = row + g * (heads_per_group + 2) * head_dim;
      for (std::int64_t j = 0; j < heads_per_group; ++j) {
        copy(group + j * head_dim, q + (r * num_heads + g * heads_per_group + j) * head_dim);
      }
      copy(group + heads_per_group * head_dim, k + (r * num_query_groups + g) * head_dim);
      copy(group + (heads_per_group + 1) * head_dim, v + (r * num_query_groups + g) * head_dim);
    }
  }
}
}  // namespace

void qkv_split_forward(float* q, float* k, float* v, const float* qkv, std::int64_t rows, std::int64_t num_heads,
                       std::int64_t num_query_groups, std::int64_t head_dim) {
  qkv_copy(const_cast<float*>(qkv), q, k, v, rows, num_heads, num_query_groups, head_dim, false);
}

void qkv_split_backward(float* dqkv, const float* dq, const float* dk, const float* dv, std::int64_t rows,
                        std::int64_t num_heads, std::int64_t num_query_groups, std::int64_t head_dim) {
  qkv_copy(dqkv, const_cast<float*>(dq), const_cast<float*>(dk), const_cast<float*>(dv), rows, num_heads,
           num_query_groups, head_dim, true);
}

}  // namespace primus::ops::cpu
