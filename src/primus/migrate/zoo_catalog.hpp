// The model zoo as a catalog for matching a migrated script: each preset's
// settings as loaded by the config system (config::load_model_preset, which
// follows extends:/bases:), converted to migration values.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "primus/config/resolved_config.hpp"
#include "primus/migrate/arg_value.hpp"

namespace primus::migrate {

using KeyValues = std::map<std::string, ArgValue>;

struct ZooModel {
  std::string name;     // file stem: "llama3_8B"
  KeyValues keys;       // the preset's settings, bases applied
  bool is_base = false;  // another preset extends it (llama_base, llama3_8B): loses ties to one that is not
};

// A config value as a migration value: a map (or a list inside a list) becomes its flow YAML text.
ArgValue value_from_config(const config::Value& value);
KeyValues values_from_settings(const config::FlatSettings& settings);

// One preset file (a model, or a module such as pre_trainer.yaml) with its bases applied.
// Throws config::ConfigError naming the file on unreadable YAML, a missing base or a cycle.
KeyValues load_preset_values(const std::filesystem::path& file);

// Every *.yaml in zoo_dir, sorted by name. Throws std::runtime_error when zoo_dir is
// not a directory, config::ConfigError for a preset that does not load.
std::vector<ZooModel> load_zoo_catalog(const std::filesystem::path& zoo_dir);

}  // namespace primus::migrate
