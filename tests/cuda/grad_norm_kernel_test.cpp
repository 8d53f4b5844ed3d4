// Gradient-norm CUDA kernels vs a double reference: sum of squares, norm, clip
// coefficient (clipping and not clipping), the non-finite flag, skipped zero rows (the same
// bits as reading them), and determinism.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "kernel_test_support.hpp"
#include "primus/ops/cuda/grad_norm.hpp"

namespace primus::ops::cuda::test {
namespace {

struct NormResult {
  double sum_of_squares, norm;
  float clip_coeff;
  std::int32_t non_finite;
};

NormResult run_norm(const std::vector<float>& grads, std::size_t offset, double max_norm) {
  DeviceBuffer<float> g(grads);
  DeviceBuffer<double> scratch(grad_sum_of_squares_scratch_doubles(static_cast<std::int64_t>(grads.size() - offset))),
      sum(1), norm(1);
  DeviceBuffer<float> coeff(1);
  DeviceBuffer<std::int32_t> flag(1);
  scratch.poison();
  sum.poison();
  norm.poison();
  coeff.poison();
  flag.poison();
  grad_sum_of_squares(sum.get(), g.get() + offset, static_cast<std::int64_t>(grads.size() - offset), scratch.get(),
                      nullptr);
  grad_clip_coefficient(coeff.get(), flag.get(), norm.get(), sum.get(), max_norm, nullptr);
  return {sum.download()[0], norm.download()[0], coeff.download()[0], flag.download()[0]};
}

TEST(GradNormKernel, MatchesReferenceAndClips) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  for (const std::size_t count : {std::size_t{(1 << 22) + 5}, std::size_t{1001}, std::size_t{1}}) {
    for (const std::size_t offset : {std::size_t{0}, std::size_t{1}}) {
      if (offset >= count) continue;
      const auto grads = random_values(count, 81, 0.05f);
      double ref = 0.0;
      for (std::size_t i = offset; i < count; ++i) ref += double(grads[i]) * grads[i];
      const double ref_norm = std::sqrt(ref);
      for (const double max_norm : {ref_norm / 2, ref_norm * 2, 0.0}) {
        const NormResult r = run_norm(grads, offset, max_norm);
        EXPECT_NEAR(r.sum_of_squares, ref, 1e-10 * ref) << count;  // order of double sums differs
        EXPECT_NEAR(r.norm, ref_norm, 1e-10 * ref_norm);
        const double expected_coeff =
            (max_norm > 0 && max_norm / (ref_norm + 1e-6) < 1) ? max_norm / (ref_norm + 1e-6) : 1.0;
        EXPECT_NEAR(r.clip_coeff, expected_coeff, 1e-6 * expected_coeff) << "max_norm " << max_norm;
        EXPECT_EQ(r.non_finite, 0);
      }
    }
  }
}

TEST(GradNormKernel, FlagsNonFiniteAndDoesNotClip) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  for (const float bad : {NAN, INFINITY}) {
    auto grads = random_values(100000, 82);
    grads[77777] = bad;
    const NormResult r = run_norm(grads, 0, 1.0);
    EXPECT_FALSE(std::isfinite(r.norm));
    EXPECT_EQ(r.non_finite, 1);
    EXPECT_EQ(r.clip_coeff, 1.0f);
  }
}

// Sum of squares with zero rows skipped, or read in full when rows is none.
double sum_with_rows(const std::vector<float>& grads, const std::vector<std::uint8_t>& marks, ZeroRows rows) {
  const auto numel = static_cast<std::int64_t>(grads.size());
  DeviceBuffer<float> g(grads);
  DeviceBuffer<double> scratch(grad_sum_of_squares_scratch_doubles(numel)), sum(1);
  DeviceBuffer<std::uint8_t> device_marks(marks.empty() ? std::vector<std::uint8_t>{0} : marks);
  if (!marks.empty()) rows.marks = device_marks.get();
  scratch.poison();
  sum.poison();
  grad_sum_of_squares(sum.get(), g.get(), numel, scratch.get(), nullptr, rows);
  return sum.download()[0];
}

// Unmarked rows hold NaN: skipped, the sum must have exactly the bits of the full read of the
// same buffer with those rows at 0. Row lengths that divide a thread's 4096-element stride
// (4096, 64), that do not (3072, 36: the row counter carries), and 6 (rows off the 4-element
// vectors: read in full, still equal); rows from element 0, and from inside a chunk.
TEST(GradNormKernel, SkippedZeroRowsGiveTheFullReadBits) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const std::int64_t numel = 3 * (std::int64_t{1} << 18) + 123457;  // chunks of 2^18 elements, a partial last one
  std::mt19937 generator(85);
  for (const ZeroRows layout : {ZeroRows{nullptr, 0, 150, 4096}, ZeroRows{nullptr, 12, 200, 3072},
                                ZeroRows{nullptr, 300'004, 9000, 36}, ZeroRows{nullptr, 260'000, 5000, 64},
                                ZeroRows{nullptr, 4, 1000, 6}}) {
    const std::string what = "rows of " + std::to_string(layout.row_elements) + " from " + std::to_string(layout.begin);
    std::vector<std::uint8_t> marks(static_cast<std::size_t>(layout.rows));
    for (auto& mark : marks) mark = generator() % 4 == 0 ? 1 : 0;
    std::vector<float> zeroed = random_values(static_cast<std::size_t>(numel), 86, 0.05f), poisoned = zeroed;
    for (std::int64_t r = 0; r < layout.rows; ++r)
      if (marks[static_cast<std::size_t>(r)] == 0)
        for (std::int64_t e = 0; e < layout.row_elements; ++e) {
          const auto i = static_cast<std::size_t>(layout.begin + r * layout.row_elements + e);
          zeroed[i] = 0.0f;
          poisoned[i] = std::numeric_limits<float>::quiet_NaN();
        }
    const double want = sum_with_rows(zeroed, {}, {});
    if (layout.row_elements % 4 == 0) {
      const double skipped = sum_with_rows(poisoned, marks, layout);
      EXPECT_EQ(std::memcmp(&skipped, &want, sizeof(double)), 0) << what << ": " << skipped << " vs " << want;
      EXPECT_TRUE(std::isnan(sum_with_rows(poisoned, {}, {}))) << what << ": the poison must show when read";
    } else {
      EXPECT_EQ(sum_with_rows(zeroed, marks, layout), want) << what;
    }
  }
}

TEST(GradNormKernel, RejectsZeroRowsOutsideTheBuffer) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  DeviceBuffer<float> g(std::vector<float>(100, 1.0f));
  DeviceBuffer<double> scratch(1), sum(1);
  DeviceBuffer<std::uint8_t> marks(std::vector<std::uint8_t>(11, 1));
  EXPECT_THROW(grad_sum_of_squares(sum.get(), g.get(), 100, scratch.get(), nullptr, ZeroRows{marks.get(), 0, 11, 10}),
               std::invalid_argument);
  EXPECT_THROW(grad_sum_of_squares(sum.get(), g.get(), 100, scratch.get(), nullptr, ZeroRows{marks.get(), 0, 5, 0}),
               std::invalid_argument);
  EXPECT_THROW(grad_sum_of_squares(sum.get(), g.get(), 100, nullptr, nullptr), std::invalid_argument);
}

TEST(GradNormKernel, IsDeterministic) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const auto grads = random_values(3000017, 83);
  EXPECT_EQ(run_norm(grads, 0, 1.0).sum_of_squares, run_norm(grads, 0, 1.0).sum_of_squares);
}

}  // namespace
}  // namespace primus::ops::cuda::test
