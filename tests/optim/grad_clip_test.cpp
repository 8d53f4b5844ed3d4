// Global gradient norm and Megatron-style clipping.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "primus/optim/grad_clip.hpp"

namespace primus::optim {
namespace {

TEST(GradClip, NormIsL2OverAllElements) {
  std::vector<float> grads = {3, 0, -4, 0};
  EXPECT_DOUBLE_EQ(global_grad_norm(grads), 5.0);
  std::vector<float> many(100000, 0.5f);  // sqrt(100000 * 0.25)
  EXPECT_NEAR(global_grad_norm(many), std::sqrt(25000.0), 1e-9);
}

TEST(GradClip, NonFiniteGradientGivesNonFiniteNorm) {
  std::vector<float> grads = {1, 2, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_TRUE(std::isnan(global_grad_norm(grads)));
  grads[2] = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(std::isinf(global_grad_norm(grads)));
}

TEST(GradClip, ClipsOnlyAboveMaxNorm) {
  std::vector<float> grads = {3, -4};
  const double coeff = clip_grad_by_global_norm(grads, 1.0, 5.0);
  EXPECT_DOUBLE_EQ(coeff, 1.0 / (5.0 + 1e-6));
  EXPECT_FLOAT_EQ(grads[0], static_cast<float>(3.0 / (5.0 + 1e-6)));
  EXPECT_FLOAT_EQ(grads[1], static_cast<float>(-4.0 / (5.0 + 1e-6)));
  std::vector<float> small = {0.3f, -0.4f};
  EXPECT_DOUBLE_EQ(clip_grad_by_global_norm(small, 1.0, 0.5), 1.0);
  EXPECT_EQ(small[0], 0.3f);
  EXPECT_EQ(small[1], -0.4f);
  std::vector<float> bad = {1, 2};
  EXPECT_DOUBLE_EQ(clip_grad_by_global_norm(bad, 1.0, std::numeric_limits<double>::quiet_NaN()), 1.0);
  EXPECT_EQ(bad[1], 2.0f);
}

}  // namespace
}  // namespace primus::optim
