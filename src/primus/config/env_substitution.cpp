// ${VAR} / ${VAR:default} substitution (see env_substitution.hpp).
#include "primus/config/env_substitution.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <regex>

#include "primus/config/config_error.hpp"

namespace primus::config {
namespace {

// Same grammar as Primus's yaml_loader: a name without ':' '{' '}', then an optional ':default'.
const std::regex& env_pattern() {
  static const std::regex pattern("\\$\\{([^:{}]+)(?::([^}]*))?\\}");
  return pattern;
}

void substitute_in_string(Value& value) {
  const std::string& text = value.string_value;
  std::string result;
  auto begin = std::sregex_iterator(text.begin(), text.end(), env_pattern());
  if (begin == std::sregex_iterator()) return;
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const std::smatch& match = *it;
    result += text.substr(last, match.position(0) - last);
    const std::string name = match[1].str();
    const char* from_env = std::getenv(name.c_str());
    if (from_env != nullptr) {
      result += from_env;
    } else if (match[2].matched) {
      result += match[2].str();
    } else {
      throw ConfigError(fmt::format(
          "{}: environment variable '{}' is required but not set (export it, or write ${{{}:default}})",
          value.location.str(), name, name));
    }
    last = match.position(0) + match.length(0);
  }
  result += text.substr(last);
  if (result == text) return;  // Primus retypes only values that substitution changed
  Value retyped = retype_substituted(result, value.location);
  retyped.overridden = std::move(value.overridden);
  value = std::move(retyped);
}

}  // namespace

void substitute_env(Value& tree) {
  switch (tree.kind) {
    case ValueKind::String: substitute_in_string(tree); break;
    case ValueKind::List:
      for (auto& item : tree.list) substitute_env(item);
      break;
    case ValueKind::Map:
      for (auto& [key, item] : tree.map) substitute_env(item);
      break;
    default: break;
  }
}

}  // namespace primus::config
