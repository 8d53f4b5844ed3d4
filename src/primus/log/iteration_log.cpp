#include "primus/log/iteration_log.hpp"

#include <ctime>
#include <fmt/format.h>
#include <numeric>

namespace primus::log {

namespace {

std::optional<double> arithmetic_mean(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// Rates over iterations of equal work average harmonically; non-positive rates are left out (Primus).
std::optional<double> harmonic_mean_of_positive(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  double reciprocal_sum = 0.0;
  int count = 0;
  for (double value : values)
    if (value > 0.0) {
      reciprocal_sum += 1.0 / value;
      ++count;
    }
  return count == 0 ? 0.0 : count / reciprocal_sum;
}

std::string inst_and_average(double instant, std::optional<double> average) {
  return average ? fmt::format("{:.1f}/{:.1f}", instant, *average) : fmt::format("{:.1f}", instant);
}

}  // namespace

ThroughputAverager::ThroughputAverager(int log_avg_skip_iterations, int log_avg_reset_interval)
    : log_avg_skip_iterations_(log_avg_skip_iterations), log_avg_reset_interval_(log_avg_reset_interval) {}

ThroughputAverages ThroughputAverager::record(std::int64_t iteration, double elapsed_ms, double tflops_per_gpu,
                                              double tokens_per_second_per_gpu) {
  const bool restart = iteration == log_avg_skip_iterations_ + 1 ||
                       static_cast<std::int64_t>(elapsed_ms_.size()) >= log_avg_reset_interval_;
  if (restart) {
    elapsed_ms_.clear();
    tflops_.clear();
    tokens_per_second_.clear();
  }
  if (iteration > log_avg_skip_iterations_) {
    elapsed_ms_.push_back(elapsed_ms);
    tflops_.push_back(tflops_per_gpu);
    tokens_per_second_.push_back(tokens_per_second_per_gpu);
  }
  return {arithmetic_mean(elapsed_ms_), arithmetic_mean(tflops_), harmonic_mean_of_positive(tokens_per_second_)};
}

double tflops_per_gpu(double flops_per_iteration, double elapsed_seconds, int world_size) {
  return flops_per_iteration / (elapsed_seconds * 1e12 * world_size);
}

double tokens_per_second_per_gpu(std::int64_t seq_length, std::int64_t global_batch_size, double elapsed_seconds,
                                 int world_size) {
  return static_cast<double>(seq_length) * static_cast<double>(global_batch_size) / elapsed_seconds / world_size;
}

std::string format_iteration_line(const IterationLogLine& line, std::chrono::system_clock::time_point now) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto microseconds =
      std::chrono::duration_cast<std::chrono::microseconds>(now - std::chrono::system_clock::from_time_t(seconds));
  std::tm local{};
  ::localtime_r(&seconds, &local);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &local);

  std::string out = fmt::format(" [{}.{:06d}]", date, microseconds.count());
  out += fmt::format(" iteration {:8d}/{:8d} |", line.iteration, line.train_iters);
  out += fmt::format(" consumed samples: {:12d} |", line.consumed_train_samples);
  if (line.skipped_train_samples > 0) out += fmt::format(" skipped samples: {:12d} |", line.skipped_train_samples);
  out += fmt::format(" elapsed time per iteration (ms): {} |",
                     inst_and_average(line.elapsed_ms_per_iteration, line.averages.elapsed_ms));
  if (line.log_throughput) {
    out += fmt::format(" throughput per GPU (TFLOP/s/GPU): {} |",
                       inst_and_average(line.tflops_per_gpu, line.averages.tflops_per_gpu));
    out += fmt::format(" tokens per GPU (tokens/s/GPU): {} |",
                       inst_and_average(line.tokens_per_second_per_gpu, line.averages.tokens_per_second_per_gpu));
  }
  if (line.learning_rate) out += fmt::format(" learning rate: {:.6E} |", *line.learning_rate);
  out += fmt::format(" global batch size: {:5d} |", line.global_batch_size);
  for (const auto& [name, value] : line.losses)
    if (value >= 0.0) out += fmt::format(" {}: {:.6E} |", name, value);
  out += fmt::format(" loss scale: {:.1f} |", line.loss_scale);
  if (line.grad_norm) out += fmt::format(" grad norm: {:.3f} |", *line.grad_norm);
  if (line.num_zeros_in_grad) out += fmt::format(" num zeros: {} |", *line.num_zeros_in_grad);
  if (line.params_norm) out += fmt::format(" params norm: {:.3f} |", *line.params_norm);
  out += fmt::format(" number of skipped iterations: {:3d} |", line.skipped_iterations);
  out += fmt::format(" number of nan iterations: {:3d} |", line.nan_iterations);
  if (line.memory) {
    constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
    const MemoryUsage& memory = *line.memory;
    const double ratio = memory.total_bytes ? static_cast<double>(memory.used_bytes) / memory.total_bytes : 0.0;
    out += fmt::format(" {} mem usage/free/total/usage_ratio: {:.2f}GiB/{:.2f}GiB/{:.2f}GiB/{:.2f}% |", memory.source,
                       memory.used_bytes / kGiB, memory.free_bytes / kGiB, memory.total_bytes / kGiB, ratio * 100.0);
  }
  return out;
}

}  // namespace primus::log
