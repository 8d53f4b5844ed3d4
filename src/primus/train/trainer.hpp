// Trainer: owns the pretraining loop. For each global batch it runs the
// micro-batches forward and backward, checks the gradients, clips, steps AdamW
// at the scheduled learning rate, logs, evaluates and checkpoints. Resume is
// exact: the data position is the consumed-sample count saved in the checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "primus/config/train_config.hpp"
#include "primus/train/experiment_paths.hpp"

namespace primus::train {

struct IterationRecord {
  std::int64_t iteration = 0;  // 1-based, as Megatron logs it
  float lm_loss = 0.0f;        // mean over the global batch's micro-batches
  double grad_norm = 0.0;
  double learning_rate = 0.0;
  bool skipped = false;  // non-finite loss or gradients: the step was not applied
};

struct TrainSummary {
  std::int64_t start_iteration = 0;  // iterations already done when this run began (resume)
  std::int64_t final_iteration = 0;
  std::vector<IterationRecord> iterations;  // those run by this call
  std::vector<std::pair<std::int64_t, double>> validation_losses;  // at eval_interval
  // Megatron's end-of-training evaluations (eval_iters > 0, the split present, run not interrupted).
  std::optional<double> final_validation_loss, final_test_loss;
  std::optional<std::int64_t> resumed_from;  // checkpoint iteration loaded, if any
  bool interrupted = false;                  // stopped by SIGINT/SIGTERM after saving
};

struct TrainerHooks {
  // Called after each finished iteration; returning false stops the run there
  // (as a signal would), which tests use to simulate an interrupted job.
  std::function<bool(const IterationRecord&)> after_iteration;
  // Test/diagnostic hook (cpu backend only): sees (and may change) the global batch's accumulated gradients
  // of `iteration` (1-based) before their norm is taken, e.g. to inject non-finite values.
  std::function<void(std::span<float> gradients, std::int64_t iteration)> after_backward;
};

class Trainer {
 public:
  // resolved_config: the flat resolved YAML, stored in checkpoints for provenance.
  Trainer(const config::TrainConfig& config, nlohmann::json resolved_config, TrainerHooks hooks = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  TrainSummary train();
  const ExperimentPaths& paths() const;
  // The run's logger (stderr + <experiment>/logs/rank-0.log).
  spdlog::logger& logger();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace primus::train
