// RoPE CUDA kernels vs a double-precision reference: both pairings, partial rotary
// dims (pass-through channels must come back bit-identical), vector and scalar paths,
// and backward as the inverse rotation.
#include <cmath>

#include "kernel_test_support.hpp"
#include "primus/ops/cuda/rope.hpp"

namespace primus::ops::cuda::test {
namespace {

struct RopeCase {
  std::int64_t batch, seq, heads, head_dim, rotary_dim;
  bool interleaved;
};

class RopeKernel : public ::testing::TestWithParam<RopeCase> {};

// Rotation by angle sign * theta of the reference pairs, in double.
std::vector<double> reference_rope(const std::vector<float>& x, const std::vector<float>& cos,
                                   const std::vector<float>& sin, const RopeCase& c, double sign) {
  std::vector<double> out(x.begin(), x.end());
  const std::int64_t half = c.rotary_dim / 2;
  for (std::int64_t b = 0; b < c.batch; ++b)
    for (std::int64_t s = 0; s < c.seq; ++s)
      for (std::int64_t h = 0; h < c.heads; ++h) {
        const std::int64_t base = ((b * c.seq + s) * c.heads + h) * c.head_dim;
        for (std::int64_t i = 0; i < half; ++i) {
          const std::int64_t first = base + (c.interleaved ? 2 * i : i);
          const std::int64_t second = base + (c.interleaved ? 2 * i + 1 : i + half);
          const double co = cos[s * half + i], si = sign * sin[s * half + i];
          out[first] = double(x[first]) * co - double(x[second]) * si;
          out[second] = double(x[second]) * co + double(x[first]) * si;
        }
      }
  return out;
}

TEST_P(RopeKernel, ForwardAndBackwardMatchReference) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const RopeCase c = GetParam();
  const std::size_t n = c.batch * c.seq * c.heads * c.head_dim;
  const std::int64_t half = c.rotary_dim / 2;
  std::vector<float> cos(c.seq * half), sin(c.seq * half);
  for (std::int64_t s = 0; s < c.seq; ++s)
    for (std::int64_t i = 0; i < half; ++i) {
      const double angle = s * std::pow(10000.0, -2.0 * i / c.rotary_dim);
      cos[s * half + i] = static_cast<float>(std::cos(angle));
      sin[s * half + i] = static_cast<float>(std::sin(angle));
    }
  const auto x = random_values(n, 21);
  DeviceBuffer<bf16> data(to_bf16(x));
  DeviceBuffer<float> cos_table(cos), sin_table(sin);

  rope_forward(data.get(), cos_table.get(), sin_table.get(), c.batch, c.seq, c.heads, c.head_dim, c.rotary_dim,
               c.interleaved, nullptr);
  const auto rotated = data.download();
  EXPECT_LT(relative_error(to_double(rotated), reference_rope(x, cos, sin, c, 1.0)), kBf16Tolerance);
  // Channels past rotary_dim pass through untouched.
  for (std::size_t e = 0; e < n; ++e)
    if (static_cast<std::int64_t>(e % c.head_dim) >= c.rotary_dim) {
      ASSERT_EQ(to_float(rotated[e]), x[e]) << e;
    }

  // Backward of a fresh gradient: the transpose (inverse) rotation.
  const auto dy = random_values(n, 22);
  data.upload(to_bf16(dy));
  rope_backward(data.get(), cos_table.get(), sin_table.get(), c.batch, c.seq, c.heads, c.head_dim, c.rotary_dim,
                c.interleaved, nullptr);
  EXPECT_LT(relative_error(to_double(data.download()), reference_rope(dy, cos, sin, c, -1.0)), kBf16Tolerance);
}

INSTANTIATE_TEST_SUITE_P(Shapes, RopeKernel,
                         ::testing::Values(RopeCase{2, 17, 4, 128, 128, false}, RopeCase{2, 17, 4, 128, 128, true},
                                           RopeCase{1, 9, 3, 128, 64, false},  // rotary_percent 0.5
                                           RopeCase{1, 9, 3, 64, 32, true},    // partial, interleaved, vector path
                                           RopeCase{3, 5, 2, 40, 24, false},   // half = 12: scalar path
                                           RopeCase{2, 7, 5, 30, 30, true},    // head_dim % 8 != 0: scalar path
                                           RopeCase{1, 3, 1, 6, 2, false}));

TEST(RopeArguments, RejectsOddOrTooLargeRotaryDim) {
  EXPECT_THROW(rope_forward(nullptr, nullptr, nullptr, 1, 4, 2, 64, 65, false, nullptr), std::invalid_argument);
  EXPECT_THROW(rope_forward(nullptr, nullptr, nullptr, 1, 4, 2, 64, 128, false, nullptr), std::invalid_argument);
  EXPECT_THROW(rope_backward(nullptr, nullptr, nullptr, 1, 4, 2, 64, 0, true, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace primus::ops::cuda::test
