// The cuBLASLt heuristic's proposals for the Llama-3-8B forward GEMMs, each timed alone and
// beside a 24-SM optimizer tail, with PRIMUS_CUDA_BENCH=1. The engine plans the forward of the
// layers that run beside the tail for the SMs the tail leaves, and takes the heuristic's first
// proposal there; this shows whether a later proposal runs those GEMMs faster (the residual
// forwards, C = the residual stream with beta 1, are their own plans). Not a pass/fail timing.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "kernel_benchmark_support.hpp"
#include "optimizer_tail_support.hpp"
#include "primus/ops/cuda/device_info.hpp"
#include "primus/ops/cuda/gemm.hpp"

namespace primus::ops::cuda::test {
namespace {

TEST(Benchmark, ForwardGemmProposalsBesideTheTail) {
  PRIMUS_SKIP_UNLESS_BENCH();
  const int tail_sms = OptimizerTail::kEngineSms;
  const int sms = device_sm_count();
  BenchStream main_stream;
  OptimizerTail tail(tail_sms);  // outlasts every timed batch; restarted before each

  struct Linear {
    const char* name;
    std::int64_t in, out;
    bool residual;
  };
  const std::int64_t rows = 8192;
  const Linear linears[] = {{"qkv", 4096, 6144, false},
                            {"o + residual", 4096, 4096, true},
                            {"fc1", 4096, 28672, false},
                            {"fc2 + residual", 14336, 4096, true}};
  GemmRunner gemm(main_stream);
  std::uint32_t seed = 11;
  for (const Linear& linear : linears) {
    DeviceBuffer<bf16> x = random_bf16_buffer(rows * linear.in, seed++), w = random_bf16_buffer(linear.out * linear.in, seed++),
                       r = random_bf16_buffer(rows * linear.out, seed++), y(rows * linear.out);
    auto run = [&] {
      if (linear.residual)
        gemm.linear_forward_residual(x.get(), w.get(), nullptr, r.get(), y.get(), rows, linear.in, linear.out);
      else
        gemm.linear_forward(x.get(), w.get(), nullptr, y.get(), rows, linear.in, linear.out);
    };
    const double flops = 2.0 * rows * linear.in * linear.out;
    for (const int target : {0, sms - tail_sms}) {
      gemm.set_sm_count_target(target);
      for (int index = 0; index < 8; ++index) {
        gemm.set_algorithm_index(index);
        try {
          run();
        } catch (const std::out_of_range&) {
          break;  // the heuristic proposed fewer
        }
        const double alone = time_ms(run, 10, 3, main_stream);
        PRIMUS_KERNEL_CHECK(cudaStreamSynchronize(main_stream));
        tail.start();
        const double beside = time_ms(run, 5, 1, main_stream);
        PRIMUS_KERNEL_CHECK(cudaDeviceSynchronize());
        std::printf("BENCH proposal %-15s planned for %3d SMs #%d alone %7.3f ms (%5.1f TFLOP/s), beside the tail "
                    "%7.3f ms (%5.1f TFLOP/s)  [%s]\n",
                    linear.name, target == 0 ? sms : target, index, alone, flops / alone / 1e9, beside,
                    flops / beside / 1e9, gemm.last_algorithm_description().c_str());
        std::fflush(stdout);
        EXPECT_GT(alone, 0.0);
      }
    }
    gemm.set_algorithm_index(0);
    gemm.set_sm_count_target(0);
  }
}

}  // namespace
}  // namespace primus::ops::cuda::test
