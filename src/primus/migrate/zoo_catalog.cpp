// Reads the model zoo for matching through the config loader (see zoo_catalog.hpp).
#include "primus/migrate/zoo_catalog.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "primus/config/experiment.hpp"

namespace primus::migrate {
namespace fs = std::filesystem;
namespace {

Scalar scalar_from_config(const config::Value& value) {
  switch (value.kind) {
    case config::ValueKind::Null: return null_scalar();
    case config::ValueKind::Bool: return bool_scalar(value.bool_value);
    case config::ValueKind::Int: return {ScalarKind::Int, std::to_string(value.int_value)};
    case config::ValueKind::Float: return {ScalarKind::Float, format_float(value.float_value)};
    case config::ValueKind::String: return {ScalarKind::String, value.string_value};
    default: return {ScalarKind::String, config::to_flow_yaml(value)};
  }
}

std::string canonical_name(const fs::path& file) {
  std::error_code ignored;
  return fs::weakly_canonical(file, ignored).string();
}

}  // namespace

ArgValue value_from_config(const config::Value& value) {
  if (!value.is_list()) return scalar_value(scalar_from_config(value));
  ArgValue list{true, {}};
  for (const auto& item : value.list) list.items.push_back(scalar_from_config(item));
  return list;
}

KeyValues values_from_settings(const config::FlatSettings& settings) {
  KeyValues values;
  for (const auto& [key, setting] : settings) values[key] = value_from_config(setting.value);
  return values;
}

KeyValues load_preset_values(const fs::path& file) { return values_from_settings(config::load_model_preset(file.string())); }

std::vector<ZooModel> load_zoo_catalog(const fs::path& zoo_dir) {
  if (!fs::is_directory(zoo_dir)) throw std::runtime_error("model zoo directory not found: " + zoo_dir.string());
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(zoo_dir))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::vector<ZooModel> catalog;
  std::set<std::string> bases;  // files whose settings another preset inherited (seen in its settings' history)
  for (const auto& file : files) {
    config::FlatSettings settings = config::load_model_preset(file.string());
    const std::string own = canonical_name(file);
    for (const auto& [key, setting] : settings)
      for (const auto& where : setting.history)
        if (std::string from = canonical_name(where.file); from != own) bases.insert(from);
    catalog.push_back(ZooModel{file.stem().string(), values_from_settings(settings), false});
  }
  for (size_t i = 0; i < files.size(); ++i) catalog[i].is_base = bases.count(canonical_name(files[i])) > 0;
  return catalog;
}

}  // namespace primus::migrate
