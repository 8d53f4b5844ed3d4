// Tiny model configurations and micro-batches shared by the model tests.
#pragma once

#include <cstdint>
#include <random>

#include "primus/config/train_config.hpp"
#include "primus/model/gpt_model.hpp"

namespace primus::testing {

// 2 layers, hidden 16, 4 heads in 2 query groups, vocab 37 padded to 40, seq 8.
inline config::ModelConfig tiny_config() {
  config::ModelConfig c;
  c.num_layers = 2;
  c.hidden_size = 16;
  c.ffn_hidden_size = 24;
  c.num_attention_heads = 4;
  c.num_query_groups = 2;
  c.kv_channels = 4;
  c.seq_length = 8;
  c.max_position_embeddings = 8;
  c.vocab_size = 37;
  c.padded_vocab_size = 40;
  c.norm_epsilon = 1e-5;
  return c;
}

inline constexpr int kTinyMicroBatchSize = 2;

// Random tokens and labels below vocab_size; a loss mask with a few zeros.
inline model::MicroBatch random_micro_batch(const config::ModelConfig& c, int micro_batch_size, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_int_distribution<std::int32_t> token(0, c.vocab_size - 1);
  model::MicroBatch batch;
  batch.micro_batch_size = micro_batch_size;
  batch.seq_length = c.seq_length;
  const int rows = micro_batch_size * c.seq_length;
  for (int r = 0; r < rows; ++r) {
    batch.tokens.push_back(token(engine));
    batch.labels.push_back(token(engine));
    batch.loss_mask.push_back(r % 5 == 3 ? 0.0f : 1.0f);
  }
  return batch;
}

}  // namespace primus::testing
