// CudaGPTModel: activation plan, parameter binding, and the step written out in order.
#include "primus/model/cuda/cuda_gpt_model.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>

#include "primus/config/environment.hpp"
#include "primus/model/rotary_embedding.hpp"
#include "primus/ops/cuda/cross_entropy.hpp"
#include "primus/ops/cuda/cuda_check.hpp"
#include "primus/ops/cuda/device_info.hpp"
#include "primus/ops/cuda/embedding.hpp"
#include "primus/ops/cuda/gelu.hpp"
#include "primus/ops/cuda/layernorm.hpp"
#include "primus/ops/cuda/qkv_rope.hpp"
#include "primus/ops/cuda/qkv_split.hpp"
#include "primus/ops/cuda/residual.hpp"
#include "primus/ops/cuda/rmsnorm.hpp"
#include "primus/ops/cuda/rope.hpp"
#include "primus/ops/cuda/swiglu.hpp"
#include "primus/ops/cuda/touched_rows.hpp"

namespace primus::model::cuda {

namespace ops = primus::ops::cuda;

RecomputePlan RecomputePlan::from_config(const config::TrainingConfig& training, int num_layers) {
  RecomputePlan plan;
  plan.recompute_layer.assign(static_cast<std::size_t>(num_layers), false);
  if (training.recompute_granularity != config::RecomputeGranularity::full) {
    plan.kept = LayerKeeps{true, true};
    if (training.recompute_granularity == config::RecomputeGranularity::none) return plan;
    for (const config::RecomputeModule module : training.recompute_modules) {
      switch (module) {
        case config::RecomputeModule::core_attn:
          break;  // flash attention keeps only the softmax statistics: nothing more to drop
        case config::RecomputeModule::layernorm:
          plan.kept.norm_outputs = false;
          break;
        case config::RecomputeModule::mlp:
          plan.kept.activation = false;
          break;
        default:
          throw std::invalid_argument(
              "recompute_modules: '" +
              std::string(config::kRecomputeModuleNames[static_cast<std::size_t>(module)]) +
              "' is not supported by the CUDA engine: its dense GPT model has no such submodule (it supports "
              "core_attn, layernorm and mlp)");
      }
    }
    return plan;
  }
  const int count = training.recompute_num_layers;
  switch (training.recompute_method) {
    case config::RecomputeMethod::uniform:
      // Every layer is checkpointed at its input (chunks of recompute_num_layers layers
      // recompute the same work; we keep each layer's input, a small superset).
      if (count < 1)
        throw std::invalid_argument("recompute_num_layers = " + std::to_string(count) +
                                    ", expected >= 1 with recompute_method: uniform");
      std::fill(plan.recompute_layer.begin(), plan.recompute_layer.end(), true);
      break;
    case config::RecomputeMethod::block:
      if (count < 0 || count > num_layers)
        throw std::invalid_argument("recompute_num_layers = " + std::to_string(count) + ", expected 0.." +
                                    std::to_string(num_layers) + " with recompute_method: block");
      std::fill(plan.recompute_layer.begin(), plan.recompute_layer.begin() + count, true);
      break;
    case config::RecomputeMethod::none:
      throw std::invalid_argument(
          "recompute_granularity: full needs recompute_method: uniform or block (got none)");
  }
  return plan;
}

CudaGPTModel::CudaGPTModel(const config::ModelConfig& config, int micro_batch_size, const RecomputePlan& recompute,
                           const ParameterLayout& layout, const bf16* weights, float* grads, cudaStream_t stream)
    : config_(config),
      micro_batch_size_(micro_batch_size),
      recompute_(recompute),
      stream_(stream),
      hidden_(config.hidden_size),
      heads_(config.num_attention_heads),
      groups_(config.num_query_groups),
      head_dim_(config.kv_channels),
      q_width_(static_cast<std::int64_t>(config.num_attention_heads) * config.kv_channels),
      kv_width_(static_cast<std::int64_t>(config.num_query_groups) * config.kv_channels),
      qkv_width_(q_width_ + 2 * kv_width_),
      ffn_(config.ffn_hidden_size),
      fc1_width_((config.swiglu ? 2 : 1) * static_cast<std::int64_t>(config.ffn_hidden_size)),
      vocab_(config.padded_vocab_size),
      layernorm_(config.normalization == config::Normalization::LayerNorm),
      rope_(config.position_embedding_type == config::PositionEmbeddingType::rope) {
  if (micro_batch_size <= 0)
    throw std::invalid_argument("micro_batch_size = " + std::to_string(micro_batch_size) + ", expected > 0");
  if (static_cast<int>(recompute_.recompute_layer.size()) != config.num_layers)
    throw std::invalid_argument("CudaGPTModel: recompute plan for " + std::to_string(recompute_.recompute_layer.size()) +
                                " layers, model has " + std::to_string(config.num_layers));
  if (config.kv_channels % 8 != 0 || config.kv_channels > 256)
    throw std::invalid_argument("kv_channels = " + std::to_string(config.kv_channels) +
                                ", the CUDA backend expects a multiple of 8 up to 256 (cuDNN flash attention)");
  RotaryTables tables;
  if (rope_) {
    tables = make_rotary_tables(config, config.seq_length);
    rotary_dim_ = tables.rotary_dim;
  }
  gemm_ = std::make_unique<ops::GemmRunner>(stream_);
  device_sms_ = ops::device_sm_count();
  attention_ = std::make_unique<ops::FlashAttention>(stream_, /*autotune=*/false);
  // Untied word embeddings: only the batch's token rows of their gradient are ever non-zero
  // (PRIMUS_SPARSE_EMBEDDING_GRAD=0 zeroes and reads the whole table instead, for comparison).
  track_touched_rows_ = config.untie_embeddings_and_output_weights &&
                       config::integer_from_environment("PRIMUS_SPARSE_EMBEDDING_GRAD", 1, 0, 1) == 1;
  DeviceArena measuring;
  plan(measuring);
  arena_ = DeviceArena(measuring.high_water());
  plan(arena_);
  bind_parameters(layout, weights, grads);
  if (track_touched_rows_) PRIMUS_CUDA_CHECK(cudaMemset(word_rows_touched_, 0, static_cast<std::size_t>(vocab_)));
  if (rope_) {
    PRIMUS_CUDA_CHECK(cudaMemcpy(cos_, tables.cos.data(), tables.cos.size() * sizeof(float), cudaMemcpyHostToDevice));
    PRIMUS_CUDA_CHECK(cudaMemcpy(sin_, tables.sin.data(), tables.sin.size() * sizeof(float), cudaMemcpyHostToDevice));
  }
}

CudaGPTModel::~CudaGPTModel() = default;

void CudaGPTModel::plan(DeviceArena& arena) {
  const std::int64_t rows = static_cast<std::int64_t>(micro_batch_size_) * config_.seq_length;
  auto b16 = [&](std::int64_t n) { return arena.allocate<bf16>(n); };
  auto f32 = [&](std::int64_t n) { return arena.allocate<float>(n); };
  auto stats = [&](std::int64_t n) { return NormStats{layernorm_ ? f32(n) : nullptr, f32(n)}; };
  residual_.clear();
  for (int l = 0; l <= config_.num_layers; ++l) residual_.push_back(b16(rows * hidden_));
  // One saved set per kept layer, one shared set for all recomputed layers.
  saved_.assign(static_cast<std::size_t>(config_.num_layers), LayerSaved{});
  LayerSaved shared{};
  bool shared_planned = false;
  for (int l = 0; l < config_.num_layers; ++l) {
    const bool recomputed = recompute_.recompute_layer[static_cast<std::size_t>(l)];
    if (recomputed && shared_planned) {
      saved_[static_cast<std::size_t>(l)] = shared;
      continue;
    }
    LayerSaved s;
    s.input_norm = stats(rows);
    s.pre_mlp_norm = stats(rows);
    if (config_.qk_layernorm) {
      s.q_norm = stats(rows * heads_);
      s.k_norm = stats(rows * groups_);
      s.q_raw = b16(rows * q_width_);
      s.k_raw = b16(rows * kv_width_);
    }
    s.q = b16(rows * q_width_);
    s.k = b16(rows * kv_width_);
    s.v = b16(rows * kv_width_);
    s.context = b16(rows * q_width_);
    s.lse = f32(static_cast<std::int64_t>(micro_batch_size_) * heads_ * config_.seq_length);
    s.attention_residual = b16(rows * hidden_);
    s.fc1_out = b16(rows * fc1_width_);
    const LayerKeeps keeps = recompute_.keeps(l);
    if (keeps.norm_outputs) {
      s.input_norm_out = b16(rows * hidden_);
      s.pre_mlp_norm_out = b16(rows * hidden_);
    }
    if (keeps.activation) s.activation = b16(rows * ffn_);
    saved_[static_cast<std::size_t>(l)] = s;
    if (recomputed) {
      shared = s;
      shared_planned = true;
    }
  }
  final_norm_out_ = b16(rows * hidden_);
  final_norm_stats_ = stats(rows);
  losses_ = f32(rows);
  ce_lse_ = f32(rows);
  loss_weights_ = f32(rows);
  tokens_ = arena.allocate<std::int32_t>(rows);
  if (track_touched_rows_) word_rows_touched_ = arena.allocate<std::uint8_t>(vocab_);
  labels_ = arena.allocate<std::int32_t>(rows);
  d_hidden_ = b16(rows * hidden_);
  d_hidden_other_ = b16(rows * hidden_);
  if (rope_) {
    cos_ = f32(static_cast<std::int64_t>(config_.seq_length) * rotary_dim_ / 2);
    sin_ = f32(static_cast<std::int64_t>(config_.seq_length) * rotary_dim_ / 2);
  }
  // Union: the logits (live from the output GEMM to d_final_norm) and the layer scratch.
  const std::size_t union_begin = arena.used();
  logits_ = b16(rows * vocab_);
  const std::size_t logits_end = arena.used();
  arena.rewind(union_begin);
  Scratch& sc = scratch_;
  sc.norm_out = b16(rows * hidden_);
  sc.qkv = b16(rows * qkv_width_);
  sc.activation = b16(rows * ffn_);
  sc.d_activation = b16(rows * ffn_);
  sc.d_fc1 = b16(rows * std::max(fc1_width_, qkv_width_));  // also d_qkv
  sc.d_norm = b16(rows * hidden_);
  sc.d_context = b16(rows * q_width_);
  sc.dq = b16(rows * q_width_);
  sc.dk = b16(rows * kv_width_);
  sc.dv = b16(rows * kv_width_);
  if (config_.qk_layernorm) {
    sc.dq_raw = b16(rows * q_width_);
    sc.dk_raw = b16(rows * kv_width_);
  }
  auto norm_floats = [&](std::int64_t r, std::int64_t dim) {
    return layernorm_ ? ops::layernorm_backward_scratch_floats(r, dim) : ops::rmsnorm_backward_scratch_floats(r, dim);
  };
  sc.norm_scratch = f32(std::max({norm_floats(rows, hidden_), norm_floats(rows * heads_, head_dim_),
                                  norm_floats(rows * groups_, head_dim_)}));
  sc.embedding_scratch_bytes = ops::embedding_backward_scratch_bytes(rows);
  sc.embedding_scratch = arena.allocate_bytes(sc.embedding_scratch_bytes);
  arena.rewind(std::max(arena.used(), logits_end));
  // What a layer does not keep lives in the scratch and is recomputed in backward.
  for (LayerSaved& s : saved_) {
    if (s.input_norm_out == nullptr) s.input_norm_out = sc.norm_out;
    if (s.pre_mlp_norm_out == nullptr) s.pre_mlp_norm_out = sc.norm_out;
    if (s.activation == nullptr) s.activation = sc.activation;
  }
}

void CudaGPTModel::bind_parameters(const ParameterLayout& layout, const bf16* weights, float* grads) {
  weights_base_ = weights;
  std::map<std::string, const ParameterInfo*> by_name;
  for (const ParameterInfo& info : layout.parameters) by_name[info.name] = &info;
  auto find = [&](const std::string& name) -> const ParameterInfo* {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  };
  auto weight = [&](const std::string& name) -> const bf16* {
    const ParameterInfo* info = find(name);
    return info ? weights + info->offset : nullptr;
  };
  auto grad = [&](const std::string& name) -> float* {
    const ParameterInfo* info = find(name);
    return info ? grads + info->offset : nullptr;
  };
  auto require = [&](const std::string& name) {
    if (!find(name)) throw std::logic_error("CudaGPTModel: parameter '" + name + "' missing from the layout");
  };
  auto accumulated = [&](const std::string& name) {
    if (const ParameterInfo* info = find(name)) accumulated_grads_.emplace_back(grads + info->offset, info->numel);
  };
  auto norm = [&](const std::string& prefix) {
    require(prefix + ".weight");
    accumulated(prefix + ".weight");
    accumulated(prefix + ".bias");
    return NormParams{weight(prefix + ".weight"), weight(prefix + ".bias"), grad(prefix + ".weight"),
                      grad(prefix + ".bias")};
  };
  auto linear = [&](const std::string& prefix) {
    require(prefix + ".weight");
    return Linear{weight(prefix + ".weight"), weight(prefix + ".bias"), grad(prefix + ".weight"),
                  grad(prefix + ".bias")};
  };
  require("embedding.word_embeddings.weight");
  word_embeddings_ = weight("embedding.word_embeddings.weight");
  word_embeddings_grad_ = grad("embedding.word_embeddings.weight");
  word_embeddings_offset_ = find("embedding.word_embeddings.weight")->offset;
  position_embeddings_ = weight("embedding.position_embeddings.weight");
  position_embeddings_grad_ = grad("embedding.position_embeddings.weight");
  accumulated("embedding.position_embeddings.weight");
  if (config_.untie_embeddings_and_output_weights) {
    output_ = linear("output_layer");
    // Only the embedding backward writes it: zeroed whole, or only its touched rows.
    if (!track_touched_rows_) accumulated("embedding.word_embeddings.weight");
  } else {
    output_ = Linear{word_embeddings_, nullptr, word_embeddings_grad_, nullptr};  // the output GEMM writes it first
  }
  final_norm_ = norm("decoder.final_layernorm");
  layers_.clear();
  for (int l = 0; l < config_.num_layers; ++l) {
    const std::string p = "decoder.layers." + std::to_string(l) + ".";
    LayerParams lp;
    lp.input_norm = norm(p + "input_layernorm");
    lp.qkv = linear(p + "self_attention.linear_qkv");
    if (config_.qk_layernorm) {
      lp.q_norm = norm(p + "self_attention.q_layernorm");
      lp.k_norm = norm(p + "self_attention.k_layernorm");
    }
    lp.proj = linear(p + "self_attention.linear_proj");
    lp.pre_mlp_norm = norm(p + "pre_mlp_layernorm");
    lp.fc1 = linear(p + "mlp.linear_fc1");
    lp.fc2 = linear(p + "mlp.linear_fc2");
    layers_.push_back(lp);
  }
}

ops::AttentionShape CudaGPTModel::attention_shape(int seq) const {
  ops::AttentionShape shape;
  shape.batch = micro_batch_size_;
  shape.seq_len = seq;
  shape.num_q_heads = heads_;
  shape.num_kv_heads = groups_;
  shape.head_dim = head_dim_;
  shape.softmax_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim_)));
  return shape;
}

void CudaGPTModel::norm_forward(bf16* out, const NormStats& stats, const bf16* in, const NormParams& p,
                                std::int64_t rows, std::int64_t dim) {
  const float eps = static_cast<float>(config_.norm_epsilon);
  if (layernorm_) {
    ops::layernorm_forward(out, stats.mean, stats.rstd, in, p.weight, p.bias, rows, dim, eps,
                           config_.apply_layernorm_1p, stream_);
  } else {
    ops::rmsnorm_forward(out, stats.rstd, in, p.weight, rows, dim, eps, config_.apply_layernorm_1p, stream_);
  }
}

void CudaGPTModel::norm_backward(bf16* d_in, const bf16* d_out, const bf16* in, const NormParams& p,
                                 const NormStats& stats, std::int64_t rows, std::int64_t dim,
                                 const bf16* d_residual) {
  if (layernorm_) {
    ops::layernorm_backward(d_in, p.weight_grad, p.bias_grad, d_out, in, p.weight, stats.mean, stats.rstd, rows, dim,
                            config_.apply_layernorm_1p, scratch_.norm_scratch, stream_);
    if (d_residual != nullptr) ops::residual_backward(d_in, d_residual, rows * dim, stream_);
  } else {
    ops::rmsnorm_backward(d_in, p.weight_grad, d_out, in, p.weight, stats.rstd, rows, dim, config_.apply_layernorm_1p,
                          scratch_.norm_scratch, d_residual, stream_);
  }
}

void CudaGPTModel::linear_backward_weight(const Linear& p, const bf16* d_out, const bf16* in, std::int64_t rows,
                                          std::int64_t in_features, std::int64_t out_features, bool first) {
  gemm_->linear_backward_weight(d_out, in, p.weight_grad, rows, in_features, out_features, /*accumulate=*/!first);
  if (p.bias_grad != nullptr) gemm_->linear_backward_bias(d_out, p.bias_grad, rows, out_features, !first);
}

void CudaGPTModel::linear_backward(const Linear& p, const bf16* d_out, const bf16* in, bf16* d_in, std::int64_t rows,
                                   std::int64_t in_features, std::int64_t out_features, bool first) {
  linear_backward_weight(p, d_out, in, rows, in_features, out_features, first);
  if (d_in != nullptr) gemm_->linear_backward_input(d_out, p.weight, d_in, rows, in_features, out_features);
}

void CudaGPTModel::mark(const char* phase, int layer) {
  if (timeline_ == nullptr) return;
  std::string name = phase;
  if (layer >= 0) name += (layer < 10 ? ".layer0" : ".layer") + std::to_string(layer);
  timeline_->mark(name, stream_);
}

void CudaGPTModel::span(const char* op) {
  if (timeline_ != nullptr) timeline_->span(op, stream_);
}

void CudaGPTModel::await(const bf16* parameter) {
  if (fences_ != nullptr && parameter != nullptr) fences_->wait(stream_, parameter - weights_base_);
}

void CudaGPTModel::await(const Linear& p) {
  await(p.weight);
  await(p.bias);
}

void CudaGPTModel::await(const NormParams& p) {
  await(p.weight);
  await(p.bias);
}

void CudaGPTModel::layer_forward(int layer, int seq, bool write_output) {
  const std::int64_t b = micro_batch_size_, rows = b * seq;
  const LayerSaved& s = saved_[static_cast<std::size_t>(layer)];
  const LayerParams& p = layers_[static_cast<std::size_t>(layer)];
  const bf16* x = residual_[static_cast<std::size_t>(layer)];
  Scratch& sc = scratch_;
  // Each parameter is awaited right before its first read (see ParameterFences).
  await(p.input_norm);
  norm_forward(s.input_norm_out, s.input_norm, x, p.input_norm, rows, hidden_);
  span("fwd.input_norm");
  await(p.qkv);
  gemm_->linear_forward(s.input_norm_out, p.qkv.weight, p.qkv.bias, sc.qkv, rows, hidden_, qkv_width_);
  span("fwd.qkv_gemm");
  if (config_.qk_layernorm) {
    await(p.q_norm);
    await(p.k_norm);
    ops::qkv_split_forward(s.q_raw, s.k_raw, s.v, sc.qkv, rows, heads_, groups_, head_dim_, stream_);
    norm_forward(s.q, s.q_norm, s.q_raw, p.q_norm, rows * heads_, head_dim_);
    norm_forward(s.k, s.k_norm, s.k_raw, p.k_norm, rows * groups_, head_dim_);
  } else if (rope_) {  // split and rotate in one pass
    ops::qkv_split_rope_forward(s.q, s.k, s.v, sc.qkv, cos_, sin_, b, seq, heads_, groups_, head_dim_, rotary_dim_,
                                config_.rotary_interleaved, stream_);
  } else {
    ops::qkv_split_forward(s.q, s.k, s.v, sc.qkv, rows, heads_, groups_, head_dim_, stream_);
  }
  if (rope_ && config_.qk_layernorm) {
    ops::rope_forward(s.q, cos_, sin_, b, seq, heads_, head_dim_, rotary_dim_, config_.rotary_interleaved, stream_);
    ops::rope_forward(s.k, cos_, sin_, b, seq, groups_, head_dim_, rotary_dim_, config_.rotary_interleaved, stream_);
  }
  span("fwd.qkv_split_rope");
  attention_->forward(attention_shape(seq), s.q, s.k, s.v, s.context, s.lse);
  span("fwd.attention");
  await(p.proj);
  // The residual adds ride in the GEMMs' epilogue (C = the residual stream, beta 1): no pass of their own.
  gemm_->linear_forward_residual(s.context, p.proj.weight, p.proj.bias, x, s.attention_residual, rows, q_width_,
                                 hidden_);
  span("fwd.proj_gemm_residual");
  await(p.pre_mlp_norm);
  norm_forward(s.pre_mlp_norm_out, s.pre_mlp_norm, s.attention_residual, p.pre_mlp_norm, rows, hidden_);
  span("fwd.pre_mlp_norm");
  await(p.fc1);
  gemm_->linear_forward(s.pre_mlp_norm_out, p.fc1.weight, p.fc1.bias, s.fc1_out, rows, hidden_, fc1_width_);
  span("fwd.fc1_gemm");
  if (!write_output) return;  // recompute before backward: the MLP output is not needed
  activation_forward(s.activation, s.fc1_out, rows);
  span("fwd.activation");
  await(p.fc2);
  gemm_->linear_forward_residual(s.activation, p.fc2.weight, p.fc2.bias, s.attention_residual,
                                 residual_[static_cast<std::size_t>(layer) + 1], rows, ffn_, hidden_);
  span("fwd.fc2_gemm_residual");
}

void CudaGPTModel::activation_forward(bf16* out, const bf16* fc1_out, std::int64_t rows) {
  if (config_.swiglu) {
    ops::swiglu_forward(out, fc1_out, rows, ffn_, stream_);
  } else {
    ops::gelu_forward(out, fc1_out, rows * ffn_, stream_);
  }
}

void CudaGPTModel::layer_backward(int layer, int seq, bool first, bf16* d_out, bf16* d_in) {
  // d_out: d(layer output) on entry; d_in: d(layer input) on return; d_out is clobbered (holds d(attention residual)).
  const std::int64_t b = micro_batch_size_, rows = b * seq;
  if (recompute_.recompute_layer[static_cast<std::size_t>(layer)]) layer_forward(layer, seq, /*write_output=*/false);
  const LayerSaved& s = saved_[static_cast<std::size_t>(layer)];
  const LayerParams& p = layers_[static_cast<std::size_t>(layer)];
  const bf16* x = residual_[static_cast<std::size_t>(layer)];
  Scratch& sc = scratch_;
  const LayerKeeps keeps = recompute_.keeps(layer);
  // MLP: recompute the pre-MLP norm output and the activation output where they were not kept.
  if (!keeps.norm_outputs)
    norm_forward(s.pre_mlp_norm_out, s.pre_mlp_norm, s.attention_residual, p.pre_mlp_norm, rows, hidden_);
  if (!keeps.activation && config_.swiglu) {
    // fc2's input gradient first (it does not read the activation), then the SwiGLU backward
    // recomputes the activation in the same pass over fc1's output, then fc2's weight gradient.
    gemm_->linear_backward_input(d_out, p.fc2.weight, sc.d_activation, rows, ffn_, hidden_);
    span("bwd.fc2_gemms");
    ops::swiglu_backward_and_forward(s.activation, sc.d_fc1, sc.d_activation, s.fc1_out, rows, ffn_, stream_);
    span("bwd.activation");
    linear_backward_weight(p.fc2, d_out, s.activation, rows, ffn_, hidden_, first);
    span("bwd.fc2_gemms");
  } else {
    if (!keeps.activation) activation_forward(s.activation, s.fc1_out, rows);
    span("bwd.recompute");
    linear_backward(p.fc2, d_out, s.activation, sc.d_activation, rows, ffn_, hidden_, first);
    span("bwd.fc2_gemms");
    if (config_.swiglu) {
      ops::swiglu_backward(sc.d_fc1, sc.d_activation, s.fc1_out, rows, ffn_, stream_);
    } else {
      ops::gelu_backward(sc.d_fc1, sc.d_activation, s.fc1_out, rows * ffn_, stream_);
    }
    span("bwd.activation");
  }
  linear_backward(p.fc1, sc.d_fc1, s.pre_mlp_norm_out, sc.d_norm, rows, hidden_, fc1_width_, first);
  span("bwd.fc1_gemms");
  norm_backward(d_in, sc.d_norm, s.attention_residual, p.pre_mlp_norm, s.pre_mlp_norm, rows, hidden_, d_out);
  span("bwd.pre_mlp_norm");
  bf16* d_attention_residual = d_in;
  // Attention (the input norm output is read last, by the QKV backward).
  if (!keeps.norm_outputs) norm_forward(s.input_norm_out, s.input_norm, x, p.input_norm, rows, hidden_);
  span("bwd.recompute");
  linear_backward(p.proj, d_attention_residual, s.context, sc.d_context, rows, q_width_, hidden_, first);
  span("bwd.proj_gemms");
  attention_->backward(attention_shape(seq), s.q, s.k, s.v, s.context, sc.d_context, s.lse, sc.dq, sc.dk, sc.dv);
  span("bwd.attention");
  if (rope_ && config_.qk_layernorm) {
    ops::rope_backward(sc.dq, cos_, sin_, b, seq, heads_, head_dim_, rotary_dim_, config_.rotary_interleaved, stream_);
    ops::rope_backward(sc.dk, cos_, sin_, b, seq, groups_, head_dim_, rotary_dim_, config_.rotary_interleaved,
                       stream_);
  }
  const bf16* dq = sc.dq;
  const bf16* dk = sc.dk;
  if (config_.qk_layernorm) {
    norm_backward(sc.dq_raw, sc.dq, s.q_raw, p.q_norm, s.q_norm, rows * heads_, head_dim_, nullptr);
    norm_backward(sc.dk_raw, sc.dk, s.k_raw, p.k_norm, s.k_norm, rows * groups_, head_dim_, nullptr);
    dq = sc.dq_raw;
    dk = sc.dk_raw;
  }
  bf16* d_qkv = sc.d_fc1;
  if (rope_ && !config_.qk_layernorm) {  // inverse rotation and merge in one pass
    ops::qkv_split_rope_backward(d_qkv, dq, dk, sc.dv, cos_, sin_, b, seq, heads_, groups_, head_dim_, rotary_dim_,
                                 config_.rotary_interleaved, stream_);
  } else {
    ops::qkv_split_backward(d_qkv, dq, dk, sc.dv, rows, heads_, groups_, head_dim_, stream_);
  }
  span("bwd.qkv_split_rope");
  linear_backward(p.qkv, d_qkv, s.input_norm_out, sc.d_norm, rows, hidden_, qkv_width_, first);
  span("bwd.qkv_gemms");
  // d(input) = input-norm backward + d(attention residual); written over d_out's buffer, then swapped by the caller.
  norm_backward(d_out, sc.d_norm, x, p.input_norm, s.input_norm, rows, hidden_, d_attention_residual);
  span("bwd.input_norm");
}

ops::ZeroRows CudaGPTModel::word_embedding_zero_rows() const {
  if (!track_touched_rows_) return {};
  return ops::ZeroRows{word_rows_touched_, word_embeddings_offset_, vocab_, hidden_};
}

void CudaGPTModel::zero_accumulated_grads() {
  if (track_touched_rows_) ops::zero_touched_rows(word_embeddings_grad_, word_rows_touched_, vocab_, hidden_, stream_);
  for (const auto& [pointer, count] : accumulated_grads_)
    PRIMUS_CUDA_CHECK(cudaMemsetAsync(pointer, 0, static_cast<std::size_t>(count) * sizeof(float), stream_));
}

void CudaGPTModel::forward(int seq, bool with_grad) {
  if (seq <= 0 || seq > config_.seq_length)
    throw std::invalid_argument("seq_length = " + std::to_string(seq) + ", expected 1.." +
                                std::to_string(config_.seq_length) + " (the model's seq_length)");
  const std::int64_t b = micro_batch_size_, rows = b * seq;
  mark("fwd.begin");
  span("host.gap");  // since the last op the engine spanned (the step's host synchronisation)
  if (deferred_gather_) {
    const DeferredGather gather = std::move(deferred_gather_);
    deferred_gather_ = nullptr;
    gather(residual_[0], tokens_, rows);
  } else {
    await(word_embeddings_);
    ops::embedding_forward(residual_[0], tokens_, word_embeddings_, rows, vocab_, hidden_, stream_);
  }
  await(position_embeddings_);
  if (position_embeddings_ != nullptr)
    ops::position_embedding_forward(residual_[0], position_embeddings_, b, seq, hidden_, stream_);
  span("fwd.embedding");
  for (int l = 0; l < config_.num_layers; ++l) {
    // Beside the optimizer's tail (overlap_next_forward), leave its SMs to it.
    gemm_->set_sm_count_target(l < overlap_layers_ ? device_sms_ - overlap_reserved_sms_ : 0);
    layer_forward(l, seq, /*write_output=*/true);
    mark("fwd", l);
  }
  gemm_->set_sm_count_target(0);
  overlap_reserved_sms_ = overlap_layers_ = 0;
  await(final_norm_);
  await(output_.weight);
  norm_forward(final_norm_out_, final_norm_stats_, residual_[static_cast<std::size_t>(config_.num_layers)], final_norm_,
               rows, hidden_);
  span("fwd.final_norm");
  gemm_->linear_forward(final_norm_out_, output_.weight, nullptr, logits_, rows, hidden_, vocab_);
  span("fwd.output_gemm");
  if (with_grad)
    ops::cross_entropy_forward_backward(losses_, ce_lse_, logits_, logits_, labels_, loss_weights_, rows, vocab_,
                                        stream_);
  else
    ops::cross_entropy_forward(losses_, ce_lse_, logits_, labels_, rows, vocab_, stream_);
  span(with_grad ? "fwd.cross_entropy_and_grad" : "fwd.cross_entropy");
  mark("fwd.end");
}

void CudaGPTModel::forward_loss(int seq) { forward(seq, /*with_grad=*/false); }

void CudaGPTModel::forward_backward(int seq, bool first_micro_batch) {
  const std::int64_t b = micro_batch_size_, rows = b * seq;
  forward(seq, /*with_grad=*/true);  // the logits hold dlogits from here
  // After the forward, which has waited for every other parameter group, and after the word
  // embeddings' (possibly deferred) update: the optimizer is then done reading these gradients.
  await(word_embeddings_);
  if (first_micro_batch) zero_accumulated_grads();
  span("bwd.zero_grads");
  linear_backward(output_, logits_, final_norm_out_, d_hidden_other_, rows, hidden_, vocab_, first_micro_batch);
  span("bwd.output_gemms");
  norm_backward(d_hidden_, d_hidden_other_, residual_[static_cast<std::size_t>(config_.num_layers)], final_norm_,
                final_norm_stats_, rows, hidden_, nullptr);
  span("bwd.final_norm");
  bf16* d_out = d_hidden_;
  bf16* d_other = d_hidden_other_;
  for (int l = config_.num_layers - 1; l >= 0; --l) {
    layer_backward(l, seq, first_micro_batch, d_out, d_other);
    mark("bwd", l);
  }

  // layer_backward leaves d(input) in d_out each time.
  if (position_embeddings_grad_ != nullptr)
    ops::position_embedding_backward(position_embeddings_grad_, d_out, b, seq, hidden_, stream_);
  ops::embedding_backward(word_embeddings_grad_, d_out, tokens_, rows, vocab_, hidden_, scratch_.embedding_scratch,
                          scratch_.embedding_scratch_bytes, stream_);
  if (track_touched_rows_) ops::mark_touched_rows(word_rows_touched_, tokens_, rows, vocab_, stream_);
  span("bwd.embedding");
  mark("bwd.end");
}

}  // namespace primus::model::cuda
