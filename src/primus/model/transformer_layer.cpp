// TransformerLayer forward and backward, in order.
#include "primus/model/transformer_layer.hpp"

#include "primus/ops/cpu/residual.hpp"

namespace primus::model {

TransformerLayer::TransformerLayer(const config::ModelConfig& config, const RotaryTables* rotary)
    : hidden_(config.hidden_size), norm_(config, config.hidden_size), self_attention_(config, rotary), mlp_(config) {}

TransformerLayerActivations TransformerLayer::allocate(tensor::ActivationAllocator& allocator, std::int64_t batch,
                                                       std::int64_t seq) const {
  const std::int64_t rows = batch * seq;
  auto floats = [&](std::int64_t count) { return allocator.allocate<float>(static_cast<std::size_t>(count)); };
  TransformerLayerActivations saved;
  saved.input_layernorm_out = floats(rows * hidden_);
  saved.input_layernorm = norm_.allocate(allocator, rows);
  saved.self_attention = self_attention_.allocate(allocator, batch, seq);
  saved.attention_residual = floats(rows * hidden_);
  saved.pre_mlp_layernorm_out = floats(rows * hidden_);
  saved.pre_mlp_layernorm = norm_.allocate(allocator, rows);
  saved.mlp = mlp_.allocate(allocator, rows);
  return saved;
}

TransformerLayerScratch TransformerLayer::allocate_scratch(tensor::ActivationAllocator& allocator,
                                                           std::int64_t rows) const {
  TransformerLayerScratch scratch;
  scratch.branch = allocator.allocate<float>(static_cast<std::size_t>(rows * hidden_));
  scratch.d_norm_out = allocator.allocate<float>(static_cast<std::size_t>(rows * hidden_));
  scratch.self_attention = self_attention_.allocate_scratch(allocator, rows);
  scratch.mlp = mlp_.allocate_scratch(allocator, rows);
  return scratch;
}

void TransformerLayer::forward(float* out, const TransformerLayerActivations& saved,
                               const TransformerLayerScratch& scratch, const float* in,
                               const TransformerLayerParameters& params, std::int64_t batch, std::int64_t seq) const {
  const std::int64_t rows = batch * seq;
  norm_.forward(saved.input_layernorm_out, saved.input_layernorm, in, params.input_layernorm, rows);
  self_attention_.forward(scratch.branch, saved.self_attention, scratch.self_attention, saved.input_layernorm_out,
                          params.self_attention, batch, seq);
  ops::cpu::residual_forward(saved.attention_residual, in, scratch.branch, rows * hidden_);
  norm_.forward(saved.pre_mlp_layernorm_out, saved.pre_mlp_layernorm, saved.attention_residual,
                params.pre_mlp_layernorm, rows);
  mlp_.forward(scratch.branch, saved.mlp, saved.pre_mlp_layernorm_out, params.mlp, rows);
  ops::cpu::residual_forward(out, saved.attention_residual, scratch.branch, rows * hidden_);
}

void TransformerLayer::backward(float* d_hidden, const float* in, const TransformerLayerParameters& params,
                                const TransformerLayerActivations& saved, const TransformerLayerScratch& scratch,
                                std::int64_t batch, std::int64_t seq) const {
  const std::int64_t rows = batch * seq;
  mlp_.backward(scratch.d_norm_out, d_hidden, saved.pre_mlp_layernorm_out, params.mlp, saved.mlp, scratch.mlp, rows);
  norm_.backward(scratch.branch, scratch.d_norm_out, saved.attention_residual, params.pre_mlp_layernorm,
                 saved.pre_mlp_layernorm, rows);
  ops::cpu::residual_backward(d_hidden, scratch.branch, rows * hidden_);  // now d(attention_residual)
  self_attention_.backward(scratch.d_norm_out, d_hidden, saved.input_layernorm_out, params.self_attention,
                           saved.self_attention, scratch.self_attention, batch, seq);
  norm_.backward(scratch.branch, scratch.d_norm_out, in, params.input_layernorm, saved.input_layernorm, rows);
  ops::cpu::residual_backward(d_hidden, scratch.branch, rows * hidden_);  // now d(in)
}

}  // namespace primus::model
