// One launcher invocation (torchrun / python / deepspeed / mpirun / srun ...)
// split into the launcher's own options, the Python entry point and the
// training arguments, plus the world size the launcher asked for.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace primus::migrate {

struct LaunchCommand {
  std::vector<std::string> argv;  // as launched: argv[0] is the launcher
  std::string entry_point;        // "pretrain_gpt.py"; empty when no .py was launched
  std::vector<std::string> launcher_options;  // everything between the launcher and the entry point
  std::vector<std::string> arguments;         // everything after the entry point
  std::optional<long long> world_size;        // nproc_per_node * nnodes (or -np / --ntasks)
};

LaunchCommand parse_launch_command(std::vector<std::string> argv);

}  // namespace primus::migrate
