// LayerNorm CUDA kernels vs double-precision references: forward (out, mean, rstd),
// backward (din written, dweight and dbias accumulated), vector and scalar paths, widest rows.
#include <cmath>

#include "kernel_test_support.hpp"
#include "primus/ops/cuda/layernorm.hpp"

namespace primus::ops::cuda::test {
namespace {

struct LayernormCase {
  std::int64_t rows, dim;
  bool one_plus;
};

class LayernormKernel : public ::testing::TestWithParam<LayernormCase> {};

TEST_P(LayernormKernel, ForwardAndBackwardMatchReference) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const auto [rows, dim, one_plus] = GetParam();
  const std::size_t n = rows * dim;
  const double offset = one_plus ? 1.0 : 0.0;
  const float eps = 1e-5f;
  // A large common offset per element makes a one-pass variance lose digits.
  const auto x = random_values(n, 91, 1.0f, 3.0f), w = random_values(dim, 92, 0.3f, one_plus ? 0.0f : 1.0f);
  const auto bias = random_values(dim, 93, 0.5f), dy = random_values(n, 94);
  const auto dw_start = random_values(dim, 95), db_start = random_values(dim, 96);

  std::vector<double> ref_out(n), ref_mean(rows), ref_rstd(rows), ref_dx(n);
  std::vector<double> ref_dw(dw_start.begin(), dw_start.end()), ref_db(db_start.begin(), db_start.end());
  for (std::int64_t r = 0; r < rows; ++r) {
    double sum = 0.0, var = 0.0;
    for (std::int64_t i = 0; i < dim; ++i) sum += x[r * dim + i];
    const double mean = sum / dim;
    for (std::int64_t i = 0; i < dim; ++i) var += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
    const double rstd = 1.0 / std::sqrt(var / dim + eps);
    ref_mean[r] = mean;
    ref_rstd[r] = rstd;
    double mean_g = 0.0, mean_gx = 0.0;
    for (std::int64_t i = 0; i < dim; ++i) {
      const std::size_t e = r * dim + i;
      const double xhat = (x[e] - mean) * rstd, g = dy[e] * (w[i] + offset);
      ref_out[e] = xhat * (w[i] + offset) + bias[i];
      mean_g += g / dim;
      mean_gx += g * xhat / dim;
      ref_dw[i] += dy[e] * xhat;
      ref_db[i] += dy[e];
    }
    for (std::int64_t i = 0; i < dim; ++i) {
      const std::size_t e = r * dim + i;
      const double xhat = (x[e] - mean) * rstd, g = dy[e] * (w[i] + offset);
      ref_dx[e] = rstd * (g - mean_g - xhat * mean_gx);
    }
  }
  DeviceBuffer<bf16> in(to_bf16(x)), weight(to_bf16(w)), b(to_bf16(bias)), dout(to_bf16(dy)), out(n), din(n);
  DeviceBuffer<float> mean(rows), rstd(rows), dweight(dw_start), dbias(db_start),
      scratch(layernorm_backward_scratch_floats(rows, dim));
  out.poison();
  din.poison();
  mean.poison();
  rstd.poison();
  scratch.poison();
  layernorm_forward(out.get(), mean.get(), rstd.get(), in.get(), weight.get(), b.get(), rows, dim, eps, one_plus,
                    nullptr);
  EXPECT_LT(relative_error(to_double(out.download()), ref_out), kBf16Tolerance);
  EXPECT_LT(relative_error(to_double(mean.download()), ref_mean), kFp32Tolerance);
  EXPECT_LT(relative_error(to_double(rstd.download()), ref_rstd), kFp32Tolerance);
  layernorm_backward(din.get(), dweight.get(), dbias.get(), dout.get(), in.get(), weight.get(), mean.get(), rstd.get(),
                     rows, dim, one_plus, scratch.get(), nullptr);
  EXPECT_LT(relative_error(to_double(din.download()), ref_dx), kBf16Tolerance);
  EXPECT_LT(relative_error(to_double(dweight.download()), ref_dw), kFp32Tolerance);
  EXPECT_LT(relative_error(to_double(dbias.download()), ref_db), kFp32Tolerance);
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayernormKernel,
                         ::testing::Values(LayernormCase{37, 1024, false}, LayernormCase{3000, 64, true},
                                           LayernormCase{11, 1001, false}, LayernormCase{3, 16384, true},
                                           LayernormCase{2, 8191, false}));

TEST(LayernormArguments, RejectsBadShapes) {
  EXPECT_THROW(layernorm_forward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 2, 20000, 1e-5f, false, nullptr),
               std::invalid_argument);
  EXPECT_THROW(layernorm_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 2, 64, false,
                                  nullptr, nullptr),
               std::invalid_argument);
}

TEST(LayernormArguments, ScalarBackwardRejectsRowsWiderThan8192) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();  // the check follows the alignment test of real buffers
  const std::int64_t rows = 1, dim = 8193;
  DeviceBuffer<bf16> x(to_bf16(random_values(dim, 97))), w(dim), dx(dim);
  DeviceBuffer<float> mean(rows), rstd(rows), dweight(dim), dbias(dim),
      scratch(layernorm_backward_scratch_floats(rows, dim));
  EXPECT_THROW(layernorm_backward(dx.get(), dweight.get(), dbias.get(), x.get(), x.get(), w.get(), mean.get(),
                                  rstd.get(), rows, dim, false, scratch.get(), nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace primus::ops::cuda::test
