// SelfAttention: linear_qkv (Megatron's fused per-group layout) -> split ->
// optional q/k layernorm over head_dim -> RoPE on q and k -> causal GQA
// attention -> linear_proj.
#pragma once

#include <cstdint>

#include "primus/config/train_config.hpp"
#include "primus/model/norm.hpp"
#include "primus/model/parameter_ref.hpp"
#include "primus/model/rotary_embedding.hpp"
#include "primus/tensor/activation_allocator.hpp"

namespace primus::model {

struct SelfAttentionParameters {
  ParameterRef qkv_weight, qkv_bias, proj_weight, proj_bias;
  NormParameters q_layernorm, k_layernorm;  // qk_layernorm only
};

struct SelfAttentionActivations {
  float* q_raw = nullptr;  // before q_layernorm (qk_layernorm only) [rows, heads, head_dim]
  float* k_raw = nullptr;
  NormActivations q_norm, k_norm;
  float* q = nullptr;  // as attention saw it (after norm and RoPE)
  float* k = nullptr;
  float* v = nullptr;
  float* context = nullptr;  // attention output [rows, heads * head_dim]
  float* lse = nullptr;      // [batch, heads, seq]
};

// Temporaries shared by all layers.
struct SelfAttentionScratch {
  float* qkv = nullptr;  // forward: fused projection; backward: its gradient
  float* d_context = nullptr;
  float* dq = nullptr;
  float* dk = nullptr;
  float* dv = nullptr;
  float* dq_raw = nullptr;  // qk_layernorm only
  float* dk_raw = nullptr;
};

class SelfAttention {
 public:
  // rotary: the RoPE tables, or nullptr when position_embedding_type is not rope.
  SelfAttention(const config::ModelConfig& config, const RotaryTables* rotary);
  SelfAttentionActivations allocate(tensor::ActivationAllocator& allocator, std::int64_t batch,
                                    std::int64_t seq) const;
  SelfAttentionScratch allocate_scratch(tensor::ActivationAllocator& allocator, std::int64_t rows) const;
  void forward(float* out, const SelfAttentionActivations& saved, const SelfAttentionScratch& scratch,
               const float* in, const SelfAttentionParameters& params, std::int64_t batch, std::int64_t seq) const;
  // din: written; parameter gradients accumulated.
  void backward(float* din, const float* dout, const float* in, const SelfAttentionParameters& params,
                const SelfAttentionActivations& saved, const SelfAttentionScratch& scratch, std::int64_t batch,
                std::int64_t seq) const;

 private:
  std::int64_t hidden_, heads_, groups_, head_dim_, qkv_width_;
  bool qk_layernorm_;
  bool rotary_interleaved_;
  float softmax_scale_;
  Norm head_norm_;
  const RotaryTables* rotary_;
};

}  // namespace primus::model
