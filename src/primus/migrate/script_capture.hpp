// Runs a training script with bash in a scratch directory, with launchers
// (torchrun, python, deepspeed, mpirun, srun ...) replaced by shims that only
// record their argv, and returns every launch it made. The script itself runs:
// whatever else it does (rm, mkdir ...) happens, in the scratch directory's cwd.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace primus::migrate {

struct ScriptRun {
  std::vector<std::vector<std::string>> launches;  // argv of each shimmed launch, in order
  int exit_status = 0;                             // bash's exit status (128+N when killed by signal N)
  std::string stderr_tail;                         // the last lines the script wrote to stderr
};

struct ScriptRunOptions {
  std::vector<std::pair<std::string, std::string>> env;  // VAR=value pairs, over the caller's environment
  std::vector<std::string> script_arguments;              // $1 $2 ... of the script
  std::chrono::seconds timeout{60};
};

// Throws std::runtime_error when bash cannot start or the script runs past the timeout.
ScriptRun run_script_with_shims(const std::filesystem::path& script, const ScriptRunOptions& options);

// The launchers replaced by recording shims, and the tools replaced by no-ops.
const std::vector<std::string>& recorded_launchers();
const std::vector<std::string>& silenced_tools();

}  // namespace primus::migrate
