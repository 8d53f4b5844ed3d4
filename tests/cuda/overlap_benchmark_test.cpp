// What an optimizer tail on a side stream costs the kernels beside it, with
// PRIMUS_CUDA_BENCH=1: a Llama-3-8B fc1 GEMM (planned for all SMs or for the SMs the tail
// leaves) and a causal GQA flash-attention forward, each timed alone and while
// split_adamw_launch keeps 24 SMs busy on a second stream. The overlapped optimizer's cost
// is the difference; a kernel planned for all SMs waits for the tail's SMs if it is
// persistent. Not a pass/fail timing.
#include <functional>

#include "kernel_benchmark_support.hpp"
#include "optimizer_tail_support.hpp"
#include "primus/ops/cuda/attention.hpp"
#include "primus/ops/cuda/device_info.hpp"
#include "primus/ops/cuda/gemm.hpp"

namespace primus::ops::cuda::test {
namespace {

TEST(Benchmark, KernelsBesideAnOptimizerTail) {
  PRIMUS_SKIP_UNLESS_BENCH();
  const int tail_sms = OptimizerTail::kEngineSms;
  const int sms = device_sm_count();
  BenchStream main_stream;
  OptimizerTail tail(tail_sms);  // outlasts every timed batch; restarted before each
  auto start_tail = [&] { tail.start(); };
  const double tail_alone = time_ms(start_tail, 1, 1, tail.stream());

  // Llama-3-8B fc1 forward: [8192, 4096] x [28672, 4096]^T.
  const std::int64_t rows = 8192, in = 4096, out = 28672;
  DeviceBuffer<bf16> x(rows * in), w(out * in), y(rows * out);
  PRIMUS_KERNEL_CHECK(cudaMemset(x.get(), 0, rows * in * 2));
  PRIMUS_KERNEL_CHECK(cudaMemset(w.get(), 0, out * in * 2));
  GemmRunner gemm(main_stream);
  auto fc1 = [&] { gemm.linear_forward(x.get(), w.get(), nullptr, y.get(), rows, in, out); };
  // Causal GQA attention forward, b1 s8192 hq32 hkv8 d128.
  AttentionShape shape;
  shape.batch = 1, shape.seq_len = 8192, shape.num_q_heads = 32, shape.num_kv_heads = 8, shape.head_dim = 128;
  DeviceBuffer<bf16> q(8192 * 32 * 128), k(8192 * 8 * 128), vv(8192 * 8 * 128), o(8192 * 32 * 128);
  DeviceBuffer<float> lse(32 * 8192);
  for (auto* b : {&q, &k, &vv}) PRIMUS_KERNEL_CHECK(cudaMemset(b->get(), 0, b->size() * 2));
  FlashAttention attention(main_stream, /*autotune=*/false);
  auto attend = [&] { attention.forward(shape, q.get(), k.get(), vv.get(), o.get(), lse.get()); };

  struct Case {
    const char* name;
    int gemm_sms;  // 0: all
    std::function<void()> op;
  };
  const Case cases[] = {{"fc1 GEMM planned for all SMs", 0, fc1},
                        {"fc1 GEMM planned for SMs - 24", sms - tail_sms, fc1},
                        {"attention forward", 0, attend}};
  for (const Case& c : cases) {
    gemm.set_sm_count_target(c.gemm_sms);
    const double alone = time_ms(c.op, 5, 1, main_stream);
    PRIMUS_KERNEL_CHECK(cudaStreamSynchronize(main_stream));
    start_tail();
    const double beside = time_ms(c.op, 5, 1, main_stream);
    PRIMUS_KERNEL_CHECK(cudaDeviceSynchronize());
    std::printf("BENCH %-32s alone %7.3f ms, beside a 24-SM optimizer tail %7.3f ms (%.2fx)\n", c.name, alone,
                beside, beside / alone);
    EXPECT_GT(alone, 0.0);
  }
  std::printf("BENCH optimizer tail alone on %d SMs: %.3f ms\n", tail_sms, tail_alone);
}

}  // namespace
}  // namespace primus::ops::cuda::test
