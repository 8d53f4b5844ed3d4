// SwiGLU CUDA kernels vs a double-precision reference, vector and scalar (ffn % 8 != 0) paths;
// the fused backward-and-forward bit-identical to the two kernels.
#include <cmath>

#include "kernel_test_support.hpp"
#include "primus/ops/cuda/swiglu.hpp"

namespace primus::ops::cuda::test {
namespace {

class SwigluKernel : public ::testing::TestWithParam<std::pair<std::int64_t, std::int64_t>> {};

TEST_P(SwigluKernel, ForwardAndBackwardMatchReference) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const auto [rows, ffn] = GetParam();
  const auto in = random_values(rows * 2 * ffn, 31, 2.0f), dy = random_values(rows * ffn, 32);
  std::vector<double> ref_out(rows * ffn), ref_din(rows * 2 * ffn);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < ffn; ++j) {
      const double g = in[r * 2 * ffn + j], u = in[r * 2 * ffn + ffn + j], d = dy[r * ffn + j];
      const double s = 1.0 / (1.0 + std::exp(-g));
      ref_out[r * ffn + j] = g * s * u;
      ref_din[r * 2 * ffn + j] = d * u * s * (1.0 + g * (1.0 - s));
      ref_din[r * 2 * ffn + ffn + j] = d * g * s;
    }
  DeviceBuffer<bf16> input(to_bf16(in)), dout(to_bf16(dy)), out(rows * ffn), din(rows * 2 * ffn);
  out.poison();
  din.poison();
  swiglu_forward(out.get(), input.get(), rows, ffn, nullptr);
  swiglu_backward(din.get(), dout.get(), input.get(), rows, ffn, nullptr);
  EXPECT_LT(relative_error(to_double(out.download()), ref_out), kBf16Tolerance);
  EXPECT_LT(relative_error(to_double(din.download()), ref_din), kBf16Tolerance);
  // The fused backward that also recomputes the forward's output: both bit-identical.
  DeviceBuffer<bf16> fused_out(rows * ffn), fused_din(rows * 2 * ffn);
  fused_out.poison();
  fused_din.poison();
  swiglu_backward_and_forward(fused_out.get(), fused_din.get(), dout.get(), input.get(), rows, ffn, nullptr);
  EXPECT_EQ(to_double(fused_out.download()), to_double(out.download()));
  EXPECT_EQ(to_double(fused_din.download()), to_double(din.download()));
}

INSTANTIATE_TEST_SUITE_P(Shapes, SwigluKernel,
                         ::testing::Values(std::pair<std::int64_t, std::int64_t>{64, 4096},
                                           std::pair<std::int64_t, std::int64_t>{13, 1001},
                                           std::pair<std::int64_t, std::int64_t>{7, 8},
                                           std::pair<std::int64_t, std::int64_t>{1, 3}));

TEST(SwigluArguments, RejectsZeroFfn) {
  EXPECT_THROW(swiglu_forward(nullptr, nullptr, 4, 0, nullptr), std::invalid_argument);
  EXPECT_THROW(swiglu_backward_and_forward(nullptr, nullptr, nullptr, nullptr, 4, 8, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace primus::ops::cuda::test
