// Migrating whole training scripts (run under launcher shims) into experiment YAML.
#include <gtest/gtest.h>

#include "migrate_test_support.hpp"

namespace primus::migrate {
namespace {
using namespace testing;

std::string unmapped_text(const MigrationResult& r) {
  std::string all;
  for (const auto& u : r.unmapped) all += u.text + " | ";
  return all;
}

TEST(ScriptMigration, Llama3EightBMatchesTheZooModelAndKeepsTrainingValues) {
  auto result = migrate_megatron_script(script_path("train_llama3.sh"), {{"MODEL_SIZE", "8"}}, real_zoo_options());
  EXPECT_EQ(result.model, "llama3_8B") << result.match_explanation;
  EXPECT_FALSE(result.generated_model.has_value());
  EXPECT_EQ(result.entry_point, "pretrain_gpt.py");  // not the summariser launched after training
  ASSERT_TRUE(result.world_size);
  EXPECT_EQ(*result.world_size, 8);

  OutputDirectory dir("llama3-8");
  YAML::Node exp = write_and_load(result, dir);
  EXPECT_EQ(exp["exp_name"].as<std::string>(), "train_llama3");
  EXPECT_EQ(exp["work_group"].as<std::string>(), "${PRIMUS_TEAM:amd}");
  EXPECT_EQ(exp["user_name"].as<std::string>(), "${PRIMUS_USER:root}");
  EXPECT_EQ(exp["workspace"].as<std::string>(), "${PRIMUS_WORKSPACE:./output}");
  YAML::Node pre = exp["modules"]["pre_trainer"];
  EXPECT_EQ(pre["framework"].as<std::string>(), "megatron");
  EXPECT_EQ(pre["config"].as<std::string>(), "pre_trainer.yaml");
  EXPECT_EQ(pre["model"].as<std::string>(), "llama3_8B.yaml");
  YAML::Node o = overrides_of(exp);
  // The script's ${X:-default} values.
  EXPECT_EQ(o["micro_batch_size"].as<int>(), 2);
  EXPECT_EQ(o["global_batch_size"].as<int>(), 128);
  EXPECT_EQ(o["train_iters"].as<int>(), 20);
  EXPECT_EQ(o["tensor_model_parallel_size"].as<int>(), 8);
  EXPECT_EQ(o["context_parallel_size"].as<int>(), 1);
  EXPECT_EQ(o["seq_length"].as<int>(), 8192);
  EXPECT_DOUBLE_EQ(o["lr"].as<double>(), 1.5e-4);
  EXPECT_DOUBLE_EQ(o["min_lr"].as<double>(), 1.5e-5);
  EXPECT_EQ(o["lr_decay_style"].as<std::string>(), "cosine");
  EXPECT_TRUE(o["bf16"].as<bool>());
  EXPECT_TRUE(o["mock_data"].as<bool>());
  EXPECT_TRUE(o["use_distributed_optimizer"].as<bool>());
  EXPECT_TRUE(o["use_flash_attn"].as<bool>());  // set by the script: kept although pre_trainer.yaml agrees
  EXPECT_FALSE(o["finetune"]);                   // pre_trainer.yaml's false agrees with Megatron-LM's default
  EXPECT_EQ(o["save"].as<std::string>(), "experiment/ckpts");
  EXPECT_EQ(o["distributed_backend"].as<std::string>(), "nccl");
  // --no-X flags the model sets otherwise.
  EXPECT_FALSE(o["bias_swiglu_fusion"].as<bool>());
  EXPECT_FALSE(o["apply_rope_fusion"].as<bool>());
  // What the script sets that the model does not is written, even where the trainer defaults agree (pp 1) ...
  EXPECT_EQ(o["pipeline_model_parallel_size"].as<int>(), 1);
  // ... but values the model already has are not repeated: RMSNorm, 32 layers.
  EXPECT_FALSE(o["normalization"]);
  EXPECT_FALSE(o["num_layers"]);
  EXPECT_FALSE(o["masked_softmax_fusion"].as<bool>());  // --no-masked-softmax-fusion; the presets leave it on
  EXPECT_FALSE(o["max_position_embeddings"]);  // 8192 == llama3_8B's
  // trainer_base.yaml sets num_workers: 8; the script ran with Megatron's default (2).
  EXPECT_EQ(o["num_workers"].as<int>(), 2);
  EXPECT_NE(std::find(result.pinned_defaults.begin(), result.pinned_defaults.end(), "num_workers"),
            result.pinned_defaults.end());
  // The deliberately unknown flag is reported, in the result and at the end of the YAML.
  ASSERT_EQ(result.unmapped.size(), 1u) << unmapped_text(result);
  EXPECT_EQ(result.unmapped[0].text, "--enable-custom-rocm-kernels 1");
  std::string report = migration_report(result);
  EXPECT_NE(report.find("llama3_8B"), std::string::npos) << report;
  EXPECT_NE(report.find("--enable-custom-rocm-kernels 1"), std::string::npos) << report;
  std::string text = experiment_yaml(result);
  EXPECT_NE(text.find("#   --enable-custom-rocm-kernels 1"), std::string::npos) << text;
}

TEST(ScriptMigration, Llama3SeventyBWithEnvironmentSettings) {
  auto result = migrate_megatron_script(script_path("train_llama3.sh"),
                                        {{"MODEL_SIZE", "70"}, {"TP", "4"}, {"PP", "2"}, {"MOCK_DATA", "0"}, {"BS", "64"}},
                                        real_zoo_options());
  EXPECT_EQ(result.model, "llama3_70B") << result.match_explanation;
  OutputDirectory dir("llama3-70");
  YAML::Node o = overrides_of(write_and_load(result, dir));
  EXPECT_EQ(o["tensor_model_parallel_size"].as<int>(), 4);
  EXPECT_EQ(o["pipeline_model_parallel_size"].as<int>(), 2);
  EXPECT_EQ(o["global_batch_size"].as<int>(), 64);
  EXPECT_FALSE(o["mock_data"]);
  ASSERT_TRUE(o["data_path"].IsSequence());
  EXPECT_EQ(o["data_path"][0].as<std::string>(), "/data/llama3/bookcorpus_text_sentence");
  EXPECT_EQ(o["split"].as<std::string>(), "949,50,1");
  EXPECT_FALSE(o["num_layers"]);  // 80 == llama3_70B's
}

TEST(ScriptMigration, Gpt3With175BParametersGetsAGeneratedModelFile) {
  MigrateOptions options = real_zoo_options();
  options.script_arguments = {"/ckpt/gpt3", "/tb/gpt3", "/vocab/gpt2-vocab.json", "/vocab/gpt2-merges.txt", "/data/pile_text_document"};
  auto result = migrate_megatron_script(script_path("train_gpt3_175b.sh"), {}, options);
  ASSERT_TRUE(result.generated_model.has_value()) << result.match_explanation;
  EXPECT_EQ(result.model, "train_gpt3_175b_model");
  EXPECT_NE(result.match_explanation.find("no zoo model matches"), std::string::npos) << result.match_explanation;
  EXPECT_EQ(*result.world_size, 128);  // 8 per node x 16 nodes

  OutputDirectory dir("gpt3");
  YAML::Node exp = write_and_load(result, dir);
  EXPECT_EQ(exp["modules"]["pre_trainer"]["model"].as<std::string>(), "train_gpt3_175b_model.yaml");
  YAML::Node model = YAML::LoadFile((dir.path() / "train_gpt3_175b_model.yaml").string());
  ASSERT_TRUE(model["bases"].IsSequence());
  EXPECT_EQ(model["bases"][0].as<std::string>(), "language_model.yaml");
  EXPECT_EQ(model["num_layers"].as<int>(), 96);
  EXPECT_EQ(model["hidden_size"].as<int>(), 12288);
  EXPECT_EQ(model["num_attention_heads"].as<int>(), 96);
  EXPECT_EQ(model["ffn_hidden_size"].as<int>(), 4 * 12288);  // Megatron's default without swiglu
  EXPECT_EQ(model["max_position_embeddings"].as<int>(), 2048);
  // Megatron-LM's defaults the script relies on, written out because language_model.yaml differs.
  EXPECT_EQ(model["normalization"].as<std::string>(), "LayerNorm");
  EXPECT_FALSE(model["swiglu"].as<bool>());
  EXPECT_TRUE(model["add_bias_linear"].as<bool>());
  EXPECT_FALSE(model["untie_embeddings_and_output_weights"].as<bool>());
  EXPECT_EQ(model["position_embedding_type"].as<std::string>(), "learned_absolute");

  YAML::Node o = overrides_of(exp);
  EXPECT_EQ(o["micro_batch_size"].as<int>(), 1);
  EXPECT_EQ(o["global_batch_size"].as<int>(), 1536);
  EXPECT_EQ(o["train_iters"].as<int>(), 500000);
  EXPECT_EQ(o["tensor_model_parallel_size"].as<int>(), 8);
  EXPECT_EQ(o["pipeline_model_parallel_size"].as<int>(), 16);
  EXPECT_EQ(o["seq_length"].as<int>(), 2048);
  EXPECT_DOUBLE_EQ(o["lr"].as<double>(), 6.0e-5);
  EXPECT_DOUBLE_EQ(o["lr_warmup_fraction"].as<double>(), 0.001);
  EXPECT_TRUE(o["fp16"].as<bool>());
  EXPECT_EQ(o["rampup_batch_size"].size(), 3u);
  EXPECT_EQ(o["rampup_batch_size"][2].as<long long>(), 5859375);
  EXPECT_EQ(o["save"].as<std::string>(), "/ckpt/gpt3");
  EXPECT_EQ(o["data_path"][0].as<std::string>(), "/data/pile_text_document");
  EXPECT_EQ(o["split"].as<std::string>(), "949,50,1");
  // language_model.yaml turns sequence parallelism on; the script never asked for it.
  EXPECT_FALSE(o["sequence_parallel"].as<bool>());
  // pre_trainer.yaml's defaults that differ from Megatron-LM's are pinned too ...
  EXPECT_EQ(o["num_workers"].as<int>(), 2);
  EXPECT_FALSE(o["use_flash_attn"].as<bool>());
  EXPECT_DOUBLE_EQ(o["weight_decay"].as<double>(), 0.1);  // (set by the script)
  // ... but not those equal to Megatron-LM's (adam_eps 1e-08), nor Primus-only keys.
  EXPECT_FALSE(o["adam_eps"]);
  EXPECT_FALSE(o["log_avg_skip_iterations"]);
  EXPECT_FALSE(o["wandb_project"]);       // null in the preset, "" in Megatron-LM: both unset
  EXPECT_FALSE(o["iterations_to_skip"]);  // null in the preset, [] in Megatron-LM
  EXPECT_TRUE(result.unmapped.empty()) << unmapped_text(result);
}

TEST(ScriptMigration, MixtralMatchesTheMoeZooModel) {
  auto result = migrate_megatron_script(script_path("train_mixtral_8x7b.sh"), {}, real_zoo_options());
  EXPECT_EQ(result.model, "mixtral_8x7B_v0.1") << result.match_explanation;
  EXPECT_EQ(*result.world_size, 32);
  OutputDirectory dir("mixtral");
  YAML::Node o = overrides_of(write_and_load(result, dir));
  EXPECT_EQ(o["expert_model_parallel_size"].as<int>(), 8);
  EXPECT_EQ(o["pipeline_model_parallel_size"].as<int>(), 4);
  EXPECT_EQ(o["global_batch_size"].as<int>(), 256);
  EXPECT_FALSE(o["max_position_embeddings"]);  // 32768, as the zoo model
  EXPECT_DOUBLE_EQ(o["moe_aux_loss_coeff"].as<double>(), 0.01);  // nargs='+' in Megatron-LM, a number in Primus
  EXPECT_EQ(o["tokenizer_type"].as<std::string>(), "Llama2Tokenizer");
  EXPECT_FALSE(o["add_position_embedding"].as<bool>());  // --no-position-embedding
  EXPECT_TRUE(o["no_load_optim"].as<bool>());
  EXPECT_TRUE(o["deprecated_use_mcore_models"].as<bool>());
  EXPECT_FALSE(o["num_experts"]);       // 8, as the model
  EXPECT_TRUE(o["moe_grouped_gemm"].as<bool>());  // the zoo model does not set it
  EXPECT_TRUE(result.unmapped.empty()) << unmapped_text(result);
}

TEST(ScriptMigration, ForcedModelOverridesWhatDiffers) {
  MigrateOptions options = real_zoo_options();
  options.model = "llama3_70B";
  auto result = migrate_megatron_script(script_path("train_llama3.sh"), {{"MODEL_SIZE", "8"}}, options);
  EXPECT_EQ(result.model, "llama3_70B");
  EXPECT_NE(result.match_explanation.find("--model"), std::string::npos);
  EXPECT_EQ(display_value(result.overrides.at("num_layers")), "32");
  EXPECT_EQ(display_value(result.overrides.at("hidden_size")), "4096");
  options.model = "no_such_model";
  EXPECT_THROW(migrate_megatron_script(script_path("train_llama3.sh"), {}, options), std::runtime_error);
}

TEST(ScriptMigration, AScriptThatFailsBeforeLaunchingGivesItsStderr) {
  try {
    migrate_megatron_script(script_path("fails_before_launch.sh"), {}, real_zoo_options());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("status 3"), std::string::npos) << m;
    EXPECT_NE(m.find("dataset /no/such/dataset not found"), std::string::npos) << m;
  }
  try {
    migrate_megatron_script(script_path("train_llama3.sh"), {{"MODEL_SIZE", "13"}}, real_zoo_options());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("Model size not supported: 13"), std::string::npos) << e.what();
  }
  EXPECT_THROW(migrate_megatron_script(script_path("no_such_script.sh"), {}, real_zoo_options()), std::runtime_error);
}

TEST(ScriptMigration, MissingPresetDirectoriesAreErrorsNamingThem) {
  MigrateOptions options = real_zoo_options();
  options.module_dir = "/no/such/modules";
  try {
    migrate_megatron_script(script_path("train_mixtral_8x7b.sh"), {}, options);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/modules/pre_trainer.yaml"), std::string::npos) << e.what();
  }
}

TEST(ScriptMigration, AScriptThatRunsTooLongIsStopped) {
  MigrateOptions options = real_zoo_options();
  options.timeout = std::chrono::seconds(1);
  auto start = std::chrono::steady_clock::now();
  try {
    migrate_megatron_script(script_path("runs_forever.sh"), {}, options);
    FAIL() << "expected a timeout";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("ran longer than 1 s"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace primus::migrate
