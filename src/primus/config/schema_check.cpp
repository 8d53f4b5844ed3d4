// Schema checks of flat settings (see schema_check.hpp).
#include "primus/config/schema_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "primus/config/config_error.hpp"
#include "primus/config/yaml_reader.hpp"

namespace primus::config {

std::string_view type_name(KeyType type) {
  switch (type) {
    case KeyType::Bool: return "a bool (true/false)";
    case KeyType::Int: return "an integer";
    case KeyType::Float: return "a number";
    case KeyType::String: return "a string";
    case KeyType::List: return "a list";
    case KeyType::Map: return "a mapping";
    case KeyType::Any: return "any value";
  }
  return "?";
}

bool matches_type(const Value& value, const KeySpec& spec) {
  if (value.is_null()) return spec.nullable;
  switch (spec.type) {
    // Primus's own examples write 0/1 for flags (auto_continue_train: 0, sequence_parallel: 1),
    // which Python treats as booleans; any other integer is a mistake.
    case KeyType::Bool:
      return value.kind == ValueKind::Bool ||
             (value.kind == ValueKind::Int && (value.int_value == 0 || value.int_value == 1));
    case KeyType::Int: return value.kind == ValueKind::Int;
    case KeyType::Float: return value.is_number();
    case KeyType::String: return value.is_string();
    case KeyType::List: return value.is_list() || value.is_string();  // one path may be written without brackets
    case KeyType::Map: return value.is_map();
    case KeyType::Any: return true;
  }
  return false;
}

Value default_value(const KeySpec& spec) {
  try {
    return read_yaml_text(std::string(spec.default_yaml), "<default>");
  } catch (const ConfigError&) {
    return Value::string(std::string(spec.default_yaml));
  }
}

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Numbers compare by value here: 1 and 1.0 both equal a default of 1.0.
bool equals_default(const Value& value, const Value& fallback) {
  if (value.is_number() && fallback.is_number()) {
    double a = value.kind == ValueKind::Int ? static_cast<double>(value.int_value) : value.float_value;
    double b = fallback.kind == ValueKind::Int ? static_cast<double>(fallback.int_value) : fallback.float_value;
    return a == b;
  }
  return value.same_content(fallback);
}

}  // namespace

std::string closest_name(std::string_view unknown, const std::vector<std::string_view>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, unknown.size() / 4) + 1;  // a few typos, scaled by length
  for (auto candidate : candidates) {
    size_t distance = edit_distance(unknown, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string suggest_key(std::string_view unknown) {
  std::vector<std::string_view> names;
  for (const auto& spec : key_specs()) names.push_back(spec.name);
  return closest_name(unknown, names);
}

void check_against_schema(const FlatSettings& settings, bool strict, Diagnostics& diagnostics) {
  std::vector<std::string> unimplemented;
  for (const auto& [key, setting] : settings) {
    const std::string where = setting.history.back().str();
    const KeySpec* spec = find_key_spec(key);
    if (spec == nullptr) {
      std::string suggestion = suggest_key(key);
      diagnostics.errors.push_back(
          fmt::format("{}: unknown key '{}'{}", where, key,
                      suggestion.empty() ? "" : fmt::format("; did you mean '{}'?", suggestion)));
      continue;
    }
    if (!matches_type(setting.value, *spec)) {
      diagnostics.errors.push_back(fmt::format("{}: key '{}' has value {} ({}); expected {}{}", where, key,
                                               to_flow_yaml(setting.value), kind_name(setting.value.kind),
                                               type_name(spec->type), spec->nullable ? " or null" : ""));
      continue;
    }
    if (!spec->implemented && !equals_default(setting.value, default_value(*spec)))
      unimplemented.push_back(fmt::format("{}={} ({})", key, to_flow_yaml(setting.value), where));
  }
  if (unimplemented.empty()) return;
  std::string message = fmt::format("{} key{} set but not implemented yet (their values are ignored): {}",
                                    unimplemented.size(), unimplemented.size() == 1 ? " is" : "s are",
                                    fmt::format("{}", fmt::join(unimplemented, ", ")));
  if (strict) diagnostics.errors.push_back(message + " [--strict makes this an error]");
  else diagnostics.warnings.push_back(message);
}

}  // namespace primus::config
