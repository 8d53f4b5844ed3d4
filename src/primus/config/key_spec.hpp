// The schema's unit: one known configuration key (type, default, one-line doc,
// and whether the engine implements it yet). key_table.cpp lists every key that
// Primus's trainer/model presets and Megatron-LM's arguments define.
#pragma once

#include <span>
#include <string_view>

namespace primus::config {

enum class KeyType {
  Bool,
  Int,
  Float,
  String,
  List,  // a YAML sequence (element type not checked)
  Map,   // a YAML mapping
  Any,   // keys whose type varies between Primus versions (checked by their consumer)
};

struct KeySpec {
  std::string_view name;
  KeyType type;
  std::string_view default_yaml;  // the default as YAML scalar text; "null" when unset
  std::string_view doc;           // one line
  bool implemented;               // false: accepted and reported, not acted on
  bool nullable = true;           // null is a valid value
};

// Every known key, sorted by name.
std::span<const KeySpec> key_specs();

// nullptr when the key is unknown.
const KeySpec* find_key_spec(std::string_view name);

}  // namespace primus::config
