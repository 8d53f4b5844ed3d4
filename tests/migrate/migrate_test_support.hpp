// Shared by the migrate tests: script paths, the real zoo's options, a scratch output directory, and
// reading a written migration back with yaml-cpp.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "primus/migrate/migration.hpp"
#include "primus/migrate/migration_writer.hpp"

namespace primus::migrate::testing {

inline std::filesystem::path migrate_dir() { return std::filesystem::path(PRIMUS_TEST_DATA_DIR) / "migrate"; }
inline std::filesystem::path script_path(const std::string& name) { return migrate_dir() / "scripts" / name; }

// The real zoo and trainer defaults, found through the config root (PRIMUS_CONFIG_ROOT, else the source tree).
inline MigrateOptions real_zoo_options() { return MigrateOptions{}; }

// A fresh directory under the system temp dir, removed at scope end.
class OutputDirectory {
 public:
  explicit OutputDirectory(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / ("primus-migrate-test-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
  }
  ~OutputDirectory() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes the migration and parses the experiment file back.
inline YAML::Node write_and_load(const MigrationResult& result, const OutputDirectory& dir) {
  write_migration(result, dir.path());
  return YAML::LoadFile(experiment_path(result, dir.path()).string());
}

inline YAML::Node overrides_of(const YAML::Node& experiment) { return experiment["modules"]["pre_trainer"]["overrides"]; }

}  // namespace primus::migrate::testing
