// Experiment composition: precedence, inheritance of experiments, the flat form,
// command-line overrides, provenance (history / explain), rendering and diffs.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "primus/config/experiment.hpp"
#include "primus/config/render.hpp"
#include "test_support.hpp"

namespace primus::config {
namespace {

using testing::config_error_of;
using testing::expect_contains;
using testing::experiment;
using testing::fixture_root;
using testing::FixtureRootTest;
using testing::ScopedEnv;
using testing::TempDir;

class ExperimentTest : public FixtureRootTest {};

const Value& setting(const ResolvedConfig& r, const std::string& key) { return r.pre_trainer.at(key).value; }

TEST_F(ExperimentTest, PrecedenceIsDefaultsThenModelThenOverridesThenCommandLine) {
  ResolvedConfig r = resolve_experiment(experiment("tiny-pretrain.yaml"), {"--seed", "7"});
  // trainer_base.yaml only:
  EXPECT_EQ(setting(r, "adam_beta2").float_value, 0.999);
  // pre_trainer.yaml over trainer_base.yaml:
  EXPECT_EQ(setting(r, "lr_warmup_iters").int_value, 40);
  // model (tiny_gqa over tiny_base over language_model):
  EXPECT_EQ(setting(r, "num_query_groups").int_value, 2);
  EXPECT_EQ(setting(r, "rotary_base").int_value, 500000);
  EXPECT_EQ(setting(r, "num_layers").int_value, 4);
  EXPECT_EQ(setting(r, "normalization").string_value, "RMSNorm");
  // overrides over pre_trainer.yaml (train_iters 1000) and trainer_base.yaml (100):
  EXPECT_EQ(setting(r, "train_iters").int_value, 50);
  EXPECT_DOUBLE_EQ(setting(r, "norm_epsilon").float_value, 1e-6);
  // command line over trainer_base.yaml:
  EXPECT_EQ(setting(r, "seed").int_value, 7);
  // lists replace: overrides' data_path is the whole list.
  ASSERT_EQ(setting(r, "data_path").list.size(), 1u);
  EXPECT_EQ(setting(r, "data_path").list[0].string_value, "override_only");
  EXPECT_EQ(r.experiment.at("exp_name").value.string_value, "tiny-pretrain");
}

TEST_F(ExperimentTest, SettingsAreOneFlatNamespace) {
  ResolvedConfig r = resolve_experiment(experiment("tiny-pretrain.yaml"), {});
  for (const char* not_a_setting : {"framework", "config", "model", "overrides", "extends", "bases", "modules"})
    EXPECT_EQ(r.pre_trainer.count(not_a_setting), 0u) << not_a_setting;
  EXPECT_EQ(r.experiment.count("modules"), 0u);
}

TEST_F(ExperimentTest, HistoryListsEveryPlaceInOrder) {
  ResolvedConfig r = resolve_experiment(experiment("tiny-pretrain.yaml"), {"--lr", "5e-4"});
  const Setting& lr = r.pre_trainer.at("lr");
  ASSERT_EQ(lr.history.size(), 4u);
  const auto modules = fixture_root() / "primus/configs/modules/megatron";
  EXPECT_EQ(lr.history[0], (SourceLocation{(modules / "trainer_base.yaml").string(), 6, 1}));
  EXPECT_EQ(lr.history[1], (SourceLocation{(modules / "pre_trainer.yaml").string(), 7, 1}));
  EXPECT_EQ(lr.history[2], (SourceLocation{experiment("tiny-pretrain.yaml").string(), 16, 7}));
  EXPECT_EQ(lr.history[3], (SourceLocation{"<command line>", 0, 1}));
  EXPECT_DOUBLE_EQ(lr.value.float_value, 5e-4);
}

TEST_F(ExperimentTest, ExplainPrintsEachLocationAndTheWinner) {
  ResolvedConfig r = resolve_experiment(experiment("tiny-pretrain.yaml"), {});
  std::string text = explain_key(r, "lr");
  expect_contains(text, {"lr (pre_trainer) = 0.0003", "1. ", "trainer_base.yaml:6:1  lr: 1.0e-4  (overridden)",
                         "pre_trainer.yaml:7:1  lr: 2.0e-05  (overridden)",
                         "tiny-pretrain.yaml:16:7  lr: 3.0e-4  <- wins"});
  expect_contains(explain_key(r, "adam_eps"), {"adam_eps (pre_trainer) = 1e-08", "schema default"});
  expect_contains(config_error_of([&] { explain_key(r, "global_batch_sise"); }),
                  {"global_batch_sise", "did you mean 'global_batch_size'"});
}

TEST_F(ExperimentTest, ExperimentFilesInheritWithDeepMerge) {
  ResolvedConfig r = resolve_experiment(experiment("tiny-bigger.yaml"), {});
  EXPECT_EQ(setting(r, "train_iters").int_value, 80);
  EXPECT_EQ(setting(r, "hidden_size").int_value, 512);
  EXPECT_EQ(setting(r, "micro_batch_size").int_value, 2);  // kept from the parent's overrides
  EXPECT_EQ(setting(r, "num_query_groups").int_value, 2);  // parent's model
  EXPECT_EQ(r.experiment.at("exp_name").value.string_value, "tiny-bigger");
}

TEST_F(ExperimentTest, FlatMigrationGuideForm) {
  ResolvedConfig r = resolve_experiment(experiment("flat-form.yaml"), {});
  EXPECT_EQ(setting(r, "train_iters").int_value, 20);     // overrides
  EXPECT_EQ(setting(r, "hidden_size").int_value, 256);    // model
  EXPECT_EQ(setting(r, "lr_warmup_iters").int_value, 40);  // pre_trainer.yaml defaults
  EXPECT_EQ(r.experiment.at("exp_name").value.string_value, "flat-form");
  EXPECT_EQ(r.pre_trainer.count("model"), 0u);
}

TEST_F(ExperimentTest, CommandLineAddressesNestedAndMetaKeys) {
  ResolvedConfig r = resolve_experiment(
      experiment("tiny-pretrain.yaml"),
      {"modules.pre_trainer.overrides.train_iters=9", "modules.pre_trainer.seed=5", "exp_name=cli", "extra.sub=1"});
  EXPECT_EQ(setting(r, "train_iters").int_value, 9);
  EXPECT_EQ(setting(r, "seed").int_value, 5);
  EXPECT_EQ(r.experiment.at("exp_name").value.string_value, "cli");
  EXPECT_EQ(setting(r, "extra").map.at("sub").int_value, 1);
  expect_contains(config_error_of([&] { resolve_experiment(experiment("tiny-pretrain.yaml"), {"lr.x=1"}); }),
                  {"argument 1", "'lr'", "not a mapping"});
  expect_contains(config_error_of([&] { resolve_experiment(experiment("tiny-pretrain.yaml"), {"model=x.yaml"}); }),
                  {"'model'", "belongs to the module entry"});
}

TEST_F(ExperimentTest, EnvironmentVariablesFillExperimentMetadata) {
  ScopedEnv team("PRIMUS_TEAM", "research");
  ResolvedConfig r = resolve_experiment(experiment("tiny-pretrain.yaml"), {});
  EXPECT_EQ(r.experiment.at("work_group").value.string_value, "research");
}

TEST_F(ExperimentTest, MissingModelAndUnsupportedModulesAreErrors) {
  TempDir dir;
  auto missing = dir.write("e.yaml", "modules:\n  pre_trainer:\n    framework: megatron\n    model: nope.yaml\n");
  expect_contains(config_error_of([&] { resolve_experiment(missing, {}); }), {missing.string() + ":4:5", "'nope.yaml'"});
  auto other = dir.write("f.yaml", "modules:\n  sft_trainer: {}\n");
  expect_contains(config_error_of([&] { resolve_experiment(other, {}); }), {"modules.sft_trainer", "not supported"});
  auto framework = dir.write("g.yaml", "modules:\n  pre_trainer:\n    framework: torchtitan\n");
  expect_contains(config_error_of([&] { resolve_experiment(framework, {}); }), {"g.yaml:3:5", "torchtitan"});
  expect_contains(config_error_of([&] { resolve_experiment(dir.path() / "absent.yaml", {}); }), {"absent.yaml", "not found"});
}

TEST_F(ExperimentTest, ModuleEntryKeysAreNotSettingsButOtherKeysThereAre) {
  TempDir dir;
  auto file = dir.write("e.yaml",
                        "modules:\n  pre_trainer:\n    framework: megatron\n    trainer_class: PretrainTrainer\n"
                        "    model: tiny_base.yaml\n    seed: 11\n    overrides:\n      seed: 12\n      lr: 0.5\n");
  ResolvedConfig r = resolve_experiment(file, {});
  EXPECT_EQ(r.pre_trainer.count("trainer_class"), 0u);
  EXPECT_EQ(setting(r, "seed").int_value, 12);  // keys beside overrides rank just below them
  ASSERT_EQ(r.pre_trainer.at("seed").history.size(), 3u);  // trainer_base.yaml, the module entry, overrides
  EXPECT_EQ(r.pre_trainer.at("seed").history[1].line, 6);
}

TEST_F(ExperimentTest, JsonOutputHoldsTypedValues) {
  ResolvedConfig r = resolve_experiment(experiment("tiny-pretrain.yaml"), {});
  nlohmann::json json = nlohmann::json::parse(render_json(r));
  EXPECT_EQ(json["exp_name"], "tiny-pretrain");
  EXPECT_EQ(json["pre_trainer"]["num_layers"], 4);
  EXPECT_TRUE(json["pre_trainer"]["num_layers"].is_number_integer());
  EXPECT_DOUBLE_EQ(json["pre_trainer"]["lr"].get<double>(), 3e-4);
  EXPECT_TRUE(json["pre_trainer"]["lr_decay_iters"].is_null());
  EXPECT_EQ(json["pre_trainer"]["data_path"], nlohmann::json::array({"override_only"}));
  EXPECT_EQ(json["pre_trainer"]["swiglu"], true);
}

TEST_F(ExperimentTest, YamlOutputIsSortedAndReadable) {
  ResolvedConfig r = resolve_experiment(experiment("tiny-pretrain.yaml"), {});
  std::string text = render_yaml(r);
  expect_contains(text, {"exp_name: tiny-pretrain\n", "pre_trainer:\n", "  num_layers: 4\n", "  lr: 0.0003\n",
                         "  data_path: [override_only]\n", "  lr_decay_iters: null\n"});
  EXPECT_LT(text.find("  adam_beta1:"), text.find("  weight_decay:"));
}

TEST_F(ExperimentTest, DiffListsOnlyChangedKeys) {
  auto lines = diff_configs(resolve_experiment(experiment("tiny-pretrain.yaml"), {}),
                            resolve_experiment(experiment("tiny-bigger.yaml"), {}));
  EXPECT_EQ(lines, (std::vector<std::string>{"exp_name: tiny-pretrain -> tiny-bigger", "hidden_size: 256 -> 512",
                                             "train_iters: 50 -> 80"}));
}

TEST_F(ExperimentTest, ModelPresetIsFlatWithInheritance) {
  FlatSettings preset = load_model_preset("tiny_gqa");
  EXPECT_EQ(preset.at("num_query_groups").value.int_value, 2);
  EXPECT_EQ(preset.at("hidden_size").value.int_value, 256);              // tiny_base.yaml
  EXPECT_EQ(preset.at("normalization").value.string_value, "RMSNorm");  // language_model.yaml
  EXPECT_EQ(preset.count("extends"), 0u);
  EXPECT_EQ(load_model_preset("tiny_gqa.yaml").size(), preset.size());
  expect_contains(config_error_of([] { load_model_preset("no_such_model"); }), {"no_such_model.yaml", "not found"});
}

}  // namespace
}  // namespace primus::config
