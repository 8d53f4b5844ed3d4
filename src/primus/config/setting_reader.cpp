// Typed look-ups of flat settings (see setting_reader.hpp).
#include "primus/config/setting_reader.hpp"

#include <fmt/format.h>

#include <cctype>
#include <limits>

#include "primus/config/key_spec.hpp"
#include "primus/config/schema_check.hpp"

namespace primus::config {

SettingReader::SettingReader(const FlatSettings& settings, Diagnostics& diagnostics)
    : settings_(settings), diagnostics_(diagnostics) {}

const Value* SettingReader::value(const std::string& key) const {
  if (auto it = settings_.find(key); it != settings_.end()) return &it->second.value;
  if (auto it = defaults_.find(key); it != defaults_.end()) return &it->second;
  const KeySpec* spec = find_key_spec(key);
  if (spec == nullptr) return nullptr;
  return &defaults_.emplace(key, default_value(*spec)).first->second;
}

bool SettingReader::is_null(const std::string& key) const {
  const Value* found = value(key);
  return found == nullptr || found->is_null();
}

std::string SettingReader::where(const std::string& key) const {
  if (auto it = settings_.find(key); it != settings_.end()) return it->second.history.back().str();
  return "the default";
}

void SettingReader::read(const std::string& key, bool& out) const {
  if (const Value* v = value(key); v && v->kind == ValueKind::Bool) out = v->bool_value;
  if (const Value* v = value(key); v && v->kind == ValueKind::Int) out = v->int_value != 0;  // Primus's 0/1 flags
}

void SettingReader::read(const std::string& key, std::int64_t& out) const {
  if (const Value* v = value(key); v && v->kind == ValueKind::Int) out = v->int_value;
}

void SettingReader::read(const std::string& key, int& out) const {
  const Value* v = value(key);
  if (!v || v->kind != ValueKind::Int) return;
  if (v->int_value < std::numeric_limits<int>::min() || v->int_value > std::numeric_limits<int>::max()) {
    diagnostics_.errors.push_back(
        fmt::format("{}: key '{}' value {} is out of range for a 32-bit integer", where(key), key, v->int_value));
    return;
  }
  out = static_cast<int>(v->int_value);
}

void SettingReader::read(const std::string& key, double& out) const {
  const Value* v = value(key);
  if (v && v->kind == ValueKind::Float) out = v->float_value;
  if (v && v->kind == ValueKind::Int) out = static_cast<double>(v->int_value);
}

void SettingReader::read(const std::string& key, std::string& out) const {
  if (const Value* v = value(key); v && v->is_string()) out = v->string_value;
}

void SettingReader::read(const std::string& key, std::optional<int>& out) const {
  const Value* v = value(key);
  if (!v || v->kind != ValueKind::Int) return;
  int number = 0;
  read(key, number);
  out = number;
}

void SettingReader::read(const std::string& key, std::optional<std::int64_t>& out) const {
  if (const Value* v = value(key); v && v->kind == ValueKind::Int) out = v->int_value;
}

void SettingReader::read(const std::string& key, std::optional<double>& out) const {
  double number = 0.0;
  if (const Value* v = value(key); v && v->is_number()) {
    read(key, number);
    out = number;
  }
}

void SettingReader::read(const std::string& key, std::vector<std::string>& out) const {
  const Value* v = value(key);
  if (!v) return;
  if (v->is_string()) {
    // Megatron's nargs='+' options arrive as one space-separated string from shell scripts.
    out.clear();
    std::string word;
    for (char c : v->string_value + " ") {
      if (std::isspace(static_cast<unsigned char>(c))) {
        if (!word.empty()) out.push_back(std::move(word));
        word.clear();
      } else {
        word += c;
      }
    }
    return;
  }
  if (!v->is_list()) return;
  out.clear();
  for (const auto& item : v->list) {
    if (item.is_list() || item.is_map() || item.is_null()) {
      diagnostics_.errors.push_back(fmt::format("{}: key '{}' entry {} is {}; expected a path or a weight",
                                                where(key), key, to_flow_yaml(item), kind_name(item.kind)));
      continue;
    }
    out.push_back(item.is_string() ? item.string_value : to_flow_yaml(item));
  }
}

bool SettingReader::read_choice_text(const std::string& key, std::string& text) const {
  const Value* v = value(key);
  if (!v || !v->is_string()) return false;
  text = v->string_value;
  return true;
}

bool SettingReader::read_choice_list_texts(const std::string& key, std::vector<std::string>& texts) const {
  const Value* v = value(key);
  if (!v || !(v->is_list() || v->is_string())) return false;
  if (v->is_string()) {
    read(key, texts);  // Megatron's nargs='+' form: "layernorm mlp"
    return true;
  }
  for (const auto& item : v->list) {
    if (item.is_string()) {
      texts.push_back(item.string_value);
      continue;
    }
    diagnostics_.errors.push_back(fmt::format("{}: key '{}' entry {} is {}; expected a name", where(key), key,
                                              to_flow_yaml(item), kind_name(item.kind)));
  }
  return true;
}

bool SettingReader::same_choice(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = static_cast<char>(std::tolower(static_cast<unsigned char>(a[i] == '-' ? '_' : a[i])));
    char y = static_cast<char>(std::tolower(static_cast<unsigned char>(b[i] == '-' ? '_' : b[i])));
    if (x != y) return false;
  }
  return true;
}

void SettingReader::report_bad_choice(const std::string& key, const std::string& text,
                                      const std::vector<std::string>& names) const {
  diagnostics_.errors.push_back(fmt::format("{}: key '{}' has value '{}'; expected one of: {}", where(key), key, text,
                                            fmt::join(names, ", ")));
}

}  // namespace primus::config
