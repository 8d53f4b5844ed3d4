// Checking a written migration with the real config system: the experiment must
// resolve and build into a TrainConfig, at the world size the script launched with.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "primus/migrate/migration.hpp"

namespace primus::migrate {

struct MigrationValidation {
  bool ok = false;
  std::string error;                  // the ConfigError's message when !ok
  std::vector<std::string> warnings;  // unimplemented keys set to non-default values, etc.
};

// config::load_train_config on out_dir/<exp_name>.yaml (not strict; the launch's world
// size, else the smallest the layout allows).
MigrationValidation validate_migration(const MigrationResult& result, const std::filesystem::path& out_dir);

// "validated: OK" or "validated: FAILED" with the error, after one "warning: ..." line each.
std::string validation_report(const MigrationValidation& validation);

}  // namespace primus::migrate
