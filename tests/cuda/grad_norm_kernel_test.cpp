// Gradient-norm CUDA kernels vs a double reference: sum of squares, norm, clip
// coefficient (clipping and not clipping), the non-finite flag, and determinism.
#include <cmath>

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
  DeviceBuffer<double> scratch(grad_sum_of_squares_scratch_doubles()), sum(1), norm(1);
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

TEST(GradNormKernel, IsDeterministic) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const auto grads = random_values(3000017, 83);
  EXPECT_EQ(run_norm(grads, 0, 1.0).sum_of_squares, run_norm(grads, 0, 1.0).sum_of_squares);
}

}  // namespace
}  // namespace primus::ops::cuda::test
