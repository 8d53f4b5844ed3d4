// Each test script migrated against the real zoo (primus/configs/models/megatron) and
// built by the config system: the TrainConfig must carry the script's values.
// Expected values are read off the scripts' text (tests/migrate/scripts/).
#include <gtest/gtest.h>

#include <tuple>

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

// The model fields a script sets, as one tuple (compared and printed whole): layers, hidden, ffn, heads,
// query groups, seq_length, max_position_embeddings, rotary_base, positions, normalization, swiglu,
// untied embeddings, linear biases, init_method_std.
auto model_fields(const config::ModelConfig& m) {
  return std::tuple{m.num_layers, m.hidden_size, m.ffn_hidden_size, m.num_attention_heads, m.num_query_groups,
                    m.seq_length, m.max_position_embeddings, m.rotary_base, m.position_embedding_type,
                    m.normalization, m.swiglu, m.untie_embeddings_and_output_weights, m.add_bias_linear,
                    m.init_method_std};
}

// The run's fields a script sets: micro/global batch, iterations, precision, lr, min_lr, decay style,
// warm-up iterations, weight decay, clip_grad, adam betas, world, tp, pp.
auto training_fields(const config::TrainConfig& c) {
  return std::tuple{c.training.micro_batch_size, c.training.global_batch_size, c.training.train_iters,
                    c.training.precision, c.optimizer.lr, c.optimizer.min_lr, c.optimizer.lr_decay_style,
                    c.optimizer.lr_warmup_iters, c.optimizer.weight_decay, c.optimizer.clip_grad,
                    c.optimizer.adam_beta1, c.optimizer.adam_beta2, c.parallel.world_size,
                    c.parallel.tensor_model_parallel_size, c.parallel.pipeline_model_parallel_size};
}

// Data and checkpoints: mock data, data paths, save, load.
auto storage_fields(const config::TrainConfig& c) {
  return std::tuple{c.data.mock_data, c.data.data_path, c.checkpoint.save, c.checkpoint.load};
}

using Paths = std::vector<std::string>;

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

// train_llama3.sh's run for both sizes: MBS 2, BS 128, 20 iterations, LR 1.5e-4 ..., TP 8, PP 1, 8 ranks.
const auto kLlama3Training = std::tuple{2, 128, 20, Precision::bf16, 1.5e-4, 1.5e-5, LrDecayStyle::cosine, 2, 0.1,
                                        1.0, 0.9, 0.95, 8, 8, 1};

TEST(ValidatedMigration, Llama3EightBBuildsWithLlama3EightBsArchitecture) {
  config::TrainConfig c = migrate_script_and_build("train_llama3.sh", {{"MODEL_SIZE", "8"}}, real_zoo_options(), "llama3_8B");
  EXPECT_EQ(model_fields(c.model), std::tuple(32, 4096, 14336, 32, 8, 8192, 8192, 500000.0, PositionEmbeddingType::rope,
                                             Normalization::RMSNorm, true, true, false, 0.02));
  EXPECT_DOUBLE_EQ(c.model.norm_epsilon, 1e-5);
  EXPECT_EQ(training_fields(c), kLlama3Training);
  EXPECT_EQ(storage_fields(c), std::tuple(true, Paths{}, "experiment/ckpts", ""));
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
  EXPECT_EQ(model_fields(c.model), std::tuple(80, 8192, 28672, 64, 8, 8192, 8192, 500000.0, PositionEmbeddingType::rope,
                                             Normalization::RMSNorm, true, true, false, 0.02));
  EXPECT_EQ(training_fields(c), kLlama3Training);
  EXPECT_EQ(storage_fields(c), std::tuple(false, Paths{"/data/llama3/bookcorpus_text_sentence"}, "experiment/ckpts", ""));
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
  // The script names GPT-2 vocabulary and merge files but no --tokenizer-type (as Megatron-LM's own
  // example): the merge file implies GPT2BPETokenizer, which the report says, and the config validates.
  EXPECT_NE(migration_report(result).find("tokenizer_type: GPT2BPETokenizer inferred from --merge-file"),
            std::string::npos)
      << migration_report(result);
  MigrationValidation validation = validate_migration(result, dir.path());
  EXPECT_TRUE(validation.ok) << validation.error;
  config::TrainConfig c = build(result, dir, {});
  EXPECT_EQ(c.data.tokenizer_type, "GPT2BPETokenizer");
  // No --ffn-hidden-size: 4h; no --group-query-attention: a group per head; Megatron's LayerNorm, biases, tied embeddings.
  // rotary_base is language_model.yaml's (unused with learned positions).
  EXPECT_EQ(model_fields(c.model), std::tuple(96, 12288, 4 * 12288, 96, 96, 2048, 2048, 10000.0,
                                             PositionEmbeddingType::learned_absolute, Normalization::LayerNorm,
                                             false, false, true, 0.006));
  // --lr-warmup-fraction .001 of --lr-decay-iters 430000 -> 430 warm-up iterations; 8 per node x 16 nodes.
  EXPECT_EQ(training_fields(c), std::tuple(1, 1536, 500000, Precision::fp16, 6.0e-5, 6.0e-6, LrDecayStyle::cosine,
                                           430, 0.1, 1.0, 0.9, 0.95, 128, 8, 16));
  EXPECT_EQ(storage_fields(c), std::tuple(false, Paths{"/data/pile_text_document"}, "/ckpt/gpt3", "/ckpt/gpt3"));
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
  EXPECT_EQ(model_fields(c.model), std::tuple(32, 4096, 14336, 32, 8, 4096, 32768, 1000000.0, PositionEmbeddingType::rope,
                                             Normalization::RMSNorm, true, true, false, 0.01));
  EXPECT_EQ(c.model.num_experts, 8);
  EXPECT_EQ(c.model.moe_router_topk, 2);
  EXPECT_DOUBLE_EQ(c.model.moe_aux_loss_coeff, 1e-2);
  // No --adam-beta*: Megatron-LM's 0.9 and 0.999. 8 per node x SLURM_NNODES 4 = 32 ranks.
  EXPECT_EQ(training_fields(c), std::tuple(1, 256, 500000, Precision::bf16, 1e-4, 1.0e-5, LrDecayStyle::cosine, 500,
                                           0.1, 1.0, 0.9, 0.999, 32, 1, 4));
  EXPECT_EQ(storage_fields(c),
            std::tuple(false, Paths{"data/mixtral_text_document"}, "checkpoints/mixtral", "checkpoints/mixtral"));
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
