// The TensorBoard scalars Megatron's training_log writes for one iteration
// (tags and "vs samples" twins as in megatron/training/training.py).
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "primus/log/iteration_log.hpp"
#include "primus/log/tensorboard.hpp"

namespace primus::log {

// learning-rate, batch-size, each loss, loss-scale, grad-norm, num-zeros, params-norm (each also "<tag> vs samples"),
// skipped-train-samples when > 0, and with log_timers_to_tensorboard iteration-time (s) and throughput (TFLOP/s/GPU).
// `iteration_losses` are this iteration's losses (Megatron writes loss_dict, not the interval average).
std::vector<ScalarPoint> megatron_training_scalars(const IterationLogLine& line,
                                                   std::span<const std::pair<std::string, double>> iteration_losses,
                                                   bool log_timers_to_tensorboard);

}  // namespace primus::log
