// AdamW against closed forms (first step) and an independent double-precision
// transcription of torch.optim.AdamW's update (several steps).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "primus/optim/adamw.hpp"

namespace primus::optim {
namespace {

config::OptimizerConfig adam_config() {
  config::OptimizerConfig config;
  config.adam_beta1 = 0.9;
  config.adam_beta2 = 0.95;
  config.adam_eps = 1e-8;
  return config;
}

std::vector<ParameterRange> two_ranges() {
  return {{"layer.weight", {2, 3}, 0, 6, true}, {"layer.norm", {4}, 6, 4, false}};
}

TEST(AdamW, FirstStepIsSignLikeWithDecoupledDecayOnlyWhereEnabled) {
  auto ranges = two_ranges();
  AdamW adam(ranges, 10, adam_config());
  std::vector<float> params = {1, -2, 3, 0.5f, -0.25f, 2, 1, 1, -1, 4};
  std::vector<float> grads = {0.5f, -1, 2, -0.125f, 0.25f, 3, 1, -1, 0.5f, -2};
  const std::vector<float> before = params;
  const double lr = 0.01, weight_decay = 0.1;
  adam.step(params, grads, lr, weight_decay);
  EXPECT_EQ(adam.step_count(), 1);
  // Step 1: m_hat = g and v_hat = g^2, so the Adam direction is g / (|g| + eps).
  for (int i = 0; i < 10; ++i) {
    const double decay = i < 6 ? (1.0 - lr * weight_decay) : 1.0;
    const double expected = before[i] * decay - lr * grads[i] / (std::fabs(grads[i]) + 1e-8);
    EXPECT_NEAR(params[i], expected, 1e-6) << "element " << i;
    EXPECT_NEAR(adam.exp_avg()[i], 0.1 * grads[i], 1e-7);
    EXPECT_NEAR(adam.exp_avg_sq()[i], 0.05 * grads[i] * grads[i], 1e-6);
  }
}

TEST(AdamW, SeveralStepsMatchIndependentReference) {
  auto ranges = two_ranges();
  const auto config = adam_config();
  AdamW adam(ranges, 10, config);
  std::vector<float> params(10);
  std::vector<double> ref_p(10), ref_m(10, 0.0), ref_v(10, 0.0);
  for (int i = 0; i < 10; ++i) ref_p[i] = params[i] = 0.1f * static_cast<float>(i) - 0.3f;
  for (int t = 1; t <= 5; ++t) {
    std::vector<float> grads(10);
    for (int i = 0; i < 10; ++i) grads[i] = std::sin(0.7f * static_cast<float>(i * t)) * 0.3f;
    const double lr = 1e-3 * t, wd = 0.05;
    adam.step(params, grads, lr, wd);
    for (int i = 0; i < 10; ++i) {
      const double g = grads[i];
      if (ranges[0].offset <= i && i < ranges[0].offset + ranges[0].numel) ref_p[i] *= 1.0 - lr * wd;
      ref_m[i] = config.adam_beta1 * ref_m[i] + (1 - config.adam_beta1) * g;
      ref_v[i] = config.adam_beta2 * ref_v[i] + (1 - config.adam_beta2) * g * g;
      const double m_hat = ref_m[i] / (1 - std::pow(config.adam_beta1, t));
      const double v_hat = ref_v[i] / (1 - std::pow(config.adam_beta2, t));
      ref_p[i] -= lr * m_hat / (std::sqrt(v_hat) + config.adam_eps);
    }
  }
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(params[i], ref_p[i], 2e-6) << "element " << i;
  EXPECT_EQ(adam.step_count(), 5);
}

TEST(AdamW, ElementsOutsideAnyRangeAreUntouched) {
  std::vector<ParameterRange> ranges = {{"a", {2}, 0, 2, true}};
  AdamW adam(ranges, 4, adam_config());
  std::vector<float> params = {1, 1, 7, 7};
  std::vector<float> grads = {1, 1, 1, 1};
  adam.step(params, grads, 0.1, 0.0);
  EXPECT_EQ(params[2], 7.0f);
  EXPECT_EQ(params[3], 7.0f);
  EXPECT_NE(params[0], 1.0f);
}

TEST(AdamW, RejectsBadRangesAndSizes) {
  std::vector<ParameterRange> overlapping = {{"a", {4}, 0, 4, true}, {"b", {4}, 2, 4, true}};
  EXPECT_THROW(AdamW(overlapping, 8, adam_config()), std::invalid_argument);
  std::vector<ParameterRange> out_of_bounds = {{"a", {4}, 6, 4, true}};
  EXPECT_THROW(AdamW(out_of_bounds, 8, adam_config()), std::invalid_argument);
  std::vector<ParameterRange> bad_shape = {{"a", {3}, 0, 4, true}};
  EXPECT_THROW(AdamW(bad_shape, 8, adam_config()), std::invalid_argument);
  std::vector<ParameterRange> good = {{"a", {4}, 0, 4, true}};
  AdamW adam(good, 4, adam_config());
  std::vector<float> params(3), grads(4);
  EXPECT_THROW(adam.step(params, grads, 0.1, 0.0), std::invalid_argument);
  try {
    AdamW(overlapping, 8, adam_config());
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("overlap"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace primus::optim
