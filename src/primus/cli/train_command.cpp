// primus train: placeholder until its issue lands; says so instead of pretending.
#include <stdexcept>

#include "primus/cli/commands.hpp"

namespace primus::cli {

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "train (not implemented yet)");
  cmd->allow_extras();
  cmd->callback([] { throw std::runtime_error("'primus train' is not implemented yet"); });
}

}  // namespace primus::cli
