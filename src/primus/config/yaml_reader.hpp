// Reading YAML text (files, command-line values) into the Value tree with
// file:line:column on every node. Syntax errors become ConfigError with the position.
#pragma once

#include <filesystem>
#include <string>

#include "primus/config/value.hpp"

namespace primus::config {

// A whole YAML file; its top level must be a mapping.
Value read_yaml_file(const std::filesystem::path& path);

// A YAML document held in memory; `source_name` is what messages call it.
// An empty document reads as null.
Value read_yaml_text(const std::string& text, const std::string& source_name);

}  // namespace primus::config
