// init_parameters: Megatron initialisation of a flat fp32 parameter buffer, shared by
// every backend (the CUDA engine runs the same fills on the device), so that one
// seed gives the same weights everywhere: normal(0, init_method_std) for weights;
// linear_proj and linear_fc2 normal(0, init_method_std / sqrt(2 * num_layers)); norms 1
// (0 with apply_layernorm_1p); biases 0. Deterministic from seed, independent of threads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "primus/config/train_config.hpp"
#include "primus/model/parameter_layout.hpp"

namespace primus::model {

// What init writes into one parameter: normal(0, stddev) samples of the tensor's stream
// (model/normal_sampler.hpp, chunked), or `value` everywhere. The CUDA engine runs the same
// fills on the device (model/cuda/device_init.hpp) and gets the same bits.
struct ParameterFill {
  std::int64_t offset = 0, count = 0;
  bool normal = false;
  double stddev = 0.0;
  std::uint64_t tensor_seed = 0;
  float value = 0.0f;
};
std::vector<ParameterFill> parameter_fills(const ParameterLayout& layout, const config::ModelConfig& config,
                                           std::uint64_t seed);

// out: layout.total_numel floats (throws std::invalid_argument otherwise).
void init_parameters(const ParameterLayout& layout, const config::ModelConfig& config, std::uint64_t seed,
                     std::span<float> out);

}  // namespace primus::model
