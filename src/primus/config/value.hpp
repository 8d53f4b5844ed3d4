// The configuration value tree: null/bool/int/float/string/list/map, every node
// carrying the file:line:column it came from and the places it overrode.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace primus::config {

struct SourceLocation {
  std::string file;  // "<command line>" for overrides given as arguments
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; the argument index for command-line overrides

  std::string str() const;  // "file:line:column"
  bool operator==(const SourceLocation&) const = default;
};

enum class ValueKind { Null, Bool, Int, Float, String, List, Map };

std::string_view kind_name(ValueKind kind);

struct Value {
  ValueKind kind = ValueKind::Null;
  bool bool_value = false;
  std::int64_t int_value = 0;
  double float_value = 0.0;
  std::string string_value;
  std::vector<Value> list;
  std::map<std::string, Value> map;
  SourceLocation location;
  // Earlier places that set this value and were overridden (oldest first).
  std::vector<SourceLocation> overridden;

  static Value null(SourceLocation where = {});
  static Value boolean(bool v, SourceLocation where = {});
  static Value integer(std::int64_t v, SourceLocation where = {});
  static Value floating(double v, SourceLocation where = {});
  static Value string(std::string v, SourceLocation where = {});
  static Value empty_list(SourceLocation where = {});
  static Value empty_map(SourceLocation where = {});

  bool is_null() const { return kind == ValueKind::Null; }
  bool is_map() const { return kind == ValueKind::Map; }
  bool is_list() const { return kind == ValueKind::List; }
  bool is_string() const { return kind == ValueKind::String; }
  bool is_number() const { return kind == ValueKind::Int || kind == ValueKind::Float; }

  const Value* find(const std::string& key) const;  // maps only; nullptr otherwise

  // Same content (locations ignored); 1 and 1.0 differ, as in YAML.
  bool same_content(const Value& other) const;
};

// YAML 1.2 core schema typing of a plain (unquoted) scalar.
Value parse_plain_scalar(const std::string& text, SourceLocation where = {});

// Primus's retyping of a string that ${VAR} substitution changed:
// true/false (any case) -> bool, -?digits -> int, a float literal -> float.
Value retype_substituted(const std::string& text, SourceLocation where = {});

// One-line YAML flow text: 3, 1.0e-05, true, null, abc, "quoted when needed", [a, b], {k: v}.
std::string to_flow_yaml(const Value& value);

}  // namespace primus::config
