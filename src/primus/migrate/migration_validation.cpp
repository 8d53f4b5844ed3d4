// Validates a written migration with config::load_train_config (see migration_validation.hpp).
#include "primus/migrate/migration_validation.hpp"

#include "primus/config/build.hpp"
#include "primus/migrate/migration_writer.hpp"

namespace primus::migrate {

MigrationValidation validate_migration(const MigrationResult& result, const std::filesystem::path& out_dir) {
  MigrationValidation validation;
  config::BuildOptions options{.strict = false,
                               .world_size = static_cast<int>(result.world_size.value_or(0)),
                               .assume_minimal_world = true};
  try {
    config::load_train_config(experiment_path(result, out_dir), {}, options, &validation.warnings);
    validation.ok = true;
  } catch (const config::ConfigError& e) {
    validation.error = e.what();
  }
  return validation;
}

std::string validation_report(const MigrationValidation& validation) {
  std::string text;
  for (const auto& warning : validation.warnings) text += "warning: " + warning + "\n";
  if (validation.ok) return text + "validated: OK\n";
  return text + "validated: FAILED\n" + validation.error + "\n";
}

}  // namespace primus::migrate
