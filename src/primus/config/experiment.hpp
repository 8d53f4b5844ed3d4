// Experiment composition: an experiment YAML (modules.pre_trainer form, or the
// flat migration-guide form with top-level model:/overrides:) plus command-line
// overrides -> ResolvedConfig. Precedence: trainer defaults < model < overrides < command line.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "primus/config/resolved_config.hpp"

namespace primus::config {

ResolvedConfig resolve_experiment(const std::filesystem::path& config_file, const std::vector<std::string>& cli_args);

// A zoo model file (name such as "llama3_8B" or "llama3_8B.yaml", or a path)
// with its inheritance applied, as flat settings.
FlatSettings load_model_preset(const std::string& name_or_path);

}  // namespace primus::config
