// Attention through sgemm blocks per (batch, head) and per block of query rows:
// S = scale Q K^T, causal softmax, O = P V; keys after a block's last query are
// never touched (causal), which skips nearly half the work. Backward recomputes P
// from the saved log-sum-exp. Threads come from OpenBLAS inside each block; the
// softmax loops stay serial, since an OpenMP region per block costs more than it saves.
#include "primus/ops/cpu/attention.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace primus::ops::cpu {

namespace {
constexpr std::int64_t kQueryBlock = 64;

void check_groups(std::int64_t num_heads, std::int64_t num_query_groups) {
  if (num_query_groups <= 0 || num_heads % num_query_groups != 0) {
    throw std::invalid_argument("attention: num_attention_heads (" + std::to_string(num_heads) +
                                ") must be a multiple of num_query_groups (" + std::to_string(num_query_groups) + ")");
  }
}

// One block: queries [first_query, first_query + rows) against keys [0, keys), keys = first_query + rows.
struct Block {
  std::int64_t first_query, rows, keys;
};

// lse[i] = log sum_{j <= i} exp(scores[i, j]) for the block's rows (scores' row stride: keys).
void block_log_sum_exp(float* lse, const float* scores, const Block& block) {
  for (std::int64_t r = 0; r < block.rows; ++r) {
    const std::int64_t last_key = block.first_query + r;
    const float* row = scores + r * block.keys;
    float max_score = -std::numeric_limits<float>::infinity();
    for (std::int64_t j = 0; j <= last_key; ++j) max_score = std::max(max_score, row[j]);
    double sum = 0.0;
    for (std::int64_t j = 0; j <= last_key; ++j) sum += std::exp(row[j] - max_score);
    lse[block.first_query + r] = max_score + static_cast<float>(std::log(sum));
  }
}

// scores -> probabilities in place: exp(s - lse) on and below the diagonal, 0 above.
void block_probabilities(float* scores, const float* lse, const Block& block) {
  for (std::int64_t r = 0; r < block.rows; ++r) {
    const std::int64_t i = block.first_query + r;
    float* row = scores + r * block.keys;
    for (std::int64_t j = 0; j <= i; ++j) row[j] = std::exp(row[j] - lse[i]);
    for (std::int64_t j = i + 1; j < block.keys; ++j) row[j] = 0.0f;
  }
}

// scores = scale * Q[block] K[0:keys]^T
void block_scores(float* scores, const float* q_head, std::int64_t q_stride, const float* k_group,
                  std::int64_t kv_stride, std::int64_t head_dim, float softmax_scale, const Block& block) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, block.rows, block.keys, head_dim, softmax_scale,
              q_head + block.first_query * q_stride, q_stride, k_group, kv_stride, 0.0f, scores, block.keys);
}
}  // namespace

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       std::int64_t batch, std::int64_t seq, std::int64_t num_heads,
                       std::int64_t num_query_groups, std::int64_t head_dim, float softmax_scale) {
  check_groups(num_heads, num_query_groups);
  const std::int64_t heads_per_group = num_heads / num_query_groups;
  const std::int64_t q_stride = num_heads * head_dim, kv_stride = num_query_groups * head_dim;
  std::vector<float> scores(static_cast<std::size_t>(std::min(seq, kQueryBlock) * seq));
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t h = 0; h < num_heads; ++h) {
      const std::int64_t g = h / heads_per_group;
      const float* q_head = q + b * seq * q_stride + h * head_dim;
      const float* k_group = k + b * seq * kv_stride + g * head_dim;
      const float* v_group = v + b * seq * kv_stride + g * head_dim;
      float* out_head = out + b * seq * q_stride + h * head_dim;
      float* lse_head = lse + (b * num_heads + h) * seq;
      for (std::int64_t first = 0; first < seq; first += kQueryBlock) {
        const std::int64_t rows = std::min(kQueryBlock, seq - first);
        const Block block{first, rows, first + rows};
        block_scores(scores.data(), q_head, q_stride, k_group, kv_stride, head_dim, softmax_scale, block);
        block_log_sum_exp(lse_head, scores.data(), block);
        block_probabilities(scores.data(), lse_head, block);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, head_dim, block.keys, 1.0f, scores.data(),
                    block.keys, v_group, kv_stride, 0.0f, out_head + first * q_stride, q_stride);
      }
    }
  }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, std::int64_t batch, std::int64_t seq,
                        std::int64_t num_heads, std::int64_t num_query_groups, std::int64_t head_dim,
                        float softmax_scale) {
  check_groups(num_heads, num_query_groups);
  const std::int64_t heads_per_group = num_heads / num_query_groups;
  const std::int64_t q_stride = num_heads * head_dim, kv_stride = num_query_groups * head_dim;
  const std::int64_t kv_elements = batch * seq * kv_stride;
  std::fill(dk, dk + kv_elements, 0.0f);  // the heads of a group accumulate into it
  std::fill(dv, dv + kv_elements, 0.0f);
  const std::size_t block_elements = static_cast<std::size_t>(std::min(seq, kQueryBlock) * seq);
  std::vector<float> probabilities(block_elements), dscores(block_elements);
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t h = 0; h < num_heads; ++h) {
      const std::int64_t g = h / heads_per_group;
      const std::int64_t q_offset = b * seq * q_stride + h * head_dim;
      const std::int64_t kv_offset = b * seq * kv_stride + g * head_dim;
      const float* lse_head = lse + (b * num_heads + h) * seq;
      for (std::int64_t first = 0; first < seq; first += kQueryBlock) {
        const std::int64_t rows = std::min(kQueryBlock, seq - first);
        const Block block{first, rows, first + rows};
        const std::int64_t q_block = q_offset + first * q_stride;
        block_scores(probabilities.data(), q + q_offset, q_stride, k + kv_offset, kv_stride, head_dim,
                     softmax_scale, block);
        block_probabilities(probabilities.data(), lse_head, block);
        // dV[0:keys] += P^T dO[block]; dP = dO[block] V[0:keys]^T
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, block.keys, head_dim, rows, 1.0f, probabilities.data(),
                    block.keys, dout + q_block, q_stride, 1.0f, dv + kv_offset, kv_stride);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, block.keys, head_dim, 1.0f, dout + q_block,
                    q_stride, v + kv_offset, kv_stride, 0.0f, dscores.data(), block.keys);
        // dS = scale * P * (dP - rowsum(dO * O))
        for (std::int64_t r = 0; r < rows; ++r) {
          const float* o_row = out + q_block + r * q_stride;
          const float* do_row = dout + q_block + r * q_stride;
          double dot = 0.0;
          for (std::int64_t d = 0; d < head_dim; ++d) dot += static_cast<double>(o_row[d]) * do_row[d];
          float* ds = dscores.data() + r * block.keys;
          const float* p = probabilities.data() + r * block.keys;
          for (std::int64_t j = 0; j < block.keys; ++j) ds[j] = softmax_scale * p[j] * (ds[j] - static_cast<float>(dot));
        }
        // dQ[block] = dS K[0:keys]; dK[0:keys] += dS^T Q[block]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, head_dim, block.keys, 1.0f, dscores.data(),
                    block.keys, k + kv_offset, kv_stride, 0.0f, dq + q_block, q_stride);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, block.keys, head_dim, rows, 1.0f, dscores.data(),
                    block.keys, q + q_block, q_stride, 1.0f, dk + kv_offset, kv_stride);
      }
    }
  }
}

}  // namespace primus::ops::cpu
