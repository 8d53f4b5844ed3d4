// Checks the shipped YAML data: the model zoo (primus/configs/models/megatron),
// the trainer defaults (primus/configs/modules/megatron), the example experiments
// (examples/megatron/configs) and the Primus compatibility fixtures
// (tests/config_fixtures). Inheritance is followed here by a small recursive
// merge of our own, so these checks do not depend on the config loader.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const fs::path kSourceDir = PRIMUS_SOURCE_DIR;
const fs::path kModelsDir = kSourceDir / "primus/configs/models/megatron";
const fs::path kModulesDir = kSourceDir / "primus/configs/modules/megatron";
const fs::path kExamplesDir = kSourceDir / "examples/megatron/configs";
const fs::path kFixturesDir = kSourceDir / "tests/config_fixtures";

std::vector<fs::path> yaml_files_under(const fs::path& root) {
  std::vector<fs::path> files;
  if (!fs::exists(root)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// A zoo model file: one that names a concrete model (not language_model.yaml or a *_base.yaml).
bool is_concrete_model(const fs::path& file) {
  const std::string stem = file.stem().string();
  return stem != "language_model" && !stem.ends_with("_base");
}

// extends: may be a string or a list of strings.
std::vector<std::string> extends_of(const YAML::Node& doc) {
  std::vector<std::string> bases;
  const YAML::Node node = doc["extends"];
  if (!node) return bases;
  if (node.IsScalar()) {
    bases.push_back(node.as<std::string>());
  } else if (node.IsSequence()) {
    for (const auto& item : node) bases.push_back(item.as<std::string>());
  } else {
    throw std::runtime_error("extends: must be a string or a list of strings");
  }
  return bases;
}

// Relative to the including file first, then the zoo folders; empty when not found.
fs::path resolve_include(const fs::path& including_file, const std::string& name) {
  for (const fs::path& dir : {including_file.parent_path(), kModelsDir, kModulesDir}) {
    const fs::path candidate = dir / name;
    if (fs::is_regular_file(candidate)) return fs::weakly_canonical(candidate);
  }
  return {};
}

// "${PRIMUS_MODEL:llama4_17B16E}.yaml" -> "llama4_17B16E.yaml": each ${NAME:default} becomes its
// default, as Primus's loader does when NAME is unset (its newer MI300X files name the model so).
std::string with_env_defaults(std::string text) {
  for (std::size_t start = text.find("${"); start != std::string::npos; start = text.find("${", start)) {
    const std::size_t end = text.find('}', start);
    const std::size_t colon = text.find(':', start);
    if (end == std::string::npos || colon == std::string::npos || colon > end) break;
    text.replace(start, end - start + 1, text.substr(colon + 1, end - colon - 1));
  }
  return text;
}

// Maps merge key by key (recursively); anything else is replaced by the override.
YAML::Node deep_merge(const YAML::Node& base, const YAML::Node& override_node) {
  if (!base.IsMap() || !override_node.IsMap()) return YAML::Clone(override_node);
  YAML::Node merged = YAML::Clone(base);
  for (const auto& item : override_node) {
    const std::string key = item.first.as<std::string>();
    if (merged[key]) {
      merged[key] = deep_merge(merged[key], item.second);
    } else {
      merged[key] = YAML::Clone(item.second);
    }
  }
  return merged;
}

// Earlier bases are overridden by later ones; the file's own keys win.
YAML::Node resolve_file(const fs::path& file, std::vector<fs::path>& stack) {
  const fs::path canonical = fs::weakly_canonical(file);
  if (std::find(stack.begin(), stack.end(), canonical) != stack.end())
    throw std::runtime_error("extends: cycle through " + canonical.string());
  stack.push_back(canonical);
  const YAML::Node doc = YAML::LoadFile(canonical.string());
  YAML::Node result(YAML::NodeType::Map);
  for (const std::string& base : extends_of(doc)) {
    const fs::path base_path = resolve_include(canonical, base);
    if (base_path.empty())
      throw std::runtime_error(canonical.string() + ": extends target not found: " + base);
    result = deep_merge(result, resolve_file(base_path, stack));
  }
  YAML::Node own = YAML::Clone(doc);
  own.remove("extends");
  stack.pop_back();
  return deep_merge(result, own);
}

YAML::Node resolve_file(const fs::path& file) {
  std::vector<fs::path> stack;
  return resolve_file(file, stack);
}

bool has_value(const YAML::Node& config, const std::string& key) {
  return config[key] && !config[key].IsNull();
}

// A key that must hold an integer; reports the file and key when it does not.
long long int_value(const YAML::Node& config, const std::string& key, const fs::path& file) {
  if (!has_value(config, key)) {
    ADD_FAILURE() << file << ": " << key << " is missing or null";
    return 0;
  }
  try {
    return config[key].as<long long>();
  } catch (const YAML::Exception&) {
    ADD_FAILURE() << file << ": " << key << " is not an integer: " << config[key].as<std::string>();
    return 0;
  }
}

// Numbers copied from each model's published Hugging Face config.json
// (num_hidden_layers, hidden_size, intermediate_size, num_attention_heads,
// num_key_value_heads, vocab_size, tie_word_embeddings, head_dim; for MoE models
// num_experts / num_local_experts, num_experts_per_tok, moe_intermediate_size).
struct PublishedArchitecture {
  const char* model_file;
  int num_layers;
  int hidden_size;
  int ffn_hidden_size;
  int num_attention_heads;
  int num_query_groups;
  int vocab_size;
  bool tied_embeddings;
  int head_dim;  // 0: hidden_size / num_attention_heads
  int num_experts;  // 0: dense
  int moe_router_topk;
  int moe_ffn_hidden_size;
};

constexpr PublishedArchitecture kPublished[] = {
    {"llama2_7B.yaml", 32, 4096, 11008, 32, 32, 32000, false, 0, 0, 0, 0},
    {"llama2_70B.yaml", 80, 8192, 28672, 64, 8, 32000, false, 0, 0, 0, 0},
    {"llama3_8B.yaml", 32, 4096, 14336, 32, 8, 128256, false, 0, 0, 0, 0},
    {"llama3.1_8B.yaml", 32, 4096, 14336, 32, 8, 128256, false, 0, 0, 0, 0},
    {"llama3.1_70B.yaml", 80, 8192, 28672, 64, 8, 128256, false, 0, 0, 0, 0},
    {"llama3.1_405B.yaml", 126, 16384, 53248, 128, 8, 128256, false, 0, 0, 0, 0},
    {"llama3.2_1B.yaml", 16, 2048, 8192, 32, 8, 128256, true, 0, 0, 0, 0},
    {"llama3.2_3B.yaml", 28, 3072, 8192, 24, 8, 128256, true, 0, 0, 0, 0},
    {"qwen2.5_3B.yaml", 36, 2048, 11008, 16, 2, 151936, true, 0, 0, 0, 0},
    {"qwen2.5_7B.yaml", 28, 3584, 18944, 28, 4, 152064, false, 0, 0, 0, 0},
    {"qwen2.5_72B.yaml", 80, 8192, 29568, 64, 8, 152064, false, 0, 0, 0, 0},
    {"qwen3_4B.yaml", 36, 2560, 9728, 32, 8, 151936, true, 128, 0, 0, 0},
    {"qwen3_8B.yaml", 36, 4096, 12288, 32, 8, 151936, false, 128, 0, 0, 0},
    {"qwen3_32B.yaml", 64, 5120, 25600, 64, 8, 151936, false, 128, 0, 0, 0},
    {"mixtral_8x7B_v0.1.yaml", 32, 4096, 14336, 32, 8, 32000, false, 0, 8, 2, 14336},
    {"mixtral_8x22B_v0.1.yaml", 56, 6144, 16384, 48, 8, 32000, false, 0, 8, 2, 16384},
    // ffn_hidden_size is HF intermediate_size (Llama 4: intermediate_size_mlp, the dense MLP width).
    {"qwen3_30B_A3B.yaml", 48, 2048, 6144, 32, 4, 151936, false, 128, 128, 8, 768},
    {"qwen3_235B_A22B.yaml", 94, 4096, 12288, 64, 4, 151936, false, 128, 128, 8, 1536},
    {"qwen3_5_35B_A3B.yaml", 40, 2048, 0, 16, 2, 248320, false, 256, 256, 8, 512},
    {"llama4_17B16E.yaml", 48, 5120, 16384, 40, 8, 202048, false, 0, 16, 1, 8192},
    {"llama4_17B128E.yaml", 48, 5120, 16384, 40, 8, 202048, false, 0, 128, 1, 8192},
};

}  // namespace

TEST(ZooFiles, EveryYamlParses) {
  std::vector<fs::path> files = yaml_files_under(kSourceDir / "primus");
  for (const auto& file : yaml_files_under(kSourceDir / "examples")) files.push_back(file);
  for (const auto& file : yaml_files_under(kFixturesDir)) files.push_back(file);
  ASSERT_GE(files.size(), 60u) << "expected the zoo, the module defaults, the examples and the fixtures";
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    YAML::Node doc;
    ASSERT_NO_THROW(doc = YAML::LoadFile(file.string()));
    EXPECT_TRUE(doc.IsMap()) << file << ": top level must be a mapping";
  }
}

TEST(ZooFiles, EveryExtendsTargetExists) {
  std::vector<fs::path> files = yaml_files_under(kSourceDir / "primus");
  for (const auto& file : yaml_files_under(kSourceDir / "examples")) files.push_back(file);
  int extends_seen = 0;
  for (const auto& file : files) {
    const YAML::Node doc = YAML::LoadFile(file.string());
    for (const std::string& base : extends_of(doc)) {
      ++extends_seen;
      EXPECT_FALSE(resolve_include(file, base).empty()) << file << ": extends target not found: " << base;
    }
    EXPECT_NO_THROW(resolve_file(file)) << file;
  }
  EXPECT_GE(extends_seen, 42);  // every zoo file but language_model.yaml, plus pre_trainer.yaml
}

TEST(ZooFiles, PreTrainerExtendsTrainerBase) {
  const YAML::Node pre_trainer = resolve_file(kModulesDir / "pre_trainer.yaml");
  // From trainer_base, untouched by pre_trainer.
  EXPECT_EQ(pre_trainer["backend"].as<std::string>(), "auto");
  EXPECT_EQ(pre_trainer["optimizer"].as<std::string>(), "adam");
  EXPECT_TRUE(pre_trainer["bf16"].as<bool>());
  EXPECT_EQ(pre_trainer["stderr_sink_level"].as<std::string>(), "INFO");
  // pre_trainer's own values win; pretraining starts from scratch.
  EXPECT_EQ(pre_trainer["train_iters"].as<int>(), 1000);
  EXPECT_FALSE(pre_trainer["finetune"].as<bool>());
  EXPECT_FALSE(pre_trainer["mock_data"].as<bool>());
}

TEST(ZooFiles, ModelFilesHaveConsistentArchitecture) {
  int models_checked = 0;
  for (const auto& file : yaml_files_under(kModelsDir)) {
    if (!is_concrete_model(file)) continue;
    SCOPED_TRACE(file.string());
    ++models_checked;
    const YAML::Node model = resolve_file(file);
    const long long num_layers = int_value(model, "num_layers", file);
    const long long hidden_size = int_value(model, "hidden_size", file);
    const long long num_attention_heads = int_value(model, "num_attention_heads", file);
    const long long vocab_size = int_value(model, "vocab_size", file);
    EXPECT_GT(num_layers, 0);
    EXPECT_GT(hidden_size, 0);
    EXPECT_GT(num_attention_heads, 0);
    EXPECT_GT(vocab_size, 0);
    if (num_attention_heads > 0 && !has_value(model, "kv_channels")) {
      EXPECT_EQ(hidden_size % num_attention_heads, 0) << "hidden_size not divisible by heads and no kv_channels";
    }
    if (has_value(model, "group_query_attention") && model["group_query_attention"].as<bool>()) {
      const long long groups = int_value(model, "num_query_groups", file);
      EXPECT_GT(groups, 0);
      if (groups > 0) {
        EXPECT_EQ(num_attention_heads % groups, 0) << "heads not divisible by num_query_groups";
      }
    }
    if (has_value(model, "num_experts")) {
      EXPECT_GT(int_value(model, "moe_ffn_hidden_size", file), 0);
      EXPECT_LE(int_value(model, "moe_router_topk", file), int_value(model, "num_experts", file));
    }
  }
  EXPECT_GE(models_checked, 32);
}

TEST(ZooFiles, ModelFilesNameTheirSource) {
  for (const auto& file : yaml_files_under(kModelsDir)) {
    if (!is_concrete_model(file) || file.stem().string().starts_with("tiny_llama")) continue;
    const YAML::Node model = resolve_file(file);
    EXPECT_EQ(model["tokenizer_type"].as<std::string>(""), "HuggingFaceTokenizer") << file;
    EXPECT_TRUE(has_value(model, "tokenizer_model")) << file;
    std::ifstream in(file);
    std::string first_line;
    std::getline(in, first_line);
    EXPECT_TRUE(first_line.starts_with("# HF source: ")) << file << ": first line is '" << first_line << "'";
  }
}

TEST(ZooFiles, ArchitecturesMatchPublishedConfigs) {
  for (const auto& expected : kPublished) {
    const fs::path file = kModelsDir / expected.model_file;
    SCOPED_TRACE(file.string());
    ASSERT_TRUE(fs::exists(file));
    const YAML::Node model = resolve_file(file);
    EXPECT_EQ(int_value(model, "num_layers", file), expected.num_layers);
    EXPECT_EQ(int_value(model, "hidden_size", file), expected.hidden_size);
    if (expected.ffn_hidden_size != 0) {  // 0: not in the HF config (an all-MoE model)
      EXPECT_EQ(int_value(model, "ffn_hidden_size", file), expected.ffn_hidden_size);
    }
    EXPECT_EQ(int_value(model, "num_attention_heads", file), expected.num_attention_heads);
    const bool grouped = has_value(model, "group_query_attention") && model["group_query_attention"].as<bool>();
    const long long groups = grouped ? int_value(model, "num_query_groups", file) : expected.num_attention_heads;
    EXPECT_EQ(groups, expected.num_query_groups);
    EXPECT_EQ(int_value(model, "vocab_size", file), expected.vocab_size);
    EXPECT_EQ(model["untie_embeddings_and_output_weights"].as<bool>(), !expected.tied_embeddings);
    if (expected.head_dim != 0) {
      EXPECT_EQ(int_value(model, "kv_channels", file), expected.head_dim);
    }
    if (expected.num_experts == 0) {
      EXPECT_FALSE(has_value(model, "num_experts")) << "a dense model with experts";
    } else {
      EXPECT_EQ(int_value(model, "num_experts", file), expected.num_experts);
      EXPECT_EQ(int_value(model, "moe_router_topk", file), expected.moe_router_topk);
      EXPECT_EQ(int_value(model, "moe_ffn_hidden_size", file), expected.moe_ffn_hidden_size);
    }
  }
}

// Features Primus's presets leave out or get wrong: Llama 3.x rope scaling, Qwen2.5 QKV bias,
// Qwen3 QK norm, Llama 4 routing and rope layout, Qwen3.5 hybrid attention.
TEST(ZooFiles, FamilyFeaturesMatchPublishedConfigs) {
  const auto model = [](const char* name) { return resolve_file(kModelsDir / name); };
  for (const char* name : {"llama3.1_8B.yaml", "llama3.1_70B.yaml", "llama3.1_405B.yaml", "llama3.3_70B.yaml"}) {
    const YAML::Node config = model(name);
    EXPECT_TRUE(config["use_rope_scaling"].as<bool>()) << name;
    EXPECT_DOUBLE_EQ(config["rope_scaling_factor"].as<double>(), 8.0) << name;
    EXPECT_DOUBLE_EQ(config["rotary_base"].as<double>(), 500000.0) << name;
  }
  for (const char* name : {"llama3.2_1B.yaml", "llama3.2_3B.yaml"}) {
    const YAML::Node config = model(name);
    EXPECT_TRUE(config["use_rope_scaling"].as<bool>()) << name;
    EXPECT_DOUBLE_EQ(config["rope_scaling_factor"].as<double>(), 32.0) << name;
  }
  for (const char* name : {"llama3_8B.yaml", "llama3_70B.yaml", "llama2_7B.yaml"})
    EXPECT_FALSE(model(name)["use_rope_scaling"].as<bool>()) << name;
  for (const char* name : {"qwen2.5_3B.yaml", "qwen2.5_7B.yaml", "qwen2.5_14B.yaml", "qwen2.5_32B.yaml", "qwen2.5_72B.yaml"}) {
    const YAML::Node config = model(name);
    EXPECT_TRUE(config["add_qkv_bias"].as<bool>()) << name;
    EXPECT_FALSE(config["qk_layernorm"].as<bool>()) << name;
    EXPECT_DOUBLE_EQ(config["rotary_base"].as<double>(), 1000000.0) << name;
  }
  for (const char* name : {"qwen3_4B.yaml", "qwen3_8B.yaml", "qwen3_14B.yaml", "qwen3_32B.yaml", "qwen3_30B_A3B.yaml", "qwen3_235B_A22B.yaml"}) {
    const YAML::Node config = model(name);
    EXPECT_TRUE(config["qk_layernorm"].as<bool>()) << name;
    EXPECT_FALSE(config["add_qkv_bias"].as<bool>()) << name;
    EXPECT_EQ(config["kv_channels"].as<int>(), 128) << name;
  }
  const YAML::Node qwen3_moe = model("qwen3_30B_A3B.yaml");
  EXPECT_EQ(qwen3_moe["num_experts"].as<int>(), 128);
  EXPECT_EQ(qwen3_moe["moe_router_topk"].as<int>(), 8);
  EXPECT_EQ(qwen3_moe["moe_ffn_hidden_size"].as<int>(), 768);
  // Llama 4 (HF text_config): no rope on every 4th layer, interleaved rope pairs, one
  // sigmoid-scored expert that scales its input, a shared expert; QK L2 norm and rope
  // scaling on Scout only; Maverick's MoE layers are the odd ones.
  for (const char* name : {"llama4_17B16E.yaml", "llama4_17B128E.yaml"}) {
    const YAML::Node config = model(name);
    EXPECT_EQ(config["no_rope_freq"].as<int>(), 4) << name;
    EXPECT_TRUE(config["rotary_interleaved"].as<bool>()) << name;
    EXPECT_DOUBLE_EQ(config["rotary_base"].as<double>(), 500000.0) << name;
    EXPECT_EQ(config["moe_router_score_function"].as<std::string>(), "sigmoid") << name;
    EXPECT_TRUE(config["moe_apply_probs_on_input"].as<bool>()) << name;
    EXPECT_EQ(config["moe_shared_expert_intermediate_size"].as<int>(), 8192) << name;
  }
  const YAML::Node scout = model("llama4_17B16E.yaml");
  EXPECT_TRUE(scout["qk_l2_norm"].as<bool>());
  EXPECT_TRUE(scout["use_rope_scaling"].as<bool>());
  EXPECT_DOUBLE_EQ(scout["rope_scaling_factor"].as<double>(), 8.0);
  EXPECT_EQ(scout["max_position_embeddings"].as<int>(), 262144);
  EXPECT_EQ(scout["moe_layer_freq"].as<int>(), 1);
  const YAML::Node maverick = model("llama4_17B128E.yaml");
  EXPECT_FALSE(maverick["qk_l2_norm"].as<bool>(false));
  EXPECT_FALSE(maverick["use_rope_scaling"].as<bool>());
  EXPECT_EQ(maverick["max_position_embeddings"].as<int>(), 1048576);
  EXPECT_EQ(maverick["moe_layer_freq"].as<std::string>(), "([0,1]*24)");
  // Qwen3.5 MoE (HF text_config): 3 gated-delta-net layers per gated full-attention layer,
  // a quarter of each 256-wide head rotated, a gated shared expert.
  const YAML::Node qwen35 = model("qwen3_5_35B_A3B.yaml");
  EXPECT_EQ(qwen35["experimental_attention_variant"].as<std::string>(), "gdn");
  EXPECT_EQ(qwen35["linear_attention_freq"].as<int>(), 4);
  EXPECT_EQ(qwen35["linear_num_key_heads"].as<int>(), 16);
  EXPECT_EQ(qwen35["linear_num_value_heads"].as<int>(), 32);
  EXPECT_TRUE(qwen35["attention_output_gate"].as<bool>());
  EXPECT_DOUBLE_EQ(qwen35["rotary_percent"].as<double>(), 0.25);
  EXPECT_DOUBLE_EQ(qwen35["rotary_base"].as<double>(), 10000000.0);
  EXPECT_EQ(qwen35["moe_shared_expert_intermediate_size"].as<int>(), 512);
  EXPECT_TRUE(qwen35["moe_shared_expert_gate"].as<bool>());
  const YAML::Node deepseek_v3 = model("deepseek_v3.yaml");
  EXPECT_TRUE(deepseek_v3["multi_latent_attention"].as<bool>());
  EXPECT_EQ(deepseek_v3["vocab_size"].as<int>(), 129280);
  EXPECT_EQ(deepseek_v3["q_lora_rank"].as<int>(), 1536);
  EXPECT_EQ(deepseek_v3["kv_lora_rank"].as<int>(), 512);
  EXPECT_EQ(deepseek_v3["num_experts"].as<int>(), 256);
  EXPECT_EQ(deepseek_v3["moe_shared_expert_intermediate_size"].as<int>(), 2048);
  EXPECT_EQ(deepseek_v3["moe_router_score_function"].as<std::string>(), "sigmoid");
  const YAML::Node deepseek_v2_lite = model("deepseek_v2_lite.yaml");
  EXPECT_TRUE(deepseek_v2_lite["q_lora_rank"].IsNull());
  EXPECT_EQ(deepseek_v2_lite["vocab_size"].as<int>(), 102400);
  EXPECT_EQ(deepseek_v2_lite["num_experts"].as<int>(), 64);
}

TEST(ZooFiles, TinyModelsHaveTheAgreedShapes) {
  const YAML::Node tiny = resolve_file(kModelsDir / "tiny_llama.yaml");
  EXPECT_EQ(tiny["hidden_size"].as<int>(), 256);
  EXPECT_EQ(tiny["num_layers"].as<int>(), 4);
  EXPECT_EQ(tiny["num_attention_heads"].as<int>(), 8);
  EXPECT_EQ(tiny["num_query_groups"].as<int>(), 4);
  EXPECT_EQ(tiny["ffn_hidden_size"].as<int>(), 688);
  EXPECT_EQ(tiny["vocab_size"].as<int>(), 4096);
  EXPECT_EQ(tiny["seq_length"].as<int>(), 256);
  EXPECT_EQ(tiny["normalization"].as<std::string>(), "RMSNorm");
  EXPECT_EQ(tiny["position_embedding_type"].as<std::string>(), "rope");
  EXPECT_TRUE(tiny["swiglu"].as<bool>());
  EXPECT_TRUE(tiny["untie_embeddings_and_output_weights"].as<bool>());
  const YAML::Node small = resolve_file(kModelsDir / "tiny_llama_20M.yaml");
  EXPECT_EQ(small["hidden_size"].as<int>(), 512);
  EXPECT_EQ(small["num_layers"].as<int>(), 6);
  EXPECT_EQ(small["vocab_size"].as<int>(), 8192);
}

// Experiment files: module config and model resolve in the zoo, and the composed
// flat namespace (module defaults < model < overrides) is a layout Megatron accepts.
TEST(ZooFiles, ExperimentFilesCompose) {
  std::vector<fs::path> experiments = yaml_files_under(kExamplesDir);
  const std::vector<fs::path> fixtures = yaml_files_under(kFixturesDir / "primus_mi300x");
  ASSERT_EQ(fixtures.size(), 9u);
  ASSERT_GE(experiments.size(), 24u);
  std::set<std::string> ours;
  for (const auto& file : experiments) ours.insert(file.string());
  experiments.insert(experiments.end(), fixtures.begin(), fixtures.end());
  for (const auto& file : experiments) {
    SCOPED_TRACE(file.string());
    const YAML::Node doc = YAML::LoadFile(file.string());
    for (const char* key : {"work_group", "user_name", "exp_name", "workspace"})
      EXPECT_TRUE(doc[key] && doc[key].IsScalar()) << key;
    const YAML::Node module = doc["modules"]["pre_trainer"];
    ASSERT_TRUE(module && module.IsMap());
    EXPECT_EQ(module["framework"].as<std::string>(""), "megatron");
    const fs::path config_path = resolve_include(file, with_env_defaults(module["config"].as<std::string>("")));
    const fs::path model_path = resolve_include(file, with_env_defaults(module["model"].as<std::string>("")));
    ASSERT_FALSE(config_path.empty()) << "config: " << module["config"];
    ASSERT_FALSE(model_path.empty()) << "model: " << module["model"];
    ASSERT_TRUE(module["overrides"].IsMap());
    if (!ours.count(file.string())) continue;  // fixtures hold ${VAR:default} values; the loader checks those

    const YAML::Node composed =
        deep_merge(deep_merge(resolve_file(config_path), resolve_file(model_path)), module["overrides"]);
    const long long micro = int_value(composed, "micro_batch_size", file);
    const long long global = int_value(composed, "global_batch_size", file);
    const long long tp = int_value(composed, "tensor_model_parallel_size", file);
    const long long pp = int_value(composed, "pipeline_model_parallel_size", file);
    const long long layers = int_value(composed, "num_layers", file);
    ASSERT_GT(micro * tp * pp, 0);
    EXPECT_EQ(global % micro, 0);
    EXPECT_LE(int_value(composed, "seq_length", file), int_value(composed, "max_position_embeddings", file));
    EXPECT_EQ(int_value(composed, "num_attention_heads", file) % tp, 0);
    if (composed["group_query_attention"].as<bool>()) {
      EXPECT_EQ(int_value(composed, "num_query_groups", file) % tp, 0);
    }
    if (has_value(composed, "num_experts")) {
      EXPECT_EQ(int_value(composed, "num_experts", file) % int_value(composed, "expert_model_parallel_size", file), 0);
    }
    if (has_value(composed, "decoder_first_pipeline_num_layers")) {
      const long long middle = layers - int_value(composed, "decoder_first_pipeline_num_layers", file) -
                               int_value(composed, "decoder_last_pipeline_num_layers", file);
      EXPECT_EQ(middle % (pp - 2), 0);
    } else {
      EXPECT_EQ(layers % pp, 0);
    }
    EXPECT_TRUE(composed["mock_data"].as<bool>());
    EXPECT_FALSE(composed["finetune"].as<bool>());
  }
}

TEST(ZooFiles, TinyExperimentIsTheAgreedDefaultRun) {
  const YAML::Node doc = YAML::LoadFile((kExamplesDir / "tiny_llama-pretrain.yaml").string());
  const YAML::Node overrides = doc["modules"]["pre_trainer"]["overrides"];
  EXPECT_EQ(doc["modules"]["pre_trainer"]["model"].as<std::string>(), "tiny_llama.yaml");
  EXPECT_EQ(overrides["backend"].as<std::string>(), "auto");
  EXPECT_TRUE(overrides["mock_data"].as<bool>());
  EXPECT_EQ(overrides["train_iters"].as<int>(), 200);
  EXPECT_EQ(overrides["micro_batch_size"].as<int>(), 4);
  EXPECT_EQ(overrides["global_batch_size"].as<int>(), 8);
  EXPECT_EQ(overrides["seq_length"].as<int>(), 256);
  EXPECT_DOUBLE_EQ(overrides["lr"].as<double>(), 1e-3);
  EXPECT_DOUBLE_EQ(overrides["min_lr"].as<double>(), 1e-4);
  EXPECT_EQ(overrides["lr_decay_style"].as<std::string>(), "cosine");
  EXPECT_EQ(overrides["lr_warmup_iters"].as<int>(), 20);
  EXPECT_DOUBLE_EQ(overrides["weight_decay"].as<double>(), 0.1);
  EXPECT_DOUBLE_EQ(overrides["clip_grad"].as<double>(), 1.0);
  EXPECT_EQ(overrides["log_interval"].as<int>(), 10);
  EXPECT_EQ(overrides["save_interval"].as<int>(), 100);
  EXPECT_EQ(overrides["eval_interval"].as<int>(), 100);
  EXPECT_EQ(overrides["eval_iters"].as<int>(), 5);
  const YAML::Node small = YAML::LoadFile((kExamplesDir / "tiny_llama_20M-pretrain.yaml").string());
  const YAML::Node small_overrides = small["modules"]["pre_trainer"]["overrides"];
  EXPECT_EQ(small_overrides["train_iters"].as<int>(), 100);
  EXPECT_EQ(small_overrides["log_interval"].as<int>(), 5);
  EXPECT_EQ(small_overrides["save_interval"].as<int>(), 20);
  EXPECT_TRUE(small_overrides["auto_continue_train"].as<bool>());
}
