// Fuzz-style robustness: mutated and truncated YAML and random override strings
// must end in a result or a ConfigError, never another exception or a crash.
#include <gtest/gtest.h>

#include <random>

#include "primus/config/build.hpp"
#include "primus/config/env_substitution.hpp"
#include "primus/config/overrides.hpp"
#include "primus/config/yaml_reader.hpp"
#include "test_support.hpp"

namespace primus::config {
namespace {

using testing::experiment;
using testing::FixtureRootTest;
using testing::TempDir;

const char* kSeeds[] = {
    "a: 1\nb: [1, 2, {c: d}]\nnested:\n  x: ${HOME}\n  y: ${PRIMUS_FUZZ_UNSET:3}\n",
    "modules:\n  pre_trainer:\n    framework: megatron\n    model: tiny_gqa.yaml\n    overrides:\n"
    "      lr: 1.0e-4\n      train_iters: 10\n      data_path: [a, b]\n",
    "extends:\n  - pre_trainer.yaml\nlr: 'x'\nlist:\n  - a\n  - b: c\n  - [1, 2]\n",
    "key: |\n  block text\n  more\nother: >\n  folded\nanchor: &a {x: 1}\nref: *a\n",
};

const std::string kSpecials = ":[]{}#&*!|>'\"%@`,-?\t\n ${}\\~";

std::string mutate(std::string text, std::mt19937& rng) {
  std::uniform_int_distribution<int> action(0, 3);
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits && !text.empty(); ++e) {
    const size_t at = rng() % text.size();
    switch (action(rng)) {
      case 0: text[at] = kSpecials[rng() % kSpecials.size()]; break;
      case 1: text.insert(at, 1, kSpecials[rng() % kSpecials.size()]); break;
      case 2: text.erase(at, 1 + rng() % 3); break;
      case 3: text.resize(at); break;  // truncation
    }
  }
  return text;
}

TEST(FuzzTest, MutatedYamlOnlyEverThrowsConfigError) {
  std::mt19937 rng(20261126);
  int accepted = 0;
  int rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string text = mutate(kSeeds[i % std::size(kSeeds)], rng);
    try {
      Value tree = read_yaml_text(text, "fuzz.yaml");
      substitute_env(tree);
      (void)to_flow_yaml(tree);
      ++accepted;
    } catch (const ConfigError&) {
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "non-ConfigError exception '" << e.what() << "' for input:\n" << text;
    }
  }
  // Both paths must have been exercised, or the mutations are not testing anything.
  EXPECT_GT(accepted, 100);
  EXPECT_GT(rejected, 100);
}

class FuzzExperimentTest : public FixtureRootTest {};

TEST_F(FuzzExperimentTest, MutatedExperimentFilesOnlyEverThrowConfigError) {
  std::mt19937 rng(7);
  TempDir dir;
  int built = 0;
  int rejected = 0;
  for (int i = 0; i < 300; ++i) {
    auto file = dir.write("fuzz.yaml", mutate(kSeeds[1], rng));
    try {
      load_train_config(file, {"--global_batch_size", "8", "--micro_batch_size", "1"}, BuildOptions{false, 1});
      ++built;
    } catch (const ConfigError&) {
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "non-ConfigError exception '" << e.what() << "'";
    }
  }
  EXPECT_GT(built, 10);
  EXPECT_GT(rejected, 10);
}

TEST_F(FuzzExperimentTest, RandomOverridesOnlyEverThrowConfigError) {
  const std::vector<std::string> tokens = {"--",  "=",       "--lr", "lr=",   "=5",    "--lr=3e-4", "a.b=1", "a..b=1",
                                           "[",   "]",       "{",    "x",     "--seed", "7",        "-1",    "--x=[1,",
                                           "a.=", ".a=1",    "--bf16", "null", "'q",    "\"",       "--num_layers",
                                           "modules.pre_trainer=1", "modules.x.y=1", "lr.x=2", "--data_path", "[a, b]"};
  std::mt19937 rng(99);
  int accepted = 0;
  int rejected = 0;
  for (int i = 0; i < 1500; ++i) {
    std::vector<std::string> args;
    const size_t count = rng() % 5;
    for (size_t k = 0; k < count; ++k) args.push_back(tokens[rng() % tokens.size()]);
    try {
      parse_overrides(args);
      resolve_experiment(experiment("tiny-pretrain.yaml"), args);
      ++accepted;
    } catch (const ConfigError&) {
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "non-ConfigError exception '" << e.what() << "'";
    }
  }
  EXPECT_GT(accepted, 50);
  EXPECT_GT(rejected, 50);
}

}  // namespace
}  // namespace primus::config
