// AdamW: Adam with decoupled weight decay (Megatron's "adam", torch.optim.AdamW,
// apex FusedAdam adam_w_mode) over one flat fp32 master-parameter buffer, with
// exp_avg / exp_avg_sq buffers in the same layout and per-parameter decay on/off.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "primus/config/train_config.hpp"
#include "primus/optim/parameter_range.hpp"

namespace primus::optim {

class AdamW {
 public:
  // Zero state for `buffer_numel` elements; betas and eps from the config; validates the ranges.
  AdamW(std::span<const ParameterRange> ranges, std::int64_t buffer_numel, const config::OptimizerConfig& config);

  // One update of every element covered by a range: params -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * params).
  void step(std::span<float> params, std::span<const float> grads, double lr, double weight_decay);

  // First-moment buffer (same layout as params), for checkpointing.
  std::span<float> exp_avg() { return exp_avg_; }
  std::span<const float> exp_avg() const { return exp_avg_; }
  // Second-moment buffer (same layout as params), for checkpointing.
  std::span<float> exp_avg_sq() { return exp_avg_sq_; }
  std::span<const float> exp_avg_sq() const { return exp_avg_sq_; }
  // Number of steps taken (drives the bias correction).
  std::int64_t step_count() const { return step_count_; }
  // Restores the step counter after loading exp_avg / exp_avg_sq from a checkpoint.
  void set_step_count(std::int64_t step_count);
  // The parameter ranges the optimizer was built with.
  std::span<const ParameterRange> ranges() const { return ranges_; }

 private:
  // A contiguous run of elements with one decay flag: the unit of the parallel loop.
  struct Chunk {
    std::int64_t begin;
    std::int64_t end;
    bool weight_decay;
  };
  std::vector<ParameterRange> ranges_;
  std::vector<Chunk> chunks_;
  std::vector<float> exp_avg_;
  std::vector<float> exp_avg_sq_;
  double beta1_;
  double beta2_;
  double eps_;
  std::int64_t step_count_ = 0;
};

}  // namespace primus::optim
