// GPTModel: the dense GPT/Llama decoder built from config::ModelConfig —
// embedding -> num_layers x TransformerLayer -> final_layernorm -> output_layer ->
// cross-entropy — with forward and backward written out (no autograd), parameters
// and gradients in two flat fp32 buffers of the same layout, activations in one
// ActivationAllocator. CPU reference backend (ops::cpu).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "primus/config/train_config.hpp"
#include "primus/model/parameter_layout.hpp"
#include "primus/model/rotary_embedding.hpp"
#include "primus/model/transformer_layer.hpp"
#include "primus/tensor/activation_allocator.hpp"
#include "primus/tensor/arena.hpp"

namespace primus::model {

// One micro-batch; tokens, labels and loss_mask are each [micro_batch_size * seq_length].
struct MicroBatch {
  int micro_batch_size = 0;
  int seq_length = 0;
  std::vector<std::int32_t> tokens, labels;
  std::vector<float> loss_mask;
};

class GPTModel {
 public:
  // Throws std::invalid_argument naming the key when the config cannot build a model.
  explicit GPTModel(const config::ModelConfig& config, int micro_batch_size);
  GPTModel(const GPTModel&) = delete;  // modules hold pointers into the buffers
  GPTModel& operator=(const GPTModel&) = delete;

  const std::vector<ParameterInfo>& parameters() const { return layout_.parameters; }
  std::span<float> parameter_data();
  std::span<float> gradient_data();
  void zero_grad();
  // Megatron init: normal(0, init_method_std) for weights; linear_proj and linear_fc2
  // normal(0, init_method_std / sqrt(2 * num_layers)); norms 1 (0 with
  // apply_layernorm_1p); biases 0. Deterministic from seed, independent of threads.
  void init_parameters(std::uint64_t seed);
  // Forward and backward on one micro-batch, accumulating grad_scale * d(loss)/d(params)
  // into the gradient buffer. loss = sum(per-token loss * loss_mask) / sum(loss_mask)
  // (0, with no gradient, when the mask is all zero). Returns the loss before scaling.
  float forward_backward(const MicroBatch& batch, float grad_scale);
  float forward_loss(const MicroBatch& batch);  // evaluation, no gradients
  // Logits [micro_batch_size * seq_length, padded_vocab_size] (tests, generation).
  void forward_logits(const MicroBatch& batch, std::span<float> logits_out);
  std::size_t activation_bytes_high_water() const { return activations_.high_water(); }
  static std::int64_t count_parameters(const config::ModelConfig& config);

 private:
  struct Activations {
    std::vector<float*> residual;  // num_layers + 1 streams [rows, hidden]: embeddings, each layer's output
    std::vector<TransformerLayerActivations> layers;
    float* final_layernorm_out = nullptr;
    NormActivations final_layernorm;
    float* logits = nullptr;  // [rows, padded_vocab]; its gradient in place during backward
    float* losses = nullptr;
    float* logits_lse = nullptr;
    float* d_losses = nullptr;
    float* d_hidden = nullptr;
    float* d_final_layernorm_out = nullptr;
    TransformerLayerScratch layer_scratch;
  };

  Activations plan_activations(tensor::ActivationAllocator& allocator) const;
  void bind_parameters();
  void check_batch(const MicroBatch& batch) const;
  void forward_to_logits(const MicroBatch& batch);
  float loss_and_dlosses(const MicroBatch& batch, float grad_scale);  // fills losses (and d_losses)
  void backward(const MicroBatch& batch);
  ParameterRef ref(const std::string& name);
  ParameterRef optional_ref(const std::string& name);

  config::ModelConfig config_;
  int micro_batch_size_;
  ParameterLayout layout_;
  tensor::Arena buffers_;  // regions "parameters" and "gradients"
  std::unique_ptr<RotaryTables> rotary_;
  Norm final_norm_;
  TransformerLayer layer_;  // stateless: one instance runs every layer with its own parameters
  ParameterRef word_embeddings_, position_embeddings_, output_weight_;
  NormParameters final_layernorm_;
  std::vector<TransformerLayerParameters> layer_parameters_;
  tensor::ActivationAllocator activations_;
  Activations saved_;
};

}  // namespace primus::model
