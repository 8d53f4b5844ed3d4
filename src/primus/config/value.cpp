// The configuration value tree: scalar typing (YAML 1.2 core, Primus retyping) and flow rendering.
#include "primus/config/value.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <limits>
#include <regex>

namespace primus::config {

std::string SourceLocation::str() const {
  if (line == 0 && column > 0) return fmt::format("{} argument {}", file, column);  // command-line overrides
  if (line == 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

std::string_view kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::Null: return "null";
    case ValueKind::Bool: return "bool";
    case ValueKind::Int: return "int";
    case ValueKind::Float: return "float";
    case ValueKind::String: return "string";
    case ValueKind::List: return "list";
    case ValueKind::Map: return "map";
  }
  return "?";
}

Value Value::null(SourceLocation where) {
  Value v;
  v.location = std::move(where);
  return v;
}
Value Value::boolean(bool b, SourceLocation where) {
  Value v = null(std::move(where));
  v.kind = ValueKind::Bool;
  v.bool_value = b;
  return v;
}
Value Value::integer(std::int64_t i, SourceLocation where) {
  Value v = null(std::move(where));
  v.kind = ValueKind::Int;
  v.int_value = i;
  return v;
}
Value Value::floating(double f, SourceLocation where) {
  Value v = null(std::move(where));
  v.kind = ValueKind::Float;
  v.float_value = f;
  return v;
}
Value Value::string(std::string s, SourceLocation where) {
  Value v = null(std::move(where));
  v.kind = ValueKind::String;
  v.string_value = std::move(s);
  return v;
}
Value Value::empty_list(SourceLocation where) {
  Value v = null(std::move(where));
  v.kind = ValueKind::List;
  return v;
}
Value Value::empty_map(SourceLocation where) {
  Value v = null(std::move(where));
  v.kind = ValueKind::Map;
  return v;
}

const Value* Value::find(const std::string& key) const {
  if (kind != ValueKind::Map) return nullptr;
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

bool Value::same_content(const Value& other) const {
  if (kind != other.kind) return false;
  switch (kind) {
    case ValueKind::Null: return true;
    case ValueKind::Bool: return bool_value == other.bool_value;
    case ValueKind::Int: return int_value == other.int_value;
    case ValueKind::Float:
      return float_value == other.float_value || (std::isnan(float_value) && std::isnan(other.float_value));
    case ValueKind::String: return string_value == other.string_value;
    case ValueKind::List:
      if (list.size() != other.list.size()) return false;
      for (size_t i = 0; i < list.size(); ++i)
        if (!list[i].same_content(other.list[i])) return false;
      return true;
    case ValueKind::Map:
      if (map.size() != other.map.size()) return false;
      for (const auto& [key, value] : map) {
        const Value* theirs = other.find(key);
        if (theirs == nullptr || !value.same_content(*theirs)) return false;
      }
      return true;
  }
  return false;
}

namespace {

// Decimal integers too large for int64 become floats rather than failing (YAML has no
// limit); hex and octal ones that large are kept as the text written.
Value integer_or_float(const std::string& text, const std::string& digits, int base, SourceLocation where) {
  errno = 0;
  long long parsed = std::strtoll(digits.c_str(), nullptr, base);
  if (errno != ERANGE) return Value::integer(parsed, std::move(where));
  if (base == 10) return Value::floating(std::strtod(digits.c_str(), nullptr), std::move(where));
  return Value::string(text, std::move(where));
}

}  // namespace

Value parse_plain_scalar(const std::string& text, SourceLocation where) {
  static const std::regex null_re("null|Null|NULL|~|");
  static const std::regex true_re("true|True|TRUE");
  static const std::regex false_re("false|False|FALSE");
  static const std::regex int_re("[-+]?[0-9]+");
  static const std::regex oct_re("0o[0-7]+");
  static const std::regex hex_re("0x[0-9a-fA-F]+");
  static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  static const std::regex inf_re("[-+]?(\\.inf|\\.Inf|\\.INF)");
  static const std::regex nan_re("\\.nan|\\.NaN|\\.NAN");
  if (std::regex_match(text, null_re)) return Value::null(std::move(where));
  if (std::regex_match(text, true_re)) return Value::boolean(true, std::move(where));
  if (std::regex_match(text, false_re)) return Value::boolean(false, std::move(where));
  if (std::regex_match(text, int_re)) return integer_or_float(text, text, 10, std::move(where));
  if (std::regex_match(text, oct_re)) return integer_or_float(text, text.substr(2), 8, std::move(where));
  if (std::regex_match(text, hex_re)) return integer_or_float(text, text.substr(2), 16, std::move(where));
  if (std::regex_match(text, float_re)) return Value::floating(std::strtod(text.c_str(), nullptr), std::move(where));
  if (std::regex_match(text, inf_re))
    return Value::floating(text[0] == '-' ? -std::numeric_limits<double>::infinity()
                                          : std::numeric_limits<double>::infinity(),
                           std::move(where));
  if (std::regex_match(text, nan_re))
    return Value::floating(std::numeric_limits<double>::quiet_NaN(), std::move(where));
  return Value::string(text, std::move(where));
}

Value retype_substituted(const std::string& text, SourceLocation where) {
  // The same three rules as Primus's yaml_loader._try_scalar (bool, int, float, else string).
  static const std::regex int_re("-?[0-9]+");
  static const std::regex float_re("-?(?:(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)");
  std::string lowered;
  for (char c : text) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lowered == "true") return Value::boolean(true, std::move(where));
  if (lowered == "false") return Value::boolean(false, std::move(where));
  if (std::regex_match(text, int_re)) return integer_or_float(text, text, 10, std::move(where));
  if (std::regex_match(text, float_re)) return Value::floating(std::strtod(text.c_str(), nullptr), std::move(where));
  return Value::string(text, std::move(where));
}

namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\x{:02x}", c);
        else out += c;
    }
  }
  return out + "\"";
}

bool needs_quotes(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return true;
  if (!parse_plain_scalar(s).is_string()) return true;  // "3" must not read back as 3
  if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(s.front()) != std::string_view::npos) return true;
  for (char c : s)
    if (std::string_view(",[]{}#:\"'\\\n\t").find(c) != std::string_view::npos ||
        static_cast<unsigned char>(c) < 0x20)
      return true;
  return false;
}

std::string format_float(double f) {
  if (std::isnan(f)) return ".nan";
  if (std::isinf(f)) return f < 0 ? "-.inf" : ".inf";
  std::string text = fmt::format("{}", f);  // shortest text that reads back exactly
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

}  // namespace

std::string to_flow_yaml(const Value& value) {
  switch (value.kind) {
    case ValueKind::Null: return "null";
    case ValueKind::Bool: return value.bool_value ? "true" : "false";
    case ValueKind::Int: return std::to_string(value.int_value);
    case ValueKind::Float: return format_float(value.float_value);
    case ValueKind::String: return needs_quotes(value.string_value) ? quote(value.string_value) : value.string_value;
    case ValueKind::List: {
      std::string out = "[";
      for (size_t i = 0; i < value.list.size(); ++i) out += (i ? ", " : "") + to_flow_yaml(value.list[i]);
      return out + "]";
    }
    case ValueKind::Map: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, item] : value.map) {
        out += (first ? "" : ", ") + (needs_quotes(key) ? quote(key) : key) + ": " + to_flow_yaml(item);
        first = false;
      }
      return out + "}";
    }
  }
  return "null";
}

}  // namespace primus::config
