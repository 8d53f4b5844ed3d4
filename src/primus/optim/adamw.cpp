#include "primus/optim/adamw.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <stdexcept>

namespace primus::optim {

namespace {
// Elements per parallel work item: large enough to amortise scheduling, small enough to balance.
constexpr std::int64_t kChunkElements = 1 << 15;
}  // namespace

AdamW::AdamW(std::span<const ParameterRange> ranges, std::int64_t buffer_numel, const config::OptimizerConfig& config)
    : ranges_(ranges.begin(), ranges.end()),
      exp_avg_(static_cast<std::size_t>(buffer_numel), 0.0f),
      exp_avg_sq_(static_cast<std::size_t>(buffer_numel), 0.0f),
      beta1_(config.adam_beta1),
      beta2_(config.adam_beta2),
      eps_(config.adam_eps) {
  validate_parameter_ranges(ranges_, buffer_numel);
  if (!(beta1_ >= 0.0 && beta1_ < 1.0) || !(beta2_ >= 0.0 && beta2_ < 1.0))
    throw std::invalid_argument(fmt::format("adam_beta1 = {} and adam_beta2 = {} must lie in [0, 1)", beta1_, beta2_));
  if (!(eps_ > 0.0)) throw std::invalid_argument(fmt::format("adam_eps = {} must be > 0", eps_));
  for (const ParameterRange& range : ranges_)
    for (std::int64_t begin = range.offset; begin < range.offset + range.numel; begin += kChunkElements)
      chunks_.push_back({begin, std::min(begin + kChunkElements, range.offset + range.numel), range.weight_decay});
}

void AdamW::set_step_count(std::int64_t step_count) {
  if (step_count < 0) throw std::invalid_argument(fmt::format("optimizer step count {} must be >= 0", step_count));
  step_count_ = step_count;
}

void AdamW::step(std::span<float> params, std::span<const float> grads, double lr, double weight_decay) {
  if (params.size() != exp_avg_.size() || grads.size() != exp_avg_.size())
    throw std::invalid_argument(fmt::format("AdamW::step: params ({}) and grads ({}) must both have {} elements",
                                            params.size(), grads.size(), exp_avg_.size()));
  ++step_count_;
  const double bias_correction1 = 1.0 - std::pow(beta1_, static_cast<double>(step_count_));
  const double bias_correction2 = 1.0 - std::pow(beta2_, static_cast<double>(step_count_));
  const float step_size = static_cast<float>(lr / bias_correction1);
  const float inv_sqrt_bias_correction2 = static_cast<float>(1.0 / std::sqrt(bias_correction2));
  const float decay_factor = static_cast<float>(1.0 - lr * weight_decay);
  const float beta1 = static_cast<float>(beta1_), beta2 = static_cast<float>(beta2_), eps = static_cast<float>(eps_);
  float* p = params.data();
  const float* g = grads.data();
  float* m = exp_avg_.data();
  float* v = exp_avg_sq_.data();
  const auto chunk_count = static_cast<std::int64_t>(chunks_.size());
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < chunk_count; ++c) {
    const Chunk chunk = chunks_[static_cast<std::size_t>(c)];
    const float decay = chunk.weight_decay ? decay_factor : 1.0f;
    for (std::int64_t i = chunk.begin; i < chunk.end; ++i) {
      m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
      v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
      const float denom = std::sqrt(v[i]) * inv_sqrt_bias_correction2 + eps;
      // Decoupled decay: shrink the weight first, then apply the Adam direction (torch.optim.AdamW order).
      p[i] = p[i] * decay - step_size * m[i] / denom;
    }
  }
}

}  // namespace primus::optim
