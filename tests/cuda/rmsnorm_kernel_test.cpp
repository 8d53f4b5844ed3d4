// RMSNorm CUDA kernels vs double-precision references: plain and fused-residual
// forward, backward with dweight accumulation (also with the residual gradient added),
// vector and scalar paths, argument errors.
#include <cmath>
#include <stdexcept>

#include "kernel_test_support.hpp"
#include "primus/ops/cuda/rmsnorm.hpp"

namespace primus::ops::cuda::test {
namespace {

struct NormReference {
  std::vector<double> out;
  std::vector<double> rstd;
};

NormReference reference_forward(const std::vector<float>& x, const std::vector<float>& w, std::int64_t rows,
                                std::int64_t dim, double eps, bool one_plus) {
  NormReference ref{std::vector<double>(x.size()), std::vector<double>(rows)};
  for (std::int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (std::int64_t i = 0; i < dim; ++i) sum += double(x[r * dim + i]) * x[r * dim + i];
    ref.rstd[r] = 1.0 / std::sqrt(sum / dim + eps);
    for (std::int64_t i = 0; i < dim; ++i)
      ref.out[r * dim + i] = x[r * dim + i] * ref.rstd[r] * (w[i] + (one_plus ? 1.0 : 0.0));
  }
  return ref;
}

struct ForwardCase {
  std::int64_t rows, dim;
  bool one_plus;
  std::size_t misalign;  // elements by which the tensors start off 16-byte alignment
};

class RmsnormForward : public ::testing::TestWithParam<ForwardCase> {};

TEST_P(RmsnormForward, MatchesReference) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const auto [rows, dim, one_plus, misalign] = GetParam();
  const std::size_t n = rows * dim;
  const float eps = 1e-5f;
  const auto x = random_values(n, 1, 2.0f), w = random_values(dim, 2, 0.5f, one_plus ? 0.0f : 1.0f);
  std::vector<bf16> padded_x(n + misalign);
  for (std::size_t i = 0; i < n; ++i) padded_x[misalign + i] = to_bf16(x[i]);
  DeviceBuffer<bf16> in(padded_x), weight(to_bf16(w)), out(n + misalign);
  DeviceBuffer<float> rstd(rows);
  out.poison();
  rstd.poison();
  rmsnorm_forward(out.get() + misalign, rstd.get(), in.get() + misalign, weight.get(), rows, dim, eps, one_plus,
                  nullptr);
  const auto ref = reference_forward(x, w, rows, dim, eps, one_plus);
  auto got = to_double(out.download());
  got.erase(got.begin(), got.begin() + misalign);
  EXPECT_LT(relative_error(got, ref.out), kBf16Tolerance);
  EXPECT_LT(relative_error(to_double(rstd.download()), ref.rstd), kFp32Tolerance);
}

INSTANTIATE_TEST_SUITE_P(Shapes, RmsnormForward,
                         ::testing::Values(ForwardCase{37, 4096, false, 0}, ForwardCase{64, 1000, true, 0},
                                           ForwardCase{19, 1001, false, 0}, ForwardCase{5, 16384, true, 0},
                                           ForwardCase{7, 4096, false, 1}, ForwardCase{1, 8, false, 0},
                                           ForwardCase{2, 16383, false, 0}));  // scalar, 1024 threads

struct BackwardCase {
  std::int64_t rows, dim;
  bool one_plus, with_dresidual;
};

class RmsnormBackward : public ::testing::TestWithParam<BackwardCase> {};

TEST_P(RmsnormBackward, MatchesReference) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const auto [rows, dim, one_plus, with_dresidual] = GetParam();
  const std::size_t n = rows * dim;
  const auto x = random_values(n, 6, 1.5f), dy = random_values(n, 7), w = random_values(dim, 8, 0.5f, 1.0f);
  const auto dres = random_values(n, 9, 0.1f);
  const auto dweight_start = random_values(dim, 10);
  const double offset = one_plus ? 1.0 : 0.0;
  // rstd as the forward would save it (fp32 of the exact value).
  std::vector<float> rstd(rows);
  for (std::int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (std::int64_t i = 0; i < dim; ++i) sum += double(x[r * dim + i]) * x[r * dim + i];
    rstd[r] = static_cast<float>(1.0 / std::sqrt(sum / dim + 1e-5));
  }
  std::vector<double> ref_dx(n), ref_dw(dweight_start.begin(), dweight_start.end());
  for (std::int64_t r = 0; r < rows; ++r) {
    double dot = 0.0;
    for (std::int64_t i = 0; i < dim; ++i) dot += double(dy[r * dim + i]) * (w[i] + offset) * x[r * dim + i];
    const double s = rstd[r];
    for (std::int64_t i = 0; i < dim; ++i) {
      const std::size_t e = r * dim + i;
      ref_dx[e] = s * dy[e] * (w[i] + offset) - double(x[e]) * s * s * s * dot / dim + (with_dresidual ? dres[e] : 0.0);
      ref_dw[i] += double(dy[e]) * x[e] * s;
    }
  }
  DeviceBuffer<bf16> in(to_bf16(x)), dout(to_bf16(dy)), weight(to_bf16(w)), dresidual(to_bf16(dres)), din(n);
  DeviceBuffer<float> saved_rstd(rstd), dweight(dweight_start), scratch(rmsnorm_backward_scratch_floats(rows, dim));
  din.poison();
  scratch.poison();
  rmsnorm_backward(din.get(), dweight.get(), dout.get(), in.get(), weight.get(), saved_rstd.get(), rows, dim, one_plus,
                   scratch.get(), with_dresidual ? dresidual.get() : nullptr, nullptr);
  EXPECT_LT(relative_error(to_double(din.download()), ref_dx), kBf16Tolerance);
  EXPECT_LT(relative_error(to_double(dweight.download()), ref_dw), kFp32Tolerance);
}

INSTANTIATE_TEST_SUITE_P(Shapes, RmsnormBackward,
                         ::testing::Values(BackwardCase{600, 1024, false, false}, BackwardCase{33, 4096, true, true},
                                           BackwardCase{3, 1001, false, true}, BackwardCase{1100, 24, true, false},
                                           BackwardCase{5000, 64, false, true},  // many rows per block
                                           BackwardCase{3, 16384, false, true},  // 1024-thread blocks
                                           BackwardCase{2, 16383, true, false}));

TEST(RmsnormBackward, IsDeterministic) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const std::int64_t rows = 7777, dim = 512;  // more rows than blocks: each block sums several
  const std::size_t n = rows * dim;
  DeviceBuffer<bf16> in(to_bf16(random_values(n, 11))), dout(to_bf16(random_values(n, 12))),
      weight(to_bf16(random_values(dim, 13))), din(n);
  DeviceBuffer<float> rstd(std::vector<float>(rows, 0.7f)), scratch(rmsnorm_backward_scratch_floats(rows, dim));
  std::vector<std::vector<float>> results;
  for (int run = 0; run < 2; ++run) {
    DeviceBuffer<float> dweight(std::vector<float>(dim, 0.0f));
    rmsnorm_backward(din.get(), dweight.get(), dout.get(), in.get(), weight.get(), rstd.get(), rows, dim, false,
                     scratch.get(), nullptr, nullptr);
    results.push_back(dweight.download());
  }
  EXPECT_EQ(results[0], results[1]);
}

// Argument checks run before any CUDA call, so they are tested on machines without a GPU too.
TEST(RmsnormArguments, RejectsTooWideRowsAndMissingScratch) {
  EXPECT_THROW(rmsnorm_forward(nullptr, nullptr, nullptr, nullptr, 4, 16385, 1e-5f, false, nullptr),
               std::invalid_argument);
  EXPECT_THROW(
      rmsnorm_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 4, 64, false, nullptr, nullptr, nullptr),
      std::invalid_argument);
  try {
    rmsnorm_forward(nullptr, nullptr, nullptr, nullptr, 4, 0, 1e-5f, false, nullptr);
    FAIL() << "dim = 0 accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("rmsnorm_forward: dim = 0"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace primus::ops::cuda::test
