// Test support for the fused CUDA kernels: skip without a GPU, RAII device buffers
// poisoned with NaN before each run, bf16 <-> float on the host, seeded random
// inputs, and the normalised error ||out - ref|| / ||ref|| (infinite when out has a NaN).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "primus/ops/cuda/kernel_check.hpp"

namespace primus::ops::cuda::test {

using bf16 = __nv_bfloat16;

inline bool cuda_device_present() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

// Skips the calling test (GTEST_SKIP returns from it) on machines without a CUDA device.
#define PRIMUS_SKIP_WITHOUT_CUDA_DEVICE()                                                          \
  do {                                                                                             \
    if (!::primus::ops::cuda::test::cuda_device_present())                                         \
      GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount reports none): GPU kernel test skipped"; \
  } while (0)

inline float to_float(bf16 x) { return __bfloat162float(x); }
inline bf16 to_bf16(float x) { return __float2bfloat16_rn(x); }
// The value x becomes once stored as bf16.
inline double bf16_round(double x) { return to_float(to_bf16(static_cast<float>(x))); }

// A device array of T with host upload/download; poison() fills it with all-ones bytes,
// which is NaN for fp32 and bf16, so an element the kernel forgot to write fails the test.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t count) : count_(count) {
    PRIMUS_KERNEL_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), count ? count * sizeof(T) : 1));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept : data_(other.data_), count_(other.count_) { other.data_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  ~DeviceBuffer() { cudaFree(data_); }

  T* get() { return data_; }
  const T* get() const { return data_; }
  std::size_t size() const { return count_; }
  void upload(const std::vector<T>& host) {
    if (host.size() != count_) throw std::invalid_argument("DeviceBuffer::upload: size mismatch");
    PRIMUS_KERNEL_CHECK(cudaMemcpy(data_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    PRIMUS_KERNEL_CHECK(cudaDeviceSynchronize());  // surfaces asynchronous kernel faults here
    PRIMUS_KERNEL_CHECK(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
  void poison() { PRIMUS_KERNEL_CHECK(cudaMemset(data_, 0xff, count_ * sizeof(T))); }

 private:
  T* data_ = nullptr;
  std::size_t count_;
};

// Seeded normal(mean, stddev) values, already rounded to bf16 so the references see the kernel's exact inputs.
inline std::vector<float> random_values(std::size_t count, std::uint32_t seed, float stddev = 1.0f, float mean = 0.0f) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(mean, stddev);
  std::vector<float> values(count);
  for (float& v : values) v = to_float(to_bf16(normal(generator)));
  return values;
}

inline std::vector<bf16> to_bf16(const std::vector<float>& values) {
  std::vector<bf16> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = to_bf16(values[i]);
  return out;
}

inline std::vector<double> to_double(const std::vector<bf16>& values) {
  std::vector<double> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = to_float(values[i]);
  return out;
}

inline std::vector<double> to_double(const std::vector<float>& values) {
  return std::vector<double>(values.begin(), values.end());
}

// ||out - ref|| / ||ref||; +inf when out holds a NaN or Inf (a NaN never passes), or sizes differ.
inline double relative_error(const std::vector<double>& out, const std::vector<double>& ref) {
  if (out.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) return std::numeric_limits<double>::infinity();
    diff += (out[i] - ref[i]) * (out[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// Tolerances: bf16 outputs carry ~2^-9 relative rounding per element; fp32 outputs only accumulation error.
constexpr double kBf16Tolerance = 1e-2;
constexpr double kFp32Tolerance = 1e-5;

// got and want hold the same bits element by element (floats as stored, NaNs included);
// on failure names the count and the first differing index instead of printing both vectors.
template <typename T>
void expect_identical_bits(const std::vector<T>& got, const std::vector<T>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t differ = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(T)) != 0 && differ++ == 0) first = i;
  EXPECT_EQ(differ, 0u) << what << ": " << differ << " of " << got.size() << " elements differ, first at " << first;
}

}  // namespace primus::ops::cuda::test
