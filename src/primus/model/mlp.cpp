// Mlp forward and backward.
#include "primus/model/mlp.hpp"

#include "primus/ops/cpu/gelu.hpp"
#include "primus/ops/cpu/linear.hpp"
#include "primus/ops/cpu/swiglu.hpp"

namespace primus::model {

Mlp::Mlp(const config::ModelConfig& config)
    : swiglu_(config.swiglu),
      hidden_(config.hidden_size),
      ffn_(config.ffn_hidden_size),
      fc1_width_((config.swiglu ? 2 : 1) * static_cast<std::int64_t>(config.ffn_hidden_size)) {}

MlpActivations Mlp::allocate(tensor::ActivationAllocator& allocator, std::int64_t rows) const {
  return {allocator.allocate<float>(static_cast<std::size_t>(rows * fc1_width_)),
          allocator.allocate<float>(static_cast<std::size_t>(rows * ffn_))};
}

MlpScratch Mlp::allocate_scratch(tensor::ActivationAllocator& allocator, std::int64_t rows) const {
  return {allocator.allocate<float>(static_cast<std::size_t>(rows * ffn_)),
          allocator.allocate<float>(static_cast<std::size_t>(rows * fc1_width_))};
}

void Mlp::forward(float* out, const MlpActivations& saved, const float* in, const MlpParameters& params,
                  std::int64_t rows) const {
  ops::cpu::linear_forward(saved.fc1_out, in, params.fc1_weight.value, params.fc1_bias.value, rows, hidden_,
                           fc1_width_);
  if (swiglu_) {
    ops::cpu::swiglu_forward(saved.activation_out, saved.fc1_out, rows, ffn_);
  } else {
    ops::cpu::gelu_forward(saved.activation_out, saved.fc1_out, rows * ffn_);
  }
  ops::cpu::linear_forward(out, saved.activation_out, params.fc2_weight.value, params.fc2_bias.value, rows, ffn_,
                           hidden_);
}

void Mlp::backward(float* din, const float* dout, const float* in, const MlpParameters& params,
                   const MlpActivations& saved, const MlpScratch& scratch, std::int64_t rows) const {
  ops::cpu::linear_backward(scratch.d_activation_out, params.fc2_weight.grad, params.fc2_bias.grad, dout,
                            saved.activation_out, params.fc2_weight.value, rows, ffn_, hidden_);
  if (swiglu_) {
    ops::cpu::swiglu_backward(scratch.d_fc1_out, scratch.d_activation_out, saved.fc1_out, rows, ffn_);
  } else {
    ops::cpu::gelu_backward(scratch.d_fc1_out, scratch.d_activation_out, saved.fc1_out, rows * ffn_);
  }
  ops::cpu::linear_backward(din, params.fc1_weight.grad, params.fc1_bias.grad, scratch.d_fc1_out, in,
                            params.fc1_weight.value, rows, hidden_, fc1_width_);
}

}  // namespace primus::model
