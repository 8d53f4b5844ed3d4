// The split-master-weight AdamW launch (train/cuda/master_weights), for every kernel variant:
// each element against a host AdamW in double on the joined fp32 master weight (within fp32
// rounding: the kernels use fast math), and bit for bit against the reference kernel (also on
// zero, subnormal and huge values), with parameters that start and end off the 8-element packs
// (and inside them), mixed weight decay, launches smaller than a pack and of millions of
// elements, grids of 1-3 SMs, the clip coefficient and the skip flag; elements outside the
// launch stay untouched. Rows whose marks call their gradient zero: never read (they hold NaN
// and the bits still equal an update that read +0 there). A timing of each variant by SM count
// (what the overlapped optimizer leaves it) runs with PRIMUS_CUDA_BENCH=1.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <limits>
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
           const std::int32_t* skip, int sms, SplitAdamWKernel kernel = SplitAdamWKernel::kReference,
           const ZeroRows& zero_grads = {}) {
    train::cuda::split_adamw_launch_with(kernel, launch, reinterpret_cast<bf16*>(high.get()), low.get(), m.get(),
                                         v.get(), g.get(), clip, skip, nullptr, hyper, sms, nullptr, zero_grads);
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

// Weights, moments and gradients at zero (both signs), subnormal, tiny or huge: every other
// kernel's path (the async kernel's four elements, the halves joined and split a pair at a
// time) must give the reference kernel's per-element bits there too. Not a TEST_P: for the
// reference kernel itself that comparison could not fail.
TEST(SplitAdamWKernelsAgainstReference, EdgeValuesKeepTheReferenceBits) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  HostState state = random_state(50'000, 21);
  std::mt19937 rng(22);
  const float ps[] = {0.0f, -0.0f, 1e-40f, -3e-39f, 0.5f, -3e38f};
  const float ms[] = {0.0f, -0.0f, 1e-40f, -1e-40f, 3e-30f, -1e-29f, 2e18f, 1e22f, -1e-3f};
  const float vs[] = {0.0f, 1e-40f, 1e-35f, 4e-31f, 1e-30f, 1e30f, 3e38f, 1e-4f};
  const float gs[] = {0.0f, -0.0f, 1e-40f, -1e-20f, 1e-3f, 1e19f};
  auto pick = [&](const auto& values) { return values[rng() % std::size(values)]; };
  for (std::size_t e = 0; e < state.m.size(); ++e) {
    if (rng() % 3 == 0) {
      const float p = pick(ps);
      std::uint32_t bits;
      std::memcpy(&bits, &p, 4);
      state.high[e] = static_cast<std::uint16_t>(bits >> 16);
      state.low[e] = static_cast<std::uint16_t>(bits & 0xffff);
    }
    if (rng() % 3 == 0) state.m[e] = pick(ms);
    if (rng() % 3 == 0) state.v[e] = pick(vs);
    if (rng() % 3 == 0) state.g[e] = pick(gs);
  }
  DeviceBuffer<float> clip(std::vector<float>{0.5f});
  const SplitAdamWLaunch launch = make_launch(3, {1000, 1003, 30001, 49'990}, 0b0101);
  const AdamWHyperparameters hyper{1e-3, 0.9, 0.95, 1e-8, 0.1, 3};
  DeviceState reference(state);
  reference.run(launch, hyper, clip.get(), nullptr, 2, SplitAdamWKernel::kReference);
  const HostState want = reference.download();
  EXPECT_FALSE(same_bits(want, state)) << "nothing moved: the comparison would be vacuous";
  for (SplitAdamWKernel kernel : kKernels) {
    if (kernel == SplitAdamWKernel::kReference) continue;
    DeviceState device(state);
    device.run(launch, hyper, clip.get(), nullptr, 2, kernel);
    EXPECT_TRUE(same_bits(device.download(), want)) << train::cuda::split_adamw_kernel_name(kernel);
  }
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

// Marks for `rows` rows, about 30 % touched (1), the rest untouched (0), seeded.
std::vector<std::uint8_t> random_marks(std::int64_t rows, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> marks(static_cast<std::size_t>(rows));
  for (auto& mark : marks) mark = rng() % 10 < 3 ? 1 : 0;
  return marks;
}

// `state` with the gradient of every unmarked row of `rows` set to `value`.
HostState with_untouched_gradients(HostState state, const ZeroRows& rows, const std::vector<std::uint8_t>& marks,
                                   float value) {
  for (std::int64_t r = 0; r < rows.rows; ++r)
    if (marks[static_cast<std::size_t>(r)] == 0)
      for (std::int64_t c = 0; c < rows.row_elements; ++c)
        state.g[static_cast<std::size_t>(rows.begin + r * rows.row_elements + c)] = value;
  return state;
}

// Table `rows` (no marks yet) inside a state of n elements, random marks: the launch with this
// test's kernel skipping the unmarked rows, whose gradients hold NaN, must give exactly the
// bits of the reference kernel reading every gradient with those rows at +0 (a NaN read would
// poison the element). The poisoned state read in full must differ (the poison works).
void expect_untouched_rows_not_read(SplitAdamWKernel kernel, std::int64_t n, ZeroRows rows,
                                    const SplitAdamWLaunch& launch, int sms, std::uint32_t seed) {
  const AdamWHyperparameters hyper{1e-3, 0.9, 0.95, 1e-8, 0.1, 3};
  DeviceBuffer<float> clip(std::vector<float>{0.5f});
  const HostState before = random_state(n, seed);
  const std::vector<std::uint8_t> marks = random_marks(rows.rows, seed + 1);
  DeviceBuffer<std::uint8_t> device_marks(marks);
  const HostState zeroed = with_untouched_gradients(before, rows, marks, 0.0f);
  const HostState poisoned = with_untouched_gradients(before, rows, marks, std::numeric_limits<float>::quiet_NaN());
  DeviceState expected(zeroed);
  expected.run(launch, hyper, clip.get(), nullptr, sms, SplitAdamWKernel::kReference);
  const HostState want = expected.download();
  DeviceState skipping(poisoned);
  rows.marks = device_marks.get();
  skipping.run(launch, hyper, clip.get(), nullptr, sms, kernel, rows);
  EXPECT_TRUE(same_bits(skipping.download(), want)) << "read a gradient of an unmarked row, or moved another element";
  DeviceState reading(poisoned);
  reading.run(launch, hyper, clip.get(), nullptr, sms, kernel);
  EXPECT_FALSE(same_bits(reading.download(), want)) << "no poisoned row in the launch: the test would be vacuous";
  EXPECT_FALSE(same_bits(want, before)) << "nothing moved: the comparisons would be vacuous";
}

// Rows of 64 (packs and quads lie inside rows) from element 16: the whole table plus the
// parameter after it, and launches that start mid-table (on a pack, mid-pack, mid-row) and end
// past it, on 1-2 SMs; then the engine's shape (rows of 4096 from element 0) on 3 SMs, many
// chunks per thread.
TEST_P(SplitAdamWKernels, UntouchedRowsAlignedWithPacksAreNotRead) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const ZeroRows rows{nullptr, 16, 500, 64};  // elements [16, 32016)
  expect_untouched_rows_not_read(GetParam(), 40'000, rows, make_launch(16, {32'016, 39'990}, 0b01), 2, 21);
  expect_untouched_rows_not_read(GetParam(), 40'000, rows, make_launch(6'440, {20'003, 32'016, 39'990}, 0b101), 1, 22);
  expect_untouched_rows_not_read(GetParam(), 40'000, rows, make_launch(6'443, {32'016, 32'020}, 0b11), 2, 23);
  expect_untouched_rows_not_read(GetParam(), 2'100'000, ZeroRows{nullptr, 0, 512, 4096},
                                 make_launch(0, {512 * 4096, 2'099'997}, 0b01), 3, 24);
  expect_untouched_rows_not_read(GetParam(), 2'100'000, ZeroRows{nullptr, 0, 512, 4096},
                                 make_launch(300 * 4096 + 8, {512 * 4096}, 0b1), 2, 25);
}

// Rows whose edges fall inside packs and quads: 37 elements from element 3 (a launch from
// mid-row), 6 (smaller than a pack: nearly every pack straddles a row edge) from 5 after a
// parameter before the table, and 4 from 4 (quads inside rows, packs across them).
TEST_P(SplitAdamWKernels, UntouchedRowsOffThePacksAreNotRead) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const ZeroRows rows37{nullptr, 3, 700, 37};  // elements [3, 25903)
  expect_untouched_rows_not_read(GetParam(), 30'000, rows37, make_launch(3, {25'903, 29'999}, 0b10), 2, 31);
  expect_untouched_rows_not_read(GetParam(), 30'000, rows37, make_launch(1'864, {25'903, 29'999}, 0b01), 3, 32);
  expect_untouched_rows_not_read(GetParam(), 20'000, ZeroRows{nullptr, 5, 3000, 6},
                                 make_launch(0, {5, 18'005, 20'000}, 0b101), 1, 33);
  expect_untouched_rows_not_read(GetParam(), 16'010, ZeroRows{nullptr, 4, 4000, 4}, make_launch(4, {16'004}, 0b1), 2,
                                 34);
}

// Every row marked touched: every gradient is read, the same bits as a launch without rows.
TEST_P(SplitAdamWKernels, AllRowsTouchedEqualsReadingEverything) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const AdamWHyperparameters hyper{1e-3, 0.9, 0.95, 1e-8, 0.1, 3};
  DeviceBuffer<float> clip(std::vector<float>{0.5f});
  const HostState before = random_state(40'000, 41);
  for (const ZeroRows layout : {ZeroRows{nullptr, 16, 500, 64}, ZeroRows{nullptr, 3, 700, 37}}) {
    DeviceBuffer<std::uint8_t> marks(std::vector<std::uint8_t>(static_cast<std::size_t>(layout.rows), 1));
    ZeroRows rows = layout;
    rows.marks = marks.get();
    const SplitAdamWLaunch launch = make_launch(layout.begin + 9, {20'001, 39'990}, 0b01);
    DeviceState reading(before);
    reading.run(launch, hyper, clip.get(), nullptr, 2, GetParam());
    DeviceState marked(before);
    marked.run(launch, hyper, clip.get(), nullptr, 2, GetParam(), rows);
    const HostState want = reading.download();
    EXPECT_TRUE(same_bits(marked.download(), want)) << "row length " << layout.row_elements;
    EXPECT_FALSE(same_bits(want, before)) << "nothing moved: the comparison would be vacuous";
  }
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
  DeviceBuffer<std::uint8_t> marks(std::vector<std::uint8_t>(4, 0));
  EXPECT_THROW(device.run(make_launch(0, {64}, 0), AdamWHyperparameters{1e-3, 0.9, 0.95, 1e-8, 0.1, 1}, nullptr,
                          nullptr, 0, SplitAdamWKernel::kReference, ZeroRows{marks.get(), 0, 4, 0}),
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

// The gather with the table's zero rows: the gradients of unmarked rows hold NaN and are not
// read; the rows equal the update of the table with +0 there (tokens in marked and unmarked
// rows, and rows of 72: not a multiple of a pack). Rows that are not the table's are refused.
TEST(GatherRowsAfterAdamW, SkipsTheGradientsOfUntouchedRows) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const std::int64_t vocab = 300, hidden = 72, offset = 40, n = offset + vocab * hidden + 5;
  const HostState before = random_state(n, 51);
  std::vector<std::uint8_t> marks = random_marks(vocab, 52);
  marks[5] = 1;
  marks[17] = 0;
  const ZeroRows layout{nullptr, offset, vocab, hidden};
  DeviceBuffer<std::uint8_t> device_marks(marks);
  const std::vector<std::int32_t> tokens = {5, 299, 0, 5, 123, 17, 250};
  const std::int64_t rows = static_cast<std::int64_t>(tokens.size());
  DeviceBuffer<std::int32_t> token_buffer(tokens);
  DeviceBuffer<bf16> gathered(static_cast<std::size_t>(rows * hidden));
  DeviceBuffer<float> clip(std::vector<float>{0.7f});
  const AdamWHyperparameters hyper{2e-3, 0.9, 0.95, 1e-8, 0.1, 4};
  DeviceState poisoned(with_untouched_gradients(before, layout, marks, std::numeric_limits<float>::quiet_NaN()));
  ZeroRows zero = layout;
  zero.marks = device_marks.get();
  gathered.poison();
  train::cuda::gather_rows_after_adamw(gathered.get(), token_buffer.get(), rows, vocab, hidden, offset, true,
                                       reinterpret_cast<const bf16*>(poisoned.high.get()), poisoned.low.get(),
                                       poisoned.m.get(), poisoned.v.get(), poisoned.g.get(), clip.get(), nullptr,
                                       nullptr, hyper, nullptr, zero);
  const auto rows_out = gathered.download();
  DeviceState zeroed(with_untouched_gradients(before, layout, marks, 0.0f));
  zeroed.run(make_launch(offset, {offset + vocab * hidden}, 1), hyper, clip.get(), nullptr, 0);
  const auto high = zeroed.high.download();
  int wrong = 0;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < hidden; ++c) {
      std::uint16_t got;
      std::memcpy(&got, &rows_out[r * hidden + c], 2);
      wrong += got == high[offset + tokens[r] * hidden + c] ? 0 : 1;
    }
  EXPECT_EQ(wrong, 0);
  EXPECT_NE(high, before.high) << "the update moved nothing: the comparison would be vacuous";
  ZeroRows other = zero;
  other.begin = offset + hidden;
  EXPECT_THROW(train::cuda::gather_rows_after_adamw(
                   gathered.get(), token_buffer.get(), rows, vocab, hidden, offset, true,
                   reinterpret_cast<const bf16*>(poisoned.high.get()), poisoned.low.get(), poisoned.m.get(),
                   poisoned.v.get(), poisoned.g.get(), clip.get(), nullptr, nullptr, hyper, nullptr, other),
               std::invalid_argument);
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
  // The same buffer as one table of 4096-element rows, 3 % of them touched (about what a global
  // batch of 8K tokens touches of a 128K vocabulary): the untouched rows' gradients are not read.
  std::vector<std::uint8_t> host_marks(static_cast<std::size_t>(n / 4096));
  std::mt19937 rng(14);
  for (auto& mark : host_marks) mark = rng() % 100 < 3 ? 1 : 0;
  DeviceBuffer<std::uint8_t> marks(host_marks);
  const ZeroRows rows{marks.get(), 0, n / 4096, 4096};
  for (int sms : {24, 0}) {
    for (SplitAdamWKernel kernel : kKernels) {
      auto once = [&] {
        train::cuda::split_adamw_launch_with(kernel, launch, reinterpret_cast<bf16*>(high.get()), low.get(), m.get(),
                                             v.get(), g.get(), nullptr, nullptr, nullptr, hyper, sms, nullptr, rows);
      };
      const double ms = time_ms(once, 3, 1);
      std::printf("BENCH split_adamw_launch %-9s sms=%-3d %9.3f ms with 97 %% of the rows' gradients not read\n",
                  train::cuda::split_adamw_kernel_name(kernel), sms, ms);
      EXPECT_GT(ms, 0.0);
    }
  }
}

}  // namespace
}  // namespace primus::ops::cuda::test
