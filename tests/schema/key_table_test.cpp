// Tests of the schema table (key_table.cpp): order and look-up, that every default is
// valid YAML of the declared type, spot checks of keys from each source (Primus
// presets, Primus examples, Megatron argparse dests), and the implemented set.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "primus/config/key_spec.hpp"

namespace primus::config {
namespace {

const char* type_name(KeyType type) {
  switch (type) {
    case KeyType::Bool: return "Bool";
    case KeyType::Int: return "Int";
    case KeyType::Float: return "Float";
    case KeyType::String: return "String";
    case KeyType::List: return "List";
    case KeyType::Map: return "Map";
    case KeyType::Any: return "Any";
  }
  return "?";
}

// Whether a parsed, non-null default has the shape its declared type asks for.
bool default_matches_type(const YAML::Node& node, KeyType type) {
  try {
    switch (type) {
      case KeyType::Bool: return node.IsScalar() && (node.as<bool>(), true);
      case KeyType::Int: return node.IsScalar() && (node.as<long long>(), true);
      case KeyType::Float: return node.IsScalar() && (node.as<double>(), true);
      case KeyType::String: return node.IsScalar();
      case KeyType::List: return node.IsSequence();
      case KeyType::Map: return node.IsMap();
      case KeyType::Any: return true;
    }
  } catch (const YAML::Exception&) {
    return false;
  }
  return false;
}

TEST(KeyTable, SortedByNameWithoutDuplicates) {
  const auto specs = key_specs();
  ASSERT_FALSE(specs.empty());
  for (std::size_t i = 1; i < specs.size(); ++i) {
    EXPECT_LT(specs[i - 1].name, specs[i].name) << "at index " << i;
  }
}

TEST(KeyTable, HasAtLeast600Keys) { EXPECT_GE(key_specs().size(), 600u); }

TEST(KeyTable, FindKeySpecFindsEveryListedKey) {
  for (const KeySpec& spec : key_specs()) {
    const KeySpec* found = find_key_spec(spec.name);
    ASSERT_NE(found, nullptr) << spec.name;
    EXPECT_EQ(found, &spec) << spec.name;
  }
}

TEST(KeyTable, FindKeySpecRejectsUnknownNames) {
  for (const char* name : {"", "not_a_key", "lr_", "l", "LR", "zzzz", "aaaa", "num_layer", "num_layers "}) {
    EXPECT_EQ(find_key_spec(name), nullptr) << '"' << name << '"';
  }
}

TEST(KeyTable, EveryDefaultParsesAsYamlOfTheDeclaredType) {
  for (const KeySpec& spec : key_specs()) {
    SCOPED_TRACE(std::string(spec.name) + " = " + std::string(spec.default_yaml));
    ASSERT_FALSE(spec.default_yaml.empty());
    YAML::Node node;
    ASSERT_NO_THROW(node = YAML::Load(std::string(spec.default_yaml)));
    if (node.IsNull()) {
      EXPECT_TRUE(spec.nullable) << "null default on a non-nullable key";
      continue;
    }
    EXPECT_TRUE(default_matches_type(node, spec.type)) << "default is not a " << type_name(spec.type);
  }
}

TEST(KeyTable, EveryDocIsOneNonEmptyLine) {
  for (const KeySpec& spec : key_specs()) {
    EXPECT_GE(spec.doc.size(), 8u) << spec.name;
    EXPECT_EQ(spec.doc.find('\n'), std::string_view::npos) << spec.name;
    EXPECT_NE(spec.doc.front(), ' ') << spec.name;
    EXPECT_NE(spec.doc.back(), ' ') << spec.name;
  }
}

struct ExpectedType {
  const char* name;
  KeyType type;
};

// Types as Primus's presets/examples and Megatron's argparse define them.
TEST(KeyTable, SpotCheckTypesAcrossSources) {
  const std::vector<ExpectedType> expected = {
      // Primus trainer presets
      {"global_batch_size", KeyType::Int},
      {"micro_batch_size", KeyType::Int},
      {"lr", KeyType::Float},
      {"min_lr", KeyType::Float},
      {"adam_eps", KeyType::Float},
      {"weight_decay", KeyType::Float},
      {"clip_grad", KeyType::Float},
      {"bf16", KeyType::Bool},
      {"fp8", KeyType::String},
      {"stderr_sink_level", KeyType::String},
      {"sink_level", KeyType::String},
      {"trainable", KeyType::Bool},
      {"torch_compile", KeyType::Map},
      {"pp_algorithm", KeyType::String},
      {"enable_zero_bubble", KeyType::Bool},
      {"use_turbo_attention", KeyType::Bool},
      // Primus model presets
      {"norm_epsilon", KeyType::Float},
      {"num_layers", KeyType::Int},
      {"normalization", KeyType::String},
      {"position_embedding_type", KeyType::String},
      {"rotary_percent", KeyType::Float},
      {"swiglu", KeyType::Bool},
      {"moe_router_topk", KeyType::Int},
      {"moe_aux_loss_coeff", KeyType::Float},
      {"moe_layer_freq", KeyType::Any},
      {"model_type", KeyType::String},
      {"final_logit_softcapping", KeyType::Float},
      {"lfm_layer_types", KeyType::List},
      // Primus example overrides
      {"wandb_project", KeyType::String},
      {"enable_primus_turbo", KeyType::Bool},
      {"cross_entropy_fusion_impl", KeyType::String},
      {"log_avg_skip_iterations", KeyType::Int},
      {"disable_last_saving", KeyType::Bool},
      {"auto_continue_train", KeyType::Bool},
      {"ckpt_format", KeyType::String},
      // Megatron argparse dests
      {"recompute_granularity", KeyType::String},
      {"data_path", KeyType::List},
      {"train_data_path", KeyType::List},
      {"rampup_batch_size", KeyType::List},
      {"add_bias_linear", KeyType::Bool},
      {"tokenizer_type", KeyType::String},
      {"seq_length", KeyType::Int},
      {"train_iters", KeyType::Int},
      {"save_interval", KeyType::Int},
      {"split", KeyType::String},
      {"use_distributed_optimizer", KeyType::Bool},
      {"layernorm_epsilon", KeyType::Float},
      // Primus C++ only
      {"backend", KeyType::String},
      {"max_consecutive_nan_iterations", KeyType::Int},
  };
  for (const ExpectedType& key : expected) {
    const KeySpec* spec = find_key_spec(key.name);
    ASSERT_NE(spec, nullptr) << key.name;
    EXPECT_STREQ(type_name(spec->type), type_name(key.type)) << key.name;
  }
}

// Defaults as the sources set them: Primus preset where it sets one, else Megatron.
TEST(KeyTable, SpotCheckDefaults) {
  const std::vector<std::pair<const char*, std::string_view>> expected = {
      {"seed", "1234"},                       // trainer_base.yaml
      {"make_vocab_size_divisible_by", "128"},  // trainer_base.yaml
      {"adam_beta1", "0.9"},                  // trainer_base.yaml
      {"lr", "2e-05"},                        // pre_trainer.yaml overrides trainer_base's 2.5e-4
      {"log_interval", "1"},                  // pre_trainer.yaml (Megatron: 100)
      {"file_sink_level", "DEBUG"},           // module_base.yaml
      {"stderr_sink_level", "INFO"},          // module_base.yaml
      {"sink_level", "null"},                 // module_base.yaml
      {"untie_embeddings_and_output_weights", "true"},  // language_model.yaml
      {"position_embedding_type", "learned_absolute"},  // language_model.yaml
      {"relative_attention_num_buckets", "32"},         // Megatron only
      {"backend", "auto"},
      {"max_consecutive_nan_iterations", "10"},
  };
  for (const auto& [name, default_yaml] : expected) {
    const KeySpec* spec = find_key_spec(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_EQ(spec->default_yaml, default_yaml) << name;
  }
}

// Megatron flags are listed under their argparse dest, never under the flag's name.
TEST(KeyTable, ListsArgparseDestsNotFlagNames) {
  for (const char* dest : {"add_bias_linear", "bert_binary_head", "add_position_embedding", "ckpt_fully_parallel_save",
                           "masked_softmax_fusion", "gradient_accumulation_fusion", "layernorm_epsilon"}) {
    EXPECT_NE(find_key_spec(dest), nullptr) << dest;
  }
  for (const char* flag : {"disable_bias_linear", "bert_no_binary_head", "no_position_embedding",
                           "no_ckpt_fully_parallel_save", "no_masked_softmax_fusion",
                           "no_gradient_accumulation_fusion"}) {
    EXPECT_EQ(find_key_spec(flag), nullptr) << flag;
  }
}

TEST(KeyTable, ExperimentStructureKeysBelongToTheLoader) {
  for (const char* name : {"work_group", "user_name", "exp_name", "workspace", "modules", "framework", "config",
                           "model", "overrides", "bases", "extends"}) {
    EXPECT_EQ(find_key_spec(name), nullptr) << name;
  }
}

TEST(KeyTable, EngineKeysAreImplemented) {
  for (const char* name :
       {"num_layers", "hidden_size", "ffn_hidden_size", "num_attention_heads", "group_query_attention",
        "num_query_groups", "kv_channels", "seq_length", "max_position_embeddings", "vocab_size",
        "make_vocab_size_divisible_by", "normalization", "norm_epsilon", "apply_layernorm_1p", "swiglu",
        "add_bias_linear", "add_qkv_bias", "qk_layernorm", "untie_embeddings_and_output_weights",
        "position_embedding_type", "rotary_base", "rotary_percent", "rotary_interleaved",
        "rotary_seq_len_interpolation_factor", "use_rope_scaling", "rope_scaling_factor", "init_method_std",
        "hidden_dropout", "attention_dropout", "num_experts", "moe_router_topk", "moe_ffn_hidden_size",
        "moe_shared_expert_intermediate_size", "moe_aux_loss_coeff", "multi_latent_attention", "q_lora_rank",
        "kv_lora_rank", "qk_head_dim", "qk_pos_emb_head_dim", "v_head_dim", "tensor_model_parallel_size",
        "pipeline_model_parallel_size", "virtual_pipeline_model_parallel_size",
        "num_layers_per_virtual_pipeline_stage", "context_parallel_size", "expert_model_parallel_size",
        "sequence_parallel", "use_distributed_optimizer", "overlap_grad_reduce", "overlap_param_gather",
        "micro_batch_size", "global_batch_size", "train_iters", "train_samples", "seed", "eval_interval",
        "eval_iters", "bf16", "fp16", "recompute_granularity", "recompute_method", "recompute_num_layers",
        "exit_interval", "optimizer", "lr", "min_lr", "lr_decay_style", "lr_decay_iters", "lr_warmup_iters",
        "lr_warmup_fraction", "lr_warmup_init", "lr_wsd_decay_iters", "lr_wsd_decay_style", "weight_decay",
        "adam_beta1", "adam_beta2", "adam_eps", "clip_grad", "mock_data", "data_path", "train_data_path",
        "valid_data_path", "test_data_path", "split", "data_cache_path", "tokenizer_type", "tokenizer_model",
        "eod_mask_loss", "reset_position_ids", "reset_attention_mask", "save", "load", "save_interval",
        "no_save_optim", "no_save_rng", "no_load_optim", "no_load_rng", "finetune", "auto_continue_train",
        "disable_last_saving", "log_interval", "disable_tensorboard", "tensorboard_dir", "stderr_sink_level",
        "file_sink_level", "sink_level", "log_avg_skip_iterations", "log_avg_reset_interval", "log_throughput",
        "backend", "max_consecutive_nan_iterations"}) {
    const KeySpec* spec = find_key_spec(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_TRUE(spec->implemented) << name;
  }
}

TEST(KeyTable, PerformanceHintsAndIntegrationsAreNotImplemented) {
  for (const char* name : {"use_flash_attn", "apply_rope_fusion", "masked_softmax_fusion", "bias_swiglu_fusion",
                           "gradient_accumulation_fusion", "attention_softmax_in_fp32", "transformer_impl",
                           "enable_primus_turbo", "cross_entropy_fusion_impl", "wandb_project", "wandb_exp_name",
                           "fp8", "moe_grouped_gemm"}) {
    const KeySpec* spec = find_key_spec(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_FALSE(spec->implemented) << name;
  }
}

// Keys used by Primus's MI300X llama/qwen/mixtral experiments and the presets they
// inherit (fixtures/primus_example_keys.txt): each must be known.
TEST(KeyTable, KnowsEveryKeyOfPrimusLlamaQwenMixtralExamples) {
  const std::string path = std::string(PRIMUS_TEST_DATA_DIR) + "/schema/fixtures/primus_example_keys.txt";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot open " << path;
  std::vector<std::string> keys;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) keys.push_back(line);
  }
  ASSERT_GE(keys.size(), 300u) << path;
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size());
  for (const std::string& key : keys) {
    EXPECT_NE(find_key_spec(key), nullptr) << key << " (from " << path << ")";
  }
}

}  // namespace
}  // namespace primus::config
