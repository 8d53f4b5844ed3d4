// Collected configuration problems (see diagnostics.hpp).
#include "primus/config/diagnostics.hpp"

#include <fmt/format.h>

#include "primus/config/config_error.hpp"

namespace primus::config {

void Diagnostics::throw_if_errors(const std::string& config_file) const {
  if (errors.empty()) return;
  std::string message = fmt::format("{}: {} configuration problem{}:", config_file, errors.size(),
                                    errors.size() == 1 ? "" : "s");
  for (const auto& error : errors) message += "\n  - " + error;
  throw ConfigError(message);
}

}  // namespace primus::config
