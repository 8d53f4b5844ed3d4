// Where a run writes: <workspace>/<work_group>/<user_name>/<exp_name>/{logs,checkpoints,tensorboard}
// (Primus's layout), with `save` and `tensorboard_dir` overriding their folders.
#pragma once

#include <filesystem>

#include "primus/config/train_config.hpp"

namespace primus::train {

struct ExperimentPaths {
  std::filesystem::path root;         // <workspace>/<work_group>/<user_name>/<exp_name>
  std::filesystem::path logs;         // root/logs
  std::filesystem::path checkpoints;  // `save`, else root/checkpoints
  std::filesystem::path tensorboard;  // `tensorboard_dir`, else root/tensorboard
};

// Pure: computes the paths, creates nothing.
ExperimentPaths experiment_paths(const config::TrainConfig& config);

// Creates the folders (logs, checkpoints; tensorboard unless disabled).
void create_experiment_dirs(const ExperimentPaths& paths, const config::TrainConfig& config);

}  // namespace primus::train
