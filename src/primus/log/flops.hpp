// Floating-point operations per global batch: Megatron's
// num_floating_point_operations (the number behind "TFLOP/s/GPU" in the log) and
// the benchmark baseline's simpler count (/work/shared/bench/torch_baseline.py).
#pragma once

#include <cstdint>

#include "primus/config/train_config.hpp"

namespace primus::log {

// Megatron's count for a GPT/Llama model (GQA, SwiGLU, MoE top-k, MLA, causal-halved attention) for `batch_size` samples.
double num_floating_point_operations(const config::ModelConfig& model, std::int64_t batch_size);

// The baseline's count: 6*b*s*(L*(q + kv + o + mlp + 2*s*h) + h*vocab), SwiGLU MLP, attention not causal-halved.
double model_flops_baseline(std::int64_t batch_size, std::int64_t seq_length, std::int64_t num_layers,
                            std::int64_t hidden_size, std::int64_t ffn_hidden_size, std::int64_t num_attention_heads,
                            std::int64_t num_query_groups, std::int64_t vocab_size);

// The baseline's count from a model config (vocab = padded_vocab_size when resolved, else vocab_size).
double model_flops_baseline(const config::ModelConfig& model, std::int64_t batch_size);

}  // namespace primus::log
