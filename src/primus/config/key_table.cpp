// TEMPORARY schema table for the config branch's own tests: the keys that
// train_config.hpp and tests/config need, with Megatron-LM / Primus defaults.
// The full table (every Primus and Megatron-LM key) replaces this file at merge.
#include <algorithm>
#include <array>

#include "primus/config/key_spec.hpp"

namespace primus::config {
namespace {

using enum KeyType;

constexpr std::array kKeys = std::to_array<KeySpec>({
    // model
    {"model_type", String, "gpt", "model family", true},
    {"num_layers", Int, "null", "number of transformer layers", true},
    {"hidden_size", Int, "null", "transformer hidden size", true},
    {"ffn_hidden_size", Int, "null", "MLP hidden size; null derives it from hidden_size", true},
    {"num_attention_heads", Int, "null", "number of attention heads", true},
    {"group_query_attention", Bool, "false", "use num_query_groups key/value heads", true},
    {"num_query_groups", Int, "1", "key/value head groups under group_query_attention", true},
    {"kv_channels", Int, "null", "projection size per head; null is hidden_size / heads", true},
    {"seq_length", Int, "null", "sequence length", true},
    {"max_position_embeddings", Int, "null", "longest sequence position embeddings support", true},
    {"vocab_size", Int, "null", "tokenizer vocabulary size", true},
    {"make_vocab_size_divisible_by", Int, "128", "pad the vocabulary to a multiple of this times tp", true},
    {"normalization", String, "LayerNorm", "LayerNorm or RMSNorm", true},
    {"norm_epsilon", Float, "1e-05", "epsilon of the normalization layers", true},
    {"apply_layernorm_1p", Bool, "false", "LayerNorm weight stored as weight - 1", true},
    {"swiglu", Bool, "false", "SwiGLU MLP", true},
    {"add_bias_linear", Bool, "true", "biases in linear layers", true},
    {"add_qkv_bias", Bool, "false", "biases in the QKV projection", true},
    {"qk_layernorm", Bool, "false", "normalize queries and keys", true},
    {"untie_embeddings_and_output_weights", Bool, "false", "separate output layer weights", true},
    {"position_embedding_type", String, "learned_absolute", "learned_absolute, rope or none", true},
    {"rotary_base", Float, "10000", "RoPE base", true},
    {"rotary_percent", Float, "1.0", "fraction of each head that RoPE rotates", true},
    {"rotary_interleaved", Bool, "false", "rotate interleaved pairs", true},
    {"rotary_seq_len_interpolation_factor", Float, "null", "RoPE position interpolation factor", true},
    {"use_rope_scaling", Bool, "false", "Llama 3.x RoPE frequency scaling", true},
    {"rope_scaling_factor", Float, "8.0", "Llama 3.x RoPE scaling factor", true},
    {"rope_low_freq_factor", Float, "1.0", "Llama 3.x RoPE low-frequency factor", true},
    {"rope_high_freq_factor", Float, "4.0", "Llama 3.x RoPE high-frequency factor", true},
    {"original_max_position_embeddings", Int, "8192", "Llama 3.x RoPE original context length", true},
    {"init_method_std", Float, "0.02", "standard deviation of weight initialization", true},
    {"hidden_dropout", Float, "0.1", "dropout after attention and MLP", true},
    {"attention_dropout", Float, "0.1", "dropout on attention probabilities", true},
    {"num_experts", Int, "null", "experts per MoE layer; null is dense", true},
    {"moe_router_topk", Int, "2", "experts each token is routed to", true},
    {"moe_ffn_hidden_size", Int, "null", "expert MLP hidden size", true},
    {"moe_shared_expert_intermediate_size", Int, "null", "shared expert hidden size", true},
    {"moe_aux_loss_coeff", Float, "0.0", "load-balancing loss scale", true},
    {"multi_latent_attention", Bool, "false", "DeepSeek multi-latent attention", true},
    {"q_lora_rank", Int, "null", "MLA query low-rank size", true},
    {"kv_lora_rank", Int, "32", "MLA key/value low-rank size", true},
    {"qk_head_dim", Int, "128", "MLA query/key head size", true},
    {"qk_pos_emb_head_dim", Int, "64", "MLA rotary part of the query/key head", true},
    {"v_head_dim", Int, "128", "MLA value head size", true},
    // parallelism
    {"tensor_model_parallel_size", Int, "1", "tensor-parallel degree", true, false},
    {"pipeline_model_parallel_size", Int, "1", "pipeline-parallel degree", true, false},
    {"virtual_pipeline_model_parallel_size", Int, "null", "model chunks per pipeline rank", true},
    {"num_layers_per_virtual_pipeline_stage", Int, "null", "layers per virtual pipeline stage", true},
    {"context_parallel_size", Int, "1", "context-parallel degree", true, false},
    {"expert_model_parallel_size", Int, "1", "expert-parallel degree", true, false},
    {"sequence_parallel", Bool, "false", "shard norms and dropout along the sequence under tp", true},
    {"use_distributed_optimizer", Bool, "false", "shard optimizer state over data parallel ranks", true},
    {"overlap_grad_reduce", Bool, "false", "overlap gradient reduction with backward", true},
    {"overlap_param_gather", Bool, "false", "overlap parameter all-gather with forward", true},
    // training
    {"micro_batch_size", Int, "null", "samples per micro-batch per data-parallel rank", true},
    {"global_batch_size", Int, "null", "samples per optimizer step over all ranks", true},
    {"train_iters", Int, "null", "optimizer steps to train", true},
    {"train_samples", Int, "null", "samples to train (alternative to train_iters)", true},
    {"seed", Int, "1234", "random seed", true, false},
    {"eval_interval", Int, "1000", "iterations between evaluations", true},
    {"eval_iters", Int, "100", "iterations per evaluation", true},
    {"bf16", Bool, "false", "bf16 mixed precision", true},
    {"fp16", Bool, "false", "fp16 mixed precision", true},
    {"backend", String, "auto", "auto, cpu or cuda (Primus C++)", true},
    {"recompute_granularity", String, "null", "full or selective activation recomputation", true},
    {"recompute_method", String, "null", "uniform or block", true},
    {"recompute_num_layers", Int, "null", "layers recomputed per chunk", true},
    {"max_consecutive_nan_iterations", Int, "10", "skipped steps in a row before the run stops (Primus C++)", true},
    {"exit_interval", Int, "null", "stop when the iteration is a multiple of this", true},
    // optimizer
    {"optimizer", String, "adam", "adam (AdamW) or sgd", true},
    {"lr", Float, "null", "peak learning rate", true},
    {"min_lr", Float, "0.0", "learning rate floor", true},
    {"lr_decay_style", String, "linear", "constant, linear, cosine, inverse-square-root or WSD", true},
    {"lr_decay_iters", Int, "null", "iterations to decay over; null is train_iters", true},
    {"lr_warmup_iters", Int, "0", "linear warmup iterations", true},
    {"lr_warmup_fraction", Float, "null", "warmup as a fraction of lr_decay_iters", true},
    {"lr_warmup_init", Float, "0.0", "learning rate at the start of warmup", true},
    {"lr_wsd_decay_iters", Int, "null", "decay iterations of the WSD schedule", true},
    {"lr_wsd_decay_style", String, "exponential", "decay style of the WSD schedule", true},
    {"weight_decay", Float, "0.01", "decoupled weight decay", true},
    {"adam_beta1", Float, "0.9", "Adam beta1", true},
    {"adam_beta2", Float, "0.999", "Adam beta2", true},
    {"adam_eps", Float, "1e-08", "Adam epsilon", true},
    {"clip_grad", Float, "1.0", "gradient norm clip; 0 disables", true},
    // data
    {"mock_data", Bool, "false", "synthetic data instead of files", true},
    {"data_path", List, "null", "dataset prefixes, optionally weighted", true},
    {"train_data_path", List, "null", "training dataset prefixes", true},
    {"valid_data_path", List, "null", "validation dataset prefixes", true},
    {"test_data_path", List, "null", "test dataset prefixes", true},
    {"split", String, "null", "train,valid,test proportions", true},
    {"data_cache_path", String, "null", "where index caches are written", true},
    {"tokenizer_type", String, "null", "tokenizer kind", true},
    {"tokenizer_model", String, "null", "tokenizer file or Hugging Face name", true},
    {"eod_mask_loss", Bool, "false", "mask the loss at end-of-document tokens", true},
    {"reset_position_ids", Bool, "false", "restart position ids after end-of-document", true},
    {"reset_attention_mask", Bool, "false", "no attention across documents", true},
    {"num_workers", Int, "2", "data loader worker processes", false},
    {"dataloader_type", String, "null", "single or cyclic", false},
    // checkpoint
    {"save", String, "null", "checkpoint directory to write", true},
    {"load", String, "null", "checkpoint directory to read", true},
    {"save_interval", Int, "null", "iterations between checkpoints", true},
    {"no_save_optim", Bool, "null", "do not save optimizer state", true},
    {"no_save_rng", Bool, "null", "do not save RNG state", true},
    {"no_load_optim", Bool, "null", "do not load optimizer state", true},
    {"no_load_rng", Bool, "null", "do not load RNG state", true},
    {"finetune", Bool, "false", "load weights only, reset iteration", true},
    {"auto_continue_train", Bool, "false", "resume from the latest checkpoint in save (Primus)", true},
    {"disable_last_saving", Bool, "false", "skip the checkpoint at the end (Primus)", true},
    // logging
    {"log_interval", Int, "100", "iterations between log lines", true},
    {"disable_tensorboard", Bool, "false", "no TensorBoard output (Primus)", true},
    {"tensorboard_dir", String, "null", "TensorBoard event directory", true},
    {"stderr_sink_level", String, "INFO", "stderr log level (Primus)", true},
    {"file_sink_level", String, "DEBUG", "per-rank file log level (Primus)", true},
    {"sink_level", String, "null", "overrides both sink levels (Primus)", true},
    {"log_avg_skip_iterations", Int, "2", "first iterations left out of averages (Primus)", true},
    {"log_avg_reset_interval", Int, "10", "iterations between average resets (Primus)", true},
    {"log_throughput", Bool, "false", "log TFLOP/s per GPU", true},
    {"use_flash_attn", Bool, "false", "flash attention kernels", false},
    {"wandb_project", String, "null", "Weights & Biases project", false},
    {"gradient_accumulation_fusion", Bool, "false", "fused weight-gradient accumulation", false},
    {"tensorboard_log_interval", Int, "1", "iterations between TensorBoard writes", false},
    {"override_opt_param_scheduler", Bool, "false", "scheduler values from args over the checkpoint", false},
});

}  // namespace

std::span<const KeySpec> key_specs() {
  static const auto sorted = [] {
    auto table = kKeys;
    std::sort(table.begin(), table.end(), [](const KeySpec& a, const KeySpec& b) { return a.name < b.name; });
    return table;
  }();
  return sorted;
}

const KeySpec* find_key_spec(std::string_view name) {
  auto table = key_specs();
  auto it = std::lower_bound(table.begin(), table.end(), name,
                             [](const KeySpec& spec, std::string_view wanted) { return spec.name < wanted; });
  return it != table.end() && it->name == name ? &*it : nullptr;
}

}  // namespace primus::config
