// Writes a migration: the experiment YAML (and the generated model YAML when no
// zoo model matched), and the report printed to the user.
#pragma once

#include <filesystem>
#include <string>

#include "primus/migrate/migration.hpp"

namespace primus::migrate {

// The experiment file's text; unmapped arguments are comments at its end.
std::string experiment_yaml(const MigrationResult& result);

// The generated model preset's text (bases: + architecture keys).
std::string model_yaml(const GeneratedModel& model);

// DIR/<exp_name>.yaml (+ DIR/<model>.yaml when generated). Creates DIR. Refuses,
// before writing anything, to replace an existing file unless `overwrite`.
void write_migration(const MigrationResult& result, const std::filesystem::path& out_dir, bool overwrite = false);

// Where write_migration puts the experiment file (for validation by the config loader).
std::filesystem::path experiment_path(const MigrationResult& result, const std::filesystem::path& out_dir);

// What matched, what was overridden or pinned, and every argument not mapped.
std::string migration_report(const MigrationResult& result);

}  // namespace primus::migrate
