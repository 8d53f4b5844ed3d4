// init_parameters: Megatron initialisation of a flat fp32 parameter buffer, shared by
// every backend (the CUDA engine fills a host buffer with it and uploads), so that one
// seed gives the same weights everywhere: normal(0, init_method_std) for weights;
// linear_proj and linear_fc2 normal(0, init_method_std / sqrt(2 * num_layers)); norms 1
// (0 with apply_layernorm_1p); biases 0. Deterministic from seed, independent of threads.
#pragma once

#include <cstdint>
#include <span>

#include "primus/config/train_config.hpp"
#include "primus/model/parameter_layout.hpp"

namespace primus::model {

// out: layout.total_numel floats (throws std::invalid_argument otherwise).
void init_parameters(const ParameterLayout& layout, const config::ModelConfig& config, std::uint64_t seed,
                     std::span<float> out);

}  // namespace primus::model
