// Timing support for the kernel benchmarks (Benchmark.* tests): they run only with
// PRIMUS_CUDA_BENCH=1 on a machine with a GPU (skipped otherwise), time calls with CUDA
// events and print one "BENCH" line per kernel: milliseconds per call and achieved GB/s
// counting the bytes the kernel must read and write once.
#pragma once

#include <algorithm>
#include <cmath>
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

// A non-blocking stream a benchmark owns: destroyed when it goes out of scope, also when a
// check fails on the way; converts to cudaStream_t.
class BenchStream {
 public:
  BenchStream() { PRIMUS_KERNEL_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  // highest: the device's greatest stream priority (its blocks are scheduled first as SMs free up).
  explicit BenchStream(bool highest) {
    int least = 0, greatest = 0;
    PRIMUS_KERNEL_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    PRIMUS_KERNEL_CHECK(cudaStreamCreateWithPriority(&stream_, cudaStreamNonBlocking, highest ? greatest : least));
  }
  ~BenchStream() { cudaStreamDestroy(stream_); }
  BenchStream(const BenchStream&) = delete;
  BenchStream& operator=(const BenchStream&) = delete;
  operator cudaStream_t() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

// An event a benchmark owns (destroyed when a check fails too), for joining its streams.
class BenchEvent {
 public:
  BenchEvent() { PRIMUS_KERNEL_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
  ~BenchEvent() { cudaEventDestroy(event_); }
  BenchEvent(const BenchEvent&) = delete;
  BenchEvent& operator=(const BenchEvent&) = delete;
  operator cudaEvent_t() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// A device buffer of `count` values: `block` repeated (the last copy cut short).
template <typename T>
DeviceBuffer<T> tiled_buffer(std::size_t count, const std::vector<T>& block) {
  DeviceBuffer<T> buffer(count);
  for (std::size_t offset = 0; offset < count; offset += block.size())
    PRIMUS_KERNEL_CHECK(cudaMemcpy(buffer.get() + offset, block.data(), std::min(block.size(), count - offset) * sizeof(T),
                                   cudaMemcpyHostToDevice));
  return buffer;
}

// Random values for the benchmarks: one seeded block of up to 4M normal(0, stddev) values,
// tiled (a GEMM's power, and so its clock at the power limit, depends on its data: never all
// zeros); `positive` takes their magnitudes (second moments).
inline std::vector<float> random_block(std::size_t count, std::uint32_t seed, float stddev, bool positive = false) {
  std::vector<float> values = random_values(std::min<std::size_t>(count, std::size_t{1} << 22), seed, stddev);
  if (positive)
    for (float& v : values) v = std::fabs(v);
  return values;
}
inline DeviceBuffer<bf16> random_bf16_buffer(std::size_t count, std::uint32_t seed, float stddev = 1.0f) {
  return tiled_buffer(count, to_bf16(random_block(count, seed, stddev)));
}
inline DeviceBuffer<float> random_float_buffer(std::size_t count, std::uint32_t seed, float stddev,
                                               bool positive = false) {
  return tiled_buffer(count, random_block(count, seed, stddev, positive));
}

template <typename T>
DeviceBuffer<T> zeros(std::size_t count) {
  DeviceBuffer<T> buffer(count);
  PRIMUS_KERNEL_CHECK(cudaMemset(buffer.get(), 0, count * sizeof(T)));
  return buffer;
}

}  // namespace primus::ops::cuda::test
