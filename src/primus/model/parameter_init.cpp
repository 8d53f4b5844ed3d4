// Megatron-style parameter initialisation into a host fp32 buffer of the flat layout.
#include "primus/model/parameter_init.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "primus/model/normal_sampler.hpp"

namespace primus::model {

namespace {
// Fixed-size chunks, each with its own stream: parallel, yet the values depend only on
// (seed, tensor, chunk), never on the thread count; the CUDA engine computes the same
// samples on the device (model/normal_sampler.hpp).
void fill_normal(float* data, std::int64_t count, double std, std::uint64_t tensor_seed) {
  namespace ns = normal_sampler;
  const std::int64_t chunks = (count + ns::kChunk - 1) / ns::kChunk;
#pragma omp parallel for if(chunks > 1)
  for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
    const std::uint64_t state = ns::chunk_state(tensor_seed, chunk);
    const std::int64_t begin = chunk * ns::kChunk, end = std::min(count, begin + ns::kChunk);
    for (std::int64_t i = begin; i < end; i += 2) {
      const ns::Pair pair = ns::normal_pair(state, (i - begin) / 2, std);
      data[i] = pair.first;
      if (i + 1 < end) data[i + 1] = pair.second;
    }
  }
}
}  // namespace

std::vector<ParameterFill> parameter_fills(const ParameterLayout& layout, const config::ModelConfig& config,
                                           std::uint64_t seed) {
  const double std = config.init_method_std;
  const double scaled_std = std / std::sqrt(2.0 * config.num_layers);
  std::vector<ParameterFill> fills;
  for (std::size_t i = 0; i < layout.parameters.size(); ++i) {
    const ParameterInfo& info = layout.parameters[i];
    ParameterFill fill;
    fill.offset = info.offset;
    fill.count = info.numel;
    fill.tensor_seed = seed * 0x100000001b3ULL + (i + 1) * normal_sampler::kGolden;
    switch (layout.init[i]) {
      case ParameterInit::normal: fill.stddev = std; break;
      case ParameterInit::scaled_normal: fill.stddev = scaled_std; break;
      case ParameterInit::norm_weight: fill.value = config.apply_layernorm_1p ? 0.0f : 1.0f; break;
      case ParameterInit::zero: fill.value = 0.0f; break;
    }
    fill.normal = layout.init[i] == ParameterInit::normal || layout.init[i] == ParameterInit::scaled_normal;
    fills.push_back(fill);
  }
  return fills;
}

void init_parameters(const ParameterLayout& layout, const config::ModelConfig& config, std::uint64_t seed,
                     std::span<float> out) {
  if (static_cast<std::int64_t>(out.size()) != layout.total_numel) {
    throw std::invalid_argument("init_parameters: buffer of " + std::to_string(out.size()) + " floats, expected " +
                                std::to_string(layout.total_numel));
  }
  for (const ParameterFill& fill : parameter_fills(layout, config, seed)) {
    float* p = out.data() + fill.offset;
    if (fill.normal) {
      fill_normal(p, fill.count, fill.stddev, fill.tensor_seed);
    } else {
      std::fill(p, p + fill.count, fill.value);
    }
  }
}

}  // namespace primus::model
