// Parsing command-line overrides (see overrides.hpp).
#include "primus/config/overrides.hpp"

#include <fmt/format.h>

#include <regex>

#include "primus/config/config_error.hpp"
#include "primus/config/yaml_reader.hpp"

namespace primus::config {
namespace {

const char* kForms = "expected --key value, --key=value or key=value";

std::vector<std::string> split_key(const std::string& key, const std::string& arg, size_t index) {
  static const std::regex name_re("[A-Za-z_][A-Za-z0-9_-]*");
  std::vector<std::string> path;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!std::regex_match(part, name_re))
      throw ConfigError(fmt::format("command-line argument {} '{}': '{}' is not a valid key name ({})", index, arg,
                                    key, kForms));
    // Megatron-LM spells options with dashes (--global-batch-size); the YAML keys use underscores.
    for (char& c : part)
      if (c == '-') c = '_';
    path.push_back(std::move(part));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return path;
}

Value parse_value(const std::string& text, const std::string& arg, size_t index) {
  SourceLocation where{kCommandLine, 0, static_cast<int>(index)};
  Value value;
  try {
    value = read_yaml_text(text, kCommandLine);
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("command-line argument {} '{}': value '{}' is not valid YAML: {}", index, arg, text,
                                  e.what()));
  }
  // Every node of a command-line value is reported at its argument.
  struct Relocate {
    const SourceLocation& where;
    void operator()(Value& v) const {
      v.location = where;
      for (auto& item : v.list) (*this)(item);
      for (auto& [key, item] : v.map) (*this)(item);
    }
  };
  Relocate{where}(value);
  return value;
}

}  // namespace

std::vector<Override> parse_overrides(const std::vector<std::string>& args) {
  std::vector<Override> overrides;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const size_t index = i + 1;
    std::string key;
    std::string value_text;
    bool has_value = false;
    if (arg.rfind("--", 0) == 0) {
      std::string body = arg.substr(2);
      if (body.empty())
        throw ConfigError(fmt::format("command-line argument {} '--' names no key ({})", index, kForms));
      if (size_t eq = body.find('='); eq != std::string::npos) {
        key = body.substr(0, eq);
        value_text = body.substr(eq + 1);
        has_value = true;
      } else {
        key = body;
        if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
          value_text = args[++i];
          has_value = true;
        }
      }
    } else if (size_t eq = arg.find('='); eq != std::string::npos) {
      key = arg.substr(0, eq);
      value_text = arg.substr(eq + 1);
      has_value = true;
    } else {
      throw ConfigError(fmt::format("command-line argument {} '{}' is a value with no key ({})", index, arg, kForms));
    }
    if (key.empty())
      throw ConfigError(fmt::format("command-line argument {} '{}' has no key before '=' ({})", index, arg, kForms));
    Override override_entry;
    override_entry.path = split_key(key, arg, index);
    override_entry.value = has_value ? parse_value(value_text, arg, index)
                                     : Value::boolean(true, SourceLocation{kCommandLine, 0, static_cast<int>(index)});
    overrides.push_back(std::move(override_entry));
  }
  return overrides;
}

}  // namespace primus::config
