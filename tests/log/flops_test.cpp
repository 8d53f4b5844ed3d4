// FLOP counts for the Llama 3 8B shape, worked out term by term by hand.
#include <gtest/gtest.h>

#include "primus/log/flops.hpp"

namespace primus::log {
namespace {

// Llama 3 8B: 32 layers, hidden 4096, SwiGLU ffn 14336, 32 heads, 8 KV groups of 128, vocab 128256, seq 8192.
config::ModelConfig llama3_8b() {
  config::ModelConfig model;
  model.num_layers = 32;
  model.hidden_size = 4096;
  model.ffn_hidden_size = 14336;
  model.num_attention_heads = 32;
  model.num_query_groups = 8;
  model.kv_channels = 128;
  model.seq_length = 8192;
  model.vocab_size = 128256;
  model.padded_vocab_size = 128256;
  model.swiglu = true;
  return model;
}

TEST(Flops, MegatronCountForLlama3_8B) {
  // Per token, per layer (x6 = 3 passes x 2 FLOPs per multiply-add):
  //   attention projections: 6 * (4096 * (4096 + 1024 + 1024) + 4096 * 4096) = 251,658,240
  //   SwiGLU MLP:            6 * 4096 * 14336 * 3                            = 1,056,964,608
  // Logits per token: 6 * 4096 * 128256 = 3,152,019,456
  // Core attention per sample: 8192^2 * 6 * 4096 (causal half x 2 GEMMs) per layer.
  const double per_token = 32.0 * (251658240.0 + 1056964608.0) + 3152019456.0;  // 45,027,950,592
  const double core_per_sample = 8192.0 * 8192.0 * 6.0 * 4096.0 * 32.0;
  const double expected_one_sample = 8192.0 * per_token + core_per_sample;
  EXPECT_DOUBLE_EQ(expected_one_sample, 421645529382912.0);
  EXPECT_DOUBLE_EQ(num_floating_point_operations(llama3_8b(), 1), 421645529382912.0);
  EXPECT_DOUBLE_EQ(num_floating_point_operations(llama3_8b(), 128), 128.0 * 421645529382912.0);
}

TEST(Flops, MegatronCountWithMoeTopK) {
  // 8 experts of 14336, top-2, no shared expert: the MLP term doubles (two experts per token).
  auto model = llama3_8b();
  model.num_experts = 8;
  model.moe_router_topk = 2;
  model.moe_ffn_hidden_size = 14336;
  const double per_token = 32.0 * (251658240.0 + 2.0 * 1056964608.0) + 3152019456.0;
  const double expected = 8192.0 * per_token + 8192.0 * 8192.0 * 6.0 * 4096.0 * 32.0;
  EXPECT_DOUBLE_EQ(num_floating_point_operations(model, 1), expected);
  EXPECT_DOUBLE_EQ(expected, 698722459582464.0);
  model.moe_shared_expert_intermediate_size = 1024;  // adds 6 * 4096 * 1024 * 3 per token per layer
  EXPECT_DOUBLE_EQ(num_floating_point_operations(model, 1), expected + 8192.0 * 32.0 * 6.0 * 4096.0 * 1024.0 * 3.0);
}

TEST(Flops, BaselineCountForLlama3_8B) {
  // Per token per layer: q 4096^2 + kv 2*4096*8*128 + o 4096^2 + mlp 3*4096*14336 + attention 2*8192*4096
  //   = 16,777,216 + 8,388,608 + 16,777,216 + 176,160,768 + 67,108,864 = 285,212,672
  // Total: 6 * 1 * 8192 * (32 * 285,212,672 + 4096 * 128256)
  const double per_token_layer = 16777216.0 + 8388608.0 + 16777216.0 + 176160768.0 + 67108864.0;
  EXPECT_DOUBLE_EQ(per_token_layer, 285212672.0);
  const double expected = 6.0 * 8192.0 * (32.0 * per_token_layer + 4096.0 * 128256.0);
  EXPECT_DOUBLE_EQ(expected, 474422087516160.0);
  EXPECT_DOUBLE_EQ(model_flops_baseline(1, 8192, 32, 4096, 14336, 32, 8, 128256), expected);
  EXPECT_DOUBLE_EQ(model_flops_baseline(llama3_8b(), 2), 2.0 * expected);
}

}  // namespace
}  // namespace primus::log
