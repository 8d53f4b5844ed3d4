#include "primus/train/cpu_engine.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "primus/optim/grad_clip.hpp"
#include "primus/train/host_memory.hpp"

namespace primus::train {
namespace {

void require_size(std::size_t got, std::int64_t expected, const char* what) {
  if (static_cast<std::int64_t>(got) != expected) {
    throw std::invalid_argument(std::string(what) + ": buffer of " + std::to_string(got) + " elements, expected " +
                                std::to_string(expected));
  }
}

}  // namespace

CpuEngine::CpuEngine(const config::TrainConfig& config)
    : model_(config.model, config.training.micro_batch_size),
      optimizer_(model_.parameters(), static_cast<std::int64_t>(model_.parameter_data().size()), config.optimizer) {}

std::int64_t CpuEngine::num_parameters() const { return static_cast<std::int64_t>(model_.parameter_data().size()); }

void CpuEngine::forward_backward(const model::MicroBatch& batch, int index, int count) {
  if (index == 0) {
    model_.zero_grad();
    loss_sum_ = 0.0;
    micro_batches_ = 0;
  }
  // Each micro-batch's mean loss scaled by 1/count: the gradient of the global batch's mean loss.
  loss_sum_ += model_.forward_backward(batch, 1.0f / static_cast<float>(count));
  ++micro_batches_;
}

StepResult CpuEngine::optimizer_step(double lr, double weight_decay, double clip_grad) {
  StepResult result;
  result.loss = static_cast<float>(loss_sum_ / std::max(1, micro_batches_));
  const auto grads = model_.gradient_data();
  if (gradient_hook_) gradient_hook_(grads);
  result.grad_norm = optim::global_grad_norm(grads);
  if (!std::isfinite(result.loss) || !std::isfinite(result.grad_norm)) {
    result.skipped = true;
    return result;
  }
  if (clip_grad > 0.0) optim::clip_grad_by_global_norm(grads, clip_grad, result.grad_norm);
  optimizer_.step(model_.parameter_data(), grads, lr, weight_decay);
  return result;
}

void CpuEngine::read_parameters(std::span<float> out) const {
  const auto params = model_.parameter_data();
  require_size(out.size(), num_parameters(), "read_parameters");
  std::copy(params.begin(), params.end(), out.begin());
}

void CpuEngine::write_parameters(std::span<const float> in) {
  require_size(in.size(), num_parameters(), "write_parameters");
  std::copy(in.begin(), in.end(), model_.parameter_data().begin());
}

void CpuEngine::read_optimizer_state(std::span<float> exp_avg, std::span<float> exp_avg_sq) const {
  require_size(exp_avg.size(), num_parameters(), "read_optimizer_state");
  require_size(exp_avg_sq.size(), num_parameters(), "read_optimizer_state");
  std::copy(optimizer_.exp_avg().begin(), optimizer_.exp_avg().end(), exp_avg.begin());
  std::copy(optimizer_.exp_avg_sq().begin(), optimizer_.exp_avg_sq().end(), exp_avg_sq.begin());
}

void CpuEngine::write_optimizer_state(std::span<const float> exp_avg, std::span<const float> exp_avg_sq) {
  require_size(exp_avg.size(), num_parameters(), "write_optimizer_state");
  require_size(exp_avg_sq.size(), num_parameters(), "write_optimizer_state");
  std::copy(exp_avg.begin(), exp_avg.end(), optimizer_.exp_avg().begin());
  std::copy(exp_avg_sq.begin(), exp_avg_sq.end(), optimizer_.exp_avg_sq().begin());
}

log::MemoryUsage CpuEngine::memory_usage() const { return host_memory_usage(); }

}  // namespace primus::train
