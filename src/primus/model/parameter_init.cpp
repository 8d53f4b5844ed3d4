// Megatron-style parameter initialisation into a host fp32 buffer of the flat layout.
#include "primus/model/parameter_init.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace primus::model {

namespace {
// splitmix64: a stateless, well-mixed stream so that every parameter tensor gets
// its own reproducible sequence, independent of threads and of other tensors.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double uniform_open(std::uint64_t& state) {  // in (0, 1)
  return (static_cast<double>(splitmix64(state) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

// Fixed-size chunks, each with its own stream: parallel, yet the values depend
// only on (seed, tensor, chunk), never on the thread count.
void fill_normal(float* data, std::int64_t count, double std, std::uint64_t tensor_seed) {
  constexpr std::int64_t kChunk = std::int64_t{1} << 16;  // even, so Box-Muller pairs never straddle chunks
  const std::int64_t chunks = (count + kChunk - 1) / kChunk;
#pragma omp parallel for if(chunks > 1)
  for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
    std::uint64_t state = tensor_seed ^ (static_cast<std::uint64_t>(chunk) * 0xd1b54a32d192ed03ULL);
    const std::int64_t end = std::min(count, (chunk + 1) * kChunk);
    for (std::int64_t i = chunk * kChunk; i < end; i += 2) {  // Box-Muller: two normals per pair of uniforms
      double radius = std::sqrt(-2.0 * std::log(uniform_open(state)));
      double angle = 2.0 * std::numbers::pi * uniform_open(state);
      data[i] = static_cast<float>(std * radius * std::cos(angle));
      if (i + 1 < end) data[i + 1] = static_cast<float>(std * radius * std::sin(angle));
    }
  }
}
}  // namespace

void init_parameters(const ParameterLayout& layout, const config::ModelConfig& config, std::uint64_t seed,
                     std::span<float> out) {
  if (static_cast<std::int64_t>(out.size()) != layout.total_numel) {
    throw std::invalid_argument("init_parameters: buffer of " + std::to_string(out.size()) + " floats, expected " +
                                std::to_string(layout.total_numel));
  }
  const double std = config.init_method_std;
  const double scaled_std = std / std::sqrt(2.0 * config.num_layers);
  float* data = out.data();
  for (std::size_t i = 0; i < layout.parameters.size(); ++i) {
    const ParameterInfo& info = layout.parameters[i];
    float* p = data + info.offset;
    std::uint64_t stream = seed * 0x100000001b3ULL + (i + 1) * 0x9e3779b97f4a7c15ULL;
    switch (layout.init[i]) {
      case ParameterInit::normal: fill_normal(p, info.numel, std, stream); break;
      case ParameterInit::scaled_normal: fill_normal(p, info.numel, scaled_std, stream); break;
      case ParameterInit::norm_weight: std::fill(p, p + info.numel, config.apply_layernorm_1p ? 0.0f : 1.0f); break;
      case ParameterInit::zero: std::fill(p, p + info.numel, 0.0f); break;
    }
  }
}

}  // namespace primus::model
