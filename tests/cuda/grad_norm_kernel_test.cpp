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

// The engine takes the partials of finished layers on a side stream on a few SMs during
// backward and the rest after it: the sum must be the one-pass sum, bit for bit.
TEST(GradNormKernel, PartialsInPiecesOnTwoStreamsGiveTheOnePassBits) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const std::int64_t chunk = grad_norm_chunk_elements();
  const std::int64_t numel = 7 * chunk + 12345;  // a partial last chunk, not a multiple of 4
  const auto grads = random_values(static_cast<std::size_t>(numel), 84, 0.05f);
  DeviceBuffer<float> g(grads);
  const std::int64_t chunks = grad_sum_of_squares_scratch_doubles(numel);
  ASSERT_EQ(chunks, 8);
  DeviceBuffer<double> one_pass(chunks), pieces(chunks), sum_one(1), sum_pieces(1);
  one_pass.poison();
  pieces.poison();
  grad_sum_of_squares(sum_one.get(), g.get(), numel, one_pass.get(), nullptr);
  cudaStream_t side = nullptr;
  PRIMUS_KERNEL_CHECK(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking));
  const std::int64_t split = grad_norm_chunk_at_or_after(3 * chunk + 1);
  ASSERT_EQ(split, 4);
  grad_sum_of_squares_partials(pieces.get(), g.get(), numel, split, chunks, /*max_sms=*/3, side);
  grad_sum_of_squares_partials(pieces.get(), g.get(), numel, 0, split, /*max_sms=*/0, nullptr);
  PRIMUS_KERNEL_CHECK(cudaStreamSynchronize(side));
  PRIMUS_KERNEL_CHECK(cudaStreamDestroy(side));
  grad_sum_partials(sum_pieces.get(), pieces.get(), chunks, nullptr);
  const auto a = one_pass.download(), b = pieces.download();
  double ref_last = 0.0;
  for (std::int64_t i = 7 * chunk; i < numel; ++i) ref_last += double(grads[i]) * grads[i];
  EXPECT_NEAR(a[7], ref_last, 1e-10 * ref_last) << "the partial last chunk";
  for (std::int64_t c = 0; c < chunks; ++c) EXPECT_EQ(a[c], b[c]) << "chunk " << c;
  EXPECT_EQ(sum_one.download()[0], sum_pieces.download()[0]);
}

TEST(GradNormKernel, RejectsChunksOutsideTheBuffer) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  DeviceBuffer<float> g(std::vector<float>(10, 1.0f));
  DeviceBuffer<double> partials(2);
  EXPECT_THROW(grad_sum_of_squares_partials(partials.get(), g.get(), 10, 0, 2, 0, nullptr), std::invalid_argument);
  EXPECT_THROW(grad_sum_of_squares_partials(partials.get(), g.get(), 10, 1, 0, 0, nullptr), std::invalid_argument);
  EXPECT_THROW(grad_sum_of_squares_partials(partials.get(), g.get(), 10, 0, 1, -1, nullptr), std::invalid_argument);
}

TEST(GradNormKernel, IsDeterministic) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const auto grads = random_values(3000017, 83);
  EXPECT_EQ(run_norm(grads, 0, 1.0).sum_of_squares, run_norm(grads, 0, 1.0).sum_of_squares);
}

}  // namespace
}  // namespace primus::ops::cuda::test
