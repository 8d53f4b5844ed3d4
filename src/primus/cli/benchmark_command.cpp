// primus benchmark --config X.yaml [overrides] [--iters N] [--warmup N]: training steps on
// random tokens (speed does not depend on their values) through the configured backend;
// prints tokens/s, TFLOP/s per GPU counted as tools/bench/torch_baseline.py counts them
// (log::model_flops_baseline), MFU against 989 TFLOP/s, peak device memory, and the time
// from process launch to the first finished iteration. Last line: one JSON object.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "primus/cli/commands.hpp"
#include "primus/config/build.hpp"
#include "primus/config/experiment.hpp"
#include "primus/log/flops.hpp"
#include "primus/train/engine.hpp"

namespace primus::cli {
namespace {

constexpr double kPeakTflops = 989.0;  // H100 SXM dense bf16 datasheet figure, as the baseline uses

struct BenchmarkArgs {
  std::string config_path;
  int iters = 10;
  int warmup = 3;
};

// Seconds since this process started (/proc: start time in clock ticks after boot vs uptime).
double seconds_since_launch() {
  std::ifstream stat("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = content.rfind(')');  // the command name may hold spaces
  std::istringstream fields(content.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  const double start = std::stod(field) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream uptime_file("/proc/uptime");
  double uptime = 0.0;
  uptime_file >> uptime;
  return uptime - start;
}

std::vector<model::MicroBatch> random_micro_batches(const config::TrainConfig& c, int count) {
  std::mt19937 rng(static_cast<unsigned>(c.training.seed));
  std::uniform_int_distribution<std::int32_t> token(0, c.model.vocab_size - 1);
  std::vector<model::MicroBatch> batches(static_cast<std::size_t>(count));
  const std::size_t rows = static_cast<std::size_t>(c.training.micro_batch_size) * c.model.seq_length;
  for (auto& b : batches) {
    b.micro_batch_size = c.training.micro_batch_size;
    b.seq_length = c.model.seq_length;
    b.tokens.resize(rows);
    b.labels.resize(rows);
    b.loss_mask.assign(rows, 1.0f);
    for (std::size_t i = 0; i < rows; ++i) b.tokens[i] = token(rng);
    for (std::size_t i = 0; i < rows; ++i) b.labels[i] = i + 1 < rows ? b.tokens[i + 1] : token(rng);
  }
  return batches;
}

void run_benchmark(const BenchmarkArgs& args, const std::vector<std::string>& overrides) {
  if (args.iters < 1) throw std::invalid_argument(fmt::format("--iters {}: expected >= 1", args.iters));
  if (args.warmup < 0) throw std::invalid_argument(fmt::format("--warmup {}: expected >= 0", args.warmup));
  // Where the launch time goes, phase by phase (seconds since launch at each phase's end).
  const double launched_s = seconds_since_launch();
  config::BuildOptions options;
  const auto resolved = config::resolve_experiment(args.config_path, overrides);
  const auto c = config::build_train_config(resolved, options, nullptr);
  const double config_s = seconds_since_launch();
  auto engine = train::make_engine(c);
  const double engine_s = seconds_since_launch();
  engine->init_parameters(static_cast<std::uint64_t>(c.training.seed));
  const double init_s = seconds_since_launch();
  const int micro_batches = c.training.num_micro_batches;
  const auto batches = random_micro_batches(c, micro_batches);
  auto step = [&] {
    for (int m = 0; m < micro_batches; ++m) engine->forward_backward(batches[static_cast<std::size_t>(m)], m, micro_batches);
    return engine->optimizer_step(c.optimizer.lr, c.optimizer.weight_decay, c.optimizer.clip_grad);
  };
  const auto first = step();  // the result read is the step's host synchronisation
  const double first_iteration_s = seconds_since_launch();
  fmt::print("benchmark: backend {}, {} parameters, first iteration done {:.2f} s after launch (loss {:.4f})\n",
             engine->backend_name(), engine->num_parameters(), first_iteration_s, first.loss);
  fmt::print("benchmark: launch phases: process start to main {:.2f} s, config {:.2f} s, engine (device buffers, "
             "libraries) {:.2f} s, parameter init and upload {:.2f} s, first step {:.2f} s\n",
             launched_s, config_s - launched_s, engine_s - config_s, init_s - engine_s, first_iteration_s - init_s);
  for (int i = 1; i < args.warmup; ++i) step();
  // Each step ends in its host synchronisation (the loss read), so consecutive end times bound
  // one step each. The headline is their median, the statistic tools/bench/torch_baseline.py
  // reports (it synchronises after every step too); the mean is printed beside it.
  std::vector<double> step_seconds;
  std::vector<double> step_end_unix_s;  // wall-clock ends, to line steps up with a power or clock trace
  train::StepResult last;
  auto previous = std::chrono::steady_clock::now();
  for (int i = 0; i < args.iters; ++i) {
    last = step();
    const auto now = std::chrono::steady_clock::now();
    step_end_unix_s.push_back(
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    step_seconds.push_back(std::chrono::duration<double>(now - previous).count());
    previous = now;
  }
  double total = 0.0;
  for (double s : step_seconds) total += s;
  const double mean_seconds = total / args.iters;
  std::vector<double> sorted = step_seconds;
  std::sort(sorted.begin(), sorted.end());
  const double seconds = sorted[sorted.size() / 2];  // the upper median for an even count, as the baseline takes
  const double tokens = static_cast<double>(c.training.global_batch_size) * c.model.seq_length;
  const double tflops = log::model_flops_baseline(c.model, c.training.global_batch_size) / seconds / 1e12;
  const double peak_gb = static_cast<double>(engine->peak_memory_bytes()) / 1e9;
  const auto usage = engine->memory_usage();
  fmt::print("benchmark: {} iterations, {:.2f} ms/iteration (median; mean {:.2f}, min {:.2f}, max {:.2f}), {:.0f} "
             "tokens/s, {:.1f} TFLOP/s/GPU, MFU {:.1f}%\n",
             args.iters, seconds * 1e3, mean_seconds * 1e3, sorted.front() * 1e3, sorted.back() * 1e3, tokens / seconds,
             tflops, 100.0 * tflops / kPeakTflops);
  // On GPUs "used now" is cudaMemGetInfo's total - free: the CUDA context included, unlike the peak.
  fmt::print("benchmark: peak memory {:.2f} GB ({:.2f} GiB; {} memory in use now {:.2f} GB), last loss {:.4f}\n",
             peak_gb, peak_gb * 1e9 / (1 << 30), usage.source, static_cast<double>(usage.used_bytes) / 1e9, last.loss);
  std::vector<double> step_ms;  // in order, to show drift or alternation between steps
  for (double s : step_seconds) step_ms.push_back(std::round(s * 1e5) / 100.0);
  nlohmann::json out = {{"backend", engine->backend_name()},
                        {"layers", c.model.num_layers},
                        {"seq", c.model.seq_length},
                        {"mbs", c.training.micro_batch_size},
                        {"gbs", c.training.global_batch_size},
                        {"ms_per_iter", seconds * 1e3},
                        {"ms_per_iter_mean", mean_seconds * 1e3},
                        {"step_ms", step_ms},
                        {"step_end_unix_s", step_end_unix_s},
                        {"tokens_per_s", tokens / seconds},
                        {"tflops", tflops},
                        {"mfu", tflops / kPeakTflops},
                        {"peak_mem_gb", peak_gb},
                        {"device_used_gb", static_cast<double>(usage.used_bytes) / 1e9},
                        {"first_iteration_s", first_iteration_s}};
  fmt::print("{}\n", out.dump());
}

}  // namespace

void add_benchmark_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "benchmark", "Benchmark training steps on random tokens: primus benchmark --config X.yaml [overrides]");
  auto args = std::make_shared<BenchmarkArgs>();
  cmd->add_option("--config", args->config_path, "Primus experiment YAML")->required();
  cmd->add_option("--iters", args->iters, "timed iterations (default 10)");
  cmd->add_option("--warmup", args->warmup, "untimed iterations first, the first included (default 3)");
  cmd->allow_extras();
  cmd->callback([args, cmd] { run_benchmark(*args, cmd->remaining()); });
}

}  // namespace primus::cli
