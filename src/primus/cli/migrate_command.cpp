// primus migrate megatron-lm SCRIPT.sh [VAR=value ...] [-o DIR] [--from-log LOG] [--model NAME]
#include <iostream>
#include <optional>
#include <stdexcept>

#include "primus/cli/commands.hpp"
#include "primus/migrate/migration.hpp"
#include "primus/migrate/migration_validation.hpp"
#include "primus/migrate/migration_writer.hpp"

namespace primus::cli {
namespace {

struct MigrateMegatronArgs {
  std::vector<std::string> inputs;  // SCRIPT.sh, then VAR=value pairs and the script's own arguments
  std::string out_dir = ".";
  std::string from_log;
  std::string model;
  std::string zoo_dir;
  std::string module_dir;
  std::string exp_name;
  int timeout_s = 60;
  bool force = false;
};

void run_migrate_megatron(const MigrateMegatronArgs& args) {
  migrate::MigrateOptions options;
  if (!args.model.empty()) options.model = args.model;
  if (!args.zoo_dir.empty()) options.zoo_dir = args.zoo_dir;
  if (!args.module_dir.empty()) options.module_dir = args.module_dir;
  if (!args.exp_name.empty()) options.exp_name = args.exp_name;
  options.timeout = std::chrono::seconds(args.timeout_s);

  migrate::MigrationResult result;
  if (!args.from_log.empty()) {
    if (!args.inputs.empty()) throw std::runtime_error("--from-log takes no script; got '" + args.inputs.front() + "'");
    result = migrate::migrate_megatron_log(args.from_log, options);
  } else {
    if (args.inputs.empty()) throw std::runtime_error("give a training script (SCRIPT.sh) or --from-log LOG");
    std::vector<std::pair<std::string, std::string>> env;
    for (size_t i = 1; i < args.inputs.size(); ++i) {
      const auto& item = args.inputs[i];
      auto eq = item.find('=');
      if (eq != std::string::npos && eq > 0 && item.find_first_of(" -") > eq) {
        env.emplace_back(item.substr(0, eq), item.substr(eq + 1));
      } else {
        options.script_arguments.push_back(item);  // $1 $2 ... of the script
      }
    }
    result = migrate::migrate_megatron_script(args.inputs.front(), env, options);
  }
  migrate::write_migration(result, args.out_dir, args.force);
  std::cout << migrate::migration_report(result);
  std::cout << "wrote " << migrate::experiment_path(result, args.out_dir).string() << "\n";
  if (result.generated_model) std::cout << "wrote " << (std::filesystem::path(args.out_dir) / (result.generated_model->name + ".yaml")).string() << "\n";
  // The files stay written either way: the user fixes what the config system rejects.
  const migrate::MigrationValidation validation = migrate::validate_migration(result, args.out_dir);
  std::cout << migrate::validation_report(validation);
  if (!validation.ok)
    throw std::runtime_error("the migrated experiment " + migrate::experiment_path(result, args.out_dir).string() +
                             " does not validate; edit it and check it with `primus config validate`");
}

}  // namespace

void add_migrate_command(CLI::App& app) {
  auto* migrate = app.add_subcommand("migrate", "turn a training script of another framework into a Primus experiment");
  migrate->require_subcommand(1);
  auto args = std::make_shared<MigrateMegatronArgs>();
  auto* megatron = migrate->add_subcommand("megatron-lm", "Megatron-LM script (run under launcher shims) or its log -> experiment YAML");
  megatron->add_option("inputs", args->inputs, "SCRIPT.sh, then VAR=value settings for it (and its own positional arguments)");
  megatron->add_option("-o,--output", args->out_dir, "directory for <exp_name>.yaml (default: .)");
  megatron->add_option("--from-log", args->from_log, "migrate the argument dump of a Megatron-LM log instead of a script");
  megatron->add_option("--model", args->model, "use this zoo model instead of matching one");
  megatron->add_option("--zoo-dir", args->zoo_dir, "model zoo to match against (default: primus/configs/models/megatron)");
  megatron->add_option("--module-dir", args->module_dir, "directory of pre_trainer.yaml, the trainer defaults to compare with (default: primus/configs/modules/megatron)");
  megatron->add_option("--exp-name", args->exp_name, "experiment name (default: the script's file name)");
  megatron->add_option("--timeout", args->timeout_s, "seconds the script may run (default: 60)")->check(CLI::PositiveNumber);
  megatron->add_flag("--force", args->force, "replace existing output files");
  megatron->callback([args] { run_migrate_megatron(*args); });
}

}  // namespace primus::cli
