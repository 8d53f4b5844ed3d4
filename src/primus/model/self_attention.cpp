// SelfAttention forward and backward.
#include "primus/model/self_attention.hpp"

#include <cmath>

#include "primus/ops/cpu/attention.hpp"
#include "primus/ops/cpu/linear.hpp"
#include "primus/ops/cpu/qkv_split.hpp"
#include "primus/ops/cpu/rope.hpp"

namespace primus::model {

SelfAttention::SelfAttention(const config::ModelConfig& config, const RotaryTables* rotary)
    : hidden_(config.hidden_size),
      heads_(config.num_attention_heads),
      groups_(config.num_query_groups),
      head_dim_(config.kv_channels),
      qkv_width_((heads_ + 2 * groups_) * head_dim_),
      qk_layernorm_(config.qk_layernorm),
      rotary_interleaved_(config.rotary_interleaved),
      softmax_scale_(static_cast<float>(1.0 / std::sqrt(static_cast<double>(config.kv_channels)))),
      head_norm_(config, config.kv_channels),
      rotary_(rotary) {}

SelfAttentionActivations SelfAttention::allocate(tensor::ActivationAllocator& allocator, std::int64_t batch,
                                                 std::int64_t seq) const {
  const std::int64_t rows = batch * seq;
  auto floats = [&](std::int64_t count) { return allocator.allocate<float>(static_cast<std::size_t>(count)); };
  SelfAttentionActivations saved;
  if (qk_layernorm_) {
    saved.q_raw = floats(rows * heads_ * head_dim_);
    saved.k_raw = floats(rows * groups_ * head_dim_);
    saved.q_norm = head_norm_.allocate(allocator, rows * heads_);
    saved.k_norm = head_norm_.allocate(allocator, rows * groups_);
  }
  saved.q = floats(rows * heads_ * head_dim_);
  saved.k = floats(rows * groups_ * head_dim_);
  saved.v = floats(rows * groups_ * head_dim_);
  saved.context = floats(rows * heads_ * head_dim_);
  saved.lse = floats(batch * heads_ * seq);
  return saved;
}

SelfAttentionScratch SelfAttention::allocate_scratch(tensor::ActivationAllocator& allocator, std::int64_t rows) const {
  auto floats = [&](std::int64_t count) { return allocator.allocate<float>(static_cast<std::size_t>(count)); };
  SelfAttentionScratch scratch;
  scratch.qkv = floats(rows * qkv_width_);
  scratch.d_context = floats(rows * heads_ * head_dim_);
  scratch.dq = floats(rows * heads_ * head_dim_);
  scratch.dk = floats(rows * groups_ * head_dim_);
  scratch.dv = floats(rows * groups_ * head_dim_);
  if (qk_layernorm_) {
    scratch.dq_raw = floats(rows * heads_ * head_dim_);
    scratch.dk_raw = floats(rows * groups_ * head_dim_);
  }
  return scratch;
}

void SelfAttention::forward(float* out, const SelfAttentionActivations& saved, const SelfAttentionScratch& scratch,
                            const float* in, const SelfAttentionParameters& params, std::int64_t batch,
                            std::int64_t seq) const {
  const std::int64_t rows = batch * seq;
  ops::cpu::linear_forward(scratch.qkv, in, params.qkv_weight.value, params.qkv_bias.value, rows, hidden_, qkv_width_);
  if (qk_layernorm_) {
    ops::cpu::qkv_split_forward(saved.q_raw, saved.k_raw, saved.v, scratch.qkv, rows, heads_, groups_, head_dim_);
    head_norm_.forward(saved.q, saved.q_norm, saved.q_raw, params.q_layernorm, rows * heads_);
    head_norm_.forward(saved.k, saved.k_norm, saved.k_raw, params.k_layernorm, rows * groups_);
  } else {
    ops::cpu::qkv_split_forward(saved.q, saved.k, saved.v, scratch.qkv, rows, heads_, groups_, head_dim_);
  }
  if (rotary_ != nullptr) {
    ops::cpu::rope_forward(saved.q, rotary_->cos.data(), rotary_->sin.data(), batch, seq, heads_, head_dim_,
                           rotary_->rotary_dim, rotary_interleaved_);
    ops::cpu::rope_forward(saved.k, rotary_->cos.data(), rotary_->sin.data(), batch, seq, groups_, head_dim_,
                           rotary_->rotary_dim, rotary_interleaved_);
  }
  ops::cpu::attention_forward(saved.context, saved.lse, saved.q, saved.k, saved.v, batch, seq, heads_, groups_,
                              head_dim_, softmax_scale_);
  ops::cpu::linear_forward(out, saved.context, params.proj_weight.value, params.proj_bias.value, rows,
                           heads_ * head_dim_, hidden_);
}

void SelfAttention::backward(float* din, const float* dout, const float* in, const SelfAttentionParameters& params,
                             const SelfAttentionActivations& saved, const SelfAttentionScratch& scratch,
                             std::int64_t batch, std::int64_t seq) const {
  const std::int64_t rows = batch * seq;
  ops::cpu::linear_backward(scratch.d_context, params.proj_weight.grad, params.proj_bias.grad, dout, saved.context,
                            params.proj_weight.value, rows, heads_ * head_dim_, hidden_);
  ops::cpu::attention_backward(scratch.dq, scratch.dk, scratch.dv, scratch.d_context, saved.q, saved.k, saved.v,
                               saved.context, saved.lse, batch, seq, heads_, groups_, head_dim_, softmax_scale_);
  if (rotary_ != nullptr) {
    ops::cpu::rope_backward(scratch.dq, rotary_->cos.data(), rotary_->sin.data(), batch, seq, heads_, head_dim_,
                            rotary_->rotary_dim, rotary_interleaved_);
    ops::cpu::rope_backward(scratch.dk, rotary_->cos.data(), rotary_->sin.data(), batch, seq, groups_, head_dim_,
                            rotary_->rotary_dim, rotary_interleaved_);
  }
  const float* dq = scratch.dq;
  const float* dk = scratch.dk;
  if (qk_layernorm_) {
    head_norm_.backward(scratch.dq_raw, scratch.dq, saved.q_raw, params.q_layernorm, saved.q_norm, rows * heads_);
    head_norm_.backward(scratch.dk_raw, scratch.dk, saved.k_raw, params.k_layernorm, saved.k_norm, rows * groups_);
    dq = scratch.dq_raw;
    dk = scratch.dk_raw;
  }
  ops::cpu::qkv_split_backward(scratch.qkv, dq, dk, scratch.dv, rows, heads_, groups_, head_dim_);
  ops::cpu::linear_backward(din, params.qkv_weight.grad, params.qkv_bias.grad, scratch.qkv, in,
                            params.qkv_weight.value, rows, hidden_, qkv_width_);
}

}  // namespace primus::model
