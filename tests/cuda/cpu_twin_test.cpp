// Every CUDA op against its CPU twin (src/primus/ops/cpu) on fresh random inputs: the CPU
// op runs in fp32 on the bf16-rounded inputs the GPU sees; outputs are NaN-poisoned before
// the GPU runs; ||gpu - cpu|| / ||cpu|| must stay under 1e-2 for bf16 outputs (1e-3 for fp32
// statistics and main grads), and NaN/Inf never passes.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "primus/ops/cpu/attention.hpp"
#include "primus/ops/cpu/cross_entropy.hpp"
#include "primus/ops/cpu/embedding.hpp"
#include "primus/ops/cpu/gelu.hpp"
#include "primus/ops/cpu/layernorm.hpp"
#include "primus/ops/cpu/linear.hpp"
#include "primus/ops/cpu/qkv_split.hpp"
#include "primus/ops/cpu/residual.hpp"
#include "primus/ops/cpu/rmsnorm.hpp"
#include "primus/ops/cpu/rope.hpp"
#include "primus/ops/cpu/swiglu.hpp"
#include "primus/ops/cuda/attention.hpp"
#include "primus/ops/cuda/cross_entropy.hpp"
#include "primus/ops/cuda/cuda_check.hpp"
#include "primus/ops/cuda/embedding.hpp"
#include "primus/ops/cuda/gelu.hpp"
#include "primus/ops/cuda/gemm.hpp"
#include "primus/ops/cuda/layernorm.hpp"
#include "primus/ops/cuda/qkv_split.hpp"
#include "primus/ops/cuda/residual.hpp"
#include "primus/ops/cuda/rmsnorm.hpp"
#include "primus/ops/cuda/rope.hpp"
#include "primus/ops/cuda/swiglu.hpp"

namespace primus::ops::twin_test {
namespace {

using bf16 = __nv_bfloat16;

bool gpu_present() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}
#define SKIP_WITHOUT_GPU() \
  if (!gpu_present()) GTEST_SKIP() << "no CUDA GPU on this machine"

// Fresh inputs each run (time-seeded), reported on failure.
unsigned fresh_seed() { return static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()); }

// Random values already rounded to bf16, so both twins see the same inputs.
std::vector<float> random_bf16_values(std::size_t n, std::mt19937& rng, float stddev = 1.0f, float mean = 0.0f) {
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = __bfloat162float(__float2bfloat16_rn(dist(rng)));
  return v;
}

template <typename T>
struct Device {
  T* ptr = nullptr;
  std::size_t n = 0;
  explicit Device(std::size_t count) : n(count) {
    PRIMUS_CUDA_CHECK(cudaMalloc(&ptr, n * sizeof(T)));
    PRIMUS_CUDA_CHECK(cudaMemset(ptr, 0xFF, n * sizeof(T)));  // NaN in bf16 and fp32
  }
  ~Device() { cudaFree(ptr); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
};

std::unique_ptr<Device<bf16>> upload_bf16(const std::vector<float>& v) {
  std::vector<bf16> h(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) h[i] = __float2bfloat16_rn(v[i]);
  auto d = std::make_unique<Device<bf16>>(v.size());
  PRIMUS_CUDA_CHECK(cudaMemcpy(d->ptr, h.data(), h.size() * sizeof(bf16), cudaMemcpyHostToDevice));
  return d;
}
template <typename T>
std::unique_ptr<Device<T>> upload(const std::vector<T>& v) {
  auto d = std::make_unique<Device<T>>(v.size());
  PRIMUS_CUDA_CHECK(cudaMemcpy(d->ptr, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}
std::vector<float> download(const Device<bf16>& d) {
  PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<bf16> h(d.n);
  PRIMUS_CUDA_CHECK(cudaMemcpy(h.data(), d.ptr, d.n * sizeof(bf16), cudaMemcpyDeviceToHost));
  std::vector<float> out(d.n);
  for (std::size_t i = 0; i < d.n; ++i) out[i] = __bfloat162float(h[i]);
  return out;
}
std::vector<float> download(const Device<float>& d) {
  PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<float> out(d.n);
  PRIMUS_CUDA_CHECK(cudaMemcpy(out.data(), d.ptr, d.n * sizeof(float), cudaMemcpyDeviceToHost));
  return out;
}

double relative_error(const std::vector<float>& gpu, const std::vector<float>& cpu) {
  if (gpu.size() != cpu.size()) return std::numeric_limits<double>::infinity();
  double diff = 0.0, ref = 0.0;
  for (std::size_t i = 0; i < gpu.size(); ++i) {
    if (!std::isfinite(gpu[i])) return std::numeric_limits<double>::infinity();
    diff += (double(gpu[i]) - cpu[i]) * (double(gpu[i]) - cpu[i]);
    ref += double(cpu[i]) * cpu[i];
  }
  return std::sqrt(diff / std::max(ref, 1e-30));
}

constexpr double kBf16 = 1e-2;
constexpr double kFp32 = 1e-3;
#define EXPECT_CLOSE(gpu, cpu, tol, what) EXPECT_LT(relative_error(gpu, cpu), tol) << what << " (seed " << seed << ")"

TEST(CpuTwin, RmsnormAndLayernorm) {
  SKIP_WITHOUT_GPU();
  const unsigned seed = fresh_seed();
  std::mt19937 rng(seed);
  const std::int64_t rows = 37, dim = 264;
  for (bool layernorm : {false, true}) {
    for (bool one_p : {false, true}) {
      auto in = random_bf16_values(rows * dim, rng, 2.0f, 0.5f);
      auto w = random_bf16_values(dim, rng, 0.3f, one_p ? 0.0f : 1.0f);
      auto b = random_bf16_values(dim, rng, 0.1f);
      auto dout = random_bf16_values(rows * dim, rng);
      std::vector<float> out(rows * dim), mean(rows), rstd(rows), din(rows * dim), dw(dim, 0.0f), db(dim, 0.0f);
      auto d_in = upload_bf16(in), d_w = upload_bf16(w), d_b = upload_bf16(b), d_dout = upload_bf16(dout);
      Device<bf16> g_out(rows * dim), g_din(rows * dim);
      Device<float> g_mean(rows), g_rstd(rows);
      auto g_dw = upload(std::vector<float>(dim, 0.0f)), g_db = upload(std::vector<float>(dim, 0.0f));
      if (layernorm) {
        cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), in.data(), w.data(), b.data(), rows, dim, 1e-5f,
                               one_p);
        cpu::layernorm_backward(din.data(), dw.data(), db.data(), dout.data(), in.data(), w.data(), mean.data(),
                                rstd.data(), rows, dim, one_p);
        Device<float> scratch(cuda::layernorm_backward_scratch_floats(rows, dim));
        cuda::layernorm_forward(g_out.ptr, g_mean.ptr, g_rstd.ptr, d_in->ptr, d_w->ptr, d_b->ptr, rows, dim, 1e-5f,
                                one_p, nullptr);
        cuda::layernorm_backward(g_din.ptr, g_dw->ptr, g_db->ptr, d_dout->ptr, d_in->ptr, d_w->ptr, g_mean.ptr,
                                 g_rstd.ptr, rows, dim, one_p, scratch.ptr, nullptr);
        EXPECT_CLOSE(download(g_mean), mean, kFp32, "layernorm mean");
        EXPECT_CLOSE(download(*g_db), db, kFp32, "layernorm dbias");
      } else {
        cpu::rmsnorm_forward(out.data(), rstd.data(), in.data(), w.data(), rows, dim, 1e-5f, one_p);
        cpu::rmsnorm_backward(din.data(), dw.data(), dout.data(), in.data(), w.data(), rstd.data(), rows, dim, one_p);
        Device<float> scratch(cuda::rmsnorm_backward_scratch_floats(rows, dim));
        cuda::rmsnorm_forward(g_out.ptr, g_rstd.ptr, d_in->ptr, d_w->ptr, rows, dim, 1e-5f, one_p, nullptr);
        cuda::rmsnorm_backward(g_din.ptr, g_dw->ptr, d_dout->ptr, d_in->ptr, d_w->ptr, g_rstd.ptr, rows, dim, one_p,
                               scratch.ptr, nullptr, nullptr);
      }
      EXPECT_CLOSE(download(g_out), out, kBf16, "norm out, layernorm=" << layernorm << " 1p=" << one_p);
      EXPECT_CLOSE(download(g_rstd), rstd, kFp32, "norm rstd");
      EXPECT_CLOSE(download(g_din), din, kBf16, "norm din");
      EXPECT_CLOSE(download(*g_dw), dw, kFp32 * 5, "norm dweight (bf16 dout and in)");
    }
  }
}

TEST(CpuTwin, RopeBothLayouts) {
  SKIP_WITHOUT_GPU();
  const unsigned seed = fresh_seed();
  std::mt19937 rng(seed);
  const std::int64_t batch = 2, seq = 24, heads = 3, head_dim = 32;
  for (bool interleaved : {false, true}) {
    for (std::int64_t rotary_dim : {std::int64_t{32}, std::int64_t{16}}) {
      std::vector<float> cos(seq * rotary_dim / 2), sin(cos.size());
      for (std::int64_t s = 0; s < seq; ++s)
        for (std::int64_t i = 0; i < rotary_dim / 2; ++i) {
          const double angle = s * std::pow(10000.0, -2.0 * i / rotary_dim);
          cos[s * rotary_dim / 2 + i] = static_cast<float>(std::cos(angle));
          sin[s * rotary_dim / 2 + i] = static_cast<float>(std::sin(angle));
        }
      auto x = random_bf16_values(batch * seq * heads * head_dim, rng);
      auto dx = random_bf16_values(x.size(), rng);
      auto d_x = upload_bf16(x), d_dx = upload_bf16(dx);
      auto d_cos = upload(cos), d_sin = upload(sin);
      cpu::rope_forward(x.data(), cos.data(), sin.data(), batch, seq, heads, head_dim, rotary_dim, interleaved);
      cpu::rope_backward(dx.data(), cos.data(), sin.data(), batch, seq, heads, head_dim, rotary_dim, interleaved);
      cuda::rope_forward(d_x->ptr, d_cos->ptr, d_sin->ptr, batch, seq, heads, head_dim, rotary_dim, interleaved, nullptr);
      cuda::rope_backward(d_dx->ptr, d_cos->ptr, d_sin->ptr, batch, seq, heads, head_dim, rotary_dim, interleaved,
                          nullptr);
      EXPECT_CLOSE(download(*d_x), x, kBf16, "rope forward, interleaved=" << interleaved << " rotary " << rotary_dim);
      EXPECT_CLOSE(download(*d_dx), dx, kBf16, "rope backward");
    }
  }
}

TEST(CpuTwin, SwigluGeluResidualQkvSplit) {
  SKIP_WITHOUT_GPU();
  const unsigned seed = fresh_seed();
  std::mt19937 rng(seed);
  const std::int64_t rows = 19, ffn = 72;
  {
    auto in = random_bf16_values(rows * 2 * ffn, rng, 2.0f), dout = random_bf16_values(rows * ffn, rng);
    std::vector<float> out(rows * ffn), din(rows * 2 * ffn);
    cpu::swiglu_forward(out.data(), in.data(), rows, ffn);
    cpu::swiglu_backward(din.data(), dout.data(), in.data(), rows, ffn);
    auto d_in = upload_bf16(in), d_dout = upload_bf16(dout);
    Device<bf16> g_out(out.size()), g_din(din.size());
    cuda::swiglu_forward(g_out.ptr, d_in->ptr, rows, ffn, nullptr);
    cuda::swiglu_backward(g_din.ptr, d_dout->ptr, d_in->ptr, rows, ffn, nullptr);
    EXPECT_CLOSE(download(g_out), out, kBf16, "swiglu forward");
    EXPECT_CLOSE(download(g_din), din, kBf16, "swiglu backward");
  }
  {
    const std::int64_t n = rows * ffn;
    auto in = random_bf16_values(n, rng, 2.0f), dout = random_bf16_values(n, rng);
    std::vector<float> out(n), din(n);
    cpu::gelu_forward(out.data(), in.data(), n);
    cpu::gelu_backward(din.data(), dout.data(), in.data(), n);
    auto d_in = upload_bf16(in), d_dout = upload_bf16(dout);
    Device<bf16> g_out(n), g_din(n);
    cuda::gelu_forward(g_out.ptr, d_in->ptr, n, nullptr);
    cuda::gelu_backward(g_din.ptr, d_dout->ptr, d_in->ptr, n, nullptr);
    EXPECT_CLOSE(download(g_out), out, kBf16, "gelu forward");
    EXPECT_CLOSE(download(g_din), din, kBf16, "gelu backward");
  }
  {
    const std::int64_t n = 1001;
    auto a = random_bf16_values(n, rng), b = random_bf16_values(n, rng);
    std::vector<float> out(n), acc = a;
    cpu::residual_forward(out.data(), a.data(), b.data(), n);
    cpu::residual_backward(acc.data(), b.data(), n);
    auto d_a = upload_bf16(a), d_b = upload_bf16(b);
    Device<bf16> g_out(n);
    cuda::residual_forward(g_out.ptr, d_a->ptr, d_b->ptr, n, nullptr);
    cuda::residual_backward(d_a->ptr, d_b->ptr, n, nullptr);
    EXPECT_CLOSE(download(g_out), out, kBf16, "residual forward");
    EXPECT_CLOSE(download(*d_a), acc, kBf16, "residual backward");
  }
  {
    const std::int64_t heads = 8, groups = 2, head_dim = 16, width = (heads + 2 * groups) * head_dim;
    auto qkv = random_bf16_values(rows * width, rng);
    std::vector<float> q(rows * heads * head_dim), k(rows * groups * head_dim), v(k.size()), dqkv(qkv.size());
    cpu::qkv_split_forward(q.data(), k.data(), v.data(), qkv.data(), rows, heads, groups, head_dim);
    cpu::qkv_split_backward(dqkv.data(), q.data(), k.data(), v.data(), rows, heads, groups, head_dim);
    auto d_qkv = upload_bf16(qkv);
    Device<bf16> g_q(q.size()), g_k(k.size()), g_v(v.size()), g_dqkv(qkv.size());
    cuda::qkv_split_forward(g_q.ptr, g_k.ptr, g_v.ptr, d_qkv->ptr, rows, heads, groups, head_dim, nullptr);
    cuda::qkv_split_backward(g_dqkv.ptr, g_q.ptr, g_k.ptr, g_v.ptr, rows, heads, groups, head_dim, nullptr);
    EXPECT_CLOSE(download(g_q), q, kBf16, "qkv split q");
    EXPECT_CLOSE(download(g_k), k, kBf16, "qkv split k");
    EXPECT_CLOSE(download(g_v), v, kBf16, "qkv split v");
    EXPECT_CLOSE(download(g_dqkv), dqkv, kBf16, "qkv split backward");
  }
}

TEST(CpuTwin, EmbeddingAndCrossEntropy) {
  SKIP_WITHOUT_GPU();
  const unsigned seed = fresh_seed();
  std::mt19937 rng(seed);
  const std::int64_t batch = 2, seq = 33, rows = batch * seq, vocab = 200, hidden = 48;
  std::uniform_int_distribution<int> token(0, static_cast<int>(vocab) - 1);
  std::vector<std::int32_t> tokens(rows), labels(rows);
  for (auto& t : tokens) t = token(rng) % 17;  // repeated tokens exercise the accumulation
  for (auto& t : labels) t = token(rng);
  auto weight = random_bf16_values(vocab * hidden, rng), pos = random_bf16_values(seq * hidden, rng);
  auto dout = random_bf16_values(rows * hidden, rng);
  std::vector<float> out(rows * hidden), dw(vocab * hidden, 0.0f), dpos(seq * hidden, 0.0f);
  cpu::embedding_forward(out.data(), tokens.data(), weight.data(), rows, vocab, hidden);
  cpu::position_embedding_forward(out.data(), pos.data(), batch, seq, hidden);
  cpu::embedding_backward(dw.data(), dout.data(), tokens.data(), rows, vocab, hidden);
  cpu::position_embedding_backward(dpos.data(), dout.data(), batch, seq, hidden);
  auto d_tokens = upload(tokens), d_labels = upload(labels);
  auto d_weight = upload_bf16(weight), d_pos = upload_bf16(pos), d_dout = upload_bf16(dout);
  Device<bf16> g_out(out.size());
  auto g_dw = upload(std::vector<float>(dw.size(), 0.0f)), g_dpos = upload(std::vector<float>(dpos.size(), 0.0f));
  Device<char> scratch(cuda::embedding_backward_scratch_bytes(rows));
  cuda::embedding_forward(g_out.ptr, d_tokens->ptr, d_weight->ptr, rows, vocab, hidden, nullptr);
  cuda::position_embedding_forward(g_out.ptr, d_pos->ptr, batch, seq, hidden, nullptr);
  cuda::embedding_backward(g_dw->ptr, d_dout->ptr, d_tokens->ptr, rows, vocab, hidden, scratch.ptr, scratch.n, nullptr);
  cuda::position_embedding_backward(g_dpos->ptr, d_dout->ptr, batch, seq, hidden, nullptr);
  EXPECT_CLOSE(download(g_out), out, kBf16, "embedding forward");
  EXPECT_CLOSE(download(*g_dw), dw, kFp32, "embedding backward");
  EXPECT_CLOSE(download(*g_dpos), dpos, kFp32, "position embedding backward");

  auto logits = random_bf16_values(rows * vocab, rng, 3.0f);
  auto dlosses = random_bf16_values(rows, rng, 0.1f);
  std::vector<float> losses(rows), lse(rows), dlogits(logits.size());
  cpu::cross_entropy_forward(losses.data(), lse.data(), logits.data(), labels.data(), rows, vocab);
  cpu::cross_entropy_backward(dlogits.data(), logits.data(), lse.data(), labels.data(), dlosses.data(), rows, vocab);
  auto d_logits = upload_bf16(logits);
  auto d_dlosses = upload(dlosses);
  Device<float> g_losses(rows), g_lse(rows);
  cuda::cross_entropy_forward(g_losses.ptr, g_lse.ptr, d_logits->ptr, d_labels->ptr, rows, vocab, nullptr);
  cuda::cross_entropy_backward(d_logits->ptr, d_logits->ptr, g_lse.ptr, d_labels->ptr, d_dlosses->ptr, rows, vocab,
                               nullptr);
  EXPECT_CLOSE(download(g_losses), losses, kFp32, "cross-entropy losses");
  EXPECT_CLOSE(download(g_lse), lse, kFp32, "cross-entropy lse");
  EXPECT_CLOSE(download(*d_logits), dlogits, kBf16, "cross-entropy dlogits (in place)");
}

TEST(CpuTwin, LinearGemms) {
  SKIP_WITHOUT_GPU();
  const unsigned seed = fresh_seed();
  std::mt19937 rng(seed);
  const std::int64_t rows = 40, in_f = 72, out_f = 56;
  auto in = random_bf16_values(rows * in_f, rng), w = random_bf16_values(out_f * in_f, rng, 0.2f);
  auto bias = random_bf16_values(out_f, rng), dout = random_bf16_values(rows * out_f, rng);
  std::vector<float> out(rows * out_f), din(rows * in_f), dw(out_f * in_f, 0.0f), db(out_f, 0.0f);
  cpu::linear_forward(out.data(), in.data(), w.data(), bias.data(), rows, in_f, out_f);
  cpu::linear_backward(din.data(), dw.data(), db.data(), dout.data(), in.data(), w.data(), rows, in_f, out_f);
  cudaStream_t stream;
  PRIMUS_CUDA_CHECK(cudaStreamCreate(&stream));
  {
    cuda::GemmRunner gemm(stream);
    auto d_in = upload_bf16(in), d_w = upload_bf16(w), d_b = upload_bf16(bias), d_dout = upload_bf16(dout);
    Device<bf16> g_out(out.size()), g_din(din.size());
    Device<float> g_dw(dw.size()), g_db(db.size());  // NaN-poisoned: accumulate=false must overwrite (beta 0)
    gemm.linear_forward(d_in->ptr, d_w->ptr, d_b->ptr, g_out.ptr, rows, in_f, out_f);
    gemm.linear_backward_input(d_dout->ptr, d_w->ptr, g_din.ptr, rows, in_f, out_f);
    gemm.linear_backward_weight(d_dout->ptr, d_in->ptr, g_dw.ptr, rows, in_f, out_f, /*accumulate=*/false);
    gemm.linear_backward_bias(d_dout->ptr, g_db.ptr, rows, out_f, /*accumulate=*/false);
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
    EXPECT_CLOSE(download(g_out), out, kBf16, "linear forward + bias");
    EXPECT_CLOSE(download(g_din), din, kBf16, "linear d_input");
    EXPECT_CLOSE(download(g_dw), dw, kFp32, "linear d_weight (fp32, beta 0)");
    EXPECT_CLOSE(download(g_db), db, kFp32, "linear d_bias");
  }
  PRIMUS_CUDA_CHECK(cudaStreamDestroy(stream));
}

TEST(CpuTwin, CausalGqaAttention) {
  SKIP_WITHOUT_GPU();
  const unsigned seed = fresh_seed();
  std::mt19937 rng(seed);
  const std::int64_t batch = 2, seq = 40, heads = 4, groups = 2, head_dim = 32;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  auto q = random_bf16_values(batch * seq * heads * head_dim, rng), dout = random_bf16_values(q.size(), rng);
  auto k = random_bf16_values(batch * seq * groups * head_dim, rng), v = random_bf16_values(k.size(), rng);
  std::vector<float> out(q.size()), lse(batch * heads * seq), dq(q.size()), dk(k.size()), dv(v.size());
  cpu::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), batch, seq, heads, groups, head_dim,
                         scale);
  cudaStream_t stream;
  PRIMUS_CUDA_CHECK(cudaStreamCreate(&stream));
  {
    cuda::FlashAttention attention(stream, /*autotune=*/false);
    cuda::AttentionShape shape{batch, seq, heads, groups, head_dim, scale};
    auto d_q = upload_bf16(q), d_k = upload_bf16(k), d_v = upload_bf16(v), d_dout = upload_bf16(dout);
    Device<bf16> g_out(out.size()), g_dq(dq.size()), g_dk(dk.size()), g_dv(dv.size());
    Device<float> g_lse(lse.size());
    attention.forward(shape, d_q->ptr, d_k->ptr, d_v->ptr, g_out.ptr, g_lse.ptr);
    // The CPU backward takes the GPU's (bf16-rounded) forward output, as the GPU backward does.
    const auto gpu_out = download(g_out);
    cpu::attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(), v.data(),
                            gpu_out.data(), lse.data(), batch, seq, heads, groups, head_dim, scale);
    attention.backward(shape, d_q->ptr, d_k->ptr, d_v->ptr, g_out.ptr, d_dout->ptr, g_lse.ptr, g_dq.ptr, g_dk.ptr,
                       g_dv.ptr);
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
    EXPECT_CLOSE(gpu_out, out, kBf16, "attention out");
    EXPECT_CLOSE(download(g_lse), lse, kFp32, "attention lse");
    EXPECT_CLOSE(download(g_dq), dq, 2 * kBf16, "attention dq");
    EXPECT_CLOSE(download(g_dk), dk, 2 * kBf16, "attention dk");
    EXPECT_CLOSE(download(g_dv), dv, 2 * kBf16, "attention dv");
  }
  PRIMUS_CUDA_CHECK(cudaStreamDestroy(stream));
}

}  // namespace
}  // namespace primus::ops::twin_test
