// Every shipped experiment file and every Primus-shaped compatibility fixture
// resolves and validates through the real config system; every zoo model loads.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "primus/config/build.hpp"
#include "primus/config/config_error.hpp"
#include "primus/config/experiment.hpp"

namespace primus {
namespace {

const std::filesystem::path kSource = PRIMUS_SOURCE_DIR;

std::vector<std::filesystem::path> yaml_files(const std::filesystem::path& dir, bool recursive) {
  std::vector<std::filesystem::path> files;
  auto add = [&](const std::filesystem::directory_entry& e) {
    if (e.is_regular_file() && e.path().extension() == ".yaml") files.push_back(e.path());
  };
  if (recursive) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) add(e);
  } else {
    for (const auto& e : std::filesystem::directory_iterator(dir)) add(e);
  }
  std::sort(files.begin(), files.end());
  return files;
}

void expect_validates(const std::filesystem::path& file) {
  config::BuildOptions options;
  options.assume_minimal_world = true;
  try {
    const auto resolved = config::resolve_experiment(file, {});
    const auto train = config::build_train_config(resolved, options);
    EXPECT_GT(train.model.num_layers, 0) << file;
    EXPECT_GT(train.model.padded_vocab_size, 0) << file;
    EXPECT_GT(train.training.train_iters, 0) << file;
  } catch (const config::ConfigError& e) {
    ADD_FAILURE() << file << " does not validate:\n" << e.what();
  }
}

TEST(ShippedConfigs, EveryExampleExperimentValidates) {
  const auto files = yaml_files(kSource / "examples/megatron/configs", /*recursive=*/true);
  ASSERT_GE(files.size(), 20u);
  for (const auto& f : files) expect_validates(f);
}

TEST(ShippedConfigs, PrimusMi300xExperimentFilesValidateUnchanged) {
  const auto files = yaml_files(kSource / "tests/config_fixtures/primus_mi300x", false);
  ASSERT_GE(files.size(), 7u);
  for (const auto& f : files) expect_validates(f);
}

TEST(ShippedConfigs, EveryZooModelLoads) {
  const auto files = yaml_files(kSource / "primus/configs/models/megatron", false);
  ASSERT_GE(files.size(), 30u);
  for (const auto& f : files) {
    try {
      const auto settings = config::load_model_preset(f.string());
      EXPECT_FALSE(settings.empty()) << f;
    } catch (const config::ConfigError& e) {
      ADD_FAILURE() << f << ": " << e.what();
    }
  }
}

TEST(ShippedConfigs, MisspeltKeyInAnExperimentIsRejectedWithTheSuggestion) {
  try {
    const auto resolved = config::resolve_experiment(kSource / "examples/megatron/configs/tiny_llama-pretrain.yaml",
                                                     {"--global_batch_sise", "16"});
    config::build_train_config(resolved, config::BuildOptions{});
    FAIL() << "a misspelt key was accepted";
  } catch (const config::ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("global_batch_sise"), std::string::npos) << message;
    EXPECT_NE(message.find("did you mean 'global_batch_size'?"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace primus
