// CudaGPTModel: the dense GPT/Llama decoder on one GPU, forward and backward written
// out layer by layer (the CPU GPTModel's order) on ops::cuda: bf16 weights (the high
// halves of the split fp32 master weights, owned by the engine) and activations, fp32
// main gradients accumulated by the GEMMs (beta 0 on a global batch's first
// micro-batch, 1 after). Activations live in one DeviceArena planned at construction:
// per layer what backward needs (layer input, rstd, q/k/v after RoPE, attention output
// and lse, attention residual, fc1 output) plus, unless recompute_modules names them, the
// two norm outputs and the MLP activation output (RecomputePlan decides; what is not
// kept lives in the shared scratch and is recomputed in backward); the bf16 logits share
// one union with the layer scratch and are overwritten in place by their gradient. Full
// recompute keeps only the layer input of a recomputed layer and re-runs its forward
// before its backward.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "primus/config/train_config.hpp"
#include "primus/model/cuda/device_arena.hpp"
#include "primus/model/cuda/parameter_fences.hpp"
#include "primus/model/cuda/step_timeline.hpp"
#include "primus/model/parameter_layout.hpp"
#include "primus/ops/cuda/attention.hpp"
#include "primus/ops/cuda/gemm.hpp"
#include "primus/ops/cuda/grad_norm.hpp"

namespace primus::model::cuda {

using bf16 = __nv_bfloat16;

// The cheap outputs a layer keeps from its forward for backward; what is not kept is
// recomputed in backward from what is (a norm from its input and saved statistics, the
// activation from fc1's output), the same arithmetic on the same inputs: bit-identical.
struct LayerKeeps {
  bool norm_outputs = false;  // input_layernorm and pre_mlp_layernorm outputs ("layernorm" recomputes them)
  bool activation = false;    // SwiGLU/GeLU output ("mlp" recomputes it from the kept fc1 output)
};

// What each layer keeps for backward (config's recompute_* keys, Megatron's meaning):
//  - recompute_granularity null: every layer keeps everything (LayerKeeps all true).
//  - selective: recompute_modules picks what is recomputed. "core_attn" drops nothing (flash
//    attention never stores the attention probabilities); "layernorm" recomputes both norm
//    outputs; "mlp" recomputes only the activation output: unlike Megatron's "mlp", which
//    re-runs the whole dense MLP from its input, fc1's output stays kept, so it saves less
//    memory but re-runs no GEMM. Other modules (MoE, MLA, ...) throw std::invalid_argument:
//    this dense model has no such submodule.
//  - full: recompute_layer's layers keep only their input and re-run their forward before
//    their backward; no layer keeps norm or activation outputs (as before selective existed).
struct RecomputePlan {
  std::vector<bool> recompute_layer;  // per layer: re-run forward before backward
  LayerKeeps kept;                    // what a layer that is not fully recomputed keeps

  LayerKeeps keeps(int layer) const {
    return recompute_layer[static_cast<std::size_t>(layer)] ? LayerKeeps{} : kept;
  }
  static RecomputePlan from_config(const config::TrainingConfig& training, int num_layers);
};

class CudaGPTModel {
 public:
  // weights: bf16 [layout.total_numel]; grads: fp32 [layout.total_numel]; both owned by the caller.
  CudaGPTModel(const config::ModelConfig& config, int micro_batch_size, const RecomputePlan& recompute,
               const ParameterLayout& layout, const bf16* weights, float* grads, cudaStream_t stream);
  ~CudaGPTModel();
  CudaGPTModel(const CudaGPTModel&) = delete;
  CudaGPTModel& operator=(const CudaGPTModel&) = delete;

  // Device inputs for the next call: [micro_batch_size * seq] tokens, labels, and per-token
  // loss weights (dloss/dper-token-loss: loss_mask * grad_scale / sum(loss_mask)).
  std::int32_t* tokens() { return tokens_; }
  std::int32_t* labels() { return labels_; }
  float* loss_weights() { return loss_weights_; }

  // Forward, per-token losses, backward; gradients written (first_micro_batch) or accumulated.
  void forward_backward(int seq, bool first_micro_batch);
  // Forward to per-token losses only.
  void forward_loss(int seq);
  const float* losses() const { return losses_; }
  // bf16 logits [rows, padded_vocab] after forward_loss (before any backward).
  const bf16* logits() const { return logits_; }

  // The optimizer may still be updating parameters when the next forward is enqueued: the
  // forward then waits on these fences before it reads each parameter (nullptr: never).
  void set_parameter_fences(const ParameterFences* fences) { fences_ = fences; }
  // The next forward runs beside an optimizer tail that keeps `reserved_sms` SMs busy: the
  // GEMMs of its first `layers` layers plan for the remaining SMs. Used once, then cleared.
  void overlap_next_forward(int reserved_sms, int layers) {
    overlap_reserved_sms_ = reserved_sms;
    overlap_layers_ = layers;
  }

  // The word embeddings' update has not run yet: the next forward gathers its rows through
  // `gather` (out, tokens, rows: the post-update values, computed on the fly), which also
  // enqueues the table's update behind that read. Used once, then cleared; nullptr clears.
  using DeferredGather = std::function<void(bf16* out, const std::int32_t* tokens, std::int64_t rows)>;
  void defer_word_embeddings(DeferredGather gather) { deferred_gather_ = std::move(gather); }

  // Diagnostics (PRIMUS_CUDA_TIMELINE): marks at layer boundaries, spans after each op.
  void set_timeline(StepTimeline* timeline) { timeline_ = timeline; }

  // The word embeddings' gradient rows that are zero (untied: every row no token of the global
  // batch so far touched), for the grad norm to skip; empty when not tracked (tied embeddings).
  ops::cuda::ZeroRows word_embedding_zero_rows() const;

  std::size_t activation_bytes() const { return arena_.capacity(); }
  int micro_batch_size() const { return micro_batch_size_; }

 private:
  struct Linear {
    const bf16* weight = nullptr;
    const bf16* bias = nullptr;
    float* weight_grad = nullptr;
    float* bias_grad = nullptr;
  };
  struct NormParams {
    const bf16* weight = nullptr;
    const bf16* bias = nullptr;
    float* weight_grad = nullptr;
    float* bias_grad = nullptr;
  };
  struct LayerParams {
    NormParams input_norm, pre_mlp_norm, q_norm, k_norm;
    Linear qkv, proj, fc1, fc2;
  };
  struct NormStats {
    float* mean = nullptr;  // LayerNorm only
    float* rstd = nullptr;
  };
  // What a layer keeps for backward (its input lives in residual_[layer]).
  struct LayerSaved {
    NormStats input_norm, pre_mlp_norm, q_norm, k_norm;
    bf16 *q_raw = nullptr, *k_raw = nullptr;  // qk_layernorm only: before the head norm
    bf16 *q = nullptr, *k = nullptr, *v = nullptr, *context = nullptr;
    float* lse = nullptr;
    bf16* attention_residual = nullptr;
    bf16* fc1_out = nullptr;
    // Per layer when kept (RecomputePlan::keeps), else the shared scratch, recomputed in backward.
    bf16 *input_norm_out = nullptr, *pre_mlp_norm_out = nullptr, *activation = nullptr;
  };
  struct Scratch {
    bf16 *norm_out = nullptr, *qkv = nullptr, *activation = nullptr;
    bf16 *d_activation = nullptr, *d_fc1 = nullptr, *d_norm = nullptr, *d_context = nullptr;
    bf16 *dq = nullptr, *dk = nullptr, *dv = nullptr, *dq_raw = nullptr, *dk_raw = nullptr;
    float* norm_scratch = nullptr;
    void* embedding_scratch = nullptr;
    std::size_t embedding_scratch_bytes = 0;
  };

  void plan(DeviceArena& arena);
  void bind_parameters(const ParameterLayout& layout, const bf16* weights, float* grads);
  void zero_accumulated_grads();
  // The forward's stream waits until the optimizer has updated this parameter (see fences_).
  void await(const bf16* parameter);
  void await(const Linear& p);
  void await(const NormParams& p);
  // with_grad: the cross-entropy also writes dlogits over the logits (training), in the same pass.
  void forward(int seq, bool with_grad);
  void layer_forward(int layer, int seq, bool write_output);
  void layer_backward(int layer, int seq, bool first, bf16* d_out, bf16* d_in);
  void activation_forward(bf16* out, const bf16* fc1_out, std::int64_t rows);
  void norm_forward(bf16* out, const NormStats& stats, const bf16* in, const NormParams& p, std::int64_t rows,
                    std::int64_t dim);
  void norm_backward(bf16* d_in, const bf16* d_out, const bf16* in, const NormParams& p, const NormStats& stats,
                     std::int64_t rows, std::int64_t dim, const bf16* d_residual);
  // The weight (and bias) gradient only: written on a first micro-batch, accumulated after.
  void linear_backward_weight(const Linear& p, const bf16* d_out, const bf16* in, std::int64_t rows,
                              std::int64_t in_features, std::int64_t out_features, bool first);
  void linear_backward(const Linear& p, const bf16* d_out, const bf16* in, bf16* d_in, std::int64_t rows,
                       std::int64_t in_features, std::int64_t out_features, bool first);
  ops::cuda::AttentionShape attention_shape(int seq) const;

  config::ModelConfig config_;
  int micro_batch_size_;
  RecomputePlan recompute_;
  cudaStream_t stream_;
  std::int64_t hidden_, heads_, groups_, head_dim_, q_width_, kv_width_, qkv_width_, ffn_, fc1_width_, vocab_;
  bool layernorm_, rope_;
  int rotary_dim_ = 0;

  std::unique_ptr<ops::cuda::GemmRunner> gemm_;
  std::unique_ptr<ops::cuda::FlashAttention> attention_;
  DeviceArena arena_;

  // Parameters (views into the caller's buffers).
  const bf16* weights_base_ = nullptr;
  const ParameterFences* fences_ = nullptr;
  int overlap_reserved_sms_ = 0, overlap_layers_ = 0, device_sms_ = 0;
  DeferredGather deferred_gather_;
  StepTimeline* timeline_ = nullptr;
  void mark(const char* phase, int layer = -1);
  void span(const char* op);
  const bf16* word_embeddings_ = nullptr;
  float* word_embeddings_grad_ = nullptr;
  std::int64_t word_embeddings_offset_ = 0;
  // Untied: one byte per vocabulary row, set by the embedding backward, cleared when the step's
  // first micro-batch zeroes those rows (instead of the whole table: ops/cuda/touched_rows.hpp).
  bool track_touched_rows_ = false;
  std::uint8_t* word_rows_touched_ = nullptr;
  const bf16* position_embeddings_ = nullptr;
  float* position_embeddings_grad_ = nullptr;
  Linear output_;  // tied: the word embeddings
  NormParams final_norm_;
  std::vector<LayerParams> layers_;
  // fp32 gradients that kernels accumulate with += (no beta-0 form): zeroed on a first micro-batch.
  std::vector<std::pair<float*, std::int64_t>> accumulated_grads_;

  // Activations (views into arena_).
  std::vector<bf16*> residual_;        // num_layers + 1 streams [rows, hidden]
  std::vector<LayerSaved> saved_;      // per layer (recomputed layers share one set)
  bf16* final_norm_out_ = nullptr;
  NormStats final_norm_stats_;
  bf16* logits_ = nullptr;             // [rows, vocab], in the union with the layer scratch
  float *losses_ = nullptr, *ce_lse_ = nullptr, *loss_weights_ = nullptr;
  std::int32_t *tokens_ = nullptr, *labels_ = nullptr;
  bf16 *d_hidden_ = nullptr, *d_hidden_other_ = nullptr;
  float *cos_ = nullptr, *sin_ = nullptr;
  Scratch scratch_;
};

}  // namespace primus::model::cuda
