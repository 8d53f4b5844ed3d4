// Attention through per-(batch, head) sgemm blocks: S = scale Q K^T, causal
// softmax, O = P V; backward recomputes P from the saved log-sum-exp.
// Threads come from OpenBLAS inside each block; the O(seq^2) softmax loops stay
// serial, since an OpenMP region per (batch, head) costs more than it saves.
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
void check_groups(std::int64_t num_heads, std::int64_t num_query_groups) {
  if (num_query_groups <= 0 || num_heads % num_query_groups != 0) {
    throw std::invalid_argument("attention: num_attention_heads (" + std::to_string(num_heads) +
                                ") must be a multiple of num_query_groups (" + std::to_string(num_query_groups) + ")");
  }
}

// Fills probabilities[i, j] = exp(scores[i, j] - lse[i]) for j <= i, 0 above the diagonal.
void causal_probabilities(float* probabilities, const float* lse, std::int64_t seq) {
  for (std::int64_t i = 0; i < seq; ++i) {
    float* row = probabilities + i * seq;
    for (std::int64_t j = 0; j <= i; ++j) row[j] = std::exp(row[j] - lse[i]);
    for (std::int64_t j = i + 1; j < seq; ++j) row[j] = 0.0f;
  }
}
}  // namespace

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       std::int64_t batch, std::int64_t seq, std::int64_t num_heads,
                       std::int64_t num_query_groups, std::int64_t head_dim, float softmax_scale) {
  check_groups(num_heads, num_query_groups);
  const std::int64_t heads_per_group = num_heads / num_query_groups;
  const std::int64_t q_stride = num_heads * head_dim, kv_stride = num_query_groups * head_dim;
  std::vector<float> scores(static_cast<std::size_t>(seq * seq));
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t h = 0; h < num_heads; ++h) {
      const std::int64_t g = h / heads_per_group;
      const float* qh = q + b * seq * q_stride + h * head_dim;
      const float* kg = k + b * seq * kv_stride + g * head_dim;
      const float* vg = v + b * seq * kv_stride + g * head_dim;
      float* lse_h = lse + (b * num_heads + h) * seq;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, seq, seq, head_dim, softmax_scale, qh, q_stride, kg,
                  kv_stride, 0.0f, scores.data(), seq);
      for (std::int64_t i = 0; i < seq; ++i) {
        const float* row = scores.data() + i * seq;
        float max_score = -std::numeric_limits<float>::infinity();
        for (std::int64_t j = 0; j <= i; ++j) max_score = std::max(max_score, row[j]);
        double sum = 0.0;
        for (std::int64_t j = 0; j <= i; ++j) sum += std::exp(row[j] - max_score);
        lse_h[i] = max_score + static_cast<float>(std::log(sum));
      }
      causal_probabilities(scores.data(), lse_h, seq);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, seq, head_dim, seq, 1.0f, scores.data(), seq, vg,
                  kv_stride, 0.0f, out + b * seq * q_stride + h * head_dim, q_stride);
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
  for (std::int64_t i = 0; i < kv_elements; ++i) dk[i] = dv[i] = 0.0f;  // heads of a group accumulate
  std::vector<float> probabilities(static_cast<std::size_t>(seq * seq));
  std::vector<float> dscores(static_cast<std::size_t>(seq * seq));
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t h = 0; h < num_heads; ++h) {
      const std::int64_t g = h / heads_per_group;
      const std::int64_t q_offset = b * seq * q_stride + h * head_dim;
      const std::int64_t kv_offset = b * seq * kv_stride + g * head_dim;
      const float* lse_h = lse + (b * num_heads + h) * seq;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, seq, seq, head_dim, softmax_scale, q + q_offset,
                  q_stride, k + kv_offset, kv_stride, 0.0f, probabilities.data(), seq);
      causal_probabilities(probabilities.data(), lse_h, seq);
      // dV_g += P^T dO ; dP = dO V^T
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, seq, head_dim, seq, 1.0f, probabilities.data(), seq,
                  dout + q_offset, q_stride, 1.0f, dv + kv_offset, kv_stride);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, seq, seq, head_dim, 1.0f, dout + q_offset, q_stride,
                  v + kv_offset, kv_stride, 0.0f, dscores.data(), seq);
      // dS = P * (dP - rowsum(dO * O)), then folded with the softmax scale.
      for (std::int64_t i = 0; i < seq; ++i) {
        const float* o_row = out + q_offset + i * q_stride;
        const float* do_row = dout + q_offset + i * q_stride;
        double dot = 0.0;
        for (std::int64_t d = 0; d < head_dim; ++d) dot += static_cast<double>(o_row[d]) * do_row[d];
        float* ds = dscores.data() + i * seq;
        const float* p = probabilities.data() + i * seq;
        for (std::int64_t j = 0; j < seq; ++j) ds[j] = softmax_scale * p[j] * (ds[j] - static_cast<float>(dot));
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, seq, head_dim, seq, 1.0f, dscores.data(), seq,
                  k + kv_offset, kv_stride, 0.0f, dq + q_offset, q_stride);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, seq, head_dim, seq, 1.0f, dscores.data(), seq,
                  q + q_offset, q_stride, 1.0f, dk + kv_offset, kv_stride);
    }
  }
}

}  // namespace primus::ops::cpu
