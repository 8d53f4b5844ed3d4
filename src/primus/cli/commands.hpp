// The primus executable's sub-commands: each file in cli/ adds one to the app.
#pragma once

#include <CLI/CLI.hpp>

namespace primus::cli {

void add_train_command(CLI::App& app);      // primus train pretrain --config X.yaml [overrides]
void add_config_command(CLI::App& app);     // primus config show|validate|diff
void add_migrate_command(CLI::App& app);    // primus migrate megatron-lm SCRIPT.sh
void add_benchmark_command(CLI::App& app);  // primus benchmark --config X.yaml [overrides]

}  // namespace primus::cli
