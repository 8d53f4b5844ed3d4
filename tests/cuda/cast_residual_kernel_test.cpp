// Cast and residual-add CUDA kernels: exact comparisons (each output is one rounding
// of an exact value), lengths that are not multiples of 8, misaligned pointers.
#include "kernel_test_support.hpp"
#include "primus/ops/cuda/cast.hpp"
#include "primus/ops/cuda/residual.hpp"

namespace primus::ops::cuda::test {
namespace {

class CastAndResidual : public ::testing::TestWithParam<std::pair<std::int64_t, std::size_t>> {};

TEST_P(CastAndResidual, MatchHostRounding) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const auto [count, offset] = GetParam();  // offset: elements off 16-byte alignment
  std::vector<float> wide(count + offset);
  std::mt19937 generator(41);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (float& v : wide) v = normal(generator);  // full fp32 precision: the cast must round
  DeviceBuffer<float> in32(wide), back32(count + offset);
  DeviceBuffer<bf16> out16(count + offset);
  out16.poison();
  back32.poison();
  cast_fp32_to_bf16(out16.get() + offset, in32.get() + offset, count, nullptr);
  cast_bf16_to_fp32(back32.get() + offset, out16.get() + offset, count, nullptr);
  const auto got16 = out16.download();
  const auto got32 = back32.download();
  for (std::int64_t i = 0; i < count; ++i) {
    ASSERT_EQ(to_float(got16[offset + i]), to_float(to_bf16(wide[offset + i]))) << "fp32->bf16 element " << i;
    ASSERT_EQ(got32[offset + i], to_float(got16[offset + i])) << "bf16->fp32 element " << i;
  }

  const auto a = random_values(count + offset, 42), b = random_values(count + offset, 43);
  DeviceBuffer<bf16> da(to_bf16(a)), db(to_bf16(b)), sum(count + offset);
  sum.poison();
  residual_forward(sum.get() + offset, da.get() + offset, db.get() + offset, count, nullptr);
  residual_backward(da.get() + offset, db.get() + offset, count, nullptr);  // da += db
  const auto got_sum = sum.download();
  const auto accumulated = da.download();
  for (std::int64_t i = 0; i < count; ++i) {
    const float expected = static_cast<float>(bf16_round(double(a[offset + i]) + b[offset + i]));
    ASSERT_EQ(to_float(got_sum[offset + i]), expected) << "residual_forward element " << i;
    ASSERT_EQ(to_float(accumulated[offset + i]), expected) << "residual_backward element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Lengths, CastAndResidual,
                         ::testing::Values(std::pair<std::int64_t, std::size_t>{1 << 20, 0},
                                           std::pair<std::int64_t, std::size_t>{100003, 0},
                                           std::pair<std::int64_t, std::size_t>{4099, 3},
                                           std::pair<std::int64_t, std::size_t>{5, 0}));

}  // namespace
}  // namespace primus::ops::cuda::test
