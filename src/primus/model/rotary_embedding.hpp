// Rotary position embedding tables from the model config: Megatron's inverse
// frequencies base^(-2i/rotary_dim), optional Llama 3.x frequency scaling
// (use_rope_scaling, as HF's _compute_llama3_parameters) and
// rotary_seq_len_interpolation_factor (positions divided by it).
#pragma once

#include <cstdint>
#include <vector>

#include "primus/config/train_config.hpp"

namespace primus::model {

// rotary_dim = int(kv_channels * rotary_percent); returns rotary_dim / 2 frequencies.
std::vector<double> rope_inverse_frequencies(const config::ModelConfig& config);

struct RotaryTables {
  int rotary_dim = 0;
  int seq_length = 0;
  std::vector<float> cos, sin;  // [seq_length, rotary_dim / 2]
};

// Angles are computed in double and rounded once (Megatron computes them in fp32).
RotaryTables make_rotary_tables(const config::ModelConfig& config, int seq_length);

}  // namespace primus::model
