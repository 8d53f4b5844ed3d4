// LearningRateScheduler: Megatron's OptimizerParamScheduler.get_lr as a pure
// function of the iteration (linear warmup, then constant | linear | cosine |
// inverse-square-root | WSD decay, floored at min_lr). Weight decay is constant
// (Megatron's weight_decay_incr_style "constant"; linear/cosine increments are not supported).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "primus/config/train_config.hpp"

namespace primus::optim {

class LearningRateScheduler {
 public:
  // Validates as Megatron does (min_lr <= lr, lr_warmup_init <= lr, 0 <= warmup < lr_decay_iters, ...); throws with the key.
  explicit LearningRateScheduler(const config::OptimizerConfig& config);

  // LR after `num_steps` successful updates (skipped iterations do not count, as in Megatron): update k+1 uses
  // lr_at(k), i.e. lr_at(optimizer.step_count()); Megatron's iteration line shows the value after the step, lr_at(k+1).
  double lr_at(std::int64_t num_steps) const;
  // Weight decay after `num_steps` successful updates (constant: the config's weight_decay).
  double weight_decay_at(std::int64_t num_steps) const;

  // Scheduler settings plus num_steps (counted in updates, not samples), for the manifest; keys follow Megatron's state_dict.
  nlohmann::json state(std::int64_t num_steps) const;
  // Throws when a checkpoint's scheduler state disagrees with this configuration (names the key and both values).
  void check_state(const nlohmann::json& state) const;

 private:
  double lr_;
  double min_lr_;
  double lr_warmup_init_;
  std::int64_t lr_warmup_iters_;
  std::int64_t lr_decay_iters_;
  std::int64_t lr_wsd_decay_iters_;
  config::LrDecayStyle lr_decay_style_;
  config::WsdDecayStyle lr_wsd_decay_style_;
  double weight_decay_;
};

// Megatron's spelling of a decay style ("constant", "linear", "cosine", "inverse-square-root", "WSD").
const char* lr_decay_style_name(config::LrDecayStyle style);
// Megatron's spelling of a WSD decay style ("linear", "cosine", "exponential", "minus_sqrt").
const char* wsd_decay_style_name(config::WsdDecayStyle style);

}  // namespace primus::optim
