// The composed experiment before typing: experiment metadata plus ONE flat
// namespace of pre_trainer settings (as Megatron args), each with the ordered
// list of places that set it (the last one won).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "primus/config/value.hpp"

namespace primus::config {

struct Setting {
  Value value;
  std::vector<SourceLocation> history;  // every place that set it, in order; the last one won
};

using FlatSettings = std::map<std::string, Setting>;

struct ResolvedConfig {
  std::filesystem::path config_file;
  FlatSettings experiment;   // top-level keys: work_group, user_name, exp_name, workspace, ...
  FlatSettings pre_trainer;  // trainer defaults < model < overrides < command line
};

// Flattens a composed map: one Setting per top-level key, history from the merge.
FlatSettings flatten(const Value& map);

}  // namespace primus::config
