// A stand-in for the overlapped optimizer's tail in the kernel benchmarks: split_adamw_launch
// over 1.5e9 zero-filled parameters (42 GB of traffic, ~33 ms on 24 SMs of an H100), started on
// its own stream so that a kernel timed on another stream runs beside it.
#pragma once

#include <cstdint>

#include "kernel_benchmark_support.hpp"
#include "primus/train/cuda/master_weights.hpp"

namespace primus::ops::cuda::test {

class OptimizerTail {
 public:
  // The SMs the engine's overlapped optimizer takes by default (PRIMUS_OPTIMIZER_OVERLAP_SMS).
  static constexpr int kEngineSms = 24;

  explicit OptimizerTail(int sms = kEngineSms, std::int64_t parameters = 1'500'000'000)
      : sms_(sms), high_(parameters), low_(parameters), m_(parameters), v_(parameters), g_(parameters) {
    for (auto* b : {&m_, &v_, &g_}) PRIMUS_KERNEL_CHECK(cudaMemset(b->get(), 0, b->size() * sizeof(float)));
    for (auto* b : {&high_, &low_}) PRIMUS_KERNEL_CHECK(cudaMemset(b->get(), 0, b->size() * sizeof(std::uint16_t)));
    launch_.segment_end[launch_.segment_count++] = parameters;
    launch_.decay_mask = 1;
  }
  ~OptimizerTail() { cudaStreamSynchronize(stream_); }
  OptimizerTail(const OptimizerTail&) = delete;
  OptimizerTail& operator=(const OptimizerTail&) = delete;

  // Enqueues one pass over the parameters on the tail's stream.
  void start() {
    const AdamWHyperparameters hyper{3e-4, 0.9, 0.95, 1e-8, 0.1, 10};
    train::cuda::split_adamw_launch(launch_, reinterpret_cast<bf16*>(high_.get()), low_.get(), m_.get(), v_.get(),
                                    g_.get(), nullptr, nullptr, nullptr, hyper, sms_, stream_);
  }
  cudaStream_t stream() const { return stream_; }
  int sms() const { return sms_; }

 private:
  int sms_;
  BenchStream stream_;
  DeviceBuffer<std::uint16_t> high_, low_;
  DeviceBuffer<float> m_, v_, g_;
  train::cuda::SplitAdamWLaunch launch_;
};

}  // namespace primus::ops::cuda::test
