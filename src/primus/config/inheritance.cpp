// extends:/bases: inheritance with deep merge and cycle detection (see inheritance.hpp).
#include "primus/config/inheritance.hpp"

#include <fmt/format.h>

#include "primus/config/config_error.hpp"
#include "primus/config/env_substitution.hpp"
#include "primus/config/yaml_reader.hpp"

namespace primus::config {
namespace fs = std::filesystem;

void merge_into(Value& base, Value overlay) {
  if (base.is_map() && overlay.is_map()) {
    // A merged map was set (in part) by both: keep both places in its history.
    base.overridden.push_back(base.location);
    base.overridden.insert(base.overridden.end(), overlay.overridden.begin(), overlay.overridden.end());
    base.location = overlay.location;
    for (auto& [key, item] : overlay.map) {
      auto it = base.map.find(key);
      if (it == base.map.end()) base.map.emplace(key, std::move(item));
      else merge_into(it->second, std::move(item));
    }
    return;
  }
  std::vector<SourceLocation> history = std::move(base.overridden);
  history.push_back(base.location);
  history.insert(history.end(), overlay.overridden.begin(), overlay.overridden.end());
  overlay.overridden = std::move(history);
  base = std::move(overlay);
}

fs::path resolve_include(const std::string& name, const fs::path& including_file, const SourceLocation& included_at,
                         const std::vector<fs::path>& search_dirs) {
  std::error_code ignored;
  const fs::path requested(name);
  std::vector<fs::path> candidates;
  if (requested.is_absolute()) {
    candidates.push_back(requested);
  } else {
    candidates.push_back(including_file.parent_path() / requested);
    for (const auto& dir : search_dirs) candidates.push_back(dir / requested);
  }
  for (const auto& candidate : candidates)
    if (fs::is_regular_file(candidate, ignored)) return candidate.lexically_normal();
  std::string looked;
  for (const auto& candidate : candidates) looked += "\n    " + candidate.lexically_normal().string();
  throw ConfigError(fmt::format("{}: file '{}' included by {} not found; looked in:{}", included_at.str(), name,
                                including_file.string(), looked));
}

namespace {

std::vector<std::pair<std::string, SourceLocation>> included_names(const Value& entry, const std::string& key) {
  std::vector<std::pair<std::string, SourceLocation>> names;
  if (entry.is_null()) return names;
  if (entry.is_string()) {
    names.emplace_back(entry.string_value, entry.location);
    return names;
  }
  if (entry.is_list()) {
    for (const auto& item : entry.list) {
      if (!item.is_string())
        throw ConfigError(fmt::format("{}: every entry of '{}' must be a file name, got {} {}", item.location.str(),
                                      key, kind_name(item.kind), to_flow_yaml(item)));
      names.emplace_back(item.string_value, item.location);
    }
    return names;
  }
  throw ConfigError(fmt::format("{}: '{}' must be a file name or a list of file names, got {} {}",
                                entry.location.str(), key, kind_name(entry.kind), to_flow_yaml(entry)));
}

std::string chain_text(const std::vector<fs::path>& chain, const fs::path& again) {
  std::string text;
  for (const auto& file : chain) text += file.string() + " -> ";
  return text + again.string();
}

Value load_with_chain(const fs::path& path, const std::vector<fs::path>& search_dirs, std::vector<fs::path>& chain) {
  std::error_code ignored;
  fs::path identity = fs::weakly_canonical(path, ignored);
  if (ignored) identity = path.lexically_normal();
  for (const auto& seen : chain)
    if (fs::weakly_canonical(seen, ignored) == identity)
      throw ConfigError(fmt::format("inheritance cycle: {}", chain_text(chain, path)));
  chain.push_back(path);

  Value own = read_yaml_file(path);
  substitute_env(own);
  Value merged = Value::empty_map(own.location);
  // bases: (older spelling) before extends:, each list in order: later ones win.
  for (const char* key : {"bases", "extends"}) {
    auto it = own.map.find(key);
    if (it == own.map.end()) continue;
    for (const auto& [name, where] : included_names(it->second, key)) {
      fs::path base_path = resolve_include(name, path, where, search_dirs);
      merge_into(merged, load_with_chain(base_path, search_dirs, chain));
    }
    own.map.erase(it);
  }
  merge_into(merged, std::move(own));
  chain.pop_back();
  return merged;
}

}  // namespace

Value load_config_file(const fs::path& path, const std::vector<fs::path>& search_dirs) {
  std::vector<fs::path> chain;
  return load_with_chain(path, search_dirs, chain);
}

}  // namespace primus::config
