// RoPE frequency and cos/sin tables.
#include "primus/model/rotary_embedding.hpp"

#include <cmath>
#include <numbers>

namespace primus::model {

std::vector<double> rope_inverse_frequencies(const config::ModelConfig& c) {
  const int rotary_dim = static_cast<int>(c.kv_channels * c.rotary_percent);
  std::vector<double> inverse(static_cast<std::size_t>(rotary_dim / 2));
  for (int i = 0; i < rotary_dim / 2; ++i) {
    inverse[static_cast<std::size_t>(i)] = 1.0 / std::pow(c.rotary_base, (2.0 * i) / rotary_dim);
  }
  if (!c.use_rope_scaling) return inverse;
  // Llama 3.x: long wavelengths slowed by the factor, short kept, a smooth blend between.
  const double factor = c.rope_scaling_factor;
  const double old_context = c.original_max_position_embeddings;
  const double low_freq_wavelen = old_context / c.rope_low_freq_factor;
  const double high_freq_wavelen = old_context / c.rope_high_freq_factor;
  for (double& frequency : inverse) {
    const double wavelen = 2.0 * std::numbers::pi / frequency;
    if (wavelen > low_freq_wavelen) {
      frequency /= factor;
    } else if (wavelen >= high_freq_wavelen) {
      const double smooth = (old_context / wavelen - c.rope_low_freq_factor) /
                            (c.rope_high_freq_factor - c.rope_low_freq_factor);
      frequency = (1.0 - smooth) * frequency / factor + smooth * frequency;
    }
  }
  return inverse;
}

RotaryTables make_rotary_tables(const config::ModelConfig& c, int seq_length) {
  RotaryTables tables;
  tables.rotary_dim = static_cast<int>(c.kv_channels * c.rotary_percent);
  tables.seq_length = seq_length;
  const std::vector<double> inverse = rope_inverse_frequencies(c);
  const double position_scale = 1.0 / c.rotary_seq_len_interpolation_factor.value_or(1.0);
  tables.cos.resize(static_cast<std::size_t>(seq_length) * inverse.size());
  tables.sin.resize(tables.cos.size());
  for (int s = 0; s < seq_length; ++s) {
    for (std::size_t i = 0; i < inverse.size(); ++i) {
      const double angle = s * position_scale * inverse[i];
      tables.cos[s * inverse.size() + i] = static_cast<float>(std::cos(angle));
      tables.sin[s * inverse.size() + i] = static_cast<float>(std::sin(angle));
    }
  }
  return tables;
}

}  // namespace primus::model
