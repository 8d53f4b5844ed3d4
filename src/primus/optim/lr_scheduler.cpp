#include "primus/optim/lr_scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <numbers>
#include <stdexcept>

namespace primus::optim {

using config::LrDecayStyle;
using config::WsdDecayStyle;

const char* lr_decay_style_name(LrDecayStyle style) {
  switch (style) {
    case LrDecayStyle::constant: return "constant";
    case LrDecayStyle::linear: return "linear";
    case LrDecayStyle::cosine: return "cosine";
    case LrDecayStyle::inverse_square_root: return "inverse-square-root";
    case LrDecayStyle::WSD: return "WSD";
  }
  return "unknown";
}

const char* wsd_decay_style_name(WsdDecayStyle style) {
  switch (style) {
    case WsdDecayStyle::linear: return "linear";
    case WsdDecayStyle::cosine: return "cosine";
    case WsdDecayStyle::exponential: return "exponential";
    case WsdDecayStyle::minus_sqrt: return "minus_sqrt";
  }
  return "unknown";
}

LearningRateScheduler::LearningRateScheduler(const config::OptimizerConfig& config)
    : lr_(config.lr),
      min_lr_(config.min_lr),
      lr_warmup_init_(config.lr_warmup_init),
      lr_warmup_iters_(config.lr_warmup_iters),
      lr_decay_iters_(config.lr_decay_iters),
      lr_wsd_decay_iters_(config.lr_wsd_decay_iters),
      lr_decay_style_(config.lr_decay_style),
      lr_wsd_decay_style_(config.lr_wsd_decay_style),
      weight_decay_(config.weight_decay) {
  if (!(min_lr_ >= 0.0)) throw std::invalid_argument(fmt::format("min_lr = {} must be >= 0", min_lr_));
  if (!(lr_ >= min_lr_)) throw std::invalid_argument(fmt::format("lr = {} must be >= min_lr = {}", lr_, min_lr_));
  if (!(lr_warmup_init_ <= lr_))
    throw std::invalid_argument(fmt::format("lr_warmup_init = {} must be <= lr = {}", lr_warmup_init_, lr_));
  if (lr_decay_iters_ <= 0)
    throw std::invalid_argument(fmt::format(
        "lr_decay_iters = {} must be > 0 (the config layer sets it to train_iters when left null)", lr_decay_iters_));
  if (lr_warmup_iters_ < 0 || lr_warmup_iters_ >= lr_decay_iters_)
    throw std::invalid_argument(fmt::format("lr_warmup_iters = {} must lie in [0, lr_decay_iters = {})",
                                            lr_warmup_iters_, lr_decay_iters_));
  if (lr_decay_style_ == LrDecayStyle::WSD && (lr_wsd_decay_iters_ <= 0 || lr_wsd_decay_iters_ > lr_decay_iters_))
    throw std::invalid_argument(fmt::format("lr_wsd_decay_iters = {} must lie in (0, lr_decay_iters = {}] for WSD",
                                            lr_wsd_decay_iters_, lr_decay_iters_));
  if (!(weight_decay_ >= 0.0)) throw std::invalid_argument(fmt::format("weight_decay = {} must be >= 0", weight_decay_));
}

// Steps are counted in updates; Megatron counts samples (updates x global batch), the same ratios at a fixed batch.
double LearningRateScheduler::lr_at(std::int64_t num_steps) const {
  const auto step = static_cast<double>(num_steps);
  if (lr_warmup_iters_ > 0 && num_steps <= lr_warmup_iters_)
    return lr_warmup_init_ + (lr_ - lr_warmup_init_) * step / static_cast<double>(lr_warmup_iters_);
  if (lr_decay_style_ == LrDecayStyle::constant) return lr_;
  if (num_steps > lr_decay_iters_) return min_lr_;
  if (lr_decay_style_ == LrDecayStyle::inverse_square_root) {
    const double warmup = static_cast<double>(std::max<std::int64_t>(lr_warmup_iters_, 1));
    const double steps = static_cast<double>(std::max<std::int64_t>(num_steps, 1));
    return std::max(min_lr_, lr_ * std::sqrt(warmup) / std::sqrt(steps));
  }
  const double decay_ratio =
      static_cast<double>(num_steps - lr_warmup_iters_) / static_cast<double>(lr_decay_iters_ - lr_warmup_iters_);
  double coeff = 1.0;
  switch (lr_decay_style_) {
    case LrDecayStyle::linear: coeff = 1.0 - decay_ratio; break;
    case LrDecayStyle::cosine: coeff = 0.5 * (std::cos(std::numbers::pi * decay_ratio) + 1.0); break;
    case LrDecayStyle::WSD: {
      const std::int64_t anneal_start = lr_decay_iters_ - lr_wsd_decay_iters_;
      if (num_steps <= anneal_start) break;
      const double wsd_ratio = static_cast<double>(num_steps - anneal_start) / static_cast<double>(lr_wsd_decay_iters_);
      switch (lr_wsd_decay_style_) {
        case WsdDecayStyle::linear: coeff = 1.0 - wsd_ratio; break;
        case WsdDecayStyle::cosine: coeff = 0.5 * (std::cos(std::numbers::pi * wsd_ratio) + 1.0); break;
        case WsdDecayStyle::exponential: coeff = 2.0 * std::pow(0.5, wsd_ratio) - 1.0; break;
        case WsdDecayStyle::minus_sqrt: coeff = 1.0 - std::sqrt(wsd_ratio); break;
      }
      break;
    }
    case LrDecayStyle::constant:
    case LrDecayStyle::inverse_square_root: break;  // handled above
  }
  return min_lr_ + coeff * (lr_ - min_lr_);
}

double LearningRateScheduler::weight_decay_at(std::int64_t) const { return weight_decay_; }

nlohmann::json LearningRateScheduler::state(std::int64_t num_steps) const {
  nlohmann::json state = {{"max_lr", lr_},
                          {"min_lr", min_lr_},
                          {"lr_warmup_init", lr_warmup_init_},
                          {"lr_warmup_steps", lr_warmup_iters_},
                          {"lr_decay_steps", lr_decay_iters_},
                          {"lr_decay_style", lr_decay_style_name(lr_decay_style_)},
                          {"num_steps", num_steps},
                          {"start_wd", weight_decay_},
                          {"end_wd", weight_decay_},
                          {"wd_incr_style", "constant"},
                          {"steps_unit", "updates"}};
  if (lr_decay_style_ == LrDecayStyle::WSD) {
    state["wsd_decay_steps"] = lr_wsd_decay_iters_;
    state["lr_wsd_decay_style"] = wsd_decay_style_name(lr_wsd_decay_style_);
  }
  return state;
}

void LearningRateScheduler::check_state(const nlohmann::json& saved) const {
  const nlohmann::json current = state(0);
  for (const auto& [key, value] : current.items()) {
    if (key == "num_steps") continue;
    if (!saved.contains(key))
      throw std::runtime_error(fmt::format("checkpoint scheduler state lacks '{}' (expected {})", key, value.dump()));
    if (saved.at(key) != value)
      throw std::runtime_error(fmt::format(
          "checkpoint scheduler state has {} = {} but the config gives {}; set override_opt_param_scheduler: true "
          "to continue with the config's schedule",
          key, saved.at(key).dump(), value.dump()));
  }
}

}  // namespace primus::optim
