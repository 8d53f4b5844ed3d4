// Presenting a ResolvedConfig: YAML and JSON text (experiment metadata, then the
// flat pre_trainer settings sorted), per-key provenance (--explain) and diffs.
#pragma once

#include <string>
#include <vector>

#include "primus/config/resolved_config.hpp"

namespace primus::config {

std::string render_yaml(const ResolvedConfig& resolved);
std::string render_json(const ResolvedConfig& resolved);

// Every place that set `key`, in order, with the line that set it; the last one won.
// Throws ConfigError when the key is set nowhere (with a did-you-mean suggestion).
std::string explain_key(const ResolvedConfig& resolved, const std::string& key);

// One line per key whose resolved value differs: "key: A -> B" ("(unset)" when absent).
std::vector<std::string> diff_configs(const ResolvedConfig& a, const ResolvedConfig& b);

}  // namespace primus::config
