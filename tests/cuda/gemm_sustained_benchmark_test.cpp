// The cuBLASLt heuristic's first proposals for the big Llama-3-8B GEMMs (fc1, fc2 and the
// output layer: forward, d_input, d_weight into fp32), each run back to back long enough to
// reach the GPU's power limit (~250 ms) and then timed over ~150 ms, with PRIMUS_CUDA_BENCH=1.
// At the power limit the clock follows the energy a kernel spends per FLOP, so the proposal
// that is fastest for a few calls (what cuBLASLt's heuristic and a short timing rank) need not
// be the fastest in a training step. Proposals are visited forward and then backward, so that
// a slow drift of the clock does not favour one end. Not a pass/fail timing. On an H100 at
// 700 W (docs/performance.md, 2026-11-26 night) later proposals ran 1.3-3.6 % faster on six of
// the nine, yet choosing them by this timing left the 8B step unchanged (branch
// exp/gemm-tune-power-limit).
#include <algorithm>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernel_benchmark_support.hpp"
#include "primus/ops/cuda/gemm.hpp"

namespace primus::ops::cuda::test {
namespace {

TEST(Benchmark, GemmProposalsAtThePowerLimit) {
  PRIMUS_SKIP_UNLESS_BENCH();
  const int proposals = 6;
  const std::int64_t rows = 8192;
  struct Linear {
    const char* name;
    std::int64_t in, out;
  };
  const Linear linears[] = {{"fc1", 4096, 28672}, {"fc2", 14336, 4096}, {"output", 4096, 128256}};
  BenchStream stream;
  GemmRunner gemm(stream);
  std::uint32_t seed = 101;
  for (const Linear& linear : linears) {
    // Activation-like inputs (unit scale), weights at Megatron's init scale.
    DeviceBuffer<bf16> x = random_bf16_buffer(rows * linear.in, seed++, 1.0f),
                       w = random_bf16_buffer(linear.out * linear.in, seed++, 0.02f),
                       dy = random_bf16_buffer(rows * linear.out, seed++, 1e-3f), y(rows * linear.out),
                       dx(rows * linear.in);
    DeviceBuffer<float> dw(linear.out * linear.in);
    const double flops = 2.0 * rows * linear.in * linear.out;
    const std::function<void()> ops[] = {
        [&] { gemm.linear_forward(x.get(), w.get(), nullptr, y.get(), rows, linear.in, linear.out); },
        [&] { gemm.linear_backward_input(dy.get(), w.get(), dx.get(), rows, linear.in, linear.out); },
        [&] { gemm.linear_backward_weight(dy.get(), x.get(), dw.get(), rows, linear.in, linear.out, false); }};
    const char* op_names[] = {"forward", "d_input", "d_weight"};
    for (int op = 0; op < 3; ++op) {
      std::vector<double> sum(proposals, 0.0);
      std::vector<int> seen(proposals, 0);
      std::vector<std::string> algorithm(proposals);
      for (int pass = 0; pass < 2; ++pass) {
        for (int step = 0; step < proposals; ++step) {
          const int index = pass == 0 ? step : proposals - 1 - step;
          gemm.set_algorithm_index(index);
          try {
            ops[op]();
          } catch (const std::out_of_range&) {
            continue;
          }
          algorithm[index] = gemm.last_algorithm_description();
          const double once = time_ms(ops[op], 3, 1, stream);
          const int warm = std::max(1, static_cast<int>(250.0 / once)), timed = std::max(3, static_cast<int>(150.0 / once));
          sum[index] += time_ms(ops[op], timed, warm, stream);
          ++seen[index];
        }
      }
      for (int index = 0; index < proposals; ++index) {
        if (seen[index] == 0) continue;
        const double ms = sum[index] / seen[index];
        std::printf("BENCH sustained %-6s %-8s %dx%lldx%lld #%d %8.3f ms %6.1f TFLOP/s  [%s]\n", linear.name,
                    op_names[op], static_cast<int>(rows), static_cast<long long>(linear.in),
                    static_cast<long long>(linear.out), index, ms, flops / ms / 1e9, algorithm[index].c_str());
        std::fflush(stdout);
        EXPECT_GT(ms, 0.0);
      }
    }
    gemm.set_algorithm_index(0);
  }
}

}  // namespace
}  // namespace primus::ops::cuda::test
