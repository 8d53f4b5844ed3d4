// Bandwidth of the fused kernels on Llama-3-8B-sized inputs, next to a device-to-device
// copy measured in the same run. Runs only with PRIMUS_CUDA_BENCH=1 (skipped otherwise);
// prints one "BENCH" line per kernel (kernel_benchmark_support.hpp).
#include "kernel_benchmark_support.hpp"
#include "primus/ops/cuda/adamw.hpp"
#include "primus/ops/cuda/cast.hpp"
#include "primus/ops/cuda/cross_entropy.hpp"
#include "primus/ops/cuda/embedding.hpp"
#include "primus/ops/cuda/gelu.hpp"
#include "primus/ops/cuda/grad_norm.hpp"
#include "primus/ops/cuda/layernorm.hpp"
#include "primus/ops/cuda/qkv_split.hpp"
#include "primus/ops/cuda/residual.hpp"
#include "primus/ops/cuda/rmsnorm.hpp"
#include "primus/ops/cuda/rope.hpp"
#include "primus/ops/cuda/swiglu.hpp"

namespace primus::ops::cuda::test {
namespace {

TEST(Benchmark, KernelsCopyBaseline) {
  PRIMUS_SKIP_UNLESS_BENCH();
  const std::size_t bytes = std::size_t{4} << 30;
  DeviceBuffer<unsigned char> a(bytes), b(bytes);
  const double ms =
      time_ms([&] { PRIMUS_KERNEL_CHECK(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice)); }, 10);
  report("copy (cudaMemcpy D2D)", "4 GiB", ms, 2.0 * bytes);
}

TEST(Benchmark, KernelsActivations) {
  PRIMUS_SKIP_UNLESS_BENCH();
  const std::int64_t rows = 8192, hidden = 4096, ffn = 14336, vocab = 128256, heads = 32, head_dim = 128;
  const std::size_t n = rows * hidden;
  {
    auto x = zeros<bf16>(n), res = zeros<bf16>(n), out = zeros<bf16>(n), w = zeros<bf16>(hidden), dy = zeros<bf16>(n),
         dx = zeros<bf16>(n);
    auto rstd = zeros<float>(rows), dw = zeros<float>(hidden),
         scratch = zeros<float>(rmsnorm_backward_scratch_floats(rows, hidden));
    report(
        "rmsnorm_forward", "8192x4096",
        time_ms([&] { rmsnorm_forward(out.get(), rstd.get(), x.get(), w.get(), rows, hidden, 1e-5f, false, nullptr); },
                20),
        4.0 * n);
    report("rmsnorm_backward", "8192x4096",
           time_ms(
               [&] {
                 rmsnorm_backward(dx.get(), dw.get(), dy.get(), x.get(), w.get(), rstd.get(), rows, hidden, false,
                                  scratch.get(), nullptr, nullptr);
               },
               20),
           6.0 * n);
    report("rmsnorm_backward+dresidual", "8192x4096",
           time_ms(
               [&] {
                 rmsnorm_backward(dx.get(), dw.get(), dy.get(), x.get(), w.get(), rstd.get(), rows, hidden, false,
                                  scratch.get(), res.get(), nullptr);
               },
               20),
           8.0 * n);
    {
      // The same bytes in rows of 16384: the 1024-thread blocks that re-read the row.
      const std::int64_t wide_rows = rows / 4, wide = hidden * 4;
      auto wide_w = zeros<bf16>(wide);
      auto wide_dw = zeros<float>(wide), wide_scratch = zeros<float>(rmsnorm_backward_scratch_floats(wide_rows, wide));
      report("rmsnorm_forward", "2048x16384",
             time_ms(
                 [&] {
                   rmsnorm_forward(out.get(), rstd.get(), x.get(), wide_w.get(), wide_rows, wide, 1e-5f, false,
                                   nullptr);
                 },
                 20),
             4.0 * n);
      report("rmsnorm_backward", "2048x16384",
             time_ms(
                 [&] {
                   rmsnorm_backward(dx.get(), wide_dw.get(), dy.get(), x.get(), wide_w.get(), rstd.get(), wide_rows,
                                    wide, false, wide_scratch.get(), nullptr, nullptr);
                 },
                 20),
             6.0 * n);
    }
    {
      auto b = zeros<bf16>(hidden);
      auto mean = zeros<float>(rows), db = zeros<float>(hidden);
      auto ln_scratch = zeros<float>(layernorm_backward_scratch_floats(rows, hidden));
      report("layernorm_forward", "8192x4096",
             time_ms(
                 [&] {
                   layernorm_forward(out.get(), mean.get(), rstd.get(), x.get(), w.get(), b.get(), rows, hidden, 1e-5f,
                                     false, nullptr);
                 },
                 20),
             4.0 * n);
      report("layernorm_backward", "8192x4096",
             time_ms(
                 [&] {
                   layernorm_backward(dx.get(), dw.get(), db.get(), dy.get(), x.get(), w.get(), mean.get(), rstd.get(),
                                      rows, hidden, false, ln_scratch.get(), nullptr);
                 },
                 20),
             6.0 * n);
    }
    report("gelu_forward", "8192x4096", time_ms([&] { gelu_forward(out.get(), x.get(), n, nullptr); }, 20), 4.0 * n);
    report("gelu_backward", "8192x4096", time_ms([&] { gelu_backward(dx.get(), dy.get(), x.get(), n, nullptr); }, 20),
           6.0 * n);
    report("residual_forward", "8192x4096",
           time_ms([&] { residual_forward(out.get(), x.get(), res.get(), n, nullptr); }, 20), 6.0 * n);
    auto cos = zeros<float>(rows * head_dim / 2), sin = zeros<float>(rows * head_dim / 2);
    auto q = zeros<bf16>(rows * heads * head_dim);
    for (const bool interleaved : {false, true})
      report(interleaved ? "rope_forward interleaved" : "rope_forward", "1x8192x32x128",
             time_ms(
                 [&] {
                   rope_forward(q.get(), cos.get(), sin.get(), 1, rows, heads, head_dim, head_dim, interleaved,
                                nullptr);
                 },
                 20),
             4.0 * rows * heads * head_dim);
    {
      // Llama-3-8B fused QKV: 32 query heads, 8 groups, head_dim 128 -> 6144 columns.
      const std::int64_t groups = 8, width = (heads + 2 * groups) * head_dim;
      auto qkv = zeros<bf16>(rows * width), k = zeros<bf16>(rows * groups * head_dim),
           v = zeros<bf16>(rows * groups * head_dim);
      report(
          "qkv_split_forward", "8192x6144",
          time_ms(
              [&] { qkv_split_forward(q.get(), k.get(), v.get(), qkv.get(), rows, heads, groups, head_dim, nullptr); },
              20),
          4.0 * rows * width);
      report(
          "qkv_split_backward", "8192x6144",
          time_ms(
              [&] { qkv_split_backward(qkv.get(), q.get(), k.get(), v.get(), rows, heads, groups, head_dim, nullptr); },
              20),
          4.0 * rows * width);
    }
    auto table = zeros<bf16>(vocab * hidden);
    auto dtable = zeros<float>(vocab * hidden);
    std::vector<std::int32_t> host_tokens(rows);
    for (std::int64_t r = 0; r < rows; ++r) host_tokens[r] = static_cast<std::int32_t>((r * 7919) % vocab);
    DeviceBuffer<std::int32_t> tokens(host_tokens);
    report("embedding_forward", "8192x4096",
           time_ms([&] { embedding_forward(out.get(), tokens.get(), table.get(), rows, vocab, hidden, nullptr); }, 20),
           4.0 * n);
    const std::size_t embedding_scratch = embedding_backward_scratch_bytes(rows);
    DeviceBuffer<unsigned char> escratch(embedding_scratch);
    report("embedding_backward", "8192x4096",
           time_ms(
               [&] {
                 embedding_backward(dtable.get(), dy.get(), tokens.get(), rows, vocab, hidden, escratch.get(),
                                    embedding_scratch, nullptr);
               },
               20),
           10.0 * n);
  }
  {
    auto in = zeros<bf16>(rows * 2 * ffn), out = zeros<bf16>(rows * ffn), din = zeros<bf16>(rows * 2 * ffn);
    const double elements = double(rows) * ffn;
    report("swiglu_forward", "8192x28672",
           time_ms([&] { swiglu_forward(out.get(), in.get(), rows, ffn, nullptr); }, 10), 6.0 * elements);
    report("swiglu_backward", "8192x28672",
           time_ms([&] { swiglu_backward(din.get(), out.get(), in.get(), rows, ffn, nullptr); }, 10), 10.0 * elements);
  }
  {
    auto logits = zeros<bf16>(rows * vocab);
    auto losses = zeros<float>(rows), lse = zeros<float>(rows), dloss = zeros<float>(rows);
    std::vector<std::int32_t> host_labels(rows);
    for (std::int64_t r = 0; r < rows; ++r) host_labels[r] = static_cast<std::int32_t>((r * 104729) % vocab);
    DeviceBuffer<std::int32_t> labels(host_labels);
    const double elements = double(rows) * vocab;
    report(
        "cross_entropy_forward", "8192x128256",
        time_ms(
            [&] { cross_entropy_forward(losses.get(), lse.get(), logits.get(), labels.get(), rows, vocab, nullptr); },
            10),
        2.0 * elements);
    report("cross_entropy_forward_backward", "8192x128256",
           time_ms(
               [&] {
                 cross_entropy_forward_backward(losses.get(), lse.get(), logits.get(), logits.get(), labels.get(),
                                                dloss.get(), rows, vocab, nullptr);
               },
               10),
           4.0 * elements);
    report("cross_entropy_backward", "8192x128256",
           time_ms(
               [&] {
                 cross_entropy_backward(logits.get(), logits.get(), lse.get(), labels.get(), dloss.get(), rows, vocab,
                                        nullptr);
               },
               10),
           4.0 * elements);
  }
}

TEST(Benchmark, KernelsOptimizer) {
  PRIMUS_SKIP_UNLESS_BENCH();
  // Llama-3-8B's parameter count, or what fits: five buffers of 18 bytes per element in all.
  std::size_t free_bytes = 0, total_bytes = 0;
  PRIMUS_KERNEL_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  std::int64_t numel = 2'800'000'000;
  const std::int64_t fits = static_cast<std::int64_t>((free_bytes - (std::size_t{2} << 30)) / 18);
  if (numel > fits) numel = fits / 1024 * 1024;
  const std::string shape = std::to_string(numel / 1000000) + "M fp32";
  auto params = zeros<float>(numel), grads = zeros<float>(numel), m = zeros<float>(numel), v = zeros<float>(numel);
  auto model = zeros<bf16>(numel);
  std::vector<AdamWSegment> host_segments;
  const std::int64_t segment_count = 291;  // Llama-3-8B's parameter tensors
  for (std::int64_t s = 0; s < segment_count; ++s)
    host_segments.push_back(
        {numel * s / segment_count, numel * (s + 1) / segment_count, static_cast<std::int32_t>(s % 2), 0});
  DeviceBuffer<AdamWSegment> segments(host_segments);
  auto clip = zeros<float>(1);
  auto scratch = zeros<double>(grad_sum_of_squares_scratch_doubles(numel)), sum = zeros<double>(1);
  const AdamWHyperparameters hyper{3e-4, 0.9, 0.95, 1e-8, 0.1, 10};
  report("adamw_step", shape,
         time_ms(
             [&] {
               adamw_step(params.get(), model.get(), m.get(), v.get(), grads.get(), clip.get(), nullptr, segments.get(),
                          segment_count, numel, hyper, nullptr);
             },
             5),
         30.0 * numel);
  report("grad_sum_of_squares", shape,
         time_ms([&] { grad_sum_of_squares(sum.get(), grads.get(), numel, scratch.get(), nullptr); }, 5), 4.0 * numel);
  {
    // The engine's case: an untied 128256 x 4096 word-embedding table first, ~8K rows touched.
    const std::int64_t row_elements = 4096, rows = std::min<std::int64_t>(128256, numel / row_elements);
    std::vector<std::uint8_t> host_marks(static_cast<std::size_t>(rows), 0);
    for (std::int64_t r = 0; r < rows; r += 16) host_marks[static_cast<std::size_t>(r)] = 1;
    DeviceBuffer<std::uint8_t> marks(host_marks);
    const ZeroRows zero{marks.get(), 0, rows, row_elements};
    const double read = 4.0 * static_cast<double>(numel - rows * row_elements + rows / 16 * row_elements);
    report("grad_sum_of_squares, embedding rows 1/16 touched", shape,
           time_ms([&] { grad_sum_of_squares(sum.get(), grads.get(), numel, scratch.get(), nullptr, zero); }, 5), read);
  }
  report("cast_fp32_to_bf16", shape, time_ms([&] { cast_fp32_to_bf16(model.get(), params.get(), numel, nullptr); }, 5),
         6.0 * numel);
  report("cast_bf16_to_fp32", shape, time_ms([&] { cast_bf16_to_fp32(grads.get(), model.get(), numel, nullptr); }, 5),
         6.0 * numel);
}

}  // namespace
}  // namespace primus::ops::cuda::test
