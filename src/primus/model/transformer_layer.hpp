// TransformerLayer (pre-norm): x + attention(input_layernorm(x)), then
// + mlp(pre_mlp_layernorm(.)). Submodules come from the config's registry
// choices (Norm kind, Mlp kind, RoPE or not), as Megatron-Core's layer spec.
#pragma once

#include <cstdint>

#include "primus/model/mlp.hpp"
#include "primus/model/norm.hpp"
#include "primus/model/self_attention.hpp"

namespace primus::model {

struct TransformerLayerParameters {
  NormParameters input_layernorm;
  SelfAttentionParameters self_attention;
  NormParameters pre_mlp_layernorm;
  MlpParameters mlp;
};

// What one layer keeps from forward for backward. The layer input is the previous
// layer's output (held by the model's residual stream).
struct TransformerLayerActivations {
  float* input_layernorm_out = nullptr;
  NormActivations input_layernorm;
  SelfAttentionActivations self_attention;
  float* attention_residual = nullptr;  // input + attention output
  float* pre_mlp_layernorm_out = nullptr;
  NormActivations pre_mlp_layernorm;
  MlpActivations mlp;
};

struct TransformerLayerScratch {
  float* branch = nullptr;       // [rows, hidden]: a branch's output / an input gradient
  float* d_norm_out = nullptr;   // [rows, hidden]
  SelfAttentionScratch self_attention;
  MlpScratch mlp;
};

class TransformerLayer {
 public:
  TransformerLayer(const config::ModelConfig& config, const RotaryTables* rotary);
  TransformerLayerActivations allocate(tensor::ActivationAllocator& allocator, std::int64_t batch,
                                       std::int64_t seq) const;
  TransformerLayerScratch allocate_scratch(tensor::ActivationAllocator& allocator, std::int64_t rows) const;
  void forward(float* out, const TransformerLayerActivations& saved, const TransformerLayerScratch& scratch,
               const float* in, const TransformerLayerParameters& params, std::int64_t batch, std::int64_t seq) const;
  // d_hidden holds d(out) on entry and d(in) on return; parameter gradients accumulated.
  void backward(float* d_hidden, const float* in, const TransformerLayerParameters& params,
                const TransformerLayerActivations& saved, const TransformerLayerScratch& scratch, std::int64_t batch,
                std::int64_t seq) const;

 private:
  std::int64_t hidden_;
  Norm norm_;
  SelfAttention self_attention_;
  Mlp mlp_;
};

}  // namespace primus::model
