// FlashAttention (cuDNN backend graphs) against a naive CPU reference in double:
// causal GQA forward output and log-sum-exp, and the backward dQ, dK, dV.
#include <gtest/gtest.h>

#include <ostream>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_support.hpp"
#include "primus/ops/cuda/attention.hpp"

namespace primus::ops::cuda {

// Readable test labels in ctest (instead of the struct's bytes).
void PrintTo(const AttentionShape& s, std::ostream* os) {
  *os << "b" << s.batch << " s" << s.seq_len << " hq" << s.num_q_heads << " hkv" << s.num_kv_heads << " d"
      << s.head_dim;
}

namespace {

using testing::DeviceBuffer;
using testing::random_bf16;
using testing::relative_error;

constexpr double kTolerance = 2e-2;

struct Reference {
  std::vector<double> out, lse, d_q, d_k, d_v;
};

// Naive causal attention, [b, s, h, d] layouts, K/V head = q head / (h_q / h_kv).
Reference reference_attention(const AttentionShape& shape, const std::vector<double>& q, const std::vector<double>& k,
                              const std::vector<double>& v, const std::vector<double>& d_out) {
  const int64_t b = shape.batch, s = shape.seq_len, hq = shape.num_q_heads, hkv = shape.num_kv_heads,
                d = shape.head_dim, group = hq / hkv;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  auto q_at = [&](int64_t bi, int64_t si, int64_t hi) { return ((bi * s + si) * hq + hi) * d; };
  auto kv_at = [&](int64_t bi, int64_t si, int64_t hi) { return ((bi * s + si) * hkv + hi) * d; };
  Reference ref;
  ref.out.assign(q.size(), 0.0);
  ref.d_q.assign(q.size(), 0.0);
  ref.d_k.assign(k.size(), 0.0);
  ref.d_v.assign(v.size(), 0.0);
  ref.lse.assign(static_cast<std::size_t>(b * hq * s), 0.0);
  std::vector<double> p(static_cast<std::size_t>(s * s)), dp(static_cast<std::size_t>(s * s));
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < hq; ++h) {
      const int64_t kvh = h / group;
      for (int64_t i = 0; i < s; ++i) {
        double row_max = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j <= i; ++j) {
          double dot = 0.0;
          for (int64_t c = 0; c < d; ++c) dot += q[q_at(bi, i, h) + c] * k[kv_at(bi, j, kvh) + c];
          p[i * s + j] = dot * scale;
          row_max = std::max(row_max, p[i * s + j]);
        }
        double sum = 0.0;
        for (int64_t j = 0; j <= i; ++j) sum += std::exp(p[i * s + j] - row_max);
        ref.lse[(bi * hq + h) * s + i] = row_max + std::log(sum);
        for (int64_t j = 0; j <= i; ++j) p[i * s + j] = std::exp(p[i * s + j] - row_max) / sum;
        for (int64_t j = 0; j <= i; ++j)
          for (int64_t c = 0; c < d; ++c) ref.out[q_at(bi, i, h) + c] += p[i * s + j] * v[kv_at(bi, j, kvh) + c];
      }
      for (int64_t i = 0; i < s; ++i) {
        double row_dot = 0.0;  // Σ_c dO·O
        for (int64_t c = 0; c < d; ++c) row_dot += d_out[q_at(bi, i, h) + c] * ref.out[q_at(bi, i, h) + c];
        for (int64_t j = 0; j <= i; ++j) {
          double dot = 0.0;
          for (int64_t c = 0; c < d; ++c) dot += d_out[q_at(bi, i, h) + c] * v[kv_at(bi, j, kvh) + c];
          const double ds = p[i * s + j] * (dot - row_dot) * scale;
          for (int64_t c = 0; c < d; ++c) {
            ref.d_q[q_at(bi, i, h) + c] += ds * k[kv_at(bi, j, kvh) + c];
            ref.d_k[kv_at(bi, j, kvh) + c] += ds * q[q_at(bi, i, h) + c];
            ref.d_v[kv_at(bi, j, kvh) + c] += p[i * s + j] * d_out[q_at(bi, i, h) + c];
          }
        }
      }
    }
  return ref;
}

class AttentionTest : public ::testing::TestWithParam<AttentionShape> {};

TEST_P(AttentionTest, ForwardAndBackwardMatchCpuReference) {
  PRIMUS_SKIP_WITHOUT_GPU();
  const AttentionShape shape = GetParam();
  const auto q_count = static_cast<std::size_t>(shape.batch * shape.seq_len * shape.num_q_heads * shape.head_dim);
  const auto kv_count = static_cast<std::size_t>(shape.batch * shape.seq_len * shape.num_kv_heads * shape.head_dim);
  const auto lse_count = static_cast<std::size_t>(shape.batch * shape.num_q_heads * shape.seq_len);
  std::mt19937_64 generator(std::random_device{}());
  const auto q = random_bf16(q_count, generator), k = random_bf16(kv_count, generator),
             v = random_bf16(kv_count, generator), d_out = random_bf16(q_count, generator);
  const Reference ref = reference_attention(shape, q.exact, k.exact, v.exact, d_out.exact);

  cudaStream_t stream = nullptr;
  PRIMUS_CUDA_CHECK(cudaStreamCreate(&stream));
  // With autotune the first call runs every candidate engine before the chosen one: both must be right.
  for (const bool autotune : {false, true}) {
    SCOPED_TRACE(autotune ? "autotune on" : "autotune off");
    FlashAttention attention(stream, autotune);
    DeviceBuffer<bf16> q_buf(q_count), k_buf(kv_count), v_buf(kv_count), out_buf(q_count), d_out_buf(q_count),
        d_q_buf(q_count), d_k_buf(kv_count), d_v_buf(kv_count);
    DeviceBuffer<float> lse_buf(lse_count);
    q_buf.upload(q.values);
    k_buf.upload(k.values);
    v_buf.upload(v.values);
    d_out_buf.upload(d_out.values);
    out_buf.poison();
    lse_buf.poison();
    attention.forward(shape, q_buf.get(), k_buf.get(), v_buf.get(), out_buf.get(), lse_buf.get());
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
    const double out_error = relative_error(out_buf.download(), ref.out);
    const double lse_error = relative_error(lse_buf.download(), ref.lse);
    EXPECT_LT(out_error, kTolerance) << "out";
    EXPECT_LT(lse_error, kTolerance) << "softmax_lse";

    d_q_buf.poison();
    d_k_buf.poison();
    d_v_buf.poison();
    attention.backward(shape, q_buf.get(), k_buf.get(), v_buf.get(), out_buf.get(), d_out_buf.get(), lse_buf.get(),
                       d_q_buf.get(), d_k_buf.get(), d_v_buf.get());
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
    const double d_q_error = relative_error(d_q_buf.download(), ref.d_q);
    const double d_k_error = relative_error(d_k_buf.download(), ref.d_k);
    const double d_v_error = relative_error(d_v_buf.download(), ref.d_v);
    EXPECT_LT(d_q_error, kTolerance) << "d_q";
    EXPECT_LT(d_k_error, kTolerance) << "d_k";
    EXPECT_LT(d_v_error, kTolerance) << "d_v";
    std::cout << "[ rel err  ] out " << out_error << " lse " << lse_error << " d_q " << d_q_error << " d_k "
              << d_k_error << " d_v " << d_v_error << "\n";
    std::cout << "[ plans    ] " << attention.describe_plans(shape) << "\n";

    // A second call reuses the cached graphs.
    attention.forward(shape, q_buf.get(), k_buf.get(), v_buf.get(), out_buf.get(), lse_buf.get());
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
    EXPECT_EQ(attention.cached_graph_count(), 2u);
  }
  PRIMUS_CUDA_CHECK(cudaStreamDestroy(stream));
}

AttentionShape small_shape(int64_t head_dim) {
  AttentionShape shape;
  shape.batch = 2, shape.seq_len = 128, shape.num_q_heads = 8, shape.num_kv_heads = 2, shape.head_dim = head_dim;
  return shape;
}

AttentionShape multi_head_shape() {
  AttentionShape shape = small_shape(64);
  shape.num_kv_heads = 8;  // MHA path: no head-group reduction
  return shape;
}

AttentionShape odd_length_shape() {
  AttentionShape shape = small_shape(128);
  shape.batch = 1, shape.seq_len = 200;  // not a multiple of the engine's 64/128-row tiles
  return shape;
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionTest,
                         ::testing::Values(small_shape(64), small_shape(128), multi_head_shape(),
                                           odd_length_shape()),
                         [](const ::testing::TestParamInfo<AttentionShape>& info) {
                           const AttentionShape& shape = info.param;
                           return "b" + std::to_string(shape.batch) + "_s" + std::to_string(shape.seq_len) + "_hq" +
                                  std::to_string(shape.num_q_heads) + "_hkv" + std::to_string(shape.num_kv_heads) +
                                  "_d" + std::to_string(shape.head_dim);
                         });

TEST(FlashAttention, RejectsHeadCountsThatDoNotGroup) {
  PRIMUS_SKIP_WITHOUT_GPU();
  FlashAttention attention(nullptr);
  AttentionShape shape = small_shape(64);
  shape.num_kv_heads = 3;
  EXPECT_THROW(attention.forward(shape, nullptr, nullptr, nullptr, nullptr, nullptr), std::invalid_argument);
}

TEST(FlashAttention, RejectsMisalignedPointers) {
  PRIMUS_SKIP_WITHOUT_GPU();
  FlashAttention attention(nullptr);
  const AttentionShape shape = small_shape(64);
  const auto q_count = static_cast<std::size_t>(shape.batch * shape.seq_len * shape.num_q_heads * shape.head_dim);
  DeviceBuffer<bf16> q(q_count + 1), k(q_count), v(q_count), out(q_count);
  DeviceBuffer<float> lse(static_cast<std::size_t>(shape.batch * shape.num_q_heads * shape.seq_len));
  EXPECT_THROW(attention.forward(shape, q.get() + 1, k.get(), v.get(), out.get(), lse.get()), std::invalid_argument);
}

}  // namespace
}  // namespace primus::ops::cuda
