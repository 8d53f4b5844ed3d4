// The split-master-weight AdamW launch (train/cuda/master_weights): each element against a
// host AdamW in double on the joined fp32 master weight, with parameters that start and end
// off the 8-element packs, mixed weight decay, a grid of two SMs, the clip coefficient and
// the skip flag; elements outside the launch stay untouched. A timing of the launch by SM
// count (what the overlapped optimizer leaves it) runs with PRIMUS_CUDA_BENCH=1.
#include <cstdlib>
#include <cstring>

#include "kernel_test_support.hpp"
#include "primus/train/cuda/master_weights.hpp"

namespace primus::ops::cuda::test {
namespace {

using train::cuda::SplitAdamWLaunch;

struct HostState {
  std::vector<std::uint16_t> high, low;
  std::vector<float> m, v, g;
};

HostState random_state(std::int64_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  HostState s;
  for (std::int64_t i = 0; i < n; ++i) {
    const float p = 0.05f * normal(rng);
    std::uint32_t bits;
    std::memcpy(&bits, &p, 4);
    s.high.push_back(static_cast<std::uint16_t>(bits >> 16));
    s.low.push_back(static_cast<std::uint16_t>(bits & 0xffff));
    s.m.push_back(0.01f * normal(rng));
    s.v.push_back(1e-4f * std::abs(normal(rng)));
    s.g.push_back(0.1f * normal(rng));
  }
  return s;
}

float join(std::uint16_t high, std::uint16_t low) {
  const std::uint32_t bits = (static_cast<std::uint32_t>(high) << 16) | low;
  float p;
  std::memcpy(&p, &bits, 4);
  return p;
}

struct DeviceState {
  DeviceBuffer<std::uint16_t> high, low;
  DeviceBuffer<float> m, v, g;
  explicit DeviceState(const HostState& s) : high(s.high), low(s.low), m(s.m), v(s.v), g(s.g) {}
  void run(const SplitAdamWLaunch& launch, const AdamWHyperparameters& hyper, const float* clip,
           const std::int32_t* skip, int sms) {
    train::cuda::split_adamw_launch(launch, reinterpret_cast<bf16*>(high.get()), low.get(), m.get(), v.get(), g.get(),
                                    clip, skip, nullptr, hyper, sms, nullptr);
    PRIMUS_KERNEL_CHECK(cudaDeviceSynchronize());
  }
};

TEST(SplitAdamWLaunch, MatchesHostAdamWPerElement) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const std::int64_t n = 40'000;
  const HostState before = random_state(n, 5);
  DeviceState device(before);
  // Parameters [3, 1000) decay, [1000, 1003) no decay, [1003, 30001) decay, [30001, 39990) no decay.
  SplitAdamWLaunch launch;
  launch.begin = 3;
  const std::int64_t ends[] = {1000, 1003, 30001, 39990};
  for (std::int64_t end : ends) launch.segment_end[launch.segment_count++] = end;
  launch.decay_mask = 0b0101;
  const AdamWHyperparameters hyper{1e-3, 0.9, 0.95, 1e-8, 0.1, 3};
  DeviceBuffer<float> clip(std::vector<float>{0.5f});
  device.run(launch, hyper, clip.get(), nullptr, /*sms=*/2);
  const auto high = device.high.download(), low = device.low.download();
  const auto m = device.m.download(), v = device.v.download();
  const double bc1 = 1.0 - std::pow(0.9, 3), bc2 = 1.0 - std::pow(0.95, 3);
  int segment = 0, wrong = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const bool inside = i >= launch.begin && i < launch.end();
    if (!inside) {
      if (high[i] != before.high[i] || low[i] != before.low[i] || m[i] != before.m[i] || v[i] != before.v[i]) ++wrong;
      continue;
    }
    while (i >= launch.segment_end[segment]) ++segment;
    const bool decay = (launch.decay_mask >> segment) & 1u;
    const double g = 0.5 * before.g[i];
    const double m_ref = 0.9 * before.m[i] + 0.1 * g;
    const double v_ref = 0.95 * before.v[i] + 0.05 * g * g;
    const double p0 = join(before.high[i], before.low[i]);
    const double p_ref = p0 * (decay ? 1.0 - 1e-3 * 0.1 : 1.0) - (1e-3 / bc1) * m_ref / (std::sqrt(v_ref / bc2) + 1e-8);
    const double p = join(high[i], low[i]);
    // fp32 rounding: a few ulps of each term's magnitude (m may cancel), carried into p through m.
    const double denom = std::sqrt(v_ref / bc2) + 1e-8;
    const double tol_m = 1e-6 * (0.9 * std::abs(before.m[i]) + 0.1 * std::abs(g));
    const double tol_p = 1e-6 * std::abs(p0) + (1e-3 / bc1) * (tol_m + 1e-5 * std::abs(m_ref)) / denom;
    const bool close = std::abs(p - p_ref) <= tol_p && std::abs(m[i] - m_ref) <= tol_m &&
                       std::abs(v[i] - v_ref) <= 1e-6 * v_ref;
    if (!close && ++wrong <= 5)
      ADD_FAILURE() << "element " << i << ": p " << p << " expected " << p_ref << ", m " << m[i] << " expected "
                    << m_ref << ", v " << v[i] << " expected " << v_ref;
  }
  EXPECT_EQ(wrong, 0);
  // Weight decay is visible: the decaying segment moved differently from a no-decay update.
  EXPECT_NE(join(high[500], low[500]), join(before.high[500], before.low[500]));
}

TEST(SplitAdamWLaunch, SkipFlagLeavesEverythingUntouched) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const HostState before = random_state(4096, 6);
  DeviceState device(before);
  SplitAdamWLaunch launch;
  launch.segment_end[launch.segment_count++] = 4096;
  DeviceBuffer<std::int32_t> skip(std::vector<std::int32_t>{1});
  device.run(launch, AdamWHyperparameters{1e-3, 0.9, 0.95, 1e-8, 0.1, 1}, nullptr, skip.get(), 0);
  EXPECT_EQ(device.high.download(), before.high);
  EXPECT_EQ(device.low.download(), before.low);
  EXPECT_EQ(device.m.download(), before.m);
}

TEST(SplitAdamWLaunch, RejectsABadTable) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const HostState before = random_state(64, 7);
  DeviceState device(before);
  SplitAdamWLaunch empty;  // no segment
  EXPECT_THROW(device.run(empty, AdamWHyperparameters{1e-3, 0.9, 0.95, 1e-8, 0.1, 1}, nullptr, nullptr, 0),
               std::invalid_argument);
  SplitAdamWLaunch backwards;
  backwards.segment_end[backwards.segment_count++] = 40;
  backwards.segment_end[backwards.segment_count++] = 20;
  EXPECT_THROW(device.run(backwards, AdamWHyperparameters{1e-3, 0.9, 0.95, 1e-8, 0.1, 1}, nullptr, nullptr, 0),
               std::invalid_argument);
}

// The forward's gather of rows "after" an update that has not run must give exactly the bf16
// weights the update then writes (the CUDA engine defers the word embeddings' update behind
// that gather); a token outside the vocabulary gives a NaN row; the skip flag gives the old rows.
TEST(GatherRowsAfterAdamW, EqualsTheUpdatedTableBitForBit) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const std::int64_t vocab = 300, hidden = 72, offset = 40, n = offset + vocab * hidden + 5;
  const HostState before = random_state(n, 8);
  DeviceState device(before);
  const std::vector<std::int32_t> tokens = {5, 299, 0, 5, 123, 300, 17};  // 300: out of range
  const std::int64_t rows = static_cast<std::int64_t>(tokens.size());
  DeviceBuffer<std::int32_t> token_buffer(tokens);
  DeviceBuffer<bf16> gathered(static_cast<std::size_t>(rows * hidden));
  DeviceBuffer<float> clip(std::vector<float>{0.7f});
  const AdamWHyperparameters hyper{2e-3, 0.9, 0.95, 1e-8, 0.1, 4};
  for (int skip = 0; skip < 2; ++skip) {
    DeviceBuffer<std::int32_t> flag(std::vector<std::int32_t>{skip});
    gathered.poison();
    train::cuda::gather_rows_after_adamw(gathered.get(), token_buffer.get(), rows, vocab, hidden, offset, true,
                                         reinterpret_cast<const bf16*>(device.high.get()), device.low.get(),
                                         device.m.get(), device.v.get(), device.g.get(), clip.get(), flag.get(),
                                         nullptr, hyper, nullptr);
    const auto rows_out = gathered.download();
    SplitAdamWLaunch launch;
    launch.begin = offset;
    launch.segment_end[launch.segment_count++] = offset + vocab * hidden;
    launch.decay_mask = 1;
    device.run(launch, hyper, clip.get(), flag.get(), 0);
    const auto high = device.high.download();
    int wrong = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t c = 0; c < hidden; ++c) {
        std::uint16_t got;
        std::memcpy(&got, &rows_out[r * hidden + c], 2);
        if (tokens[r] >= vocab) {
          wrong += std::isnan(to_float(rows_out[r * hidden + c])) ? 0 : 1;
          continue;
        }
        wrong += got == high[offset + tokens[r] * hidden + c] ? 0 : 1;
      }
    }
    EXPECT_EQ(wrong, 0) << (skip ? "skipped step" : "update");
    if (skip == 0) {
      EXPECT_NE(high, before.high) << "the update moved nothing: the comparison would be vacuous";
    }
    device.high.upload(before.high);  // the skip case starts from the same state
    device.low.upload(before.low);
    device.m.upload(before.m);
    device.v.upload(before.v);
  }
}

// Bandwidth of the launch on k SMs: how much of the optimizer a side stream of k SMs can
// carry while the forward runs on the rest (28 bytes per parameter).
TEST(Benchmark, SplitAdamWBySmCount) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const char* flag = std::getenv("PRIMUS_CUDA_BENCH");
  if (flag == nullptr || std::string(flag) != "1") GTEST_SKIP() << "set PRIMUS_CUDA_BENCH=1 to run timings";
  const std::int64_t n = 1'000'000'000;
  DeviceBuffer<std::uint16_t> high(n), low(n);
  DeviceBuffer<float> m(n), v(n), g(n);
  for (auto* b : {&m, &v, &g}) PRIMUS_KERNEL_CHECK(cudaMemset(b->get(), 0, n * 4));
  PRIMUS_KERNEL_CHECK(cudaMemset(high.get(), 0, n * 2));
  PRIMUS_KERNEL_CHECK(cudaMemset(low.get(), 0, n * 2));
  SplitAdamWLaunch launch;
  launch.segment_end[launch.segment_count++] = n;
  launch.decay_mask = 1;
  const AdamWHyperparameters hyper{3e-4, 0.9, 0.95, 1e-8, 0.1, 10};
  cudaEvent_t start, stop;
  PRIMUS_KERNEL_CHECK(cudaEventCreate(&start));
  PRIMUS_KERNEL_CHECK(cudaEventCreate(&stop));
  for (int sms : {8, 16, 24, 32, 48, 66, 0}) {
    auto once = [&] {
      train::cuda::split_adamw_launch(launch, reinterpret_cast<bf16*>(high.get()), low.get(), m.get(), v.get(),
                                      g.get(), nullptr, nullptr, nullptr, hyper, sms, nullptr);
    };
    once();
    PRIMUS_KERNEL_CHECK(cudaEventRecord(start));
    for (int i = 0; i < 3; ++i) once();
    PRIMUS_KERNEL_CHECK(cudaEventRecord(stop));
    PRIMUS_KERNEL_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    PRIMUS_KERNEL_CHECK(cudaEventElapsedTime(&ms, start, stop));
    ms /= 3;
    const double gbps = 28.0 * n / (ms * 1e-3) / 1e9;
    std::printf("BENCH split_adamw_launch sms=%-3d %9.3f ms %8.1f GB/s (%.1f GB/s per SM)\n", sms, ms, gbps,
                gbps / (sms > 0 ? sms : train::cuda::device_sm_count()));
    EXPECT_GT(gbps, 0.0);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

}  // namespace
}  // namespace primus::ops::cuda::test
