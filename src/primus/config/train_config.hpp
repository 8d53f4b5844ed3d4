// The typed, immutable training configuration: what every layer below config/
// consumes. Field names are the YAML keys (Megatron/Primus vocabulary), grouped
// by concern. Built once by config::build_train_config() from the resolved YAML
// and passed down by const reference; nothing past config/ looks keys up by string.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace primus::config {

enum class Normalization { RMSNorm, LayerNorm };
enum class PositionEmbeddingType { rope, learned_absolute, none };
enum class LrDecayStyle { constant, linear, cosine, inverse_square_root, WSD };
enum class WsdDecayStyle { linear, cosine, exponential, minus_sqrt };
enum class RecomputeGranularity { none, full, selective };
enum class RecomputeMethod { none, uniform, block };
// Megatron's recompute_modules choices: the submodules selective recompute re-runs.
enum class RecomputeModule {
  core_attn, moe_act, layernorm, mla_up_proj, mlp, moe, shared_experts, gdn_norm_out, gdp_in_proj, gdp_qkv, mhc
};
// recompute_modules' YAML names, indexed by RecomputeModule.
inline constexpr std::array<std::string_view, 11> kRecomputeModuleNames = {
    "core_attn", "moe_act",      "layernorm",   "mla_up_proj", "mlp", "moe",
    "shared_experts", "gdn_norm_out", "gdp_in_proj", "gdp_qkv", "mhc"};
static_assert(kRecomputeModuleNames.size() == static_cast<std::size_t>(RecomputeModule::mhc) + 1);
enum class LogLevel { trace, debug, info, warning, error, critical, off };
enum class Precision { fp32, bf16, fp16 };

struct ModelConfig {
  std::string model_type = "gpt";
  int num_layers = 0;
  int hidden_size = 0;
  int ffn_hidden_size = 0;  // resolved: derived when the YAML leaves it null
  int num_attention_heads = 0;
  int num_query_groups = 0;  // resolved: == num_attention_heads without group_query_attention
  int kv_channels = 0;       // resolved: hidden_size / num_attention_heads when null
  int seq_length = 0;
  int max_position_embeddings = 0;
  int vocab_size = 0;                     // tokenizer vocabulary
  int make_vocab_size_divisible_by = 128;  // times tensor_model_parallel_size
  int padded_vocab_size = 0;               // resolved
  Normalization normalization = Normalization::RMSNorm;
  double norm_epsilon = 1e-5;
  bool apply_layernorm_1p = false;
  bool swiglu = true;
  bool add_bias_linear = false;
  bool add_qkv_bias = false;
  bool qk_layernorm = false;
  bool untie_embeddings_and_output_weights = true;
  PositionEmbeddingType position_embedding_type = PositionEmbeddingType::rope;
  double rotary_base = 10000.0;
  double rotary_percent = 1.0;
  bool rotary_interleaved = false;
  std::optional<double> rotary_seq_len_interpolation_factor;
  // Llama 3.x frequency scaling (use_rope_scaling); the factors follow HF's rope_scaling block.
  bool use_rope_scaling = false;
  double rope_scaling_factor = 8.0;
  double rope_low_freq_factor = 1.0;
  double rope_high_freq_factor = 4.0;
  int original_max_position_embeddings = 8192;
  double init_method_std = 0.02;
  double hidden_dropout = 0.0;
  double attention_dropout = 0.0;
  // Mixture of experts (num_experts == 0: dense).
  int num_experts = 0;
  int moe_router_topk = 2;
  int moe_ffn_hidden_size = 0;
  int moe_shared_expert_intermediate_size = 0;
  double moe_aux_loss_coeff = 0.0;
  // Multi-latent attention (DeepSeek); carried before the engine runs it.
  bool multi_latent_attention = false;
  int q_lora_rank = 0;
  int kv_lora_rank = 0;
  int qk_head_dim = 0;
  int qk_pos_emb_head_dim = 0;
  int v_head_dim = 0;
};

struct ParallelConfig {
  int world_size = 1;  // from the launcher's environment (WORLD_SIZE / OMPI_COMM_WORLD_SIZE), 1 otherwise
  int tensor_model_parallel_size = 1;
  int pipeline_model_parallel_size = 1;
  int virtual_pipeline_model_parallel_size = 1;
  int context_parallel_size = 1;
  int expert_model_parallel_size = 1;
  int data_parallel_size = 1;  // resolved: world / (tp * pp * cp)
  // Uneven pipelines (Megatron): layers on the first / last stage; 0 = an even share.
  int decoder_first_pipeline_num_layers = 0;
  int decoder_last_pipeline_num_layers = 0;
  // Megatron counts the embedding / the loss as a layer of the first / last stage when splitting.
  bool account_for_embedding_in_pipeline_split = false;
  bool account_for_loss_in_pipeline_split = false;
  bool sequence_parallel = false;
  bool use_distributed_optimizer = false;
  bool overlap_grad_reduce = false;
  bool overlap_param_gather = false;
};

struct TrainingConfig {
  int micro_batch_size = 1;
  int global_batch_size = 1;
  int num_micro_batches = 1;  // resolved: global / (micro * data_parallel_size)
  std::int64_t train_iters = 0;    // resolved from train_samples when that is given
  std::optional<std::int64_t> train_samples;
  std::int64_t seed = 1234;
  int eval_interval = 1000;
  int eval_iters = 0;
  Precision precision = Precision::fp32;  // bf16 / fp16 keys; the CPU backend computes in fp32
  std::string backend = "auto";           // auto | cpu | cuda
  RecomputeGranularity recompute_granularity = RecomputeGranularity::none;
  RecomputeMethod recompute_method = RecomputeMethod::none;
  int recompute_num_layers = 0;
  // Used only with recompute_granularity: selective (Megatron ignores it otherwise); null: ["core_attn"].
  std::vector<RecomputeModule> recompute_modules = {RecomputeModule::core_attn};
  int max_consecutive_nan_iterations = 10;  // skipped steps in a row before the run aborts
  std::optional<int> exit_interval;
};

struct OptimizerConfig {
  std::string optimizer = "adam";  // AdamW (decoupled weight decay), as Megatron's "adam"
  double lr = 1e-4;
  double min_lr = 0.0;
  LrDecayStyle lr_decay_style = LrDecayStyle::linear;
  std::int64_t lr_decay_iters = 0;  // resolved: train_iters when null
  std::int64_t lr_warmup_iters = 0;  // resolved from lr_warmup_fraction when that is given
  double lr_warmup_init = 0.0;
  std::int64_t lr_wsd_decay_iters = 0;
  WsdDecayStyle lr_wsd_decay_style = WsdDecayStyle::exponential;
  double weight_decay = 0.01;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  double clip_grad = 1.0;  // 0 disables clipping
  // On resume the config's schedule wins over the checkpoint's (Megatron's flag; Primus's
  // pre_trainer sets it). When false, a checkpoint saved under another schedule is an error.
  bool override_opt_param_scheduler = false;
};

struct DataConfig {
  bool mock_data = false;
  // data_path as Megatron takes it: either paths alone or "weight path weight path ...".
  std::vector<std::string> data_path;
  std::vector<std::string> train_data_path;
  std::vector<std::string> valid_data_path;
  std::vector<std::string> test_data_path;
  std::string split = "969,30,1";
  std::string data_cache_path;  // empty: next to the data files' index cache default
  std::string tokenizer_type;
  std::string tokenizer_model;
  bool eod_mask_loss = false;
  bool reset_position_ids = false;
  bool reset_attention_mask = false;
  int eod_token_id = 0;  // mock data and NullTokenizer: vocab_size - 1 in Megatron; set by the builder
};

struct CheckpointConfig {
  std::string save;  // empty: <workspace>/<work_group>/<user_name>/<exp_name>/checkpoints
  std::string load;
  std::optional<int> save_interval;
  bool no_save_optim = false;
  bool no_save_rng = false;
  bool no_load_optim = false;
  bool no_load_rng = false;
  bool finetune = false;
  bool auto_continue_train = false;
  bool disable_last_saving = false;
};

struct LoggingConfig {
  int log_interval = 1;
  bool disable_tensorboard = false;
  std::string tensorboard_dir;  // empty: <experiment>/tensorboard
  LogLevel stderr_sink_level = LogLevel::info;
  LogLevel file_sink_level = LogLevel::debug;
  std::optional<LogLevel> sink_level;  // when set, overrides both sinks
  int log_avg_skip_iterations = 2;
  int log_avg_reset_interval = 50;
  bool log_throughput = true;
};

// Where a run writes: <workspace>/<work_group>/<user_name>/<exp_name>/{logs,checkpoints,tensorboard}.
struct ExperimentConfig {
  std::string work_group = "amd";
  std::string user_name = "root";
  std::string exp_name = "experiment";
  std::string workspace = "./output";
  std::string config_file;  // the experiment YAML this was resolved from
};

struct TrainConfig {
  ExperimentConfig experiment;
  ModelConfig model;
  ParallelConfig parallel;
  TrainingConfig training;
  OptimizerConfig optimizer;
  DataConfig data;
  CheckpointConfig checkpoint;
  LoggingConfig logging;
};

}  // namespace primus::config
