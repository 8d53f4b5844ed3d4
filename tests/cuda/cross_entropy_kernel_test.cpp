// Cross-entropy CUDA kernels vs a double-precision reference: losses and lse (fp32),
// dlogits written in place over the logits or apart, by the fused forward+backward (the same
// bits as the forward-only kernel and the separate backward), vector and scalar
// (vocab % 8 != 0) paths, rows longer than shared memory stages, NaN propagation and the
// out-of-range label.
#include <cmath>

#include "kernel_test_support.hpp"
#include "primus/ops/cuda/cross_entropy.hpp"

namespace primus::ops::cuda::test {
namespace {

class CrossEntropyKernel : public ::testing::TestWithParam<std::pair<std::int64_t, std::int64_t>> {};

TEST_P(CrossEntropyKernel, ForwardAndInPlaceBackwardMatchReference) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const auto [rows, vocab] = GetParam();
  // Large spread so that max subtraction matters; one very large logit per row.
  auto logits = random_values(rows * vocab, 61, 4.0f);
  std::vector<std::int32_t> labels(rows);
  std::mt19937 generator(62);
  for (std::int64_t r = 0; r < rows; ++r) {
    labels[r] = static_cast<std::int32_t>(generator() % vocab);
    logits[r * vocab + generator() % vocab] = 60.0f;
  }
  const auto dlosses = random_values(rows, 63, 1.0f, 0.5f);
  std::vector<double> ref_loss(rows), ref_lse(rows), ref_dlogits(rows * vocab);
  for (std::int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY, sum = 0.0;
    for (std::int64_t j = 0; j < vocab; ++j) m = std::max(m, double(logits[r * vocab + j]));
    for (std::int64_t j = 0; j < vocab; ++j) sum += std::exp(logits[r * vocab + j] - m);
    ref_lse[r] = m + std::log(sum);
    ref_loss[r] = ref_lse[r] - logits[r * vocab + labels[r]];
    for (std::int64_t j = 0; j < vocab; ++j)
      ref_dlogits[r * vocab + j] =
          (std::exp(logits[r * vocab + j] - ref_lse[r]) - (j == labels[r] ? 1.0 : 0.0)) * dlosses[r];
  }
  DeviceBuffer<bf16> x(to_bf16(logits));
  DeviceBuffer<std::int32_t> label_ids(labels);
  DeviceBuffer<float> losses(rows), lse(rows), dloss(dlosses);
  losses.poison();
  lse.poison();
  cross_entropy_forward(losses.get(), lse.get(), x.get(), label_ids.get(), rows, vocab, nullptr);
  EXPECT_LT(relative_error(to_double(losses.download()), ref_loss), kFp32Tolerance);
  EXPECT_LT(relative_error(to_double(lse.download()), ref_lse), kFp32Tolerance);
  const auto forward_losses = losses.download(), forward_lse = lse.download();

  // Training's one pass, out of place: the forward's bits, and dlogits against the reference.
  DeviceBuffer<bf16> fused_dlogits(rows * vocab);
  DeviceBuffer<float> fused_losses(rows), fused_lse(rows);
  fused_dlogits.poison();
  fused_losses.poison();
  fused_lse.poison();
  cross_entropy_forward_backward(fused_losses.get(), fused_lse.get(), fused_dlogits.get(), x.get(), label_ids.get(),
                                 dloss.get(), rows, vocab, nullptr);
  expect_identical_bits(fused_losses.download(), forward_losses, "fused losses vs forward");
  expect_identical_bits(fused_lse.download(), forward_lse, "fused lse vs forward");
  const auto fused = fused_dlogits.download();
  EXPECT_LT(relative_error(to_double(fused), ref_dlogits), kBf16Tolerance);

  // The separate backward from the same lse, in place: the same dlogits bits.
  DeviceBuffer<bf16> in_place(to_bf16(logits));
  cross_entropy_backward(in_place.get(), in_place.get(), lse.get(), label_ids.get(), dloss.get(), rows, vocab, nullptr);
  expect_identical_bits(in_place.download(), fused, "separate backward vs fused dlogits");

  // The fused pass in place over the logits (what the engine does): the same bits again.
  cross_entropy_forward_backward(losses.get(), lse.get(), x.get(), x.get(), label_ids.get(), dloss.get(), rows, vocab,
                                 nullptr);
  expect_identical_bits(x.download(), fused, "fused in place vs out of place");
  expect_identical_bits(losses.download(), forward_losses, "fused in place losses");
}

INSTANTIATE_TEST_SUITE_P(Shapes, CrossEntropyKernel,
                         ::testing::Values(std::pair<std::int64_t, std::int64_t>{16, 32768},
                                           std::pair<std::int64_t, std::int64_t>{5, 50257},
                                           std::pair<std::int64_t, std::int64_t>{3, 128256},
                                           std::pair<std::int64_t, std::int64_t>{2, 262144},   // > one block's shared memory
                                           std::pair<std::int64_t, std::int64_t>{2, 150001},   // scalar path, > shared memory
                                           std::pair<std::int64_t, std::int64_t>{9, 7}));

TEST(CrossEntropyKernel, NanLogitOrBadLabelGivesNanLoss) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const std::int64_t rows = 3, vocab = 4096;
  auto logits = random_values(rows * vocab, 64);
  logits[vocab + 1234] = NAN;  // row 1
  DeviceBuffer<bf16> x(to_bf16(logits));
  DeviceBuffer<std::int32_t> labels(
      std::vector<std::int32_t>{5, 6, static_cast<std::int32_t>(vocab)});  // row 2: bad label
  DeviceBuffer<float> losses(rows), lse(rows);
  cross_entropy_forward(losses.get(), lse.get(), x.get(), labels.get(), rows, vocab, nullptr);
  const auto got = losses.download();
  EXPECT_TRUE(std::isfinite(got[0]));
  EXPECT_TRUE(std::isnan(got[1]));
  EXPECT_TRUE(std::isnan(got[2]));
}

}  // namespace
}  // namespace primus::ops::cuda::test
