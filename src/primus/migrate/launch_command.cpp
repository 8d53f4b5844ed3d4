// Splits a captured launcher command line (see launch_command.hpp).
#include "primus/migrate/launch_command.hpp"

#include <charconv>
#include <filesystem>
#include <map>

namespace primus::migrate {
namespace {

std::string normalized_option(std::string name) {
  for (auto& c : name) c = c == '-' ? '_' : c;
  return name;
}

std::optional<long long> as_count(const std::string& text) {
  long long n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || ptr != text.data() + text.size() || n <= 0) return std::nullopt;
  return n;
}

// Launcher options by normalized name ("__nproc_per_node" -> "8"), both --opt value and --opt=value.
std::map<std::string, std::string> option_values(const std::vector<std::string>& options) {
  std::map<std::string, std::string> values;
  for (size_t i = 0; i < options.size(); ++i) {
    const auto& o = options[i];
    if (!o.starts_with("-")) continue;
    if (auto eq = o.find('='); eq != std::string::npos) {
      values[normalized_option(o.substr(0, eq))] = o.substr(eq + 1);
    } else if (i + 1 < options.size() && !options[i + 1].starts_with("-")) {
      values[normalized_option(o)] = options[i + 1];
    }
  }
  return values;
}

std::optional<long long> first_count(const std::map<std::string, std::string>& values,
                                     std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (auto it = values.find(name); it != values.end())
      if (auto n = as_count(it->second)) return n;
  return std::nullopt;
}

}  // namespace

LaunchCommand parse_launch_command(std::vector<std::string> argv) {
  LaunchCommand launch;
  launch.argv = std::move(argv);
  size_t entry = launch.argv.size();
  for (size_t i = 1; i < launch.argv.size(); ++i) {
    const auto& token = launch.argv[i];
    if (!token.starts_with("-") && token.ends_with(".py")) {
      entry = i;
      break;
    }
  }
  if (entry == launch.argv.size()) return launch;
  launch.entry_point = launch.argv[entry];
  launch.launcher_options.assign(launch.argv.begin() + 1, launch.argv.begin() + static_cast<long>(entry));
  launch.arguments.assign(launch.argv.begin() + static_cast<long>(entry) + 1, launch.argv.end());

  auto values = option_values(launch.launcher_options);
  // torchrun / torch.distributed.run: processes per node times nodes ("2:4" elastic ranges are not counts).
  auto per_node = first_count(values, {"__nproc_per_node", "__num_gpus"});
  auto nodes = first_count(values, {"__nnodes", "__num_nodes"});
  if (per_node) {
    launch.world_size = *per_node * nodes.value_or(1);
  } else {
    // mpirun -np N / srun --ntasks N: one process per rank.
    launch.world_size = first_count(values, {"_np", "_n", "__np", "__ntasks", "__n"});
  }
  return launch;
}

}  // namespace primus::migrate
