#include "primus/log/flops.hpp"

namespace primus::log {

double num_floating_point_operations(const config::ModelConfig& model, std::int64_t batch_size) {
  const double h = model.hidden_size;
  const double s = model.seq_length;
  const double tokens = static_cast<double>(batch_size) * s;
  const double layers = model.num_layers;
  // 3x: forward, backward data-grad, backward weight-grad; 2x: multiply-add.
  constexpr double kForwardBackward = 3.0, kFma = 2.0;
  const double ffn_expansion = model.swiglu ? 3.0 : 2.0;

  const bool moe = model.num_experts > 0;
  const double moe_layers = moe ? layers : 0.0;  // moe_layer_freq = 1: every layer is MoE
  const double dense_layers = layers - moe_layers;
  const double experts_routed_to = moe ? model.moe_router_topk : 0.0;
  const double moe_ffn = model.moe_ffn_hidden_size > 0 ? model.moe_ffn_hidden_size : model.ffn_hidden_size;
  const double shared_ffn = model.moe_shared_expert_intermediate_size;

  double self_attention_term = 0.0, self_attention_core_term = 0.0;
  const double heads = model.num_attention_heads;
  if (model.multi_latent_attention) {
    const double qk = model.qk_head_dim, qk_pos = model.qk_pos_emb_head_dim, v = model.v_head_dim;
    const double q_term = model.q_lora_rank == 0 ? h * heads * (qk + qk_pos)
                                                 : model.q_lora_rank * (h + heads * (qk + qk_pos) + 1.0);
    self_attention_term = kForwardBackward * kFma *
                          (q_term + model.kv_lora_rank * (h + heads * (qk + v) + 1.0) + h * qk_pos + heads * v * h);
    self_attention_core_term = kForwardBackward * kFma * (heads * (qk + qk_pos) / 2.0 + heads * v / 2.0);
  } else {
    const double query_projection = static_cast<double>(model.kv_channels) * heads;
    const double key_value_projection = static_cast<double>(model.kv_channels) * model.num_query_groups;
    self_attention_term =
        kForwardBackward * kFma * (h * (query_projection + 2.0 * key_value_projection) + query_projection * h);
    // QK^T and softmax(QK^T)V, halved by the causal mask.
    self_attention_core_term = kForwardBackward * kFma * query_projection / 2.0 * 2.0;
  }
  const double vocab = model.padded_vocab_size > 0 ? model.padded_vocab_size : model.vocab_size;
  const double per_token = kForwardBackward * kFma * h *
                               (model.ffn_hidden_size * ffn_expansion * dense_layers +
                                moe_ffn * experts_routed_to * ffn_expansion * moe_layers +
                                shared_ffn * ffn_expansion * moe_layers) +
                           self_attention_term * layers + kForwardBackward * kFma * h * vocab;
  const double seqlen_squared_sum = static_cast<double>(batch_size) * s * s;
  return tokens * per_token + seqlen_squared_sum * self_attention_core_term * layers;
}

double model_flops_baseline(std::int64_t batch_size, std::int64_t seq_length, std::int64_t num_layers,
                            std::int64_t hidden_size, std::int64_t ffn_hidden_size, std::int64_t num_attention_heads,
                            std::int64_t num_query_groups, std::int64_t vocab_size) {
  const double h = static_cast<double>(hidden_size);
  const double head_dim = static_cast<double>(hidden_size / num_attention_heads);
  const double q = h * h;
  const double key_value = 2.0 * h * static_cast<double>(num_query_groups) * head_dim;
  const double o = h * h;
  const double mlp = 3.0 * h * static_cast<double>(ffn_hidden_size);
  const double attention = 2.0 * static_cast<double>(seq_length) * h;  // full, not causal-halved
  const double per_token_layer = q + key_value + o + mlp + attention;
  const double logits = h * static_cast<double>(vocab_size);
  return 6.0 * static_cast<double>(batch_size) * static_cast<double>(seq_length) *
         (static_cast<double>(num_layers) * per_token_layer + logits);
}

double model_flops_baseline(const config::ModelConfig& model, std::int64_t batch_size) {
  const int vocab = model.padded_vocab_size > 0 ? model.padded_vocab_size : model.vocab_size;
  return model_flops_baseline(batch_size, model.seq_length, model.num_layers, model.hidden_size,
                              model.ffn_hidden_size, model.num_attention_heads, model.num_query_groups, vocab);
}

}  // namespace primus::log
