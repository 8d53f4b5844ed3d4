// The flat parameter layout of a GPT model: every tensor's Megatron name, shape,
// offset in the one fp32 parameter buffer (the gradient buffer uses the same
// offsets), weight-decay flag and initialisation rule; and the closed-form count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "primus/config/train_config.hpp"
#include "primus/tensor/parameter_range.hpp"

namespace primus::model {

// Offsets are in elements, into parameter_data() / gradient_data().
using ParameterInfo = tensor::ParameterRange;

// How init_parameters fills a tensor (Megatron's init_method / output_layer_init_method).
enum class ParameterInit { normal, scaled_normal, norm_weight, zero };

struct ParameterLayout {
  std::vector<ParameterInfo> parameters;
  std::vector<ParameterInit> init;  // parallel to parameters
  std::int64_t total_numel = 0;
};

// Throws std::invalid_argument naming the key when the config cannot build a model
// (zero sizes, heads not divisible by num_query_groups, odd rotary dimension, MoE/MLA).
void validate_model_config(const config::ModelConfig& config);
ParameterLayout build_parameter_layout(const config::ModelConfig& config);
// Closed formula (no allocation); equals build_parameter_layout(config).total_numel.
std::int64_t count_parameters_closed_form(const config::ModelConfig& config);

}  // namespace primus::model
