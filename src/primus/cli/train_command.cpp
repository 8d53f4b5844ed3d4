// primus train pretrain: resolves and builds the TrainConfig, prints a summary.
// The training loop itself arrives with the engine (issue 3); this says so plainly.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>

#include "primus/cli/commands.hpp"
#include "primus/config/build.hpp"

namespace primus::cli {
namespace {

struct PretrainArgs {
  std::string config;
  bool strict = false;
};

void print_summary(const config::TrainConfig& c) {
  const auto& m = c.model;
  const auto& p = c.parallel;
  const auto& t = c.training;
  std::cout << fmt::format("experiment  {}/{}/{} in {} (from {})\n", c.experiment.work_group, c.experiment.user_name,
                           c.experiment.exp_name, c.experiment.workspace, c.experiment.config_file)
            << fmt::format("model       {} layers, hidden {}, ffn {}, heads {} (query groups {}), seq {}, vocab {} "
                           "(padded {})\n",
                           m.num_layers, m.hidden_size, m.ffn_hidden_size, m.num_attention_heads, m.num_query_groups,
                           m.seq_length, m.vocab_size, m.padded_vocab_size)
            << fmt::format("parallel    world {} = tp {} x pp {} x cp {} x dp {}\n", p.world_size,
                           p.tensor_model_parallel_size, p.pipeline_model_parallel_size, p.context_parallel_size,
                           p.data_parallel_size)
            << fmt::format("training    {} iters, global batch {} = micro {} x dp {} x {} micro-batches, lr {}\n",
                           t.train_iters, t.global_batch_size, t.micro_batch_size, p.data_parallel_size,
                           t.num_micro_batches, c.optimizer.lr);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto* train = app.add_subcommand("train", "train a model");
  train->require_subcommand(1);
  auto args = std::make_shared<PretrainArgs>();
  auto* pretrain = train->add_subcommand("pretrain", "pretrain from an experiment YAML (--config X.yaml [overrides])");
  pretrain->allow_extras();
  pretrain->add_option("--config", args->config, "experiment YAML file")->required();
  pretrain->add_flag("--strict", args->strict, "unimplemented keys set to non-default values are errors");
  pretrain->callback([pretrain, args] {
    config::BuildOptions options;
    options.strict = args->strict;
    std::vector<std::string> warnings;
    const config::TrainConfig train_config =
        config::load_train_config(args->config, pretrain->remaining(), options, &warnings);
    for (const auto& warning : warnings) std::cerr << "warning: " << warning << "\n";
    print_summary(train_config);
    std::cout << "config OK; training arrives with the engine (issue 3): nothing was trained\n";
  });
}

}  // namespace primus::cli
