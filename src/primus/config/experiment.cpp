// Experiment composition (see experiment.hpp).
#include "primus/config/experiment.hpp"

#include <fmt/format.h>

#include <array>
#include <string_view>

#include "primus/config/config_error.hpp"
#include "primus/config/config_root.hpp"
#include "primus/config/inheritance.hpp"
#include "primus/config/overrides.hpp"

namespace primus::config {
namespace fs = std::filesystem;

FlatSettings flatten(const Value& map) {
  FlatSettings flat;
  for (const auto& [key, value] : map.map) {
    Setting setting{value, value.overridden};
    setting.history.push_back(value.location);
    flat.emplace(key, std::move(setting));
  }
  return flat;
}

namespace {

constexpr std::array<std::string_view, 4> kExperimentKeys = {"work_group", "user_name", "exp_name", "workspace"};
// Keys of a module entry that choose files or the trainer rather than set trainer values.
constexpr std::array<std::string_view, 5> kModuleKeys = {"framework", "config", "model", "overrides",
                                                         "trainer_class"};

template <size_t N>
bool one_of(const std::string& key, const std::array<std::string_view, N>& names) {
  for (auto name : names)
    if (key == name) return true;
  return false;
}

const Value* string_entry(const Value& spec, const char* key) {
  const Value* entry = spec.find(key);
  if (entry == nullptr || entry->is_null()) return nullptr;
  if (!entry->is_string())
    throw ConfigError(fmt::format("{}: '{}' must be a file name, got {} {}", entry->location.str(), key,
                                  kind_name(entry->kind), to_flow_yaml(*entry)));
  return entry;
}

// The module entry (framework/config/model/overrides + extra keys) and the experiment metadata.
struct ExperimentParts {
  Value module_spec;
  Value meta;
};

ExperimentParts split_experiment(Value experiment) {
  ExperimentParts parts{Value::empty_map(experiment.location), Value::empty_map(experiment.location)};
  auto modules = experiment.map.find("modules");
  if (modules == experiment.map.end()) {
    // Flat migration-guide form: model:/overrides: at the top level.
    for (auto& [key, value] : experiment.map) {
      if (one_of(key, kExperimentKeys)) parts.meta.map.emplace(key, std::move(value));
      else parts.module_spec.map.emplace(key, std::move(value));
    }
    return parts;
  }
  const Value& modules_value = modules->second;
  if (!modules_value.is_map())
    throw ConfigError(fmt::format("{}: 'modules' must be a mapping with a 'pre_trainer' entry, got {} {}",
                                  modules_value.location.str(), kind_name(modules_value.kind),
                                  to_flow_yaml(modules_value)));
  for (const auto& [name, module] : modules_value.map)
    if (name != "pre_trainer")
      throw ConfigError(fmt::format("{}: module 'modules.{}' is not supported yet (only pre-training: modules.pre_trainer)",
                                    module.location.str(), name));
  const Value* pre_trainer = modules_value.find("pre_trainer");
  if (pre_trainer == nullptr || !pre_trainer->is_map())
    throw ConfigError(fmt::format("{}: 'modules.pre_trainer' must be a mapping (framework, config, model, overrides)",
                                  modules_value.location.str()));
  parts.module_spec = *pre_trainer;
  for (auto& [key, value] : experiment.map)
    if (key != "modules") parts.meta.map.emplace(key, std::move(value));
  return parts;
}

// Strips the spellings that address pre_trainer settings explicitly.
std::vector<std::string> settings_path(const Override& override_entry) {
  std::vector<std::string> path = override_entry.path;
  if (path.front() == "modules") {
    if (path.size() < 3 || path[1] != "pre_trainer")
      throw ConfigError(fmt::format("{}: '{}' does not name a pre_trainer setting (write modules.pre_trainer.KEY or KEY)",
                                    override_entry.value.location.str(), fmt::join(path, ".")));
    path.erase(path.begin(), path.begin() + 2);
    if (path.front() == "overrides" && path.size() > 1) path.erase(path.begin());
  }
  if (path.size() == 1 && one_of(path.front(), kModuleKeys))
    throw ConfigError(fmt::format("{}: '{}' belongs to the module entry (it chooses files or the trainer), not to "
                                  "the trainer settings; edit the experiment YAML",
                                  override_entry.value.location.str(), path.front()));
  return path;
}

void apply_override(Value& meta, Value& settings, Override override_entry) {
  const SourceLocation where = override_entry.value.location;
  std::vector<std::string> path;
  Value* target = nullptr;
  if (override_entry.path.size() == 1 && one_of(override_entry.path.front(), kExperimentKeys)) {
    path = override_entry.path;
    target = &meta;
  } else {
    path = settings_path(override_entry);
    target = &settings;
  }
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    auto it = target->map.find(path[i]);
    if (it == target->map.end()) it = target->map.emplace(path[i], Value::empty_map(where)).first;
    if (!it->second.is_map())
      throw ConfigError(fmt::format("{}: cannot set '{}': '{}' is {} {}, not a mapping", where.str(),
                                    fmt::join(path, "."), path[i], kind_name(it->second.kind),
                                    to_flow_yaml(it->second)));
    target = &it->second;
  }
  auto leaf = target->map.find(path.back());
  if (leaf == target->map.end()) target->map.emplace(path.back(), std::move(override_entry.value));
  else merge_into(leaf->second, std::move(override_entry.value));
}

}  // namespace

ResolvedConfig resolve_experiment(const fs::path& config_file, const std::vector<std::string>& cli_args) {
  std::vector<Override> overrides = parse_overrides(cli_args);  // malformed arguments fail before any file is read
  const std::vector<fs::path> search_dirs = zoo_dirs();
  std::error_code ignored;
  if (!fs::is_regular_file(config_file, ignored))
    throw ConfigError(fmt::format("{}: config file not found", config_file.string()));

  ExperimentParts parts = split_experiment(load_config_file(config_file, search_dirs));
  Value& spec = parts.module_spec;
  if (const Value* framework = string_entry(spec, "framework"); framework && framework->string_value != "megatron")
    throw ConfigError(fmt::format("{}: framework '{}' is not supported (expected megatron)",
                                  framework->location.str(), framework->string_value));

  const Value* defaults_name = string_entry(spec, "config");
  const std::string defaults_file = defaults_name ? defaults_name->string_value : "pre_trainer.yaml";
  const SourceLocation defaults_at = defaults_name ? defaults_name->location : spec.location;
  Value settings =
      load_config_file(resolve_include(defaults_file, config_file, defaults_at, search_dirs), search_dirs);

  if (const Value* model = string_entry(spec, "model"))
    merge_into(settings,
               load_config_file(resolve_include(model->string_value, config_file, model->location, search_dirs),
                                search_dirs));

  // Trainer keys written directly in the module entry rank with overrides, just below them.
  Value extras = Value::empty_map(spec.location);
  for (auto& [key, value] : spec.map)
    if (!one_of(key, kModuleKeys)) extras.map.emplace(key, value);
  merge_into(settings, std::move(extras));

  if (const Value* overrides_map = spec.find("overrides"); overrides_map && !overrides_map->is_null()) {
    if (!overrides_map->is_map())
      throw ConfigError(fmt::format("{}: 'overrides' must be a mapping of keys, got {} {}",
                                    overrides_map->location.str(), kind_name(overrides_map->kind),
                                    to_flow_yaml(*overrides_map)));
    merge_into(settings, *overrides_map);
  }
  for (auto& override_entry : overrides) apply_override(parts.meta, settings, std::move(override_entry));

  ResolvedConfig resolved;
  resolved.config_file = config_file;
  resolved.experiment = flatten(parts.meta);
  resolved.pre_trainer = flatten(settings);
  return resolved;
}

FlatSettings load_model_preset(const std::string& name_or_path) {
  const std::vector<fs::path> search_dirs = zoo_dirs();
  std::string name = name_or_path;
  if (fs::path(name).extension().empty()) name += ".yaml";
  std::error_code ignored;
  const fs::path here = fs::current_path(ignored) / "<model preset>";
  const fs::path file = resolve_include(name, here, SourceLocation{"<model preset>", 0, 0}, search_dirs);
  return flatten(load_config_file(file, search_dirs));
}

}  // namespace primus::config
