// primus: one binary for training, config inspection, migration and benchmarks.
#include <exception>
#include <iostream>

#include "primus/cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Primus C++: native LLM pretraining (Primus/Megatron YAML configs)", "primus"};
  app.require_subcommand(1);
  primus::cli::add_train_command(app);
  primus::cli::add_config_command(app);
  primus::cli::add_migrate_command(app);
  primus::cli::add_benchmark_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "primus: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
