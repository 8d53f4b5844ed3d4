// primus config show|validate|diff: inspect, check and compare experiment YAML files.
// Arguments CLI11 does not know are command-line overrides (--key value, key=value).
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "primus/cli/commands.hpp"
#include "primus/config/build.hpp"
#include "primus/config/render.hpp"

namespace primus::cli {
namespace {

struct ShowArgs {
  std::string config;
  std::string format = "yaml";
  std::string explain;
};

struct ValidateArgs {
  std::vector<std::string> configs;
  bool strict = false;
  int world_size = 0;
};

struct DiffArgs {
  std::vector<std::string> files;
};

bool is_yaml_file_name(const std::string& arg) {
  auto ends_with = [&](const std::string& suffix) {
    return arg.size() > suffix.size() && arg.compare(arg.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return arg.rfind("-", 0) != 0 && arg.find('=') == std::string::npos && (ends_with(".yaml") || ends_with(".yml"));
}

void add_show(CLI::App& config) {
  auto args = std::make_shared<ShowArgs>();
  auto* show = config.add_subcommand("show", "print the resolved config (experiment + flat pre_trainer settings)");
  show->allow_extras();
  show->add_option("--config", args->config, "experiment YAML file")->required();
  show->add_option("--format", args->format, "yaml or json")->check(CLI::IsMember({"yaml", "json"}));
  show->add_option("--explain", args->explain, "print every file:line that set KEY, in order, and which one won");
  show->callback([show, args] {
    const config::ResolvedConfig resolved = config::resolve_experiment(args->config, show->remaining());
    if (!args->explain.empty()) std::cout << config::explain_key(resolved, args->explain);
    else std::cout << (args->format == "json" ? config::render_json(resolved) : config::render_yaml(resolved));
  });
}

void add_validate(CLI::App& config) {
  auto args = std::make_shared<ValidateArgs>();
  auto* validate = config.add_subcommand("validate", "check config files; exit non-zero with the problems found");
  validate->allow_extras();
  validate->add_option("--config", args->configs, "experiment YAML file (repeatable)")->expected(1)->take_all();
  validate->add_flag("--strict", args->strict, "unimplemented keys set to non-default values are errors");
  validate->add_option("--world-size", args->world_size,
                       "number of processes to check the layout for (default: the launcher's WORLD_SIZE, else "
                       "tensor x pipeline x context parallel)");
  validate->callback([validate, args] {
    std::vector<std::string> files = args->configs;
    std::vector<std::string> overrides = validate->remaining();
    // Leading YAML file names are configs to validate; the rest are overrides.
    size_t first_override = 0;
    while (first_override < overrides.size() && is_yaml_file_name(overrides[first_override]))
      files.push_back(overrides[first_override++]);
    overrides.erase(overrides.begin(), overrides.begin() + static_cast<std::ptrdiff_t>(first_override));
    if (files.empty()) throw config::ConfigError("no config file given (use --config X.yaml or name the files)");
    config::BuildOptions options;
    options.strict = args->strict;
    options.world_size = args->world_size;
    options.assume_minimal_world = true;
    size_t failed = 0;
    for (const auto& file : files) {
      try {
        std::vector<std::string> warnings;
        config::build_train_config(config::resolve_experiment(file, overrides), options, &warnings);
        for (const auto& warning : warnings) std::cerr << file << ": warning: " << warning << "\n";
        std::cout << "OK " << file << "\n";
      } catch (const config::ConfigError& e) {
        ++failed;
        std::cerr << e.what() << "\n";
      }
    }
    if (failed > 0)
      throw config::ConfigError(fmt::format("{} of {} config file{} failed validation", failed, files.size(),
                                            files.size() == 1 ? "" : "s"));
  });
}

void add_diff(CLI::App& config) {
  auto args = std::make_shared<DiffArgs>();
  auto* diff = config.add_subcommand("diff", "print the keys whose resolved values differ between two configs");
  diff->add_option("files", args->files, "A.yaml B.yaml")->required()->expected(2);
  diff->callback([args] {
    const auto lines = config::diff_configs(config::resolve_experiment(args->files[0], {}),
                                            config::resolve_experiment(args->files[1], {}));
    if (lines.empty()) std::cout << "no differences\n";
    for (const auto& line : lines) std::cout << line << "\n";
  });
}

}  // namespace

void add_config_command(CLI::App& app) {
  auto* config = app.add_subcommand("config", "inspect, validate and compare experiment configs");
  config->require_subcommand(1);
  add_show(*config);
  add_validate(*config);
  add_diff(*config);
}

}  // namespace primus::cli
