// Diagnostics: the problems (errors) and notices (warnings) collected while
// checking a configuration, so a user sees all of them at once.
#pragma once

#include <string>
#include <vector>

namespace primus::config {

struct Diagnostics {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;

  // Throws one ConfigError listing every error (no-op when there are none).
  void throw_if_errors(const std::string& config_file) const;
};

}  // namespace primus::config
