// LearningRateScheduler against closed-form values worked out by hand for each
// decay style at the boundaries: iteration 0, inside and at the end of warmup,
// inside and at the end of decay, and beyond it.
#include <gtest/gtest.h>

#include <cmath>

#include "primus/optim/lr_scheduler.hpp"

namespace primus::optim {
namespace {

using config::LrDecayStyle;
using config::WsdDecayStyle;

// lr 1e-3, min_lr 1e-4, warmup from 0 over 10 iterations, decay until iteration 100.
config::OptimizerConfig schedule(LrDecayStyle style) {
  config::OptimizerConfig config;
  config.lr = 1e-3;
  config.min_lr = 1e-4;
  config.lr_warmup_init = 0.0;
  config.lr_warmup_iters = 10;
  config.lr_decay_iters = 100;
  config.lr_decay_style = style;
  config.lr_wsd_decay_iters = 20;
  return config;
}

constexpr double kTol = 1e-15;

TEST(LearningRateScheduler, WarmupIsLinearFromInit) {
  auto config = schedule(LrDecayStyle::linear);
  config.lr_warmup_init = 2e-4;
  LearningRateScheduler scheduler(config);
  EXPECT_NEAR(scheduler.lr_at(0), 2e-4, kTol);
  EXPECT_NEAR(scheduler.lr_at(5), 6e-4, kTol);  // 2e-4 + 8e-4 * 5/10
  EXPECT_NEAR(scheduler.lr_at(10), 1e-3, kTol);
}

TEST(LearningRateScheduler, Constant) {
  LearningRateScheduler scheduler(schedule(LrDecayStyle::constant));
  EXPECT_NEAR(scheduler.lr_at(0), 0.0, kTol);
  EXPECT_NEAR(scheduler.lr_at(3), 3e-4, kTol);
  EXPECT_NEAR(scheduler.lr_at(10), 1e-3, kTol);
  EXPECT_NEAR(scheduler.lr_at(55), 1e-3, kTol);
  EXPECT_NEAR(scheduler.lr_at(100), 1e-3, kTol);
  EXPECT_NEAR(scheduler.lr_at(1000), 1e-3, kTol);  // constant ignores the decay end
}

TEST(LearningRateScheduler, Linear) {
  LearningRateScheduler scheduler(schedule(LrDecayStyle::linear));
  EXPECT_NEAR(scheduler.lr_at(0), 0.0, kTol);
  EXPECT_NEAR(scheduler.lr_at(10), 1e-3, kTol);
  EXPECT_NEAR(scheduler.lr_at(55), 5.5e-4, kTol);   // halfway: 1e-4 + 0.5 * 9e-4
  EXPECT_NEAR(scheduler.lr_at(82), 2.8e-4, kTol);   // ratio 0.8: 1e-4 + 0.2 * 9e-4
  EXPECT_NEAR(scheduler.lr_at(100), 1e-4, kTol);
  EXPECT_NEAR(scheduler.lr_at(101), 1e-4, kTol);
  EXPECT_NEAR(scheduler.lr_at(5000), 1e-4, kTol);
}

TEST(LearningRateScheduler, Cosine) {
  LearningRateScheduler scheduler(schedule(LrDecayStyle::cosine));
  EXPECT_NEAR(scheduler.lr_at(10), 1e-3, kTol);
  EXPECT_NEAR(scheduler.lr_at(40), 7.75e-4, kTol);  // ratio 1/3: cos(pi/3) = 1/2, coeff 3/4
  EXPECT_NEAR(scheduler.lr_at(55), 5.5e-4, kTol);   // ratio 1/2: coeff 1/2
  EXPECT_NEAR(scheduler.lr_at(70), 3.25e-4, kTol);  // ratio 2/3: cos(2pi/3) = -1/2, coeff 1/4
  EXPECT_NEAR(scheduler.lr_at(100), 1e-4, kTol);
  EXPECT_NEAR(scheduler.lr_at(200), 1e-4, kTol);
}

TEST(LearningRateScheduler, InverseSquareRoot) {
  LearningRateScheduler scheduler(schedule(LrDecayStyle::inverse_square_root));
  EXPECT_NEAR(scheduler.lr_at(10), 1e-3, kTol);
  EXPECT_NEAR(scheduler.lr_at(40), 5e-4, kTol);  // 1e-3 * sqrt(10 / 40)
  EXPECT_NEAR(scheduler.lr_at(90), 1e-3 / 3.0, kTol);
  EXPECT_NEAR(scheduler.lr_at(100), 1e-3 * std::sqrt(0.1), kTol);
  EXPECT_NEAR(scheduler.lr_at(101), 1e-4, kTol);  // past lr_decay_iters: min_lr
  auto floored = schedule(LrDecayStyle::inverse_square_root);
  floored.min_lr = 4e-4;
  EXPECT_NEAR(LearningRateScheduler(floored).lr_at(90), 4e-4, kTol);  // 3.33e-4 floored at min_lr
  auto no_warmup = schedule(LrDecayStyle::inverse_square_root);
  no_warmup.lr_warmup_iters = 0;
  EXPECT_NEAR(LearningRateScheduler(no_warmup).lr_at(0), 1e-3, kTol);  // max(steps, 1)
  EXPECT_NEAR(LearningRateScheduler(no_warmup).lr_at(4), 5e-4, kTol);
}

// WSD: stable at lr until 100 - 20 = 80, then anneal over 20 iterations.
double wsd_lr(WsdDecayStyle style, std::int64_t iteration) {
  auto config = schedule(LrDecayStyle::WSD);
  config.lr_wsd_decay_style = style;
  return LearningRateScheduler(config).lr_at(iteration);
}

TEST(LearningRateScheduler, WsdAllAnnealStyles) {
  for (auto style : {WsdDecayStyle::linear, WsdDecayStyle::cosine, WsdDecayStyle::exponential, WsdDecayStyle::minus_sqrt}) {
    EXPECT_NEAR(wsd_lr(style, 0), 0.0, kTol);
    EXPECT_NEAR(wsd_lr(style, 10), 1e-3, kTol);
    EXPECT_NEAR(wsd_lr(style, 50), 1e-3, kTol);
    EXPECT_NEAR(wsd_lr(style, 80), 1e-3, kTol);
    EXPECT_NEAR(wsd_lr(style, 100), 1e-4, 1e-12);
    EXPECT_NEAR(wsd_lr(style, 101), 1e-4, kTol);
  }
  // Halfway through the anneal (iteration 90, ratio 1/2).
  EXPECT_NEAR(wsd_lr(WsdDecayStyle::linear, 90), 5.5e-4, kTol);
  EXPECT_NEAR(wsd_lr(WsdDecayStyle::cosine, 90), 5.5e-4, kTol);
  EXPECT_NEAR(wsd_lr(WsdDecayStyle::exponential, 90), 1e-4 + (std::sqrt(2.0) - 1.0) * 9e-4, kTol);  // 2 * 0.5^0.5 - 1
  EXPECT_NEAR(wsd_lr(WsdDecayStyle::minus_sqrt, 90), 1e-4 + (1.0 - std::sqrt(0.5)) * 9e-4, kTol);
  // Quarter (iteration 85, ratio 1/4).
  EXPECT_NEAR(wsd_lr(WsdDecayStyle::linear, 85), 1e-4 + 0.75 * 9e-4, kTol);
  EXPECT_NEAR(wsd_lr(WsdDecayStyle::minus_sqrt, 85), 1e-4 + 0.5 * 9e-4, kTol);
}

TEST(LearningRateScheduler, RejectsInconsistentSettings) {
  auto config = schedule(LrDecayStyle::linear);
  config.lr_decay_iters = 0;
  EXPECT_THROW(LearningRateScheduler{config}, std::invalid_argument);
  config = schedule(LrDecayStyle::linear);
  config.lr_warmup_iters = 100;
  EXPECT_THROW(LearningRateScheduler{config}, std::invalid_argument);
  config = schedule(LrDecayStyle::linear);
  config.min_lr = 2e-3;
  EXPECT_THROW(LearningRateScheduler{config}, std::invalid_argument);
  config = schedule(LrDecayStyle::WSD);
  config.lr_wsd_decay_iters = 0;
  EXPECT_THROW(LearningRateScheduler{config}, std::invalid_argument);
}

TEST(LearningRateScheduler, StateRoundTripsAndDetectsChangedSettings) {
  LearningRateScheduler scheduler(schedule(LrDecayStyle::cosine));
  const auto state = nlohmann::json::parse(scheduler.state(42).dump());
  EXPECT_EQ(state.at("num_steps"), 42);
  EXPECT_EQ(state.at("lr_decay_style"), "cosine");
  EXPECT_NO_THROW(scheduler.check_state(state));
  auto changed = schedule(LrDecayStyle::cosine);
  changed.lr = 2e-3;
  EXPECT_THROW(LearningRateScheduler(changed).check_state(state), std::runtime_error);
  EXPECT_DOUBLE_EQ(scheduler.weight_decay_at(7), 0.01);
}

}  // namespace
}  // namespace primus::optim
