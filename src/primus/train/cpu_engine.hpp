// CpuEngine: the fp32 reference TrainingEngine — GPTModel on ops::cpu, AdamW,
// global-norm clipping, all in host memory.
#pragma once

#include <functional>

#include "primus/model/gpt_model.hpp"
#include "primus/optim/adamw.hpp"
#include "primus/train/engine.hpp"

namespace primus::train {

class CpuEngine final : public TrainingEngine {
 public:
  explicit CpuEngine(const config::TrainConfig& config);

  std::string_view backend_name() const override { return "cpu"; }
  const std::vector<tensor::ParameterRange>& parameters() const override { return model_.parameters(); }
  std::int64_t num_parameters() const override;
  void init_parameters(std::uint64_t seed) override { model_.init_parameters(seed); }

  void forward_backward(const model::MicroBatch& batch, int index, int count) override;
  StepResult optimizer_step(double lr, double weight_decay, double clip_grad) override;
  double evaluate_loss(const model::MicroBatch& batch) override { return model_.forward_loss(batch); }

  void read_parameters(std::span<float> out) const override;
  void write_parameters(std::span<const float> in) override;
  void read_optimizer_state(std::span<float> exp_avg, std::span<float> exp_avg_sq) const override;
  void write_optimizer_state(std::span<const float> exp_avg, std::span<const float> exp_avg_sq) override;
  std::int64_t optimizer_step_count() const override { return optimizer_.step_count(); }
  void set_optimizer_step_count(std::int64_t steps) override { optimizer_.set_step_count(steps); }

  log::MemoryUsage memory_usage() const override;
  std::size_t peak_memory_bytes() const override { return model_.activation_bytes_high_water(); }

  // Diagnostics and tests: called with the accumulated gradients before the norm is taken.
  void set_gradient_hook(std::function<void(std::span<float>)> hook) { gradient_hook_ = std::move(hook); }

 private:
  mutable model::GPTModel model_;  // parameter_data() is non-const in the model's API
  optim::AdamW optimizer_;
  double loss_sum_ = 0.0;
  int micro_batches_ = 0;
  std::function<void(std::span<float>)> gradient_hook_;
};

}  // namespace primus::train
