// The per-iteration training line, formatted as Megatron's training_log with
// Primus's additions (running averages of iteration time, TFLOP/s/GPU and
// tokens/s/GPU, and a device-memory segment), and Primus's averaging window.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace primus::log {

// Device memory at log time; rendered as "<source> mem usage/free/total/usage_ratio: ..." (Primus writes source "hip").
struct MemoryUsage {
  std::string source = "cuda";
  std::uint64_t used_bytes = 0;
  std::uint64_t free_bytes = 0;
  std::uint64_t total_bytes = 0;
};

// Running averages over the current window (nullopt while the window is empty).
struct ThroughputAverages {
  std::optional<double> elapsed_ms;          // arithmetic mean
  std::optional<double> tflops_per_gpu;      // arithmetic mean
  std::optional<double> tokens_per_second_per_gpu;  // harmonic mean of the positive values
};

// Primus's tumbling window: the first log_avg_skip_iterations iterations are not averaged; the window restarts at
// iteration log_avg_skip_iterations + 1 and whenever it already holds log_avg_reset_interval entries.
class ThroughputAverager {
 public:
  // Window settings from LoggingConfig.
  ThroughputAverager(int log_avg_skip_iterations, int log_avg_reset_interval);
  // Adds one logged iteration's figures and returns the averages to print with it.
  ThroughputAverages record(std::int64_t iteration, double elapsed_ms, double tflops_per_gpu,
                            double tokens_per_second_per_gpu);

 private:
  int log_avg_skip_iterations_;
  int log_avg_reset_interval_;
  std::vector<double> elapsed_ms_;
  std::vector<double> tflops_;
  std::vector<double> tokens_per_second_;
};

// Everything one iteration line shows; optional fields are omitted when unset, as Megatron does.
struct IterationLogLine {
  std::int64_t iteration = 0;
  std::int64_t train_iters = 0;
  std::int64_t consumed_train_samples = 0;
  std::int64_t skipped_train_samples = 0;  // shown only when > 0
  double elapsed_ms_per_iteration = 0.0;
  bool log_throughput = true;
  double tflops_per_gpu = 0.0;
  double tokens_per_second_per_gpu = 0.0;
  ThroughputAverages averages;
  std::optional<double> learning_rate;
  std::int64_t global_batch_size = 0;
  std::vector<std::pair<std::string, double>> losses;  // e.g. {"lm loss", 8.7}; negative values are not shown
  double loss_scale = 1.0;
  std::optional<double> grad_norm;
  std::optional<std::int64_t> num_zeros_in_grad;
  std::optional<double> params_norm;
  std::int64_t skipped_iterations = 0;
  std::int64_t nan_iterations = 0;
  std::optional<MemoryUsage> memory;
};

// TFLOP/s per GPU from the FLOPs of one iteration (Megatron: flops / (seconds * 1e12 * world_size)).
double tflops_per_gpu(double flops_per_iteration, double elapsed_seconds, int world_size);
// Tokens/s per GPU (Primus: seq_length * global_batch_size / seconds / world_size).
double tokens_per_second_per_gpu(std::int64_t seq_length, std::int64_t global_batch_size, double elapsed_seconds,
                                 int world_size);

// The line, starting " [YYYY-mm-dd HH:MM:SS.ffffff] iteration" (local time of `now`), each field ending " |".
std::string format_iteration_line(const IterationLogLine& line, std::chrono::system_clock::time_point now);

}  // namespace primus::log
