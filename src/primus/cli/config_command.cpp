// primus config: placeholder until its issue lands; says so instead of pretending.
#include <stdexcept>

#include "primus/cli/commands.hpp"

namespace primus::cli {

void add_config_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "config (not implemented yet)");
  cmd->allow_extras();
  cmd->callback([] { throw std::runtime_error("'primus config' is not implemented yet"); });
}

}  // namespace primus::cli
