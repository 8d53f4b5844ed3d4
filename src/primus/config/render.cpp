// Rendering, explaining and diffing resolved configs (see render.hpp).
#include "primus/config/render.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "primus/config/config_error.hpp"
#include "primus/config/schema_check.hpp"

namespace primus::config {
namespace {

nlohmann::json to_json(const Value& value) {
  switch (value.kind) {
    case ValueKind::Null: return nullptr;
    case ValueKind::Bool: return value.bool_value;
    case ValueKind::Int: return value.int_value;
    case ValueKind::Float: return value.float_value;
    case ValueKind::String: return value.string_value;
    case ValueKind::List: {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& item : value.list) list.push_back(to_json(item));
      return list;
    }
    case ValueKind::Map: {
      nlohmann::json map = nlohmann::json::object();
      for (const auto& [key, item] : value.map) map[key] = to_json(item);
      return map;
    }
  }
  return nullptr;
}

// The text of line `line` of `file`, trimmed; "" when it cannot be read.
std::string source_line(const SourceLocation& where) {
  if (where.line <= 0) return "";
  std::ifstream in(where.file);
  std::string text;
  for (int i = 0; i < where.line && std::getline(in, text); ++i) {
  }
  if (!in) return "";
  const size_t first = text.find_first_not_of(" \t");
  return first == std::string::npos ? "" : text.substr(first);
}

std::string value_or_unset(const FlatSettings& settings, const std::string& key) {
  auto it = settings.find(key);
  return it == settings.end() ? "(unset)" : to_flow_yaml(it->second.value);
}

void diff_section(const FlatSettings& a, const FlatSettings& b, std::vector<std::string>& lines) {
  std::set<std::string> keys;
  for (const auto& entry : a) keys.insert(entry.first);
  for (const auto& entry : b) keys.insert(entry.first);
  for (const auto& key : keys) {
    auto in_a = a.find(key);
    auto in_b = b.find(key);
    if (in_a != a.end() && in_b != b.end() && in_a->second.value.same_content(in_b->second.value)) continue;
    lines.push_back(fmt::format("{}: {} -> {}", key, value_or_unset(a, key), value_or_unset(b, key)));
  }
}

}  // namespace

std::string render_yaml(const ResolvedConfig& resolved) {
  std::string out = fmt::format("# resolved from {}\n", resolved.config_file.string());
  for (const auto& [key, setting] : resolved.experiment) out += fmt::format("{}: {}\n", key, to_flow_yaml(setting.value));
  out += "pre_trainer:\n";
  for (const auto& [key, setting] : resolved.pre_trainer)
    out += fmt::format("  {}: {}\n", key, to_flow_yaml(setting.value));
  return out;
}

std::string render_json(const ResolvedConfig& resolved) {
  nlohmann::json root = nlohmann::json::object();
  for (const auto& [key, setting] : resolved.experiment) root[key] = to_json(setting.value);
  nlohmann::json pre_trainer = nlohmann::json::object();
  for (const auto& [key, setting] : resolved.pre_trainer) pre_trainer[key] = to_json(setting.value);
  root["pre_trainer"] = std::move(pre_trainer);
  return root.dump(2) + "\n";
}

std::string explain_key(const ResolvedConfig& resolved, const std::string& key) {
  std::string name = key;
  for (const char* prefix : {"modules.pre_trainer.overrides.", "modules.pre_trainer."})
    if (name.rfind(prefix, 0) == 0) name = name.substr(std::string(prefix).size());
  const Setting* setting = nullptr;
  std::string section;
  if (auto it = resolved.pre_trainer.find(name); it != resolved.pre_trainer.end()) {
    setting = &it->second;
    section = "pre_trainer";
  } else if (auto meta = resolved.experiment.find(name); meta != resolved.experiment.end()) {
    setting = &meta->second;
    section = "experiment";
  }
  if (setting == nullptr && find_key_spec(name) != nullptr)
    return fmt::format("{} (pre_trainer) = {}\n  not set by any file or argument: the schema default\n", name,
                       to_flow_yaml(default_value(*find_key_spec(name))));
  if (setting == nullptr) {
    std::string suggestion = suggest_key(name);
    throw ConfigError(fmt::format("{}: key '{}' is not set by this configuration{}", resolved.config_file.string(),
                                  name, suggestion.empty() ? "" : fmt::format(" (did you mean '{}'?)", suggestion)));
  }
  std::string out = fmt::format("{} ({}) = {}\n", name, section, to_flow_yaml(setting->value));
  for (size_t i = 0; i < setting->history.size(); ++i) {
    const SourceLocation& where = setting->history[i];
    const bool won = i + 1 == setting->history.size();
    std::string text = source_line(where);
    out += fmt::format("  {}. {}{}{}\n", i + 1, where.str(), text.empty() ? "" : "  " + text,
                       won ? "  <- wins" : "  (overridden)");
  }
  return out;
}

std::vector<std::string> diff_configs(const ResolvedConfig& a, const ResolvedConfig& b) {
  std::vector<std::string> lines;
  diff_section(a.experiment, b.experiment, lines);
  diff_section(a.pre_trainer, b.pre_trainer, lines);
  return lines;
}

}  // namespace primus::config
