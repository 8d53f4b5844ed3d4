// Helpers shared by the CUDA tests: GPU presence (tests skip without one), device
// buffers, bf16 rounding, random inputs, NaN poisoning and the relative-error metric.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "primus/ops/cuda/cuda_check.hpp"

namespace primus::ops::cuda::testing {

inline bool gpu_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

#define PRIMUS_SKIP_WITHOUT_GPU() \
  if (!::primus::ops::cuda::testing::gpu_available()) GTEST_SKIP() << "no CUDA GPU on this machine"

// Environment variables set for this object's lifetime and restored after (also when the code
// between throws), for the engine's PRIMUS_* switches, which it reads when constructed.
class ScopedEnvironment {
 public:
  ScopedEnvironment(std::initializer_list<std::pair<std::string, std::string>> settings)
      : ScopedEnvironment(std::vector<std::pair<std::string, std::string>>(settings)) {}
  explicit ScopedEnvironment(const std::vector<std::pair<std::string, std::string>>& settings) {
    for (const auto& [name, value] : settings) {
      const char* before = std::getenv(name.c_str());
      saved_.emplace_back(name, before ? std::optional<std::string>(before) : std::nullopt);
      ::setenv(name.c_str(), value.c_str(), 1);
    }
  }
  ~ScopedEnvironment() {
    for (const auto& [name, before] : saved_) {
      if (before) {
        ::setenv(name.c_str(), before->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t count) : count_(count) { PRIMUS_CUDA_CHECK(cudaMalloc(&data_, bytes())); }
  ~DeviceBuffer() { cudaFree(data_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const { return data_; }
  std::size_t count() const { return count_; }
  std::size_t bytes() const { return count_ * sizeof(T); }
  // All-ones bytes are NaN in both bf16 and fp32: any element the kernel skips stays NaN.
  void poison() { PRIMUS_CUDA_CHECK(cudaMemset(data_, 0xFF, bytes())); }
  void upload(const std::vector<T>& host) {
    PRIMUS_CUDA_CHECK(cudaMemcpy(data_, host.data(), bytes(), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    PRIMUS_CUDA_CHECK(cudaMemcpy(host.data(), data_, bytes(), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  T* data_ = nullptr;
  std::size_t count_;
};

inline double to_double(__nv_bfloat16 value) { return static_cast<double>(__bfloat162float(value)); }
inline double to_double(float value) { return value; }

// Random bf16 values and the exact doubles they hold (the reference's inputs).
struct RandomBf16 {
  std::vector<__nv_bfloat16> values;
  std::vector<double> exact;
};

inline RandomBf16 random_bf16(std::size_t count, std::mt19937_64& generator, double stddev = 1.0) {
  std::normal_distribution<float> distribution(0.0f, static_cast<float>(stddev));
  RandomBf16 result;
  result.values.reserve(count);
  result.exact.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const __nv_bfloat16 value = __float2bfloat16(distribution(generator));
    result.values.push_back(value);
    result.exact.push_back(to_double(value));
  }
  return result;
}

// ‖actual − expected‖ / ‖expected‖; +inf when any actual element is not finite, so NaN never passes.
template <typename T>
double relative_error(const std::vector<T>& actual, const std::vector<double>& expected) {
  if (actual.size() != expected.size()) return std::numeric_limits<double>::infinity();
  double difference = 0.0, reference = 0.0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double value = to_double(actual[i]);
    if (!std::isfinite(value)) return std::numeric_limits<double>::infinity();
    difference += (value - expected[i]) * (value - expected[i]);
    reference += expected[i] * expected[i];
  }
  return std::sqrt(difference / reference);
}

}  // namespace primus::ops::cuda::testing
