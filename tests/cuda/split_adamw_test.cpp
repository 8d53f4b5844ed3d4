// The split-master-weight AdamW launch (train/cuda/master_weights), for every kernel variant:
// each element against a host AdamW in double on the joined fp32 master weight, and bit for
// bit against the reference kernel, with parameters that start and end off the 8-element packs
// (and inside them), mixed weight decay, launches smaller than a pack and of millions of
// elements, grids of 1-3 SMs, the clip coefficient and the skip flag; elements outside the
// launch stay untouched. A timing of each variant by SM count (what the overlapped optimizer
// leaves it) runs with PRIMUS_CUDA_BENCH=1.
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "kernel_benchmark_support.hpp"
#include "primus/ops/cuda/device_info.hpp"
#include "primus/train/cuda/master_weights.hpp"

namespace primus::ops::cuda::test {
namespace {

using train::cuda::SplitAdamWKernel;
using train::cuda::SplitAdamWLaunch;

constexpr SplitAdamWKernel kKernels[] = {SplitAdamWKernel::kReference, SplitAdamWKernel::kAsync};

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
           const std::int32_t* skip, int sms, SplitAdamWKernel kernel = SplitAdamWKernel::kReference) {
    train::cuda::split_adamw_launch_with(kernel, launch, reinterpret_cast<bf16*>(high.get()), low.get(), m.get(),
                                         v.get(), g.get(), clip, skip, nullptr, hyper, sms, nullptr);
    PRIMUS_KERNEL_CHECK(cudaDeviceSynchronize());
  }
  HostState download() const { return HostState{high.download(), low.download(), m.download(), v.download(), {}}; }
};

SplitAdamWLaunch make_launch(std::int64_t begin, std::initializer_list<std::int64_t> ends, std::uint32_t decay_mask) {
  SplitAdamWLaunch launch;
  launch.begin = begin;
  for (std::int64_t end : ends) launch.segment_end[launch.segment_count++] = end;
  launch.decay_mask = decay_mask;
  return launch;
}

// Elements of `after` that differ from a host AdamW in double (clip 0.5, hyper's step) of
// `before` inside the launch, or from `before` outside it; the first five are reported.
int count_wrong(const HostState& before, const HostState& after, const SplitAdamWLaunch& launch,
                const AdamWHyperparameters& hyper, double clip) {
  const double bc1 = 1.0 - std::pow(hyper.beta1, hyper.step), bc2 = 1.0 - std::pow(hyper.beta2, hyper.step);
  const double step_size = hyper.lr / bc1, decay_factor = 1.0 - hyper.lr * hyper.weight_decay;
  int segment = 0, wrong = 0;
  for (std::size_t e = 0; e < before.high.size(); ++e) {
    const auto i = static_cast<std::int64_t>(e);
    if (i < launch.begin || i >= launch.end()) {
      if (after.high[e] != before.high[e] || after.low[e] != before.low[e] || after.m[e] != before.m[e] ||
          after.v[e] != before.v[e])
        ++wrong;
      continue;
    }
    while (i >= launch.segment_end[segment]) ++segment;
    const bool decay = (launch.decay_mask >> segment) & 1u;
    const double g = clip * before.g[e];
    const double m_ref = hyper.beta1 * before.m[e] + (1.0 - hyper.beta1) * g;
    const double v_ref = hyper.beta2 * before.v[e] + (1.0 - hyper.beta2) * g * g;
    const double p0 = join(before.high[e], before.low[e]);
    const double denom = std::sqrt(v_ref / bc2) + hyper.eps;
    const double p_ref = p0 * (decay ? decay_factor : 1.0) - step_size * m_ref / denom;
    const double p = join(after.high[e], after.low[e]);
    // fp32 rounding: a few ulps of each term's magnitude (m may cancel), carried into p through m.
    const double tol_m = 1e-6 * (hyper.beta1 * std::abs(before.m[e]) + (1.0 - hyper.beta1) * std::abs(g));
    const double tol_p = 1e-6 * std::abs(p0) + step_size * (tol_m + 1e-5 * std::abs(m_ref)) / denom;
    const bool close = std::abs(p - p_ref) <= tol_p && std::abs(after.m[e] - m_ref) <= tol_m &&
                       std::abs(after.v[e] - v_ref) <= 1e-6 * v_ref;
    if (!close && ++wrong <= 5)
      ADD_FAILURE() << "element " << i << ": p " << p << " expected " << p_ref << ", m " << after.m[e] << " expected "
                    << m_ref << ", v " << after.v[e] << " expected " << v_ref;
  }
  return wrong;
}

bool same_bits(const HostState& a, const HostState& b) {
  auto bits = [](const std::vector<float>& x) {
    std::vector<std::uint32_t> out(x.size());
    if (!x.empty()) std::memcpy(out.data(), x.data(), x.size() * 4);
    return out;
  };
  return a.high == b.high && a.low == b.low && bits(a.m) == bits(b.m) && bits(a.v) == bits(b.v);
}

class SplitAdamWKernels : public ::testing::TestWithParam<SplitAdamWKernel> {
 protected:
  // Runs the launch with this test's kernel and with the reference kernel from `before`; expects
  // this kernel's result to match the host AdamW and the reference kernel's bits.
  void expect_update(const HostState& before, const SplitAdamWLaunch& launch, int sms) {
    const AdamWHyperparameters hyper{1e-3, 0.9, 0.95, 1e-8, 0.1, 3};
    DeviceBuffer<float> clip(std::vector<float>{0.5f});
    DeviceState device(before);
    device.run(launch, hyper, clip.get(), nullptr, sms, GetParam());
    const HostState after = device.download();
    EXPECT_EQ(count_wrong(before, after, launch, hyper, 0.5), 0);
    DeviceState reference(before);
    reference.run(launch, hyper, clip.get(), nullptr, sms, SplitAdamWKernel::kReference);
    EXPECT_TRUE(same_bits(after, reference.download())) << "differs from the reference kernel's bits";
    EXPECT_FALSE(same_bits(after, before)) << "nothing moved: the comparisons would be vacuous";
  }
};

// Parameters [3, 1000) decay, [1000, 1003) no decay, [1003, 30001) decay, [30001, 39990) no
// decay, on 2 SMs: the head, tail and segment ends fall off the 8-element packs.
TEST_P(SplitAdamWKernels, MatchesHostAdamWPerElement) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  expect_update(random_state(40'000, 5), make_launch(3, {1000, 1003, 30001, 39990}, 0b0101), 2);
}

// Segment ends inside one pack and inside one four-element quad, every other one decaying;
// 16 segments (the table's limit) on 1 SM.
TEST_P(SplitAdamWKernels, SegmentBoundariesInsidePacks) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  expect_update(random_state(20'000, 9),
                make_launch(1, {2, 3, 5, 6, 9, 11, 12, 13, 14, 17, 22, 23, 4099, 4101, 8195, 19'997}, 0xaaaa), 1);
}

// Launches smaller than a pack: inside one pack, and across one pack boundary.
TEST_P(SplitAdamWKernels, LaunchSmallerThanOnePack) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  expect_update(random_state(64, 10), make_launch(17, {19, 22}, 0b01), 0);
  expect_update(random_state(64, 11), make_launch(13, {14, 18}, 0b10), 1);
}

// A few million elements on 3 SMs: every thread runs many chunks (the async kernel's copies of
// the next chunk overlap the current one's math many times), with segment ends off the packs.
TEST_P(SplitAdamWKernels, LargeLaunchOnThreeSms) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  expect_update(random_state(3'000'011, 12), make_launch(5, {1'000'003, 1'000'010, 2'999'999, 3'000'006}, 0b1001),
                3);
}

TEST_P(SplitAdamWKernels, SkipFlagLeavesEverythingUntouched) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const HostState before = random_state(4096, 6);
  DeviceState device(before);
  DeviceBuffer<std::int32_t> skip(std::vector<std::int32_t>{1});
  device.run(make_launch(0, {4096}, 0), AdamWHyperparameters{1e-3, 0.9, 0.95, 1e-8, 0.1, 1}, nullptr, skip.get(), 0,
             GetParam());
  EXPECT_TRUE(same_bits(device.download(), before));
}

INSTANTIATE_TEST_SUITE_P(AllKernels, SplitAdamWKernels, ::testing::ValuesIn(kKernels),
                         [](const ::testing::TestParamInfo<SplitAdamWKernel>& info) {
                           return std::string(train::cuda::split_adamw_kernel_name(info.param));
                         });

// The variable's values name the kernels; anything else is refused with the choices listed.
TEST(SplitAdamWKernelName, ParsesEveryNameAndRejectsOthers) {
  for (SplitAdamWKernel kernel : kKernels)
    EXPECT_EQ(train::cuda::parse_split_adamw_kernel(train::cuda::split_adamw_kernel_name(kernel)), kernel);
  try {
    train::cuda::parse_split_adamw_kernel("fast");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("PRIMUS_SPLIT_ADAMW_KERNEL"), std::string::npos) << message;
    EXPECT_NE(message.find("'fast'"), std::string::npos) << message;
    EXPECT_NE(message.find("expected one of reference, async"), std::string::npos) << message;
  }
  EXPECT_THROW(train::cuda::parse_split_adamw_kernel(""), std::invalid_argument);
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

// Bandwidth of each kernel on k SMs: how much of the optimizer a side stream of k SMs can
// carry while the forward runs on the rest (28 bytes per parameter). The state is a random
// block tiled over the buffers: all-zero moments would send every sqrt and division down its
// slow path (zero and denormal operands), which training never does for long.
TEST(Benchmark, SplitAdamWBySmCount) {
  PRIMUS_SKIP_UNLESS_BENCH();
  const std::int64_t tile = 1 << 20, n = 1'000 * tile;
  const HostState block = random_state(tile, 13);
  DeviceBuffer<std::uint16_t> high(n), low(n);
  DeviceBuffer<float> m(n), v(n), g(n);
  auto fill = [&](auto& buffer, const auto& values) {
    DeviceBuffer<std::decay_t<decltype(values[0])>> source(values);
    const std::size_t bytes = values.size() * sizeof(values[0]);
    for (std::int64_t t = 0; t < n / tile; ++t)
      PRIMUS_KERNEL_CHECK(cudaMemcpy(reinterpret_cast<char*>(buffer.get()) + t * bytes, source.get(), bytes,
                                     cudaMemcpyDeviceToDevice));
  };
  fill(high, block.high);
  fill(low, block.low);
  fill(m, block.m);
  fill(v, block.v);
  fill(g, block.g);
  const SplitAdamWLaunch launch = make_launch(0, {n}, 1);
  const AdamWHyperparameters hyper{3e-4, 0.9, 0.95, 1e-8, 0.1, 10};
  for (int sms : {8, 16, 24, 32, 0}) {
    for (SplitAdamWKernel kernel : kKernels) {
      auto once = [&] {
        train::cuda::split_adamw_launch_with(kernel, launch, reinterpret_cast<bf16*>(high.get()), low.get(), m.get(),
                                             v.get(), g.get(), nullptr, nullptr, nullptr, hyper, sms, nullptr);
      };
      const double ms = time_ms(once, 3, 1);
      const double gbps = 28.0 * n / (ms * 1e-3) / 1e9;
      std::printf("BENCH split_adamw_launch %-9s sms=%-3d %9.3f ms %8.1f GB/s (%.1f GB/s per SM)\n",
                  train::cuda::split_adamw_kernel_name(kernel), sms, ms, gbps,
                  gbps / (sms > 0 ? sms : ops::cuda::device_sm_count()));
      EXPECT_GT(gbps, 0.0);
    }
  }
}

}  // namespace
}  // namespace primus::ops::cuda::test
