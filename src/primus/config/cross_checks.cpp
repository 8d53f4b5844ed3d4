// Cross-key validation (see cross_checks.hpp). Messages name every key and value involved.
#include "primus/config/cross_checks.hpp"

#include <fmt/format.h>

namespace primus::config {
namespace {

void require_positive(Diagnostics& d, const char* key, std::int64_t value) {
  if (value <= 0) d.errors.push_back(fmt::format("{} must be a positive integer, got {}", key, value));
}

void require_divides(Diagnostics& d, const char* numerator_key, std::int64_t numerator, const char* divisor_key,
                     std::int64_t divisor) {
  if (divisor > 0 && numerator > 0 && numerator % divisor != 0)
    d.errors.push_back(fmt::format("{} ({}) must be divisible by {} ({})", numerator_key, numerator, divisor_key,
                                   divisor));
}

void check_model(const ModelConfig& m, const ParallelConfig& p, Diagnostics& d) {
  require_positive(d, "num_layers", m.num_layers);
  require_positive(d, "hidden_size", m.hidden_size);
  require_positive(d, "num_attention_heads", m.num_attention_heads);
  require_positive(d, "seq_length", m.seq_length);
  require_positive(d, "max_position_embeddings", m.max_position_embeddings);
  require_positive(d, "num_query_groups", m.num_query_groups);
  require_positive(d, "kv_channels", m.kv_channels);
  require_positive(d, "ffn_hidden_size", m.ffn_hidden_size);
  require_positive(d, "make_vocab_size_divisible_by", m.make_vocab_size_divisible_by);
  require_divides(d, "hidden_size", m.hidden_size, "num_attention_heads", m.num_attention_heads);
  require_divides(d, "num_attention_heads", m.num_attention_heads, "num_query_groups", m.num_query_groups);
  require_divides(d, "num_attention_heads", m.num_attention_heads, "tensor_model_parallel_size",
                  p.tensor_model_parallel_size);
  require_divides(d, "num_query_groups", m.num_query_groups, "tensor_model_parallel_size",
                  p.tensor_model_parallel_size);
  if (m.seq_length > 0 && m.max_position_embeddings > 0 && m.seq_length > m.max_position_embeddings)
    d.errors.push_back(fmt::format("seq_length ({}) must not exceed max_position_embeddings ({})", m.seq_length,
                                   m.max_position_embeddings));
  if (m.norm_epsilon <= 0) d.errors.push_back(fmt::format("norm_epsilon must be positive, got {}", m.norm_epsilon));
  if (m.hidden_dropout < 0 || m.hidden_dropout >= 1)
    d.errors.push_back(fmt::format("hidden_dropout must be in [0, 1), got {}", m.hidden_dropout));
  if (m.attention_dropout < 0 || m.attention_dropout >= 1)
    d.errors.push_back(fmt::format("attention_dropout must be in [0, 1), got {}", m.attention_dropout));
  if (m.num_experts > 0) {
    if (m.moe_router_topk <= 0 || m.moe_router_topk > m.num_experts)
      d.errors.push_back(fmt::format("moe_router_topk ({}) must be between 1 and num_experts ({})",
                                     m.moe_router_topk, m.num_experts));
    require_divides(d, "num_experts", m.num_experts, "expert_model_parallel_size", p.expert_model_parallel_size);
  }
}

// Megatron's rule: the layers left after decoder_first/last_pipeline_num_layers split evenly
// over the remaining stages.
void check_pipeline_layers(const ModelConfig& m, const ParallelConfig& p, Diagnostics& d) {
  const int first = p.decoder_first_pipeline_num_layers;
  const int last = p.decoder_last_pipeline_num_layers;
  if (first == 0 && last == 0) {
    const int counted = m.num_layers + (p.account_for_embedding_in_pipeline_split ? 1 : 0) +
                        (p.account_for_loss_in_pipeline_split ? 1 : 0);
    if (counted == m.num_layers) {
      require_divides(d, "num_layers", m.num_layers, "pipeline_model_parallel_size", p.pipeline_model_parallel_size);
    } else if (p.pipeline_model_parallel_size > 0 && counted % p.pipeline_model_parallel_size != 0) {
      d.errors.push_back(fmt::format(
          "num_layers ({}) plus the embedding/loss layers counted by account_for_*_in_pipeline_split ({}) must be "
          "divisible by pipeline_model_parallel_size ({})",
          m.num_layers, counted, p.pipeline_model_parallel_size));
    }
    return;
  }
  const int middle_stages = p.pipeline_model_parallel_size - (first > 0 ? 1 : 0) - (last > 0 ? 1 : 0);
  const int middle_layers = m.num_layers - first - last;
  if (middle_layers < 0 || middle_stages < 0 || (middle_stages == 0 && middle_layers != 0) ||
      (middle_stages > 0 && middle_layers % middle_stages != 0)) {
    d.errors.push_back(fmt::format(
        "num_layers ({}) minus decoder_first_pipeline_num_layers ({}) and decoder_last_pipeline_num_layers ({}) "
        "must split evenly over the other {} of pipeline_model_parallel_size ({}) stages",
        m.num_layers, first, last, middle_stages, p.pipeline_model_parallel_size));
  }
}

void check_parallel(const ModelConfig& m, const ParallelConfig& p, Diagnostics& d) {
  require_positive(d, "tensor_model_parallel_size", p.tensor_model_parallel_size);
  require_positive(d, "pipeline_model_parallel_size", p.pipeline_model_parallel_size);
  require_positive(d, "virtual_pipeline_model_parallel_size", p.virtual_pipeline_model_parallel_size);
  require_positive(d, "context_parallel_size", p.context_parallel_size);
  require_positive(d, "expert_model_parallel_size", p.expert_model_parallel_size);
  require_positive(d, "world_size", p.world_size);
  check_pipeline_layers(m, p, d);
  if (p.virtual_pipeline_model_parallel_size > 1) {
    const std::int64_t stages =
        static_cast<std::int64_t>(p.pipeline_model_parallel_size) * p.virtual_pipeline_model_parallel_size;
    if (m.num_layers > 0 && m.num_layers % stages != 0)
      d.errors.push_back(fmt::format("num_layers ({}) must be divisible by pipeline_model_parallel_size ({}) * "
                                     "virtual_pipeline_model_parallel_size ({})",
                                     m.num_layers, p.pipeline_model_parallel_size,
                                     p.virtual_pipeline_model_parallel_size));
    if (p.pipeline_model_parallel_size == 1)
      d.errors.push_back(fmt::format("virtual_pipeline_model_parallel_size ({}) needs pipeline_model_parallel_size > 1",
                                     p.virtual_pipeline_model_parallel_size));
  }
  const std::int64_t model_parallel = static_cast<std::int64_t>(p.tensor_model_parallel_size) *
                                      p.pipeline_model_parallel_size * p.context_parallel_size;
  if (model_parallel > 0 && p.world_size > 0 && p.world_size % model_parallel != 0)
    d.errors.push_back(fmt::format("world_size ({}) must be divisible by tensor_model_parallel_size ({}) * "
                                   "pipeline_model_parallel_size ({}) * context_parallel_size ({})",
                                   p.world_size, p.tensor_model_parallel_size, p.pipeline_model_parallel_size,
                                   p.context_parallel_size));
  if (p.overlap_param_gather && !p.use_distributed_optimizer)
    d.errors.push_back("overlap_param_gather: true requires use_distributed_optimizer: true");
}

void check_training(const TrainConfig& c, Diagnostics& d) {
  const auto& t = c.training;
  require_positive(d, "micro_batch_size", t.micro_batch_size);
  require_positive(d, "global_batch_size", t.global_batch_size);
  const std::int64_t per_step = static_cast<std::int64_t>(t.micro_batch_size) * c.parallel.data_parallel_size;
  if (per_step > 0 && t.global_batch_size > 0 && t.global_batch_size % per_step != 0)
    d.errors.push_back(fmt::format("global_batch_size ({}) must be divisible by micro_batch_size ({}) * "
                                   "data_parallel_size ({})",
                                   t.global_batch_size, t.micro_batch_size, c.parallel.data_parallel_size));
  if (t.train_iters <= 0 && !t.train_samples)
    d.errors.push_back(fmt::format("train_iters ({}) must be positive, or set train_samples", t.train_iters));
  if (c.logging.log_interval <= 0)
    d.errors.push_back(fmt::format("log_interval must be positive, got {}", c.logging.log_interval));
  if (t.eval_interval <= 0) d.errors.push_back(fmt::format("eval_interval must be positive, got {}", t.eval_interval));
  if (t.eval_iters < 0) d.errors.push_back(fmt::format("eval_iters must not be negative, got {}", t.eval_iters));
  if (t.recompute_granularity == RecomputeGranularity::full && t.recompute_method == RecomputeMethod::none)
    d.errors.push_back("recompute_granularity: full needs recompute_method (uniform or block)");
  // Megatron reads recompute_modules only under selective recompute and ignores it otherwise.
  if (t.recompute_granularity != RecomputeGranularity::selective &&
      t.recompute_modules != std::vector<RecomputeModule>{RecomputeModule::core_attn}) {
    std::vector<std::string_view> names;
    for (RecomputeModule m : t.recompute_modules) names.push_back(kRecomputeModuleNames[static_cast<std::size_t>(m)]);
    d.warnings.push_back(fmt::format("recompute_modules [{}] is ignored without recompute_granularity: selective "
                                     "(got {}), as in Megatron",
                                     fmt::join(names, ", "),
                                     t.recompute_granularity == RecomputeGranularity::full ? "full" : "null"));
  }
}

void check_optimizer(const OptimizerConfig& o, Diagnostics& d) {
  if (o.lr < 0) d.errors.push_back(fmt::format("lr must not be negative, got {}", o.lr));
  if (o.lr < o.min_lr) d.errors.push_back(fmt::format("lr ({}) must be >= min_lr ({})", o.lr, o.min_lr));
  if (o.lr_warmup_iters < 0)
    d.errors.push_back(fmt::format("lr_warmup_iters must not be negative, got {}", o.lr_warmup_iters));
  if (o.adam_beta1 < 0 || o.adam_beta1 >= 1)
    d.errors.push_back(fmt::format("adam_beta1 must be in [0, 1), got {}", o.adam_beta1));
  if (o.adam_beta2 < 0 || o.adam_beta2 >= 1)
    d.errors.push_back(fmt::format("adam_beta2 must be in [0, 1), got {}", o.adam_beta2));
  if (o.adam_eps <= 0) d.errors.push_back(fmt::format("adam_eps must be positive, got {}", o.adam_eps));
  if (o.weight_decay < 0) d.errors.push_back(fmt::format("weight_decay must not be negative, got {}", o.weight_decay));
  if (o.clip_grad < 0) d.errors.push_back(fmt::format("clip_grad must not be negative, got {}", o.clip_grad));
}

void check_data(const DataConfig& data, Diagnostics& d) {
  if (!data.mock_data && data.data_path.empty() && data.train_data_path.empty())
    d.errors.push_back("no training data: set data_path (or train_data_path), or mock_data: true");
}

}  // namespace

void check_cross_key_rules(const TrainConfig& config, Diagnostics& diagnostics) {
  check_model(config.model, config.parallel, diagnostics);
  check_parallel(config.model, config.parallel, diagnostics);
  check_training(config, diagnostics);
  check_optimizer(config.optimizer, diagnostics);
  check_data(config.data, diagnostics);
}

}  // namespace primus::config
