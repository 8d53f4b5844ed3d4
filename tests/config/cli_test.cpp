// The `primus config` and `primus train pretrain` commands, run as a user would
// (the built binary through popen): exit codes and messages.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "primus/config/key_spec.hpp"
#include "test_support.hpp"

namespace primus::config {
namespace {

using testing::expect_contains;
using testing::experiment;
using testing::fixture_root;
using testing::fixtures;

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

RunResult run_primus(const std::string& arguments, bool with_stderr = true) {
  const std::string command = "cd '" + fixtures().string() + "' && env -u WORLD_SIZE -u OMPI_COMM_WORLD_SIZE "
                              "PRIMUS_CONFIG_ROOT='" + fixture_root().string() + "' '" + PRIMUS_BINARY + "' " +
                              arguments + (with_stderr ? " 2>&1" : " 2>/dev/null");
  RunResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, read);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST(CliTest, ShowPrintsTheResolvedYaml) {
  RunResult r = run_primus("config show --config experiments/tiny-pretrain.yaml --lr=5e-4 seed=9 --mock_data");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, {"exp_name: tiny-pretrain\n", "pre_trainer:\n", "  lr: 0.0005\n", "  seed: 9\n",
                             "  num_query_groups: 2\n", "  mock_data: true\n"});
}

TEST(CliTest, ShowJsonIsValidJson) {
  RunResult r = run_primus("config show --config experiments/tiny-pretrain.yaml --format json --lr 1e-3", false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json json = nlohmann::json::parse(r.output);
  EXPECT_DOUBLE_EQ(json["pre_trainer"]["lr"].get<double>(), 1e-3);
  EXPECT_EQ(json["pre_trainer"]["hidden_size"], 256);
}

TEST(CliTest, ExplainShowsEveryLocationAndTheWinner) {
  RunResult r = run_primus("config show --config experiments/tiny-pretrain.yaml --explain lr --lr 5e-4");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, {"lr (pre_trainer) = 0.0005", "trainer_base.yaml:6:1", "pre_trainer.yaml:7:1",
                             "experiments/tiny-pretrain.yaml:16:7", "4. <command line> argument 1  <- wins"});
}

TEST(CliTest, ValidateAcceptsGoodConfigs) {
  RunResult r = run_primus("config validate --config experiments/tiny-pretrain.yaml experiments/flat-form.yaml");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, {"OK experiments/tiny-pretrain.yaml", "OK experiments/flat-form.yaml"});
}

TEST(CliTest, ValidateReportsProblemsAndFails) {
  RunResult r = run_primus("config validate experiments/tiny-pretrain.yaml experiments/flat-form.yaml "
                           "--global_batch_sise 8 --num_layers abc");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, {"unknown key 'global_batch_sise'; did you mean 'global_batch_size'?",
                             "key 'num_layers' has value abc (string); expected an integer",
                             "2 of 2 config files failed validation"});
}

TEST(CliTest, ValidateWarnsAboutUnimplementedKeysAndStrictFails) {
  // Any unimplemented bool key whose default is false will do.
  std::string flag;
  for (const auto& spec : key_specs())
    if (!spec.implemented && spec.type == KeyType::Bool && spec.default_yaml == "false") flag = spec.name;
  ASSERT_FALSE(flag.empty()) << "no unimplemented bool key with default false in the schema";
  RunResult lenient = run_primus("config validate --config experiments/tiny-pretrain.yaml --" + flag + " true");
  EXPECT_EQ(lenient.exit_code, 0) << lenient.output;
  expect_contains(lenient.output, {"warning: 1 key is set but not implemented", flag + "=true", "OK "});
  RunResult strict = run_primus("config validate --strict --config experiments/tiny-pretrain.yaml --" + flag);
  EXPECT_EQ(strict.exit_code, 1) << strict.output;
  expect_contains(strict.output, {flag + "=true", "--strict"});
}

TEST(CliTest, MalformedOverrideIsAClearError) {
  RunResult r = run_primus("config show --config experiments/tiny-pretrain.yaml =5");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, {"'=5'", "no key"});
}

TEST(CliTest, MissingFileAndMalformedYamlFail) {
  RunResult missing = run_primus("config show --config experiments/absent.yaml");
  EXPECT_EQ(missing.exit_code, 1);
  expect_contains(missing.output, {"absent.yaml", "not found"});
  testing::TempDir dir;
  auto bad = dir.write("bad.yaml", "a: 1\nb: c: d\n");
  RunResult malformed = run_primus("config validate " + bad.string());
  EXPECT_EQ(malformed.exit_code, 1);
  expect_contains(malformed.output, {bad.string() + ":2:5: invalid YAML"});
}

TEST(CliTest, DiffPrintsChangedKeys) {
  RunResult r = run_primus("config diff experiments/tiny-pretrain.yaml experiments/tiny-bigger.yaml");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "exp_name: tiny-pretrain -> tiny-bigger\nhidden_size: 256 -> 512\ntrain_iters: 50 -> 80\n");
  RunResult same = run_primus("config diff experiments/tiny-pretrain.yaml experiments/tiny-pretrain.yaml");
  EXPECT_EQ(same.output, "no differences\n");
}

TEST(CliTest, TrainPretrainRejectsAnInvalidConfigBeforeTraining) {
  RunResult bad = run_primus("train pretrain --config experiments/tiny-pretrain.yaml --hidden_size 250");
  EXPECT_EQ(bad.exit_code, 1);
  expect_contains(bad.output, {"hidden_size (250) must be divisible by num_attention_heads (8)"});
}

}  // namespace
}  // namespace primus::config
