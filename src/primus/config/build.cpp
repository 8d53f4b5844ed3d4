// Typed build of TrainConfig from flat settings (see build.hpp).
#include "primus/config/build.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "primus/config/cross_checks.hpp"
#include "primus/config/diagnostics.hpp"
#include "primus/config/schema_check.hpp"
#include "primus/config/setting_reader.hpp"

namespace primus::config {

bool launcher_world_size_set() {
  for (const char* name : {"WORLD_SIZE", "OMPI_COMM_WORLD_SIZE"}) {
    const char* text = std::getenv(name);
    if (text != nullptr && *text != '\0') return true;
  }
  return false;
}

int world_size_from_env() {
  for (const char* name : {"WORLD_SIZE", "OMPI_COMM_WORLD_SIZE"}) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') continue;
    char* end = nullptr;
    long parsed = std::strtol(text, &end, 10);
    if (*end != '\0' || parsed <= 0 || parsed > 1'000'000)
      throw ConfigError(fmt::format("environment variable {}='{}' is not a positive integer", name, text));
    return static_cast<int>(parsed);
  }
  return 1;
}

int padded_vocab_size(int vocab_size, int make_vocab_size_divisible_by, int tensor_model_parallel_size) {
  const int multiple = make_vocab_size_divisible_by * tensor_model_parallel_size;
  if (vocab_size <= 0 || multiple <= 0) return vocab_size;
  return (vocab_size + multiple - 1) / multiple * multiple;
}

namespace {

void read_model(const SettingReader& r, ModelConfig& m) {
  r.read("model_type", m.model_type);
  r.read("num_layers", m.num_layers);
  r.read("hidden_size", m.hidden_size);
  r.read("ffn_hidden_size", m.ffn_hidden_size);
  r.read("num_attention_heads", m.num_attention_heads);
  r.read("num_query_groups", m.num_query_groups);
  r.read("kv_channels", m.kv_channels);
  r.read("seq_length", m.seq_length);
  r.read("max_position_embeddings", m.max_position_embeddings);
  r.read("vocab_size", m.vocab_size);
  r.read("make_vocab_size_divisible_by", m.make_vocab_size_divisible_by);
  r.read_choice("normalization", m.normalization,
                {{"RMSNorm", Normalization::RMSNorm}, {"LayerNorm", Normalization::LayerNorm}});
  r.read("norm_epsilon", m.norm_epsilon);
  r.read("apply_layernorm_1p", m.apply_layernorm_1p);
  r.read("swiglu", m.swiglu);
  r.read("add_bias_linear", m.add_bias_linear);
  r.read("add_qkv_bias", m.add_qkv_bias);
  r.read("qk_layernorm", m.qk_layernorm);
  r.read("untie_embeddings_and_output_weights", m.untie_embeddings_and_output_weights);
  r.read_choice("position_embedding_type", m.position_embedding_type,
                {{"rope", PositionEmbeddingType::rope},
                 {"learned_absolute", PositionEmbeddingType::learned_absolute},
                 {"none", PositionEmbeddingType::none}});
  r.read("rotary_base", m.rotary_base);
  r.read("rotary_percent", m.rotary_percent);
  r.read("rotary_interleaved", m.rotary_interleaved);
  r.read("rotary_seq_len_interpolation_factor", m.rotary_seq_len_interpolation_factor);
  r.read("use_rope_scaling", m.use_rope_scaling);
  r.read("rope_scaling_factor", m.rope_scaling_factor);
  r.read("rope_low_freq_factor", m.rope_low_freq_factor);
  r.read("rope_high_freq_factor", m.rope_high_freq_factor);
  r.read("original_max_position_embeddings", m.original_max_position_embeddings);
  r.read("init_method_std", m.init_method_std);
  r.read("hidden_dropout", m.hidden_dropout);
  r.read("attention_dropout", m.attention_dropout);
  r.read("num_experts", m.num_experts);
  r.read("moe_router_topk", m.moe_router_topk);
  r.read("moe_ffn_hidden_size", m.moe_ffn_hidden_size);
  r.read("moe_shared_expert_intermediate_size", m.moe_shared_expert_intermediate_size);
  r.read("moe_aux_loss_coeff", m.moe_aux_loss_coeff);
  r.read("multi_latent_attention", m.multi_latent_attention);
  r.read("q_lora_rank", m.q_lora_rank);
  r.read("kv_lora_rank", m.kv_lora_rank);
  r.read("qk_head_dim", m.qk_head_dim);
  r.read("qk_pos_emb_head_dim", m.qk_pos_emb_head_dim);
  r.read("v_head_dim", m.v_head_dim);
}

void read_parallel(const SettingReader& r, ParallelConfig& p) {
  r.read("tensor_model_parallel_size", p.tensor_model_parallel_size);
  r.read("pipeline_model_parallel_size", p.pipeline_model_parallel_size);
  r.read("virtual_pipeline_model_parallel_size", p.virtual_pipeline_model_parallel_size);
  r.read("context_parallel_size", p.context_parallel_size);
  r.read("expert_model_parallel_size", p.expert_model_parallel_size);
  r.read("sequence_parallel", p.sequence_parallel);
  r.read("use_distributed_optimizer", p.use_distributed_optimizer);
  r.read("overlap_grad_reduce", p.overlap_grad_reduce);
  r.read("overlap_param_gather", p.overlap_param_gather);
  r.read("decoder_first_pipeline_num_layers", p.decoder_first_pipeline_num_layers);
  r.read("decoder_last_pipeline_num_layers", p.decoder_last_pipeline_num_layers);
  r.read("account_for_embedding_in_pipeline_split", p.account_for_embedding_in_pipeline_split);
  r.read("account_for_loss_in_pipeline_split", p.account_for_loss_in_pipeline_split);
}

void read_training(const SettingReader& r, TrainingConfig& t, Diagnostics& d) {
  r.read("micro_batch_size", t.micro_batch_size);
  r.read("global_batch_size", t.global_batch_size);
  r.read("train_iters", t.train_iters);
  r.read("train_samples", t.train_samples);
  r.read("seed", t.seed);
  r.read("eval_interval", t.eval_interval);
  r.read("eval_iters", t.eval_iters);
  bool bf16 = false;
  bool fp16 = false;
  r.read("bf16", bf16);
  r.read("fp16", fp16);
  if (bf16 && fp16)
    d.errors.push_back(fmt::format("bf16 ({}) and fp16 ({}) are both true; choose one precision", r.where("bf16"),
                                   r.where("fp16")));
  t.precision = bf16 ? Precision::bf16 : fp16 ? Precision::fp16 : Precision::fp32;
  r.read_choice("backend", t.backend,
                {{"auto", std::string("auto")}, {"cpu", std::string("cpu")}, {"cuda", std::string("cuda")}});
  r.read_choice("recompute_granularity", t.recompute_granularity,
                {{"full", RecomputeGranularity::full}, {"selective", RecomputeGranularity::selective}});
  r.read_choice("recompute_method", t.recompute_method,
                {{"uniform", RecomputeMethod::uniform}, {"block", RecomputeMethod::block}});
  r.read("recompute_num_layers", t.recompute_num_layers);
  std::vector<std::pair<std::string, RecomputeModule>> modules;
  for (std::size_t i = 0; i < kRecomputeModuleNames.size(); ++i)
    modules.emplace_back(kRecomputeModuleNames[i], static_cast<RecomputeModule>(i));
  r.read_choice_list("recompute_modules", t.recompute_modules, modules);
  r.read("max_consecutive_nan_iterations", t.max_consecutive_nan_iterations);
  r.read("exit_interval", t.exit_interval);
}

void read_optimizer(const SettingReader& r, OptimizerConfig& o) {
  r.read_choice("optimizer", o.optimizer, {{"adam", std::string("adam")}, {"sgd", std::string("sgd")}});
  r.read("lr", o.lr);
  r.read("min_lr", o.min_lr);
  r.read_choice("lr_decay_style", o.lr_decay_style,
                {{"constant", LrDecayStyle::constant},
                 {"linear", LrDecayStyle::linear},
                 {"cosine", LrDecayStyle::cosine},
                 {"inverse-square-root", LrDecayStyle::inverse_square_root},
                 {"WSD", LrDecayStyle::WSD}});
  r.read("lr_decay_iters", o.lr_decay_iters);
  r.read("lr_warmup_iters", o.lr_warmup_iters);
  r.read("lr_warmup_init", o.lr_warmup_init);
  r.read("lr_wsd_decay_iters", o.lr_wsd_decay_iters);
  r.read_choice("lr_wsd_decay_style", o.lr_wsd_decay_style,
                {{"linear", WsdDecayStyle::linear},
                 {"cosine", WsdDecayStyle::cosine},
                 {"exponential", WsdDecayStyle::exponential},
                 {"minus_sqrt", WsdDecayStyle::minus_sqrt}});
  r.read("weight_decay", o.weight_decay);
  r.read("adam_beta1", o.adam_beta1);
  r.read("adam_beta2", o.adam_beta2);
  r.read("adam_eps", o.adam_eps);
  r.read("clip_grad", o.clip_grad);
  r.read("override_opt_param_scheduler", o.override_opt_param_scheduler);
}

void read_data(const SettingReader& r, DataConfig& data) {
  r.read("mock_data", data.mock_data);
  r.read("data_path", data.data_path);
  r.read("train_data_path", data.train_data_path);
  r.read("valid_data_path", data.valid_data_path);
  r.read("test_data_path", data.test_data_path);
  r.read("split", data.split);
  r.read("data_cache_path", data.data_cache_path);
  r.read("tokenizer_type", data.tokenizer_type);
  r.read("tokenizer_model", data.tokenizer_model);
  r.read("eod_mask_loss", data.eod_mask_loss);
  r.read("reset_position_ids", data.reset_position_ids);
  r.read("reset_attention_mask", data.reset_attention_mask);
}

void read_checkpoint(const SettingReader& r, CheckpointConfig& c) {
  r.read("save", c.save);
  r.read("load", c.load);
  r.read("save_interval", c.save_interval);
  r.read("no_save_optim", c.no_save_optim);
  r.read("no_save_rng", c.no_save_rng);
  r.read("no_load_optim", c.no_load_optim);
  r.read("no_load_rng", c.no_load_rng);
  r.read("finetune", c.finetune);
  r.read("auto_continue_train", c.auto_continue_train);
  r.read("disable_last_saving", c.disable_last_saving);
}

void read_logging(const SettingReader& r, LoggingConfig& l) {
  const std::vector<std::pair<std::string, LogLevel>> levels = {
      {"trace", LogLevel::trace}, {"debug", LogLevel::debug},       {"info", LogLevel::info},
      {"warning", LogLevel::warning}, {"warn", LogLevel::warning}, {"error", LogLevel::error},
      {"critical", LogLevel::critical}, {"off", LogLevel::off}};
  r.read("log_interval", l.log_interval);
  r.read("disable_tensorboard", l.disable_tensorboard);
  r.read("tensorboard_dir", l.tensorboard_dir);
  r.read_choice("stderr_sink_level", l.stderr_sink_level, levels);
  r.read_choice("file_sink_level", l.file_sink_level, levels);
  if (!r.is_null("sink_level")) {
    LogLevel level = LogLevel::info;
    r.read_choice("sink_level", level, levels);
    l.sink_level = level;
    l.stderr_sink_level = level;  // sink_level wins over both sinks, as in Primus
    l.file_sink_level = level;
  }
  r.read("log_avg_skip_iterations", l.log_avg_skip_iterations);
  r.read("log_avg_reset_interval", l.log_avg_reset_interval);
  r.read("log_throughput", l.log_throughput);
}

void read_experiment(const FlatSettings& meta, const ResolvedConfig& resolved, ExperimentConfig& e, Diagnostics& d) {
  auto read = [&](const char* key, std::string& out) {
    auto it = meta.find(key);
    if (it == meta.end() || it->second.value.is_null()) return;
    const Value& v = it->second.value;
    if (v.is_list() || v.is_map())
      d.errors.push_back(fmt::format("{}: '{}' must be a name, got {} {}", it->second.history.back().str(), key,
                                     kind_name(v.kind), to_flow_yaml(v)));
    else
      out = v.is_string() ? v.string_value : to_flow_yaml(v);  // exp_name: 7 is a fine directory name
  };
  read("work_group", e.work_group);
  read("user_name", e.user_name);
  read("exp_name", e.exp_name);
  read("workspace", e.workspace);
  e.config_file = resolved.config_file.string();
  // Other top-level keys mean nothing to pre-training; a typo of a metadata key would otherwise pass silently.
  const std::vector<std::string_view> known = {"work_group", "user_name", "exp_name", "workspace"};
  for (const auto& [key, setting] : meta) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    const std::string suggestion = closest_name(key, known);
    d.warnings.push_back(fmt::format("{}: top-level key '{}' is ignored{}", setting.history.back().str(), key,
                                     suggestion.empty() ? "" : fmt::format(" (did you mean '{}'?)", suggestion)));
  }
}

// Megatron's derivations (megatron/training/arguments.py) of fields the YAML may leave null.
void derive(const SettingReader& r, TrainConfig& c, Diagnostics& d) {
  ModelConfig& m = c.model;
  ParallelConfig& p = c.parallel;
  if (r.is_null("virtual_pipeline_model_parallel_size")) {
    p.virtual_pipeline_model_parallel_size = 1;
    if (!r.is_null("num_layers_per_virtual_pipeline_stage")) {
      int layers_per_stage = 0;
      r.read("num_layers_per_virtual_pipeline_stage", layers_per_stage);
      const int per_rank = p.pipeline_model_parallel_size > 0 ? m.num_layers / p.pipeline_model_parallel_size : 0;
      if (layers_per_stage <= 0 || per_rank % layers_per_stage != 0)
        d.errors.push_back(fmt::format("num_layers_per_virtual_pipeline_stage ({}) must divide num_layers / "
                                       "pipeline_model_parallel_size ({})",
                                       layers_per_stage, per_rank));
      else
        p.virtual_pipeline_model_parallel_size = per_rank / layers_per_stage;
    }
  }
  bool group_query_attention = false;
  r.read("group_query_attention", group_query_attention);
  if (!group_query_attention || r.is_null("num_query_groups")) m.num_query_groups = m.num_attention_heads;
  if (r.is_null("kv_channels") && m.num_attention_heads > 0) m.kv_channels = m.hidden_size / m.num_attention_heads;
  if (r.is_null("ffn_hidden_size"))
    m.ffn_hidden_size = m.swiglu ? static_cast<int>((4.0 * m.hidden_size * 2 / 3) / 64) * 64 : 4 * m.hidden_size;
  if (r.is_null("max_position_embeddings")) m.max_position_embeddings = m.seq_length;
  if (r.is_null("num_experts")) m.num_experts = 0;
  if (r.is_null("moe_ffn_hidden_size") && m.num_experts > 0) m.moe_ffn_hidden_size = m.ffn_hidden_size;
  if (m.vocab_size > 0) {
    m.padded_vocab_size = padded_vocab_size(m.vocab_size, m.make_vocab_size_divisible_by, p.tensor_model_parallel_size);
  } else if (r.is_null("vocab_size") && c.data.tokenizer_type.empty()) {
    d.errors.push_back("vocab_size is not set and no tokenizer_type is given to take it from");
  }
  // Megatron's mock data and NullTokenizer end documents with the last vocabulary id.
  if (m.vocab_size > 0) c.data.eod_token_id = m.vocab_size - 1;

  const std::int64_t model_parallel = static_cast<std::int64_t>(p.tensor_model_parallel_size) *
                                      p.pipeline_model_parallel_size * p.context_parallel_size;
  if (model_parallel > 0 && p.world_size % model_parallel == 0)
    p.data_parallel_size = static_cast<int>(p.world_size / model_parallel);

  TrainingConfig& t = c.training;
  if (t.train_samples) {
    if (!r.is_null("train_iters"))
      d.errors.push_back(fmt::format("train_iters ({}, {}) and train_samples ({}, {}) are both set; set "
                                     "train_iters: null to train by samples",
                                     t.train_iters, r.where("train_iters"), *t.train_samples, r.where("train_samples")));
    else if (t.global_batch_size > 0)
      t.train_iters = *t.train_samples / t.global_batch_size;
  }
  const std::int64_t per_step = static_cast<std::int64_t>(t.micro_batch_size) * p.data_parallel_size;
  if (per_step > 0 && t.global_batch_size % per_step == 0) t.num_micro_batches = static_cast<int>(t.global_batch_size / per_step);

  OptimizerConfig& o = c.optimizer;
  if (r.is_null("lr_decay_iters")) o.lr_decay_iters = t.train_iters;
  if (!r.is_null("lr_warmup_fraction")) {
    double fraction = 0.0;
    r.read("lr_warmup_fraction", fraction);
    if (o.lr_warmup_iters != 0)
      d.errors.push_back(fmt::format("lr_warmup_fraction ({}, {}) and lr_warmup_iters ({}, {}) are both set; "
                                     "choose one",
                                     fraction, r.where("lr_warmup_fraction"), o.lr_warmup_iters,
                                     r.where("lr_warmup_iters")));
    else if (fraction < 0 || fraction > 1)
      d.errors.push_back(fmt::format("lr_warmup_fraction must be in [0, 1], got {}", fraction));
    else
      o.lr_warmup_iters = static_cast<std::int64_t>(fraction * static_cast<double>(o.lr_decay_iters));
  }
  if (r.is_null("lr_wsd_decay_iters")) o.lr_wsd_decay_iters = 0;
  if (r.is_null("lr")) d.errors.push_back("lr is not set");
}

}  // namespace

TrainConfig build_train_config(const ResolvedConfig& resolved, const BuildOptions& options,
                               std::vector<std::string>* warnings) {
  Diagnostics diagnostics;
  check_against_schema(resolved.pre_trainer, options.strict, diagnostics);
  SettingReader reader(resolved.pre_trainer, diagnostics);
  TrainConfig config;
  read_experiment(resolved.experiment, resolved, config.experiment, diagnostics);
  read_model(reader, config.model);
  read_parallel(reader, config.parallel);
  config.parallel.world_size = options.world_size > 0 ? options.world_size : world_size_from_env();
  if (options.world_size <= 0 && options.assume_minimal_world && !launcher_world_size_set()) {
    const auto& p = config.parallel;
    config.parallel.world_size =
        std::max(1, p.tensor_model_parallel_size * p.pipeline_model_parallel_size * p.context_parallel_size);
  }
  read_training(reader, config.training, diagnostics);
  read_optimizer(reader, config.optimizer);
  read_data(reader, config.data);
  read_checkpoint(reader, config.checkpoint);
  read_logging(reader, config.logging);
  derive(reader, config, diagnostics);
  check_cross_key_rules(config, diagnostics);
  diagnostics.throw_if_errors(resolved.config_file.string());
  if (warnings != nullptr) warnings->insert(warnings->end(), diagnostics.warnings.begin(), diagnostics.warnings.end());
  return config;
}

TrainConfig load_train_config(const std::filesystem::path& config_file, const std::vector<std::string>& cli_args,
                              const BuildOptions& options, std::vector<std::string>* warnings) {
  return build_train_config(resolve_experiment(config_file, cli_args), options, warnings);
}

}  // namespace primus::config
