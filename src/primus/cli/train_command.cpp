// primus train pretrain --config X.yaml [overrides]: resolve the experiment, then train it.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "primus/cli/commands.hpp"
#include "primus/config/build.hpp"
#include "primus/config/experiment.hpp"
#include "primus/config/render.hpp"
#include "primus/train/trainer.hpp"

namespace primus::cli {
namespace {

struct TrainArgs {
  std::string config_path;
  bool strict = false;
};

void run_pretrain(const TrainArgs& args, const std::vector<std::string>& overrides) {
  config::BuildOptions options;
  options.strict = args.strict;
  std::vector<std::string> warnings;
  const auto resolved = config::resolve_experiment(args.config_path, overrides);
  const auto train_config = config::build_train_config(resolved, options, &warnings);
  train::Trainer trainer(train_config, nlohmann::json::parse(config::render_json(resolved)));
  for (const auto& warning : warnings) trainer.logger().warn("{}", warning);
  trainer.logger().info("experiment '{}' from {}; logs, checkpoints and tensorboard under {}",
                        train_config.experiment.exp_name, args.config_path, trainer.paths().root.string());
  trainer.train();
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto* train = app.add_subcommand("train", "Train a model from a Primus experiment YAML");
  train->require_subcommand(1);
  auto args = std::make_shared<TrainArgs>();
  auto* pretrain = train->add_subcommand(
      "pretrain", "Pretrain: primus train pretrain --config X.yaml [--key value | key=value ...]");
  pretrain->add_option("--config", args->config_path, "Primus experiment YAML")->required();
  pretrain->add_flag("--strict", args->strict, "Treat keys the engine does not implement yet as errors");
  pretrain->allow_extras();
  pretrain->callback([args, pretrain] { run_pretrain(*args, pretrain->remaining()); });
}

}  // namespace primus::cli
