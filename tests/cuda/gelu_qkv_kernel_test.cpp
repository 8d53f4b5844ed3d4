// GELU and fused-QKV split CUDA kernels vs references: GELU forward/backward in double
// (vector and scalar paths), QKV split forward and backward bit-exact (pure copies,
// including grouped-query layouts).
#include <cmath>

#include "kernel_test_support.hpp"
#include "primus/ops/cuda/gelu.hpp"
#include "primus/ops/cuda/qkv_split.hpp"

namespace primus::ops::cuda::test {
namespace {

class GeluKernel : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(GeluKernel, ForwardAndBackwardMatchReference) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const std::int64_t count = GetParam();
  const auto x = random_values(count, 101, 2.0f), dy = random_values(count, 102);
  std::vector<double> ref_out(count), ref_din(count);
  for (std::int64_t i = 0; i < count; ++i) {
    const double cdf = 0.5 * (1.0 + std::erf(x[i] / std::sqrt(2.0)));
    const double pdf = std::exp(-0.5 * double(x[i]) * x[i]) / std::sqrt(2.0 * M_PI);
    ref_out[i] = x[i] * cdf;
    ref_din[i] = dy[i] * (cdf + x[i] * pdf);
  }
  DeviceBuffer<bf16> in(to_bf16(x)), dout(to_bf16(dy)), out(count), din(count);
  out.poison();
  din.poison();
  gelu_forward(out.get(), in.get(), count, nullptr);
  gelu_backward(din.get(), dout.get(), in.get(), count, nullptr);
  EXPECT_LT(relative_error(to_double(out.download()), ref_out), kBf16Tolerance);
  EXPECT_LT(relative_error(to_double(din.download()), ref_din), kBf16Tolerance);
}

INSTANTIATE_TEST_SUITE_P(Lengths, GeluKernel, ::testing::Values(1 << 20, 100003, 7));

struct QkvCase {
  std::int64_t rows, num_heads, num_query_groups, head_dim;
};

class QkvSplitKernel : public ::testing::TestWithParam<QkvCase> {};

TEST_P(QkvSplitKernel, ForwardAndBackwardAreExactCopies) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const auto [rows, heads, groups, head_dim] = GetParam();
  const std::int64_t per_group = heads / groups, width = (heads + 2 * groups) * head_dim;
  const auto fused = to_bf16(random_values(rows * width, 103));
  DeviceBuffer<bf16> qkv(fused), q(rows * heads * head_dim), k(rows * groups * head_dim), v(rows * groups * head_dim),
      back(rows * width);
  q.poison();
  k.poison();
  v.poison();
  back.poison();
  qkv_split_forward(q.get(), k.get(), v.get(), qkv.get(), rows, heads, groups, head_dim, nullptr);
  qkv_split_backward(back.get(), q.get(), k.get(), v.get(), rows, heads, groups, head_dim, nullptr);
  const auto got_q = q.download(), got_k = k.download(), got_v = v.download(), got_back = back.download();
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t g = 0; g < groups; ++g)
      for (std::int64_t d = 0; d < head_dim; ++d) {
        const std::int64_t group_base = r * width + g * (per_group + 2) * head_dim + d;
        for (std::int64_t j = 0; j < per_group; ++j)
          ASSERT_EQ(to_float(got_q[(r * heads + g * per_group + j) * head_dim + d]),
                    to_float(fused[group_base + j * head_dim]));
        ASSERT_EQ(to_float(got_k[(r * groups + g) * head_dim + d]), to_float(fused[group_base + per_group * head_dim]));
        ASSERT_EQ(to_float(got_v[(r * groups + g) * head_dim + d]),
                  to_float(fused[group_base + (per_group + 1) * head_dim]));
      }
  for (std::int64_t e = 0; e < rows * width; ++e) ASSERT_EQ(to_float(got_back[e]), to_float(fused[e])) << e;
}

INSTANTIATE_TEST_SUITE_P(Layouts, QkvSplitKernel,
                         ::testing::Values(QkvCase{9, 32, 8, 128},  // Llama-3-8B grouped-query
                                           QkvCase{5, 4, 4, 64},    // multi-head
                                           QkvCase{3, 6, 2, 20},    // head_dim % 8 != 0: scalar path
                                           QkvCase{4, 8, 1, 16}));  // multi-query

TEST(QkvSplitArguments, RejectsHeadsNotMultipleOfGroups) {
  EXPECT_THROW(qkv_split_forward(nullptr, nullptr, nullptr, nullptr, 1, 6, 4, 64, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace primus::ops::cuda::test
