// `primus migrate megatron-lm` through the built binary.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "migrate_test_support.hpp"

namespace primus::migrate {
namespace {
using namespace testing;

struct CommandOutput {
  int status;
  std::string text;
};

CommandOutput run(const std::string& arguments) {
  std::string cmd = std::string(PRIMUS_BINARY) + " " + arguments + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string out;
  std::array<char, 512> buf{};
  while (fgets(buf.data(), buf.size(), pipe)) out += buf.data();
  return {pclose(pipe), out};
}

TEST(MigrateCli, MigratesAScriptWithSettingsAndReportsUnmappedArguments) {
  OutputDirectory dir("cli");
  auto out = run("migrate megatron-lm " + script_path("train_llama3.sh").string() + " MODEL_SIZE=70 MBS=1 -o " +
                 dir.path().string());
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("matched zoo model llama3_70B"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("NOT MAPPED (1"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("--enable-custom-rocm-kernels 1"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("validated: OK"), std::string::npos) << out.text;
  YAML::Node exp = YAML::LoadFile((dir.path() / "train_llama3.yaml").string());
  EXPECT_EQ(exp["modules"]["pre_trainer"]["model"].as<std::string>(), "llama3_70B.yaml");
  EXPECT_EQ(overrides_of(exp)["micro_batch_size"].as<int>(), 1);
}

TEST(MigrateCli, DoesNotReplaceExistingFilesWithoutForce) {
  OutputDirectory dir("cli-force");
  std::string command = "migrate megatron-lm " + script_path("train_mixtral_8x7b.sh").string() + " -o " + dir.path().string();
  ASSERT_EQ(run(command).status, 0);
  std::ofstream(dir.path() / "train_mixtral_8x7b.yaml") << "# edited by hand\n";
  auto again = run(command);
  EXPECT_NE(again.status, 0) << again.text;
  EXPECT_NE(again.text.find("already exists"), std::string::npos) << again.text;
  std::ifstream kept(dir.path() / "train_mixtral_8x7b.yaml");
  std::string first_line;
  std::getline(kept, first_line);
  EXPECT_EQ(first_line, "# edited by hand");
  EXPECT_EQ(run(command + " --force").status, 0);
}

TEST(MigrateCli, AMissingZooDirectoryIsAnError) {
  OutputDirectory dir("cli-zoo");
  auto out = run("migrate megatron-lm " + script_path("train_mixtral_8x7b.sh").string() + " -o " + dir.path().string() +
                 " --zoo-dir /no/such/zoo");
  EXPECT_NE(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("/no/such/zoo"), std::string::npos) << out.text;
}

TEST(MigrateCli, MigratesALog) {
  OutputDirectory dir("cli-log");
  auto out = run("migrate megatron-lm --from-log " + (migrate_dir() / "logs" / "llama2_7B_pretrain.log").string() + " -o " +
                 dir.path().string());
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "llama2_7B_pretrain.yaml")) << out.text;
}

TEST(MigrateCli, AFailingScriptIsAnErrorWithItsMessage) {
  OutputDirectory dir("cli-fail");
  auto out = run("migrate megatron-lm " + script_path("fails_before_launch.sh").string() + " -o " + dir.path().string());
  EXPECT_NE(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("primus: error:"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("dataset /no/such/dataset not found"), std::string::npos) << out.text;
  EXPECT_FALSE(std::filesystem::exists(dir.path())) << "nothing is written for a failed migration";
}

TEST(MigrateCli, AnExperimentThatDoesNotValidateIsWrittenAndFailsTheCommand) {
  OutputDirectory dir("cli-invalid");
  auto out = run("migrate megatron-lm " + script_path("train_llama3.sh").string() + " TP=3 -o " + dir.path().string());
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "train_llama3.yaml")) << "kept for the user to fix";
  EXPECT_NE(out.status, 0) << out.text;
  for (const char* expected : {"validated: FAILED", "tensor_model_parallel_size", "primus config validate"})
    EXPECT_NE(out.text.find(expected), std::string::npos) << expected << " in:\n" << out.text;
}

TEST(MigrateCli, AZooOutsideTheConfigRootIsNamedByPathAndValidates) {
  OutputDirectory dir("cli-own-zoo");
  const auto zoo = dir.path() / "zoo";
  std::filesystem::create_directories(zoo);
  // Its base, llama3_base.yaml, is found through the config root.
  std::filesystem::copy_file(MigrateOptions::default_zoo_dir() / "llama3_8B.yaml", zoo / "site_llama3_8B.yaml");
  auto out = run("migrate megatron-lm " + script_path("train_llama3.sh").string() + " -o " + (dir.path() / "out").string() +
                 " --zoo-dir " + zoo.string());
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("matched zoo model site_llama3_8B"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("validated: OK"), std::string::npos) << out.text;
  YAML::Node exp = YAML::LoadFile((dir.path() / "out" / "train_llama3.yaml").string());
  EXPECT_EQ(exp["modules"]["pre_trainer"]["model"].as<std::string>(), (zoo / "site_llama3_8B.yaml").string());
  EXPECT_EQ(exp["modules"]["pre_trainer"]["config"].as<std::string>(), "pre_trainer.yaml");
}

}  // namespace
}  // namespace primus::migrate
