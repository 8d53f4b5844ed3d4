// Command-line overrides: `--key value`, `--key=value`, `key=value`, dotted
// `a.b=value` (a nested path) and bare `--flag` (true). Values are typed like
// YAML scalars, so `--lr 3e-4` is a float and `--data_path [a,b]` a list.
#pragma once

#include <string>
#include <vector>

#include "primus/config/value.hpp"

namespace primus::config {

inline constexpr const char* kCommandLine = "<command line>";

struct Override {
  std::vector<std::string> path;  // "a.b" -> {"a", "b"}; dashes in names read as underscores
  Value value;                    // located at {"<command line>", 0, argument index (1-based)}
};

// Throws ConfigError on a malformed argument (no key, `--` alone, a value with no key).
std::vector<Override> parse_overrides(const std::vector<std::string>& args);

}  // namespace primus::config
