// Each test script migrated against the real zoo (primus/configs/models/megatron) and
// built by the config system: the TrainConfig must carry the script's values.
// Expected values are read off the scripts' text (tests/migrate/scripts/).
#include <gtest/gtest.h>

#include "migrate_test_support.hpp"
#include "primus/config/build.hpp"
#include "primus/migrate/migration_validation.hpp"

namespace primus::migrate {
namespace {
using namespace testing;
using config::LrDecayStyle;
using config::Normalization;
using config::PositionEmbeddingType;
using config::Precision;

// What a script says about the network.
struct ScriptModel {
  int num_layers, hidden_size, ffn_hidden_size, num_attention_heads, num_query_groups;
  int seq_length, max_position_embeddings;
  double rotary_base;  // unused with learned_absolute positions
  PositionEmbeddingType position_embedding_type;
  Normalization normalization;
  bool swiglu, untie_embeddings_and_output_weights, add_bias_linear;
  double init_method_std;
};

// What a script says about the run.
struct ScriptTraining {
  int micro_batch_size, global_batch_size;
  std::int64_t train_iters;
  Precision precision;
  double lr, min_lr;
  LrDecayStyle lr_decay_style;
  std::int64_t lr_warmup_iters;
  double weight_decay, clip_grad, adam_beta1, adam_beta2;
  int world_size, tensor_model_parallel_size, pipeline_model_parallel_size;
  std::vector<std::string> data_path;  // empty: mock data
  std::string save, load;
};

void expect_model(const config::ModelConfig& m, const ScriptModel& e) {
  EXPECT_EQ(m.num_layers, e.num_layers);
  EXPECT_EQ(m.hidden_size, e.hidden_size);
  EXPECT_EQ(m.ffn_hidden_size, e.ffn_hidden_size);
  EXPECT_EQ(m.num_attention_heads, e.num_attention_heads);
  EXPECT_EQ(m.num_query_groups, e.num_query_groups);
  EXPECT_EQ(m.seq_length, e.seq_length);
  EXPECT_EQ(m.max_position_embeddings, e.max_position_embeddings);
  EXPECT_EQ(m.position_embedding_type, e.position_embedding_type);
  if (e.position_embedding_type == PositionEmbeddingType::rope) {
    EXPECT_DOUBLE_EQ(m.rotary_base, e.rotary_base);
  }
  EXPECT_EQ(m.normalization, e.normalization);
  EXPECT_EQ(m.swiglu, e.swiglu);
  EXPECT_EQ(m.untie_embeddings_and_output_weights, e.untie_embeddings_and_output_weights);
  EXPECT_EQ(m.add_bias_linear, e.add_bias_linear);
  EXPECT_DOUBLE_EQ(m.init_method_std, e.init_method_std);
}

void expect_training(const config::TrainConfig& c, const ScriptTraining& e) {
  EXPECT_EQ(c.training.micro_batch_size, e.micro_batch_size);
  EXPECT_EQ(c.training.global_batch_size, e.global_batch_size);
  EXPECT_EQ(c.training.train_iters, e.train_iters);
  EXPECT_EQ(c.training.precision, e.precision);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, e.lr);
  EXPECT_DOUBLE_EQ(c.optimizer.min_lr, e.min_lr);
  EXPECT_EQ(c.optimizer.lr_decay_style, e.lr_decay_style);
  EXPECT_EQ(c.optimizer.lr_warmup_iters, e.lr_warmup_iters);
  EXPECT_DOUBLE_EQ(c.optimizer.weight_decay, e.weight_decay);
  EXPECT_DOUBLE_EQ(c.optimizer.clip_grad, e.clip_grad);
  EXPECT_DOUBLE_EQ(c.optimizer.adam_beta1, e.adam_beta1);
  EXPECT_DOUBLE_EQ(c.optimizer.adam_beta2, e.adam_beta2);
  EXPECT_EQ(c.parallel.world_size, e.world_size);
  EXPECT_EQ(c.parallel.tensor_model_parallel_size, e.tensor_model_parallel_size);
  EXPECT_EQ(c.parallel.pipeline_model_parallel_size, e.pipeline_model_parallel_size);
  EXPECT_EQ(c.data.mock_data, e.data_path.empty());
  EXPECT_EQ(c.data.data_path, e.data_path);
  EXPECT_EQ(c.checkpoint.save, e.save);
  EXPECT_EQ(c.checkpoint.load, e.load);
}

// Builds the written experiment at the launch's world size, as `primus train` would with `cli_args`.
config::TrainConfig build(const MigrationResult& result, const OutputDirectory& dir,
                          const std::vector<std::string>& cli_args = {}) {
  config::BuildOptions options{.strict = false,
                               .world_size = static_cast<int>(result.world_size.value_or(0)),
                               .assume_minimal_world = true};
  return config::load_train_config(experiment_path(result, dir.path()), cli_args, options);
}

// Migrates a script, checks the experiment names `model`.yaml and validates, and builds it.
config::TrainConfig migrate_script_and_build(const std::string& script,
                                             const std::vector<std::pair<std::string, std::string>>& env,
                                             const MigrateOptions& options, const std::string& model) {
  auto result = migrate_megatron_script(script_path(script), env, options);
  EXPECT_EQ(result.model, model) << result.match_explanation;
  OutputDirectory dir("validated-" + model);
  write_migration(result, dir.path());
  MigrationValidation validation = validate_migration(result, dir.path());
  EXPECT_TRUE(validation.ok) << validation.error;
  EXPECT_EQ(YAML::LoadFile(experiment_path(result, dir.path()).string())["modules"]["pre_trainer"]["model"].as<std::string>(),
            model + ".yaml");
  return build(result, dir);
}

// train_llama3.sh's values shared by both sizes (TP 8, PP 1, MBS 2, BS 128, 20 iterations, 8 ranks).
ScriptTraining llama3_training(std::vector<std::string> data_path) {
  return {2, 128, 20, Precision::bf16, 1.5e-4, 1.5e-5, LrDecayStyle::cosine, 2, 0.1, 1.0, 0.9, 0.95,
          8, 8, 1, std::move(data_path), "experiment/ckpts", ""};
}

TEST(ValidatedMigration, Llama3EightBBuildsWithLlama3EightBsArchitecture) {
  config::TrainConfig c = migrate_script_and_build("train_llama3.sh", {{"MODEL_SIZE", "8"}}, real_zoo_options(), "llama3_8B");
  expect_model(c.model, {32, 4096, 14336, 32, 8, 8192, 8192, 500000.0, PositionEmbeddingType::rope,
                         Normalization::RMSNorm, true, true, false, 0.02});
  EXPECT_DOUBLE_EQ(c.model.norm_epsilon, 1e-5);
  expect_training(c, llama3_training({}));
  EXPECT_EQ(c.parallel.context_parallel_size, 1);
  EXPECT_TRUE(c.parallel.sequence_parallel);
  EXPECT_TRUE(c.parallel.use_distributed_optimizer);
  EXPECT_EQ(c.data.tokenizer_type, "HuggingFaceTokenizer");
  EXPECT_EQ(c.data.tokenizer_model, "meta-llama/Meta-Llama-3-8B");
  EXPECT_EQ(c.checkpoint.save_interval.value_or(-1), 5000);
  EXPECT_EQ(c.training.eval_iters, 0);
}

TEST(ValidatedMigration, Llama3SeventyBWithRealDataBuildsWithItsDataPath) {
  config::TrainConfig c = migrate_script_and_build("train_llama3.sh", {{"MODEL_SIZE", "70"}, {"MOCK_DATA", "0"}},
                                                   real_zoo_options(), "llama3_70B");
  expect_model(c.model, {80, 8192, 28672, 64, 8, 8192, 8192, 500000.0, PositionEmbeddingType::rope,
                         Normalization::RMSNorm, true, true, false, 0.02});
  expect_training(c, llama3_training({"/data/llama3/bookcorpus_text_sentence"}));
  EXPECT_EQ(c.data.split, "949,50,1");
}

TEST(ValidatedMigration, Gpt3OneSeventyFiveBBuildsWithItsGeneratedModel) {
  MigrateOptions options = real_zoo_options();
  options.script_arguments = {"/ckpt/gpt3", "/tb/gpt3", "/vocab/gpt2-vocab.json", "/vocab/gpt2-merges.txt",
                              "/data/pile_text_document"};
  auto result = migrate_megatron_script(script_path("train_gpt3_175b.sh"), {}, options);
  EXPECT_EQ(result.model, "train_gpt3_175b_model") << result.match_explanation;  // no zoo model matches
  OutputDirectory dir("validated-gpt3");
  write_migration(result, dir.path());
  // The script names GPT-2 vocabulary files but no --tokenizer-type (as Megatron-LM's own example):
  // the config system cannot size the vocabulary, and says so.
  MigrationValidation validation = validate_migration(result, dir.path());
  EXPECT_FALSE(validation.ok);
  EXPECT_NE(validation.error.find("vocab_size is not set and no tokenizer_type"), std::string::npos) << validation.error;
  // With the user's fix given on the command line, it builds with the script's values.
  config::TrainConfig c = build(result, dir, {"tokenizer_type=GPT2BPETokenizer"});
  // No --ffn-hidden-size: 4h; no --group-query-attention: a group per head; Megatron's LayerNorm, biases, tied embeddings.
  expect_model(c.model, {96, 12288, 4 * 12288, 96, 96, 2048, 2048, 0.0, PositionEmbeddingType::learned_absolute,
                         Normalization::LayerNorm, false, false, true, 0.006});
  // --lr-warmup-fraction .001 of --lr-decay-iters 430000 -> 430 warm-up iterations; 8 per node x 16 nodes.
  expect_training(c, {1, 1536, 500000, Precision::fp16, 6.0e-5, 6.0e-6, LrDecayStyle::cosine, 430, 0.1, 1.0, 0.9,
                      0.95, 128, 8, 16, {"/data/pile_text_document"}, "/ckpt/gpt3", "/ckpt/gpt3"});
  EXPECT_EQ(c.optimizer.lr_decay_iters, 430000);
  EXPECT_EQ(c.parallel.data_parallel_size, 1);
  EXPECT_FALSE(c.parallel.sequence_parallel);  // language_model.yaml's true is pinned to the script's false
  EXPECT_EQ(c.data.split, "949,50,1");
  EXPECT_EQ(c.checkpoint.save_interval.value_or(-1), 10000);
  EXPECT_EQ(c.training.eval_interval, 1000);
  EXPECT_EQ(c.training.eval_iters, 10);
  EXPECT_EQ(c.logging.log_interval, 100);
  EXPECT_EQ(c.logging.tensorboard_dir, "/tb/gpt3");
}

TEST(ValidatedMigration, MixtralBuildsWithTheMoeZooModel) {
  config::TrainConfig c = migrate_script_and_build("train_mixtral_8x7b.sh", {}, real_zoo_options(), "mixtral_8x7B_v0.1");
  expect_model(c.model, {32, 4096, 14336, 32, 8, 4096, 32768, 1000000.0, PositionEmbeddingType::rope,
                         Normalization::RMSNorm, true, true, false, 0.01});
  EXPECT_EQ(c.model.num_experts, 8);
  EXPECT_EQ(c.model.moe_router_topk, 2);
  EXPECT_DOUBLE_EQ(c.model.moe_aux_loss_coeff, 1e-2);
  // No --adam-beta*: Megatron-LM's 0.9 and 0.999. 8 per node x SLURM_NNODES 4 = 32 ranks.
  expect_training(c, {1, 256, 500000, Precision::bf16, 1e-4, 1.0e-5, LrDecayStyle::cosine, 500, 0.1, 1.0, 0.9, 0.999,
                      32, 1, 4, {"data/mixtral_text_document"}, "checkpoints/mixtral", "checkpoints/mixtral"});
  EXPECT_EQ(c.optimizer.lr_decay_iters, 320000);
  EXPECT_EQ(c.parallel.expert_model_parallel_size, 8);
  EXPECT_TRUE(c.parallel.use_distributed_optimizer);
  EXPECT_TRUE(c.parallel.sequence_parallel);
  EXPECT_TRUE(c.parallel.overlap_grad_reduce);
  EXPECT_TRUE(c.parallel.overlap_param_gather);
  EXPECT_EQ(c.data.tokenizer_type, "Llama2Tokenizer");
  EXPECT_EQ(c.data.tokenizer_model, "tokenizer.model");
  EXPECT_EQ(c.data.split, "99990,8,2");
  EXPECT_TRUE(c.checkpoint.no_load_optim);
  EXPECT_TRUE(c.checkpoint.no_load_rng);
}

TEST(ValidatedMigration, ALayoutTheWorldCannotHoldIsReportedNotHidden) {
  // TP=3 does not divide the launch's 8 ranks: the files are written, the validation says why it fails.
  auto result = migrate_megatron_script(script_path("train_llama3.sh"), {{"MODEL_SIZE", "8"}, {"TP", "3"}},
                                        real_zoo_options());
  OutputDirectory dir("validated-bad-layout");
  write_migration(result, dir.path());
  MigrationValidation validation = validate_migration(result, dir.path());
  EXPECT_FALSE(validation.ok);
  EXPECT_NE(validation.error.find("tensor_model_parallel_size"), std::string::npos) << validation.error;
  EXPECT_NE(validation_report(validation).find("validated: FAILED"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(experiment_path(result, dir.path())));
}

}  // namespace
}  // namespace primus::migrate
