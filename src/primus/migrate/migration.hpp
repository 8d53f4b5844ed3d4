// `primus migrate megatron-lm`: a Megatron-LM training script (run under launcher
// shims) or the argument dump of its log -> a Primus experiment: zoo model (or a
// generated one), overrides, and every argument that could not be mapped.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "primus/migrate/argument_mapping.hpp"
#include "primus/migrate/zoo_matching.hpp"

namespace primus::migrate {

struct MigrateOptions {
  std::filesystem::path zoo_dir = default_zoo_dir();        // model presets to match
  std::filesystem::path module_dir = default_module_dir();  // holds pre_trainer.yaml, the trainer's defaults
  std::optional<std::string> model;                   // force this zoo model (--model)
  std::optional<std::string> exp_name;                // default: the script's or log's file stem
  std::vector<std::string> script_arguments;          // $1 $2 ... for the script
  std::chrono::seconds timeout{60};                   // the script's run

  // The config root's folders (config::zoo_dirs()): <root>/primus/configs/{models,modules}/megatron.
  static std::filesystem::path default_zoo_dir();
  static std::filesystem::path default_module_dir();
};

// A model preset written next to the experiment when no zoo model matches.
struct GeneratedModel {
  std::string name;           // "<exp_name>_model"
  std::vector<std::string> bases;  // ["language_model.yaml"]
  KeyValues keys;             // architecture keys
};

struct MigrationResult {
  std::string source;    // the script or log migrated
  std::string exp_name;
  std::string model;     // zoo model or generated model name (no .yaml)
  // How the experiment names its model and trainer defaults: the bare file name when the
  // config root finds it (or it is written next to the experiment), else its absolute path.
  std::string model_file;
  std::string trainer_defaults_file;
  std::optional<GeneratedModel> generated_model;
  std::string match_explanation;
  KeyValues overrides;                      // what differs from the model
  std::vector<std::string> pinned_defaults;  // overrides the script left at Megatron-LM's default but the presets change
  std::vector<UnmappedArgument> unmapped;
  std::optional<long long> world_size;  // nproc_per_node * nnodes of the launch
  std::string entry_point;              // pretrain_gpt.py
  std::vector<std::string> notes;       // warnings for the report
};

MigrationResult migrate_megatron_script(const std::filesystem::path& script,
                                        const std::vector<std::pair<std::string, std::string>>& env,
                                        const MigrateOptions& options);

MigrationResult migrate_megatron_log(const std::filesystem::path& log, const MigrateOptions& options);

}  // namespace primus::migrate
