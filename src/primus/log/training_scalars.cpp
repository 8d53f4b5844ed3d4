#include "primus/log/training_scalars.hpp"

namespace primus::log {

std::vector<ScalarPoint> megatron_training_scalars(const IterationLogLine& line,
                                                   std::span<const std::pair<std::string, double>> iteration_losses,
                                                   bool log_timers_to_tensorboard) {
  std::vector<ScalarPoint> points;
  const auto add_with_samples = [&](const std::string& tag, double value) {
    points.push_back({tag, value, line.iteration});
    points.push_back({tag + " vs samples", value, line.consumed_train_samples});
  };
  if (line.learning_rate) add_with_samples("learning-rate", *line.learning_rate);
  if (line.skipped_train_samples > 0)
    points.push_back({"skipped-train-samples", static_cast<double>(line.skipped_train_samples), line.iteration});
  add_with_samples("batch-size", static_cast<double>(line.global_batch_size));
  for (const auto& [name, value] : iteration_losses) add_with_samples(name, value);
  add_with_samples("loss-scale", line.loss_scale);
  if (line.grad_norm) add_with_samples("grad-norm", *line.grad_norm);
  if (line.num_zeros_in_grad) add_with_samples("num-zeros", static_cast<double>(*line.num_zeros_in_grad));
  if (line.params_norm) add_with_samples("params-norm", *line.params_norm);
  if (log_timers_to_tensorboard) {
    points.push_back({"iteration-time", line.elapsed_ms_per_iteration / 1000.0, line.iteration});
    if (line.log_throughput) points.push_back({"throughput", line.tflops_per_gpu, line.iteration});
  }
  return points;
}

}  // namespace primus::log
