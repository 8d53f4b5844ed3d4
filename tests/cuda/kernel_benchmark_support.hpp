// Timing support for the kernel benchmarks (Benchmark.* tests): they run only with
// PRIMUS_CUDA_BENCH=1 on a machine with a GPU (skipped otherwise), time calls with CUDA
// events and print one "BENCH" line per kernel: milliseconds per call and achieved GB/s
// counting the bytes the kernel must read and write once.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "kernel_test_support.hpp"

namespace primus::ops::cuda::test {

inline bool benchmarks_enabled() {
  const char* flag = std::getenv("PRIMUS_CUDA_BENCH");
  return flag != nullptr && std::string(flag) == "1";
}

#define PRIMUS_SKIP_UNLESS_BENCH()                                                       \
  do {                                                                                   \
    PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();                                                   \
    if (!benchmarks_enabled()) GTEST_SKIP() << "set PRIMUS_CUDA_BENCH=1 to run timings"; \
  } while (0)

// Mean milliseconds per call of `launch` over `iterations` calls after `warmups` calls (default:
// as many), timed by events on `stream` (the stream `launch` enqueues on).
inline double time_ms(const std::function<void()>& launch, int iterations, int warmups = -1,
                      cudaStream_t stream = nullptr) {
  cudaEvent_t start, stop;
  PRIMUS_KERNEL_CHECK(cudaEventCreate(&start));
  PRIMUS_KERNEL_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < (warmups < 0 ? iterations : warmups); ++i) launch();
  PRIMUS_KERNEL_CHECK(cudaEventRecord(start, stream));
  for (int i = 0; i < iterations; ++i) launch();
  PRIMUS_KERNEL_CHECK(cudaEventRecord(stop, stream));
  PRIMUS_KERNEL_CHECK(cudaEventSynchronize(stop));
  float ms = 0.0f;
  PRIMUS_KERNEL_CHECK(cudaEventElapsedTime(&ms, start, stop));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms / iterations;
}

inline void report(const std::string& name, const std::string& shape, double ms, double bytes) {
  const double gbps = bytes / (ms * 1e-3) / 1e9;
  std::printf("BENCH %-28s %-26s %9.3f ms %8.1f GB/s\n", name.c_str(), shape.c_str(), ms, gbps);
  std::fflush(stdout);
  EXPECT_GT(gbps, 0.0);
}

// A device buffer of normal(0, stddev) bf16 values: one seeded block of 4M values, tiled (a
// GEMM's power, and so its clock at the power limit, depends on its data: never all zeros).
inline DeviceBuffer<bf16> random_bf16_buffer(std::size_t count, std::uint32_t seed, float stddev = 1.0f) {
  const std::size_t block = std::min<std::size_t>(count, std::size_t{1} << 22);
  const std::vector<bf16> values = to_bf16(random_values(block, seed, stddev));
  DeviceBuffer<bf16> buffer(count);
  for (std::size_t offset = 0; offset < count; offset += block)
    PRIMUS_KERNEL_CHECK(cudaMemcpy(buffer.get() + offset, values.data(), std::min(block, count - offset) * sizeof(bf16),
                                   cudaMemcpyHostToDevice));
  return buffer;
}

template <typename T>
DeviceBuffer<T> zeros(std::size_t count) {
  DeviceBuffer<T> buffer(count);
  PRIMUS_KERNEL_CHECK(cudaMemset(buffer.get(), 0, count * sizeof(T)));
  return buffer;
}

}  // namespace primus::ops::cuda::test
