// AdamW CUDA kernel vs a double-precision reference of the CPU twin's update:
// segments with and without decay, gaps left untouched, segments that split float4
// packs, a device clip coefficient, the bf16 weight copy, the non-finite skip flag.
#include <cmath>

#include "kernel_test_support.hpp"
#include "primus/ops/cuda/adamw.hpp"

namespace primus::ops::cuda::test {
namespace {

struct AdamWState {
  std::vector<float> params, grads, exp_avg, exp_avg_sq;
};

AdamWState random_state(std::int64_t numel) {
  AdamWState s{random_values(numel, 71), random_values(numel, 72, 0.01f), random_values(numel, 73, 0.001f),
               random_values(numel, 74, 1e-5f)};
  for (float& v : s.exp_avg_sq) v = std::fabs(v);
  return s;
}

class AdamWKernel : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(AdamWKernel, MatchesReferenceAcrossSegments) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const std::int64_t numel = GetParam();
  // Segments: odd boundaries (split packs of 4), a gap at [numel/3, numel/3 + 5), decay on/off alternating.
  std::vector<AdamWSegment> segments;
  const std::int64_t gap = numel / 3;
  segments.push_back({0, 7, 1, 0});
  segments.push_back({7, gap, 0, 0});
  segments.push_back({gap + 5, numel - 2, 1, 0});
  segments.push_back({numel - 2, numel, 0, 0});
  const AdamWState s = random_state(numel);
  const AdamWHyperparameters hyper{3e-4, 0.9, 0.95, 1e-8, 0.1, 3};
  const float clip = 0.37f;

  std::vector<double> ref_p(s.params.begin(), s.params.end()), ref_m(s.exp_avg.begin(), s.exp_avg.end()),
      ref_v(s.exp_avg_sq.begin(), s.exp_avg_sq.end());
  const double bc1 = 1.0 - std::pow(hyper.beta1, 3), bc2 = 1.0 - std::pow(hyper.beta2, 3);
  for (const AdamWSegment& seg : segments)
    for (std::int64_t i = seg.begin; i < seg.end; ++i) {
      const double g = double(s.grads[i]) * clip;
      ref_m[i] = hyper.beta1 * ref_m[i] + (1 - hyper.beta1) * g;
      ref_v[i] = hyper.beta2 * ref_v[i] + (1 - hyper.beta2) * g * g;
      const double decay = seg.weight_decay ? 1.0 - hyper.lr * hyper.weight_decay : 1.0;
      ref_p[i] = ref_p[i] * decay - hyper.lr / bc1 * ref_m[i] / (std::sqrt(ref_v[i] / bc2) + hyper.eps);
    }

  DeviceBuffer<float> params(s.params), grads(s.grads), m(s.exp_avg), v(s.exp_avg_sq),
      clip_coeff(std::vector<float>{clip});
  DeviceBuffer<bf16> model(numel);
  DeviceBuffer<AdamWSegment> table(segments);
  DeviceBuffer<std::int32_t> non_finite(std::vector<std::int32_t>{0});
  model.poison();
  adamw_step(params.get(), model.get(), m.get(), v.get(), grads.get(), clip_coeff.get(), non_finite.get(), table.get(),
             static_cast<std::int64_t>(segments.size()), numel, hyper, nullptr);
  const auto got_p = params.download(), got_m = m.download(), got_v = v.download();
  const auto got_model = model.download();
  // Parameter change relative to the reference change (the absolute values hide errors in the update).
  std::vector<double> delta, ref_delta;
  for (std::int64_t i = 0; i < numel; ++i) {
    delta.push_back(double(got_p[i]) - s.params[i]);
    ref_delta.push_back(ref_p[i] - s.params[i]);
  }
  EXPECT_LT(relative_error(delta, ref_delta), 1e-3);  // fp32 rounding of p itself is ~1e-7 * |p| vs a ~3e-4 step
  EXPECT_LT(relative_error(to_double(got_p), ref_p), kFp32Tolerance);
  EXPECT_LT(relative_error(to_double(got_m), ref_m), kFp32Tolerance);
  EXPECT_LT(relative_error(to_double(got_v), ref_v), kFp32Tolerance);
  for (std::int64_t i = gap; i < gap + 5; ++i) {
    ASSERT_EQ(got_p[i], s.params[i]) << "gap element " << i << " was updated";
    ASSERT_EQ(got_m[i], s.exp_avg[i]) << "gap element " << i;
  }
  for (std::int64_t i = 0; i < numel; ++i) {
    if (i >= gap && i < gap + 5) continue;
    ASSERT_EQ(to_float(got_model[i]), to_float(to_bf16(got_p[i]))) << "bf16 copy, element " << i;
  }
}

// (1 << 20) + 3: vector path with a tail; 1001 and 64: small.
INSTANTIATE_TEST_SUITE_P(Sizes, AdamWKernel, ::testing::Values((1 << 20) + 3, 1001, 64));

TEST(AdamWKernel, NonFiniteFlagSkipsTheUpdate) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const std::int64_t numel = 1000;
  const AdamWState s = random_state(numel);
  DeviceBuffer<float> params(s.params), grads(s.grads), m(s.exp_avg), v(s.exp_avg_sq);
  DeviceBuffer<AdamWSegment> table(std::vector<AdamWSegment>{{0, numel, 1, 0}});
  DeviceBuffer<std::int32_t> non_finite(std::vector<std::int32_t>{1});
  adamw_step(params.get(), nullptr, m.get(), v.get(), grads.get(), nullptr, non_finite.get(), table.get(), 1, numel,
             AdamWHyperparameters{1e-3, 0.9, 0.999, 1e-8, 0.0, 1}, nullptr);
  EXPECT_EQ(params.download(), s.params);
  EXPECT_EQ(m.download(), s.exp_avg);
  // Same call without the flag does update (the test above can fail).
  non_finite.upload({0});
  adamw_step(params.get(), nullptr, m.get(), v.get(), grads.get(), nullptr, non_finite.get(), table.get(), 1, numel,
             AdamWHyperparameters{1e-3, 0.9, 0.999, 1e-8, 0.0, 1}, nullptr);
  EXPECT_NE(params.download(), s.params);
}

TEST(AdamWArguments, RejectsBadHyperparameters) {
  EXPECT_THROW(adamw_step(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 10,
                          AdamWHyperparameters{1e-3, 0.9, 0.999, 1e-8, 0.0, 0}, nullptr),
               std::invalid_argument);
  EXPECT_THROW(adamw_step(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 10,
                          AdamWHyperparameters{1e-3, 1.0, 0.999, 1e-8, 0.0, 1}, nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace primus::ops::cuda::test
