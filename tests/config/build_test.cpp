// Typed build: every field from the flat settings, derived fields (Megatron's
// rules), schema errors (unknown keys, types, unimplemented keys) and cross-key checks.
#include <gtest/gtest.h>

#include "primus/config/build.hpp"
#include "primus/config/key_spec.hpp"
#include "test_support.hpp"

namespace primus::config {
namespace {

using testing::config_error_of;
using testing::expect_contains;
using testing::experiment;
using testing::FixtureRootTest;
using testing::ScopedEnv;
using testing::TempDir;

class BuildTest : public FixtureRootTest {
 protected:
  TrainConfig build(const std::vector<std::string>& cli, int world_size = 1, std::vector<std::string>* warnings = nullptr,
                    bool strict = false) {
    BuildOptions options;
    options.world_size = world_size;
    options.strict = strict;
    return load_train_config(experiment("tiny-pretrain.yaml"), cli, options, warnings);
  }
  std::string error(const std::vector<std::string>& cli, int world_size = 1) {
    return config_error_of([&] { build(cli, world_size); });
  }
};

TEST_F(BuildTest, FieldsComeFromTheResolvedSettings) {
  TrainConfig c = build({});
  EXPECT_EQ(c.experiment.exp_name, "tiny-pretrain");
  EXPECT_EQ(c.experiment.config_file, experiment("tiny-pretrain.yaml").string());
  EXPECT_EQ(c.model.num_layers, 4);
  EXPECT_EQ(c.model.hidden_size, 256);
  EXPECT_EQ(c.model.ffn_hidden_size, 704);
  EXPECT_EQ(c.model.num_query_groups, 2);
  EXPECT_DOUBLE_EQ(c.model.norm_epsilon, 1e-6);  // overrides' norm_epsilon reaches ModelConfig
  EXPECT_DOUBLE_EQ(c.model.rotary_base, 500000.0);
  EXPECT_EQ(c.model.normalization, Normalization::RMSNorm);
  EXPECT_EQ(c.model.position_embedding_type, PositionEmbeddingType::rope);
  EXPECT_TRUE(c.model.swiglu);
  EXPECT_FALSE(c.model.add_bias_linear);
  EXPECT_EQ(c.model.seq_length, 512);
  EXPECT_EQ(c.model.max_position_embeddings, 2048);
  EXPECT_EQ(c.training.train_iters, 50);
  EXPECT_EQ(c.training.micro_batch_size, 2);
  EXPECT_EQ(c.training.global_batch_size, 8);
  EXPECT_EQ(c.training.precision, Precision::bf16);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 3e-4);
  EXPECT_DOUBLE_EQ(c.optimizer.min_lr, 3e-5);
  EXPECT_EQ(c.optimizer.lr_decay_style, LrDecayStyle::cosine);
  EXPECT_EQ(c.optimizer.lr_warmup_iters, 40);
  EXPECT_DOUBLE_EQ(c.optimizer.weight_decay, 0.0);
  EXPECT_EQ(c.data.data_path, std::vector<std::string>{"override_only"});
  EXPECT_TRUE(c.data.mock_data);
  EXPECT_EQ(c.logging.stderr_sink_level, LogLevel::debug);  // "DEBUG": levels ignore case
  EXPECT_EQ(c.logging.file_sink_level, LogLevel::debug);
  EXPECT_FALSE(c.logging.sink_level.has_value());
  // Not set anywhere: the schema (Megatron) default.
  EXPECT_DOUBLE_EQ(c.optimizer.adam_eps, 1e-8);
}

TEST_F(BuildTest, DerivedFieldsFollowMegatron) {
  TrainConfig c = build({});
  EXPECT_EQ(c.model.kv_channels, 256 / 8);
  EXPECT_EQ(c.model.padded_vocab_size, 1024);  // 1000 up to a multiple of 128
  EXPECT_EQ(c.parallel.data_parallel_size, 1);
  EXPECT_EQ(c.training.num_micro_batches, 4);  // 8 / (2 * 1)
  EXPECT_EQ(c.optimizer.lr_decay_iters, 50);   // null -> train_iters
  EXPECT_EQ(c.data.eod_token_id, 999);
}

TEST_F(BuildTest, FfnHiddenSizeDerivation) {
  // SwiGLU: int(4 * 256 * 2 / 3 / 64) * 64 = int(10.67) * 64 = 640.
  EXPECT_EQ(build({"--ffn_hidden_size", "null"}).model.ffn_hidden_size, 640);
  EXPECT_EQ(build({"--ffn_hidden_size", "null", "--swiglu", "false"}).model.ffn_hidden_size, 1024);
}

TEST_F(BuildTest, QueryGroupsEqualHeadsWithoutGroupQueryAttention) {
  EXPECT_EQ(build({"--group_query_attention", "false"}).model.num_query_groups, 8);
}

TEST_F(BuildTest, ParallelLayoutDerivesDataParallelAndMicroBatches) {
  TrainConfig c = build({"--tensor_model_parallel_size", "2", "--pipeline_model_parallel_size", "2"}, 8);
  EXPECT_EQ(c.parallel.world_size, 8);
  EXPECT_EQ(c.parallel.data_parallel_size, 2);
  EXPECT_EQ(c.training.num_micro_batches, 2);  // 8 / (2 * 2)
  EXPECT_EQ(c.model.padded_vocab_size, 1024);  // multiple of 128 * 2 = 256
  EXPECT_EQ(build({"--vocab_size", "1025", "--tensor_model_parallel_size", "2"}, 2).model.padded_vocab_size, 1280);
}

TEST_F(BuildTest, WorldSizeComesFromTheLauncherEnvironment) {
  {
    ScopedEnv world("OMPI_COMM_WORLD_SIZE", "4");
    EXPECT_EQ(build({}, 0).parallel.world_size, 4);
    ScopedEnv torchrun("WORLD_SIZE", "2");  // WORLD_SIZE is read first
    EXPECT_EQ(build({}, 0).parallel.world_size, 2);
  }
  EXPECT_EQ(build({}, 0).parallel.world_size, 1);
  ScopedEnv broken("WORLD_SIZE", "two");
  expect_contains(error({}, 0), {"WORLD_SIZE", "'two'"});
}

TEST_F(BuildTest, SamplesAndFractionsBecomeIterations) {
  TrainConfig c = build({"--train_iters", "null", "--train_samples", "1000", "--lr_warmup_iters", "0",
                         "--lr_warmup_fraction", "0.1"});
  EXPECT_EQ(c.training.train_iters, 125);  // 1000 / 8
  EXPECT_EQ(c.optimizer.lr_decay_iters, 125);
  EXPECT_EQ(c.optimizer.lr_warmup_iters, 12);  // int(0.1 * 125)
  expect_contains(error({"--train_samples", "1000"}), {"train_iters (50", "train_samples (1000", "train_iters: null"});
  expect_contains(error({"--lr_warmup_fraction", "0.1"}), {"lr_warmup_fraction", "lr_warmup_iters (40"});
}

TEST_F(BuildTest, PrecisionAndLogLevels) {
  EXPECT_EQ(build({"--bf16", "false"}).training.precision, Precision::fp32);
  EXPECT_EQ(build({"--bf16", "false", "--fp16", "true"}).training.precision, Precision::fp16);
  expect_contains(error({"--fp16", "true"}), {"bf16", "fp16", "both true"});
  TrainConfig c = build({"--sink_level", "Error"});
  EXPECT_EQ(c.logging.sink_level, LogLevel::error);
  EXPECT_EQ(c.logging.stderr_sink_level, LogLevel::error);
  EXPECT_EQ(c.logging.file_sink_level, LogLevel::error);
  expect_contains(error({"--stderr_sink_level", "LOUD"}), {"stderr_sink_level", "'LOUD'", "debug", "info"});
}

TEST_F(BuildTest, BadChoicesNameKeyValueAndChoices) {
  expect_contains(error({"--normalization", "BatchNorm"}),
                  {"<command line> argument 1", "'normalization'", "'BatchNorm'", "RMSNorm, LayerNorm"});
  EXPECT_EQ(build({"--lr_decay_style", "inverse-square-root"}).optimizer.lr_decay_style,
            LrDecayStyle::inverse_square_root);
}

// Megatron's recompute_modules: null means ["core_attn"]; names are its choices (in a YAML
// list or its nargs='+' string); it means something only with recompute_granularity: selective.
TEST_F(BuildTest, RecomputeModulesFollowMegatron) {
  using M = RecomputeModule;
  EXPECT_EQ(build({}).training.recompute_modules, std::vector<M>{M::core_attn});
  EXPECT_EQ(build({"--recompute_modules", "null"}).training.recompute_modules, std::vector<M>{M::core_attn});
  TrainConfig c = build({"--recompute_granularity", "selective", "--recompute_modules", "[layernorm, mlp]"});
  EXPECT_EQ(c.training.recompute_granularity, RecomputeGranularity::selective);
  EXPECT_EQ(c.training.recompute_modules, (std::vector<M>{M::layernorm, M::mlp}));
  EXPECT_EQ(build({"--recompute_granularity", "selective", "--recompute_modules", "mlp moe_act"})
                .training.recompute_modules,
            (std::vector<M>{M::mlp, M::moe_act}));
  EXPECT_TRUE(build({"--recompute_granularity", "selective", "--recompute_modules", "[]"})
                  .training.recompute_modules.empty());

  TempDir dir;
  auto file = dir.write("recompute.yaml",
                        "modules:\n  pre_trainer:\n    model: tiny_gqa.yaml\n    overrides:\n"
                        "      recompute_granularity: selective\n      recompute_modules: [layernorm, attention]\n");
  expect_contains(config_error_of([&] { load_train_config(file, {}, BuildOptions{false, 1}); }),
                  {file.string() + ":6:7", "'recompute_modules'", "'attention'",
                   "core_attn, moe_act, layernorm, mla_up_proj, mlp, moe, shared_experts"});
  expect_contains(error({"--recompute_granularity", "selective", "--recompute_modules", "[mlp, [layernorm]]"}),
                  {"'recompute_modules' entry [layernorm] is list; expected a name"});
}

TEST_F(BuildTest, RecomputeModulesWithoutSelectiveAreIgnoredWithAWarning) {
  std::vector<std::string> warnings;
  TrainConfig c = build({"--recompute_modules", "[layernorm]"}, 1, &warnings);
  EXPECT_EQ(c.training.recompute_granularity, RecomputeGranularity::none);
  ASSERT_EQ(warnings.size(), 1u);
  expect_contains(warnings[0], {"recompute_modules [layernorm] is ignored",
                                "without recompute_granularity: selective (got null)"});
  warnings.clear();
  build({"--recompute_granularity", "full", "--recompute_method", "block", "--recompute_num_layers", "1",
         "--recompute_modules", "[mlp, layernorm]"},
        1, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  expect_contains(warnings[0], {"recompute_modules [mlp, layernorm] is ignored", "(got full)"});
  warnings.clear();
  build({"--recompute_modules", "[core_attn]"}, 1, &warnings);  // Megatron's default: nothing to say
  build({"--recompute_granularity", "selective", "--recompute_modules", "[mlp]"}, 1, &warnings);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
}

TEST_F(BuildTest, UnknownKeySuggestsTheClosestKnownOne) {
  TempDir dir;
  auto file = dir.write("typo.yaml",
                        "modules:\n  pre_trainer:\n    model: tiny_gqa.yaml\n    overrides:\n"
                        "      global_batch_sise: 8\n      zzzz_qqqq_xxxx: 1\n");
  std::string message = config_error_of([&] { load_train_config(file, {}, BuildOptions{false, 1}); });
  expect_contains(message, {file.string() + ":5:7", "unknown key 'global_batch_sise'",
                            "did you mean 'global_batch_size'?", "unknown key 'zzzz_qqqq_xxxx'"});
  EXPECT_EQ(message.find("'zzzz_qqqq_xxxx'; did you mean"), std::string::npos);  // nothing close: no guess
}

TEST_F(BuildTest, UnknownTopLevelKeysAreReportedAsIgnored) {
  TempDir dir;
  auto file = dir.write("meta.yaml", "exp_nmae: typo\nmodules:\n  pre_trainer:\n    model: tiny_gqa.yaml\n");
  std::vector<std::string> warnings;
  TrainConfig c = load_train_config(file, {}, BuildOptions{false, 1}, &warnings);
  EXPECT_EQ(c.experiment.exp_name, "experiment");  // the typo did not set it
  ASSERT_EQ(warnings.size(), 1u);
  expect_contains(warnings[0], {file.string() + ":1:1", "'exp_nmae' is ignored", "did you mean 'exp_name'?"});
}

TEST_F(BuildTest, WrongTypeNamesKeyValueLocationAndExpectedType) {
  TempDir dir;
  auto file = dir.write("types.yaml",
                        "modules:\n  pre_trainer:\n    model: tiny_gqa.yaml\n    overrides:\n"
                        "      num_layers: abc\n      lr: fast\n      mock_data: 2\n");
  std::string message = config_error_of([&] { load_train_config(file, {}, BuildOptions{false, 1}); });
  expect_contains(message, {file.string() + ":5:7: key 'num_layers' has value abc (string); expected an integer",
                            file.string() + ":6:7: key 'lr' has value fast (string); expected a number",
                            file.string() + ":7:7: key 'mock_data' has value 2 (int); expected a bool"});
  expect_contains(error({"--num_layers", "99999999999"}), {"num_layers", "out of range"});
}

// Keys are picked from the schema so the test holds for whichever keys are not implemented yet.
const KeySpec* first_unimplemented(KeyType type, std::string_view default_yaml) {
  for (const auto& spec : key_specs())
    if (!spec.implemented && spec.type == type && (default_yaml.empty() || spec.default_yaml == default_yaml) &&
        spec.default_yaml != "null")
      return &spec;
  return nullptr;
}

TEST_F(BuildTest, UnimplementedKeysGiveOneWarningOrAStrictError) {
  const KeySpec* flag = first_unimplemented(KeyType::Bool, "false");
  const KeySpec* count = first_unimplemented(KeyType::Int, "");
  ASSERT_NE(flag, nullptr) << "no unimplemented bool key with default false in the schema";
  ASSERT_NE(count, nullptr) << "no unimplemented integer key with a default in the schema";
  const std::string flag_name(flag->name);
  const std::string count_name(count->name);
  const std::string count_default(count->default_yaml);
  const std::string changed = std::to_string(std::stoll(count_default) + 2);
  std::vector<std::string> warnings;
  build({"--" + flag_name, "--" + count_name, changed}, 1, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  expect_contains(warnings[0], {"2 keys are set but not implemented", flag_name + "=true (<command line> argument 1)",
                                count_name + "=" + changed + " (<command line> argument 2)"});
  warnings.clear();
  build({"--" + count_name, count_default, "--" + flag_name, "false"}, 1, &warnings);  // defaults: nothing to report
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  expect_contains(config_error_of([&] { build({"--" + flag_name}, 1, nullptr, true); }),
                  {flag_name + "=true", "--strict"});
}

TEST_F(BuildTest, NonNullableKeysRejectNull) {
  const KeySpec* strict_int = nullptr;
  for (const auto& spec : key_specs())
    if (!spec.nullable && spec.type == KeyType::Int && spec.implemented) strict_int = &spec;
  ASSERT_NE(strict_int, nullptr) << "the schema has no non-nullable integer key";
  const std::string name(strict_int->name);
  std::string message = error({"--" + name, "null"});
  expect_contains(message, {"'" + name + "' has value null", "expected an integer"});
  EXPECT_EQ(message.find("expected an integer or null"), std::string::npos);
}

TEST_F(BuildTest, CrossKeyProblemsAreAllReportedTogether) {
  std::string message = error({"--hidden_size", "250", "--global_batch_size", "10", "--num_layers", "5",
                               "--pipeline_model_parallel_size", "2", "--seq_length", "4096", "--lr", "1e-5",
                               "--min_lr", "1e-4", "--tensor_model_parallel_size", "4"},
                              6);
  expect_contains(message, {"configuration problems:", "hidden_size (250) must be divisible by num_attention_heads (8)",
                            "num_layers (5) must be divisible by pipeline_model_parallel_size (2)",
                            "world_size (6) must be divisible by tensor_model_parallel_size (4) * "
                            "pipeline_model_parallel_size (2) * context_parallel_size (1)",
                            "num_query_groups (2) must be divisible by tensor_model_parallel_size (4)",
                            "seq_length (4096) must not exceed max_position_embeddings (2048)",
                            "lr (1e-05) must be >= min_lr (0.0001)"});
  expect_contains(error({}, 3), {"global_batch_size (8) must be divisible by micro_batch_size (2) * data_parallel_size (3)"});
  expect_contains(error({"--num_query_groups", "3"}), {"num_attention_heads (8) must be divisible by num_query_groups (3)"});
  expect_contains(error({"--pipeline_model_parallel_size", "2", "--virtual_pipeline_model_parallel_size", "4"}, 2),
                  {"num_layers (4) must be divisible by pipeline_model_parallel_size (2) * "
                   "virtual_pipeline_model_parallel_size (4)"});
  expect_contains(error({"--train_iters", "null"}), {"train_iters (0) must be positive, or set train_samples"});
  expect_contains(error({"--micro_batch_size", "0"}), {"micro_batch_size must be a positive integer, got 0"});
  expect_contains(error({"--log_interval", "0"}), {"log_interval must be positive, got 0"});
}

TEST_F(BuildTest, VocabularyNeedsASizeOrATokenizer) {
  expect_contains(error({"--vocab_size", "null"}), {"vocab_size is not set"});
  TrainConfig c = build({"--vocab_size", "null", "--tokenizer_type", "HuggingFaceTokenizer"});
  EXPECT_EQ(c.model.vocab_size, 0);  // the tokenizer decides at run time
  EXPECT_EQ(c.data.tokenizer_type, "HuggingFaceTokenizer");
}

TEST_F(BuildTest, PaddedVocabSizeRule) {
  EXPECT_EQ(padded_vocab_size(50257, 128, 1), 50304);
  EXPECT_EQ(padded_vocab_size(50257, 128, 8), 51200);
  EXPECT_EQ(padded_vocab_size(128256, 128, 1), 128256);
}

}  // namespace
}  // namespace primus::config

namespace primus::config {
namespace {

TEST_F(BuildTest, PipelineSplitFollowsMegatronsUnevenStageRules) {
  // 6 layers over 4 stages: uneven, as Megatron rejects it.
  expect_contains(error({"--num_layers", "6", "--pipeline_model_parallel_size", "4"}, 4),
                  {"num_layers (6) must be divisible by pipeline_model_parallel_size (4)"});
  // Counting the embedding and the loss as layers makes 8: even.
  EXPECT_NO_THROW(build({"--num_layers", "6", "--pipeline_model_parallel_size", "4",
                         "--account_for_embedding_in_pipeline_split", "--account_for_loss_in_pipeline_split"},
                        4));
  // Explicit first/last stages: 1 + 2x2 + 1.
  EXPECT_NO_THROW(build({"--num_layers", "6", "--pipeline_model_parallel_size", "4",
                         "--decoder_first_pipeline_num_layers", "1", "--decoder_last_pipeline_num_layers", "1"},
                        4));
  expect_contains(error({"--num_layers", "7", "--pipeline_model_parallel_size", "4",
                         "--decoder_first_pipeline_num_layers", "1", "--decoder_last_pipeline_num_layers", "1"},
                        4),
                  {"must split evenly over the other 2 of pipeline_model_parallel_size (4) stages"});
}

}  // namespace
}  // namespace primus::config
