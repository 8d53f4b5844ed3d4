// Norm dispatch to the rmsnorm / layernorm ops.
#include "primus/model/norm.hpp"

#include "primus/ops/cpu/layernorm.hpp"
#include "primus/ops/cpu/rmsnorm.hpp"

namespace primus::model {

Norm::Norm(const config::ModelConfig& config, std::int64_t dim)
    : normalization_(config.normalization),
      dim_(dim),
      eps_(static_cast<float>(config.norm_epsilon)),
      apply_layernorm_1p_(config.apply_layernorm_1p) {}

NormActivations Norm::allocate(tensor::ActivationAllocator& allocator, std::int64_t rows) const {
  NormActivations saved;
  if (has_bias()) saved.mean = allocator.allocate<float>(static_cast<std::size_t>(rows));
  saved.rstd = allocator.allocate<float>(static_cast<std::size_t>(rows));
  return saved;
}

void Norm::forward(float* out, const NormActivations& saved, const float* in, const NormParameters& params,
                   std::int64_t rows) const {
  if (has_bias()) {
    ops::cpu::layernorm_forward(out, saved.mean, saved.rstd, in, params.weight.value, params.bias.value, rows, dim_,
                                eps_, apply_layernorm_1p_);
  } else {
    ops::cpu::rmsnorm_forward(out, saved.rstd, in, params.weight.value, rows, dim_, eps_, apply_layernorm_1p_);
  }
}

void Norm::backward(float* din, const float* dout, const float* in, const NormParameters& params,
                    const NormActivations& saved, std::int64_t rows) const {
  if (has_bias()) {
    ops::cpu::layernorm_backward(din, params.weight.grad, params.bias.grad, dout, in, params.weight.value,
                                 saved.mean, saved.rstd, rows, dim_, apply_layernorm_1p_);
  } else {
    ops::cpu::rmsnorm_backward(din, params.weight.grad, dout, in, params.weight.value, saved.rstd, rows, dim_,
                               apply_layernorm_1p_);
  }
}

}  // namespace primus::model
