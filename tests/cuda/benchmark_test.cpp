// Timings on the Llama 3 8B shapes (GEMMs at 8192 tokens, attention at s 8192,
// 32 q / 8 kv heads, d 128, causal). Run only with PRIMUS_CUDA_BENCH=1 (tools/gpu/cuda_check.sh):
// they take seconds and measure, they do not check. Each figure is the median of 30 timed
// runs after 5 warm-ups, timed with CUDA events, on inputs tiled from random bf16 values.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_support.hpp"
#include "primus/ops/cuda/attention.hpp"
#include "primus/ops/cuda/gemm.hpp"

namespace primus::ops::cuda {
namespace {

using testing::DeviceBuffer;

bool benchmarks_enabled() {
  const char* flag = std::getenv("PRIMUS_CUDA_BENCH");
  return flag && std::string(flag) == "1";
}

#define PRIMUS_SKIP_UNLESS_BENCH()                                                                 \
  PRIMUS_SKIP_WITHOUT_GPU();                                                                       \
  if (!benchmarks_enabled()) GTEST_SKIP() << "timing runs only with PRIMUS_CUDA_BENCH=1"

// Fills a device buffer by tiling one block of random bf16 values (never zeros).
void fill_random(DeviceBuffer<bf16>& buffer, std::mt19937_64& generator) {
  const std::size_t block = std::min<std::size_t>(buffer.count(), std::size_t{1} << 22);
  const auto values = testing::random_bf16(block, generator).values;
  for (std::size_t offset = 0; offset < buffer.count(); offset += block) {
    const std::size_t count = std::min(block, buffer.count() - offset);
    PRIMUS_CUDA_CHECK(cudaMemcpy(buffer.get() + offset, values.data(), count * sizeof(bf16), cudaMemcpyHostToDevice));
  }
}

double median_ms(cudaStream_t stream, const std::function<void()>& run, int warmup = 5, int repeats = 30) {
  for (int i = 0; i < warmup; ++i) run();
  cudaEvent_t start, stop;
  PRIMUS_CUDA_CHECK(cudaEventCreate(&start));
  PRIMUS_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<float> times;
  for (int i = 0; i < repeats; ++i) {
    PRIMUS_CUDA_CHECK(cudaEventRecord(start, stream));
    run();
    PRIMUS_CUDA_CHECK(cudaEventRecord(stop, stream));
    PRIMUS_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    PRIMUS_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  PRIMUS_CUDA_CHECK(cudaEventDestroy(start));
  PRIMUS_CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void report(const std::string& name, double flops, double ms) {
  std::printf("BENCH %-56s %9.3f ms %8.1f TFLOP/s\n", name.c_str(), ms, flops / (ms * 1e-3) / 1e12);
  std::fflush(stdout);
}

TEST(Benchmark, Llama3_8B_Gemms) {
  PRIMUS_SKIP_UNLESS_BENCH();
  struct Linear {
    const char* name;
    int64_t in, out;
  };
  const int64_t tokens = 8192;
  const Linear layers[] = {{"qkv", 4096, 6144}, {"o", 4096, 4096}, {"fc1", 4096, 28672}, {"fc2", 14336, 4096}};
  std::mt19937_64 generator(1234);
  cudaStream_t stream = nullptr;
  PRIMUS_CUDA_CHECK(cudaStreamCreate(&stream));
  {
    GemmRunner runner(stream);
    for (const Linear& layer : layers) {
      DeviceBuffer<bf16> input(static_cast<std::size_t>(tokens * layer.in)),
          weight(static_cast<std::size_t>(layer.out * layer.in)), output(static_cast<std::size_t>(tokens * layer.out)),
          d_output(static_cast<std::size_t>(tokens * layer.out)), d_input(static_cast<std::size_t>(tokens * layer.in));
      DeviceBuffer<float> main_grad(static_cast<std::size_t>(layer.out * layer.in));
      fill_random(input, generator);
      fill_random(weight, generator);
      fill_random(d_output, generator);
      PRIMUS_CUDA_CHECK(cudaMemset(main_grad.get(), 0, main_grad.bytes()));
      const double flops = 2.0 * tokens * layer.in * layer.out;
      const std::string shape =
          std::to_string(tokens) + "x" + std::to_string(layer.in) + "x" + std::to_string(layer.out);
      report(std::string(layer.name) + " forward " + shape, flops, median_ms(stream, [&] {
               runner.linear_forward(input.get(), weight.get(), nullptr, output.get(), tokens, layer.in, layer.out);
             }));
      // What the engine runs beside the optimizer's tail: plans for fewer SMs, and the residual
      // add in the epilogue (o and fc2).
      for (int sms : {120, 108, 96}) {
        runner.set_sm_count_target(sms);
        report(std::string(layer.name) + " forward, planned for " + std::to_string(sms) + " SMs " + shape, flops,
               median_ms(stream, [&] {
                 runner.linear_forward(input.get(), weight.get(), nullptr, output.get(), tokens, layer.in, layer.out);
               }));
      }
      runner.set_sm_count_target(0);
      if (layer.out == 4096) {
        DeviceBuffer<bf16> residual(static_cast<std::size_t>(tokens * layer.out));
        fill_random(residual, generator);
        report(std::string(layer.name) + " forward + residual " + shape, flops, median_ms(stream, [&] {
                 runner.linear_forward_residual(input.get(), weight.get(), nullptr, residual.get(), output.get(),
                                                tokens, layer.in, layer.out);
               }));
      }
      report(std::string(layer.name) + " d_input " + shape, flops, median_ms(stream, [&] {
               runner.linear_backward_input(d_output.get(), weight.get(), d_input.get(), tokens, layer.in, layer.out);
             }));
      report(std::string(layer.name) + " d_weight(+=fp32) " + shape, flops, median_ms(stream, [&] {
               runner.linear_backward_weight(d_output.get(), input.get(), main_grad.get(), tokens, layer.in,
                                             layer.out, true);
             }));
    }
  }
  PRIMUS_CUDA_CHECK(cudaStreamDestroy(stream));
}

TEST(Benchmark, Llama3_8B_Attention) {
  PRIMUS_SKIP_UNLESS_BENCH();
  AttentionShape shape;
  shape.batch = 1, shape.seq_len = 8192, shape.num_q_heads = 32, shape.num_kv_heads = 8, shape.head_dim = 128;
  const auto q_count = static_cast<std::size_t>(shape.batch * shape.seq_len * shape.num_q_heads * shape.head_dim);
  const auto kv_count = static_cast<std::size_t>(shape.batch * shape.seq_len * shape.num_kv_heads * shape.head_dim);
  std::printf("BENCH cuDNN runtime %zu, cuBLASLt %zu\n", cudnnGetVersion(), cublasLtGetVersion());
  std::mt19937_64 generator(4321);
  cudaStream_t stream = nullptr;
  PRIMUS_CUDA_CHECK(cudaStreamCreate(&stream));
  DeviceBuffer<bf16> q(q_count), k(kv_count), v(kv_count), out(q_count), d_out(q_count), d_q(q_count),
      d_k(kv_count), d_v(kv_count);
  DeviceBuffer<float> lse(static_cast<std::size_t>(shape.batch * shape.num_q_heads * shape.seq_len));
  for (auto* buffer : {&q, &k, &v, &d_out}) fill_random(*buffer, generator);
  // Heuristic choice; autotuned among the heuristics' configs; autotuned among those and up to
  // 48 configs that change one of their knobs.
  for (const int mode : {0, 1, 2}) {
    FlashAttention attention(stream, /*autotune=*/mode > 0);
    if (mode == 2) attention.set_explore_knobs(48);
    const std::string tag = mode == 0 ? " [heuristic]" : mode == 1 ? " [autotuned]" : " [knobs explored]";
    // Causal FLOPs: forward 4·b·s²·h·d/2, backward 2.5× forward.
    const double forward_flops = 4.0 * shape.batch * shape.seq_len * shape.seq_len * shape.num_q_heads *
                                 shape.head_dim / 2.0;
    const double forward_ms = median_ms(stream, [&] {
      attention.forward(shape, q.get(), k.get(), v.get(), out.get(), lse.get());
    });
    report("attention forward b1 s8192 hq32 hkv8 d128" + tag, forward_flops, forward_ms);
    const double backward_ms = median_ms(stream, [&] {
      attention.backward(shape, q.get(), k.get(), v.get(), out.get(), d_out.get(), lse.get(), d_q.get(), d_k.get(),
                         d_v.get());
    });
    report("attention backward b1 s8192 hq32 hkv8 d128" + tag, 2.5 * forward_flops, backward_ms);
    const double both_ms = median_ms(stream, [&] {
      attention.forward(shape, q.get(), k.get(), v.get(), out.get(), lse.get());
      attention.backward(shape, q.get(), k.get(), v.get(), out.get(), d_out.get(), lse.get(), d_q.get(), d_k.get(),
                         d_v.get());
    });
    report("attention fwd+bwd b1 s8192 hq32 hkv8 d128" + tag, 3.5 * forward_flops, both_ms);
    std::printf("BENCH attention plans%s: %s\n", tag.c_str(), attention.describe_plans(shape).c_str());
  }
  PRIMUS_CUDA_CHECK(cudaStreamDestroy(stream));
}

// Host cost of one call (descriptor look-up, variant pack, launch) on shapes too small to
// keep the GPU busy: what small models and many-layer loops pay per op.
TEST(Benchmark, HostOverheadPerCall) {
  PRIMUS_SKIP_UNLESS_BENCH();
  std::mt19937_64 generator(99);
  cudaStream_t stream = nullptr;
  PRIMUS_CUDA_CHECK(cudaStreamCreate(&stream));
  {
    AttentionShape shape;
    shape.batch = 1, shape.seq_len = 128, shape.num_q_heads = 8, shape.num_kv_heads = 2, shape.head_dim = 64;
    const auto q_count = static_cast<std::size_t>(128 * 8 * 64), kv_count = static_cast<std::size_t>(128 * 2 * 64);
    DeviceBuffer<bf16> q(q_count), k(kv_count), v(kv_count), out(q_count), d_out(q_count), d_q(q_count),
        d_k(kv_count), d_v(kv_count), x(64 * 256), w(256 * 256), y(64 * 256);
    DeviceBuffer<float> lse(8 * 128);
    for (auto* buffer : {&q, &k, &v, &d_out, &x, &w}) fill_random(*buffer, generator);
    FlashAttention attention(stream);
    GemmRunner runner(stream);
    auto host_us = [&](const std::function<void()>& call) {
      for (int i = 0; i < 10; ++i) call();
      PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
      constexpr int kCalls = 200;
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < kCalls; ++i) call();
      const auto stop = std::chrono::steady_clock::now();
      PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
      return std::chrono::duration<double, std::micro>(stop - start).count() / kCalls;
    };
    std::printf("BENCH host us/call: attention forward %.1f, attention backward %.1f, gemm forward %.1f\n",
                host_us([&] { attention.forward(shape, q.get(), k.get(), v.get(), out.get(), lse.get()); }),
                host_us([&] {
                  attention.backward(shape, q.get(), k.get(), v.get(), out.get(), d_out.get(), lse.get(), d_q.get(),
                                     d_k.get(), d_v.get());
                }),
                host_us([&] { runner.linear_forward(x.get(), w.get(), nullptr, y.get(), 64, 256, 256); }));
  }
  PRIMUS_CUDA_CHECK(cudaStreamDestroy(stream));
}

}  // namespace
}  // namespace primus::ops::cuda
