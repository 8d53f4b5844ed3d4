// Parameter naming and ordering, and the parameter-count formula.
#include "primus/model/parameter_layout.hpp"

#include <stdexcept>

namespace primus::model {

namespace {
void require(bool ok, const std::string& key, std::int64_t value, const std::string& expected) {
  if (!ok) {
    throw std::invalid_argument("model config: " + key + " = " + std::to_string(value) + ", expected " + expected);
  }
}

class LayoutBuilder {
 public:
  void add(std::string name, std::vector<std::int64_t> shape, ParameterInit init) {
    std::int64_t numel = 1;
    for (std::int64_t extent : shape) numel *= extent;
    bool weight_decay = shape.size() > 1;  // Megatron: no decay for biases and norm weights
    layout_.parameters.push_back({std::move(name), std::move(shape), layout_.total_numel, numel, weight_decay});
    layout_.init.push_back(init);
    layout_.total_numel += numel;
  }
  void add_norm(const std::string& prefix, std::int64_t dim, bool with_bias) {
    add(prefix + ".weight", {dim}, ParameterInit::norm_weight);
    if (with_bias) add(prefix + ".bias", {dim}, ParameterInit::zero);
  }
  void add_linear(const std::string& prefix, std::int64_t out, std::int64_t in, bool with_bias, ParameterInit init) {
    add(prefix + ".weight", {out, in}, init);
    if (with_bias) add(prefix + ".bias", {out}, ParameterInit::zero);
  }
  ParameterLayout take() { return std::move(layout_); }

 private:
  ParameterLayout layout_;
};
}  // namespace

void validate_model_config(const config::ModelConfig& c) {
  require(c.num_layers > 0, "num_layers", c.num_layers, "> 0");
  require(c.hidden_size > 0, "hidden_size", c.hidden_size, "> 0");
  require(c.ffn_hidden_size > 0, "ffn_hidden_size", c.ffn_hidden_size, "> 0");
  require(c.num_attention_heads > 0, "num_attention_heads", c.num_attention_heads, "> 0");
  require(c.num_query_groups > 0 && c.num_attention_heads % c.num_query_groups == 0, "num_query_groups",
          c.num_query_groups, "a divisor of num_attention_heads (" + std::to_string(c.num_attention_heads) + ")");
  require(c.kv_channels > 0, "kv_channels", c.kv_channels, "> 0");
  require(c.seq_length > 0, "seq_length", c.seq_length, "> 0");
  require(c.padded_vocab_size >= c.vocab_size && c.padded_vocab_size > 0, "padded_vocab_size", c.padded_vocab_size,
          ">= vocab_size (" + std::to_string(c.vocab_size) + ") and > 0");
  require(c.num_experts == 0, "num_experts", c.num_experts, "0 (mixture of experts is not implemented yet)");
  require(!c.multi_latent_attention, "multi_latent_attention", 1, "false (not implemented yet)");
  if (c.position_embedding_type == config::PositionEmbeddingType::learned_absolute) {
    require(c.max_position_embeddings >= c.seq_length, "max_position_embeddings", c.max_position_embeddings,
            ">= seq_length (" + std::to_string(c.seq_length) + ") with learned_absolute position embeddings");
  }
  if (c.position_embedding_type == config::PositionEmbeddingType::rope) {
    int rotary_dim = static_cast<int>(c.kv_channels * c.rotary_percent);
    require(c.rotary_percent > 0.0 && c.rotary_percent <= 1.0 && rotary_dim > 0 && rotary_dim % 2 == 0,
            "rotary_percent * kv_channels", rotary_dim, "an even number in (0, kv_channels]");
  }
}

ParameterLayout build_parameter_layout(const config::ModelConfig& c) {
  validate_model_config(c);
  const bool norm_bias = c.normalization == config::Normalization::LayerNorm;
  const std::int64_t hidden = c.hidden_size;
  const std::int64_t qkv_width = static_cast<std::int64_t>(c.num_attention_heads + 2 * c.num_query_groups) * c.kv_channels;
  const std::int64_t fc1_width = (c.swiglu ? 2 : 1) * static_cast<std::int64_t>(c.ffn_hidden_size);
  LayoutBuilder builder;
  builder.add("embedding.word_embeddings.weight", {c.padded_vocab_size, hidden}, ParameterInit::normal);
  if (c.position_embedding_type == config::PositionEmbeddingType::learned_absolute) {
    builder.add("embedding.position_embeddings.weight", {c.max_position_embeddings, hidden}, ParameterInit::normal);
  }
  for (int layer = 0; layer < c.num_layers; ++layer) {
    const std::string prefix = "decoder.layers." + std::to_string(layer) + ".";
    builder.add_norm(prefix + "input_layernorm", hidden, norm_bias);
    builder.add_linear(prefix + "self_attention.linear_qkv", qkv_width, hidden, c.add_bias_linear || c.add_qkv_bias,
                       ParameterInit::normal);
    if (c.qk_layernorm) {
      builder.add_norm(prefix + "self_attention.q_layernorm", c.kv_channels, norm_bias);
      builder.add_norm(prefix + "self_attention.k_layernorm", c.kv_channels, norm_bias);
    }
    builder.add_linear(prefix + "self_attention.linear_proj", hidden,
                       static_cast<std::int64_t>(c.num_attention_heads) * c.kv_channels, c.add_bias_linear,
                       ParameterInit::scaled_normal);
    builder.add_norm(prefix + "pre_mlp_layernorm", hidden, norm_bias);
    builder.add_linear(prefix + "mlp.linear_fc1", fc1_width, hidden, c.add_bias_linear, ParameterInit::normal);
    builder.add_linear(prefix + "mlp.linear_fc2", hidden, c.ffn_hidden_size, c.add_bias_linear,
                       ParameterInit::scaled_normal);
  }
  builder.add_norm("decoder.final_layernorm", hidden, norm_bias);
  if (c.untie_embeddings_and_output_weights) {
    builder.add("output_layer.weight", {c.padded_vocab_size, hidden}, ParameterInit::normal);
  }
  return builder.take();
}

std::int64_t count_parameters_closed_form(const config::ModelConfig& c) {
  validate_model_config(c);  // a dense formula for an MoE config would be silently wrong
  const std::int64_t h = c.hidden_size, f = c.ffn_hidden_size, kv = c.kv_channels;
  const std::int64_t heads = c.num_attention_heads, groups = c.num_query_groups;
  const std::int64_t v = c.padded_vocab_size;
  const std::int64_t norm = c.normalization == config::Normalization::LayerNorm ? 2 : 1;  // weight (+ bias)
  const std::int64_t qkv_out = (heads + 2 * groups) * kv;
  const std::int64_t attention = qkv_out * h + (c.add_bias_linear || c.add_qkv_bias ? qkv_out : 0) +
                                 h * heads * kv + (c.add_bias_linear ? h : 0) +
                                 (c.qk_layernorm ? 2 * norm * kv : 0);
  const std::int64_t fc1_out = (c.swiglu ? 2 : 1) * f;
  const std::int64_t mlp = fc1_out * h + f * h + (c.add_bias_linear ? fc1_out + h : 0);
  const std::int64_t layer = attention + mlp + 2 * norm * h;
  const std::int64_t embeddings =
      v * h * (c.untie_embeddings_and_output_weights ? 2 : 1) +
      (c.position_embedding_type == config::PositionEmbeddingType::learned_absolute
           ? static_cast<std::int64_t>(c.max_position_embeddings) * h
           : 0);
  return embeddings + c.num_layers * layer + norm * h;
}

}  // namespace primus::model
