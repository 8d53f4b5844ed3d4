// GPTModel: buffers, parameter binding, init, and the step written out in order.
#include "primus/model/gpt_model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "primus/ops/cpu/cross_entropy.hpp"
#include "primus/ops/cpu/embedding.hpp"
#include "primus/ops/cpu/linear.hpp"
#include "primus/model/parameter_init.hpp"

namespace primus::model {

namespace {
constexpr const char* kParameters = "parameters";
constexpr const char* kGradients = "gradients";

std::size_t buffer_bytes(const ParameterLayout& layout) {
  return static_cast<std::size_t>(layout.total_numel) * sizeof(float);
}

}  // namespace

GPTModel::GPTModel(const config::ModelConfig& config, int micro_batch_size)
    : config_(config),
      micro_batch_size_(micro_batch_size),
      layout_(build_parameter_layout(config)),
      buffers_({{kParameters, buffer_bytes(layout_)}, {kGradients, buffer_bytes(layout_)}}),
      rotary_(config.position_embedding_type == config::PositionEmbeddingType::rope
                  ? std::make_unique<RotaryTables>(make_rotary_tables(config, config.seq_length))
                  : nullptr),
      final_norm_(config, config.hidden_size),
      layer_(config, rotary_.get()),
      activations_(tensor::ActivationAllocator::measuring()) {
  if (micro_batch_size <= 0) {
    throw std::invalid_argument("micro_batch_size = " + std::to_string(micro_batch_size) + ", expected > 0");
  }
  bind_parameters();
  tensor::ActivationAllocator measuring = tensor::ActivationAllocator::measuring();
  plan_activations(measuring);
  activations_ = tensor::ActivationAllocator(measuring.high_water());
  saved_ = plan_activations(activations_);
}

std::int64_t GPTModel::count_parameters(const config::ModelConfig& config) {
  return count_parameters_closed_form(config);
}

std::span<float> GPTModel::parameter_data() {
  return {reinterpret_cast<float*>(buffers_.region(kParameters)), static_cast<std::size_t>(layout_.total_numel)};
}

std::span<float> GPTModel::gradient_data() {
  return {reinterpret_cast<float*>(buffers_.region(kGradients)), static_cast<std::size_t>(layout_.total_numel)};
}

void GPTModel::zero_grad() { std::fill(gradient_data().begin(), gradient_data().end(), 0.0f); }

ParameterRef GPTModel::optional_ref(const std::string& name) {
  for (const ParameterInfo& info : layout_.parameters) {
    if (info.name == name) return {parameter_data().data() + info.offset, gradient_data().data() + info.offset};
  }
  return {};
}

ParameterRef GPTModel::ref(const std::string& name) {
  ParameterRef found = optional_ref(name);
  if (!found) throw std::logic_error("GPTModel: parameter '" + name + "' missing from the layout");
  return found;
}

void GPTModel::bind_parameters() {
  auto norm = [&](const std::string& prefix) {
    return NormParameters{ref(prefix + ".weight"), optional_ref(prefix + ".bias")};
  };
  word_embeddings_ = ref("embedding.word_embeddings.weight");
  position_embeddings_ = optional_ref("embedding.position_embeddings.weight");
  output_weight_ = config_.untie_embeddings_and_output_weights ? ref("output_layer.weight") : word_embeddings_;
  final_layernorm_ = norm("decoder.final_layernorm");
  for (int layer = 0; layer < config_.num_layers; ++layer) {
    const std::string prefix = "decoder.layers." + std::to_string(layer) + ".";
    TransformerLayerParameters p;
    p.input_layernorm = norm(prefix + "input_layernorm");
    p.self_attention.qkv_weight = ref(prefix + "self_attention.linear_qkv.weight");
    p.self_attention.qkv_bias = optional_ref(prefix + "self_attention.linear_qkv.bias");
    p.self_attention.proj_weight = ref(prefix + "self_attention.linear_proj.weight");
    p.self_attention.proj_bias = optional_ref(prefix + "self_attention.linear_proj.bias");
    if (config_.qk_layernorm) {
      p.self_attention.q_layernorm = norm(prefix + "self_attention.q_layernorm");
      p.self_attention.k_layernorm = norm(prefix + "self_attention.k_layernorm");
    }
    p.pre_mlp_layernorm = norm(prefix + "pre_mlp_layernorm");
    p.mlp.fc1_weight = ref(prefix + "mlp.linear_fc1.weight");
    p.mlp.fc1_bias = optional_ref(prefix + "mlp.linear_fc1.bias");
    p.mlp.fc2_weight = ref(prefix + "mlp.linear_fc2.weight");
    p.mlp.fc2_bias = optional_ref(prefix + "mlp.linear_fc2.bias");
    layer_parameters_.push_back(p);
  }
}

GPTModel::Activations GPTModel::plan_activations(tensor::ActivationAllocator& allocator) const {
  const std::int64_t batch = micro_batch_size_, seq = config_.seq_length, rows = batch * seq;
  const std::int64_t hidden = config_.hidden_size, vocab = config_.padded_vocab_size;
  auto floats = [&](std::int64_t count) { return allocator.allocate<float>(static_cast<std::size_t>(count)); };
  Activations a;
  for (int l = 0; l <= config_.num_layers; ++l) a.residual.push_back(floats(rows * hidden));
  for (int l = 0; l < config_.num_layers; ++l) a.layers.push_back(layer_.allocate(allocator, batch, seq));
  a.final_layernorm_out = floats(rows * hidden);
  a.final_layernorm = final_norm_.allocate(allocator, rows);
  a.logits = floats(rows * vocab);
  a.losses = floats(rows);
  a.logits_lse = floats(rows);
  a.d_losses = floats(rows);
  a.d_hidden = floats(rows * hidden);
  a.d_final_layernorm_out = floats(rows * hidden);
  a.layer_scratch = layer_.allocate_scratch(allocator, rows);
  return a;
}

void GPTModel::init_parameters(std::uint64_t seed) {
  model::init_parameters(layout_, config_, seed, parameter_data());
}

void GPTModel::check_batch(const MicroBatch& batch) const {
  if (batch.micro_batch_size != micro_batch_size_) {
    throw std::invalid_argument("MicroBatch: micro_batch_size = " + std::to_string(batch.micro_batch_size) +
                                ", expected " + std::to_string(micro_batch_size_) + " (the model's)");
  }
  if (batch.seq_length <= 0 || batch.seq_length > config_.seq_length) {
    throw std::invalid_argument("MicroBatch: seq_length = " + std::to_string(batch.seq_length) + ", expected 1.." +
                                std::to_string(config_.seq_length) + " (the model's seq_length)");
  }
  const std::size_t rows = static_cast<std::size_t>(batch.micro_batch_size) * batch.seq_length;
  auto check = [&](std::size_t size, const char* what) {
    if (size != rows) {
      throw std::invalid_argument(std::string("MicroBatch: ") + what + " has " + std::to_string(size) +
                                  " entries, expected micro_batch_size * seq_length = " + std::to_string(rows));
    }
  };
  check(batch.tokens.size(), "tokens");
  check(batch.labels.size(), "labels");
  check(batch.loss_mask.size(), "loss_mask");
}

void GPTModel::forward_to_logits(const MicroBatch& batch) {
  check_batch(batch);
  const std::int64_t b = batch.micro_batch_size, s = batch.seq_length, rows = b * s;
  const std::int64_t hidden = config_.hidden_size, vocab = config_.padded_vocab_size;
  Activations& a = saved_;
  ops::cpu::embedding_forward(a.residual[0], batch.tokens.data(), word_embeddings_.value, rows, vocab, hidden);
  if (position_embeddings_) ops::cpu::position_embedding_forward(a.residual[0], position_embeddings_.value, b, s, hidden);
  for (int l = 0; l < config_.num_layers; ++l) {
    layer_.forward(a.residual[l + 1], a.layers[l], a.layer_scratch, a.residual[l], layer_parameters_[l], b, s);
  }
  final_norm_.forward(a.final_layernorm_out, a.final_layernorm, a.residual[config_.num_layers], final_layernorm_, rows);
  ops::cpu::linear_forward(a.logits, a.final_layernorm_out, output_weight_.value, nullptr, rows, hidden, vocab);
}

float GPTModel::loss_and_dlosses(const MicroBatch& batch, float grad_scale) {
  const std::int64_t rows = static_cast<std::int64_t>(batch.micro_batch_size) * batch.seq_length;
  Activations& a = saved_;
  ops::cpu::cross_entropy_forward(a.losses, a.logits_lse, a.logits, batch.labels.data(), rows,
                                  config_.padded_vocab_size);
  double mask_sum = 0.0, weighted = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) {
    mask_sum += batch.loss_mask[r];
    weighted += static_cast<double>(a.losses[r]) * batch.loss_mask[r];
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    a.d_losses[r] = mask_sum > 0.0 ? static_cast<float>(grad_scale * batch.loss_mask[r] / mask_sum) : 0.0f;
  }
  return mask_sum > 0.0 ? static_cast<float>(weighted / mask_sum) : 0.0f;
}

void GPTModel::backward(const MicroBatch& batch) {
  const std::int64_t b = batch.micro_batch_size, s = batch.seq_length, rows = b * s;
  const std::int64_t hidden = config_.hidden_size, vocab = config_.padded_vocab_size;
  Activations& a = saved_;
  ops::cpu::cross_entropy_backward(a.logits, a.logits, a.logits_lse, batch.labels.data(), a.d_losses, rows, vocab);
  ops::cpu::linear_backward(a.d_final_layernorm_out, output_weight_.grad, nullptr, a.logits, a.final_layernorm_out,
                            output_weight_.value, rows, hidden, vocab);
  final_norm_.backward(a.d_hidden, a.d_final_layernorm_out, a.residual[config_.num_layers], final_layernorm_,
                       a.final_layernorm, rows);
  for (int l = config_.num_layers - 1; l >= 0; --l) {
    layer_.backward(a.d_hidden, a.residual[l], layer_parameters_[l], a.layers[l], a.layer_scratch, b, s);
  }
  if (position_embeddings_) ops::cpu::position_embedding_backward(position_embeddings_.grad, a.d_hidden, b, s, hidden);
  ops::cpu::embedding_backward(word_embeddings_.grad, a.d_hidden, batch.tokens.data(), rows, vocab, hidden);
}

float GPTModel::forward_backward(const MicroBatch& batch, float grad_scale) {
  forward_to_logits(batch);
  float loss = loss_and_dlosses(batch, grad_scale);
  backward(batch);
  return loss;
}

float GPTModel::forward_loss(const MicroBatch& batch) {
  forward_to_logits(batch);
  return loss_and_dlosses(batch, 0.0f);
}

void GPTModel::forward_logits(const MicroBatch& batch, std::span<float> logits_out) {
  const std::size_t count = static_cast<std::size_t>(batch.micro_batch_size) * batch.seq_length *
                            static_cast<std::size_t>(config_.padded_vocab_size);
  if (logits_out.size() != count) {
    throw std::invalid_argument("forward_logits: output holds " + std::to_string(logits_out.size()) +
                                " floats, expected rows * padded_vocab_size = " + std::to_string(count));
  }
  forward_to_logits(batch);
  std::copy(saved_.logits, saved_.logits + count, logits_out.begin());
}

}  // namespace primus::model
