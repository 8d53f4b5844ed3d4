// File inheritance: `extends:` (current Primus) and `bases:` (Primus migration
// guide) name files merged under the including file. Maps merge deeply, lists and
// scalars replace, later bases beat earlier ones, the file's own keys win.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "primus/config/value.hpp"

namespace primus::config {

// Overlays `overlay` onto `base`: maps merge key by key, everything else replaces.
// A replaced value's location is kept in the winner's `overridden` history.
void merge_into(Value& base, Value overlay);

// Finds `name` relative to the including file's folder, then in `search_dirs`.
// Throws ConfigError naming `included_at` when no candidate exists.
std::filesystem::path resolve_include(const std::string& name, const std::filesystem::path& including_file,
                                      const SourceLocation& included_at,
                                      const std::vector<std::filesystem::path>& search_dirs);

// Reads a YAML file, substitutes ${VAR}s and applies its extends:/bases: chain.
Value load_config_file(const std::filesystem::path& path, const std::vector<std::filesystem::path>& search_dirs);

}  // namespace primus::config
