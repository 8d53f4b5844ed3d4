// The read-bandwidth probes (ops/cuda/bandwidth_probe) by SM count, with PRIMUS_CUDA_BENCH=1:
// per-thread 16-byte loads against the bulk copy engine. Not a pass/fail timing; the sums
// are checked so that neither probe skips bytes.
#include <cstdio>

#include "kernel_benchmark_support.hpp"
#include "primus/ops/cuda/device_info.hpp"
#include "primus/ops/cuda/bandwidth_probe.hpp"

namespace primus::ops::cuda::test {
namespace {

TEST(BandwidthProbe, ReadsEveryByte) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const std::int64_t bytes = 64 * 32768;
  DeviceBuffer<unsigned char> data(static_cast<std::size_t>(bytes));
  PRIMUS_KERNEL_CHECK(cudaMemset(data.get(), 1, bytes));
  DeviceBuffer<unsigned> sum(1);
  for (int path = 0; path < 2; ++path) {
    for (int blocks : {1, 3, 64}) {
      PRIMUS_KERNEL_CHECK(cudaMemset(sum.get(), 0, 4));
      if (path == 0)
        probe_read_ldg(data.get(), bytes, sum.get(), blocks, nullptr);
      else
        probe_read_bulk(data.get(), bytes, sum.get(), blocks, nullptr);
      EXPECT_EQ(sum.download()[0], static_cast<unsigned>((bytes / 16) * 0x01010101ull))
          << (path == 0 ? "ldg" : "bulk") << " blocks=" << blocks;
    }
  }
}

TEST(Benchmark, PerSmReadBandwidth) {
  PRIMUS_SKIP_UNLESS_BENCH();
  const std::int64_t bytes = std::int64_t{8} << 30;
  DeviceBuffer<unsigned char> data(static_cast<std::size_t>(bytes));
  PRIMUS_KERNEL_CHECK(cudaMemset(data.get(), 1, bytes));
  DeviceBuffer<unsigned> sum(1);
  for (int path = 0; path < 2; ++path) {
    for (int k : {8, 16, 24, 32, 48, device_sm_count()}) {
      auto launch = [&] {
        if (path == 0)
          probe_read_ldg(data.get(), bytes, sum.get(), k, nullptr);
        else
          probe_read_bulk(data.get(), bytes, sum.get(), k, nullptr);
      };
      const double gbps = bytes / (time_ms(launch, 3, 1) * 1e-3) / 1e9;
      std::printf("BENCH read %-4s sms=%-3d %8.1f GB/s (%.1f GB/s per SM)\n", path == 0 ? "ldg" : "bulk", k, gbps,
                  gbps / k);
      EXPECT_GT(gbps, 0.0);
    }
  }
}

}  // namespace
}  // namespace primus::ops::cuda::test
