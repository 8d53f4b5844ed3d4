#include "primus/train/experiment_paths.hpp"

#include <stdexcept>
#include <system_error>

namespace primus::train {

ExperimentPaths experiment_paths(const config::TrainConfig& config) {
  const auto& e = config.experiment;
  ExperimentPaths paths;
  paths.root = std::filesystem::path(e.workspace) / e.work_group / e.user_name / e.exp_name;
  paths.logs = paths.root / "logs";
  paths.checkpoints = config.checkpoint.save.empty() ? paths.root / "checkpoints"
                                                     : std::filesystem::path(config.checkpoint.save);
  paths.tensorboard = config.logging.tensorboard_dir.empty()
                          ? paths.root / "tensorboard"
                          : std::filesystem::path(config.logging.tensorboard_dir);
  return paths;
}

void create_experiment_dirs(const ExperimentPaths& paths, const config::TrainConfig& config) {
  auto make = [](const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      throw std::runtime_error("cannot create directory '" + dir.string() + "': " + ec.message());
    }
  };
  make(paths.logs);
  make(paths.checkpoints);
  if (!config.logging.disable_tensorboard) make(paths.tensorboard);
}

}  // namespace primus::train
