// Migrating the argument dump of a Megatron-LM log.
#include <gtest/gtest.h>

#include "migrate_test_support.hpp"
#include "primus/migrate/log_arguments.hpp"

namespace primus::migrate {
namespace {
using namespace testing;

std::filesystem::path log_path(const std::string& name) { return migrate_dir() / "logs" / name; }

TEST(LogArguments, ReadsTheLastCompleteBlockWithPrefixes) {
  std::string text =
      "------------------------ arguments ------------------------\n"
      "  num_layers ...................................... 2\n"
      "-------------------- end of arguments ---------------------\n"
      "[rank0]: ------------------------ arguments ------------------------\n"
      "[rank0]:   num_layers ...................................... 32\n"
      "[rank0]:   tokenizer_model ................................. \n"
      "[rank0]:   save ............................................ ../ckpt\n"
      "[rank0]:   a_setting_name_that_is_at_least_forty_eight_characters_long 5\n"
      "[rank0]: -------------------- end of arguments ---------------------\n";
  auto args = parse_logged_arguments(text, "test.log");
  EXPECT_EQ(args.at("num_layers"), "32");
  EXPECT_EQ(args.at("tokenizer_model"), "");
  EXPECT_EQ(args.at("save"), "../ckpt");
  EXPECT_EQ(args.at("a_setting_name_that_is_at_least_forty_eight_characters_long"), "5");
  EXPECT_THROW(parse_logged_arguments("no block here\n", "test.log"), std::runtime_error);
}

TEST(LogMigration, Llama2LogMatchesTheZooAndKeepsItsValues) {
  auto result = migrate_megatron_log(log_path("llama2_7B_pretrain.log"), real_zoo_options());
  EXPECT_EQ(result.model, "llama2_7B") << result.match_explanation;
  EXPECT_EQ(result.exp_name, "llama2_7B_pretrain");
  ASSERT_TRUE(result.world_size);
  EXPECT_EQ(*result.world_size, 16);
  OutputDirectory dir("log");
  YAML::Node o = overrides_of(write_and_load(result, dir));
  EXPECT_EQ(o["micro_batch_size"].as<int>(), 4);
  EXPECT_EQ(o["global_batch_size"].as<int>(), 256);
  EXPECT_EQ(o["train_iters"].as<int>(), 1000);
  EXPECT_EQ(o["tensor_model_parallel_size"].as<int>(), 2);
  EXPECT_EQ(o["seq_length"].as<int>(), 4096);
  EXPECT_DOUBLE_EQ(o["lr"].as<double>(), 3e-5);
  EXPECT_TRUE(o["bf16"].as<bool>());
  EXPECT_EQ(o["data_path"][0].as<std::string>(), "/data/redpajama/rp_text_document");  // Python list repr
  EXPECT_EQ(o["split"].as<std::string>(), "969,30,1");
  EXPECT_EQ(o["attention_backend"].as<std::string>(), "auto");  // AttnBackend.auto
  // The model (llama2_7B.yaml) does not set sequence_parallel: the log's True is kept.
  EXPECT_TRUE(o["sequence_parallel"].as<bool>());
  // Equal to the model (RMSNorm) or to Megatron's default (rampup None): not repeated.
  EXPECT_FALSE(o["normalization"]);
  EXPECT_FALSE(o["rampup_batch_size"]);
  EXPECT_FALSE(o["num_query_groups"]);  // 1 without GQA: one group per head, as the model
  // Start-up values are notes; a name Megatron-LM does not define is unmapped.
  EXPECT_FALSE(o["params_dtype"]);
  EXPECT_FALSE(o["world_size"]);
  ASSERT_EQ(result.unmapped.size(), 1u);
  EXPECT_EQ(result.unmapped[0].text, "my_site_specific_knob = 7");
  std::string report = migration_report(result);
  EXPECT_NE(report.find("params_dtype"), std::string::npos) << report;
}

TEST(LogMigration, ALogWithoutArgumentsIsAClearError) {
  try {
    migrate_megatron_log(log_path("no_arguments.log"), real_zoo_options());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("no_arguments.log"), std::string::npos) << m;
    EXPECT_NE(m.find("no Megatron-LM argument dump"), std::string::npos) << m;
  }
  EXPECT_THROW(migrate_megatron_log(log_path("missing.log"), real_zoo_options()), std::runtime_error);
}

}  // namespace
}  // namespace primus::migrate
