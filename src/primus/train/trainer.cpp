#include "primus/train/trainer.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "primus/checkpoint/checkpoint.hpp"
#include "primus/checkpoint/flat_buffer.hpp"
#include "primus/data/dataset_builder.hpp"
#include "primus/data/gpt_batch.hpp"
#include "primus/log/flops.hpp"
#include "primus/log/iteration_log.hpp"
#include "primus/log/logging.hpp"
#include "primus/log/progress.hpp"
#include "primus/log/tensorboard.hpp"
#include "primus/log/training_scalars.hpp"
#include "primus/optim/lr_scheduler.hpp"
#include "primus/train/cpu_engine.hpp"
#include "primus/train/engine.hpp"

namespace primus::train {
namespace {

using Clock = std::chrono::steady_clock;

// Set by SIGINT/SIGTERM: the loop finishes the iteration in flight, saves, and returns.
std::atomic<bool> g_stop_requested{false};
extern "C" void request_stop(int) { g_stop_requested.store(true); }

// Installs the stop handlers for the duration of train() and restores the previous ones.
class StopSignalScope {
 public:
  StopSignalScope()
      : previous_int_(std::signal(SIGINT, request_stop)), previous_term_(std::signal(SIGTERM, request_stop)) {
    g_stop_requested.store(false);
  }
  ~StopSignalScope() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

model::MicroBatch to_micro_batch(data::Batch&& batch) {
  model::MicroBatch mb;
  mb.micro_batch_size = batch.micro_batch_size;
  mb.seq_length = batch.seq_length;
  mb.tokens = std::move(batch.tokens);
  mb.labels = std::move(batch.labels);
  mb.loss_mask = std::move(batch.loss_mask);
  return mb;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

struct Trainer::State {
  config::TrainConfig config;
  nlohmann::json resolved_config;
  TrainerHooks hooks;
  ExperimentPaths paths;
  std::shared_ptr<spdlog::logger> logger;

  std::unique_ptr<TrainingEngine> engine;
  optim::LearningRateScheduler scheduler;
  data::TrainValidTestDatasets datasets;
  std::unique_ptr<data::MicroBatchIterator> train_iterator;
  std::unique_ptr<log::TensorBoardWriter> tensorboard;
  log::ThroughputAverager averager;

  std::int64_t iteration = 0;
  std::int64_t consumed_train_samples = 0;
  std::int64_t consumed_valid_samples = 0;
  // Counted since the last log line, as Megatron prints them.
  std::int64_t skipped_iterations = 0;
  std::int64_t nan_iterations = 0;
  int consecutive_nan_iterations = 0;

  State(const config::TrainConfig& c, nlohmann::json resolved, TrainerHooks h)
      : config(c),
        resolved_config(std::move(resolved)),
        hooks(std::move(h)),
        paths(experiment_paths(c)),
        logger(log::make_logger(c.logging, log::LogPlacement{0, c.parallel.world_size, paths.logs})),
        engine(make_engine(c)),
        scheduler(c.optimizer),
        averager(c.logging.log_avg_skip_iterations, c.logging.log_avg_reset_interval) {
    if (hooks.after_backward) {
      auto* cpu = dynamic_cast<CpuEngine*>(engine.get());
      if (cpu == nullptr) throw std::invalid_argument("TrainerHooks::after_backward needs the cpu backend");
      cpu->set_gradient_hook([this](std::span<float> grads) { hooks.after_backward(grads, iteration + 1); });
    }
  }

  std::span<const tensor::ParameterRange> ranges() const { return engine->parameters(); }
  std::vector<float> host_buffer() const { return std::vector<float>(static_cast<std::size_t>(engine->num_parameters())); }

  void build_data() {
    datasets = data::build_gpt_datasets(config.data, config.model.seq_length, config.model.vocab_size,
                                        config.training.seed, data::split_samples(config.training));
    if (!datasets.train) throw std::runtime_error("the data configuration yields no training split");
    train_iterator = std::make_unique<data::MicroBatchIterator>(
        datasets.train, config.training.micro_batch_size, /*data_parallel_rank=*/0,
        config.parallel.data_parallel_size, consumed_train_samples, config.data.eod_token_id,
        config.data.eod_mask_loss, config.data.reset_position_ids);
  }

  // With auto_continue_train, the newest complete checkpoint of this experiment wins;
  // else `load`; else parameters are initialised from `seed`. Returns the iteration loaded.
  std::optional<std::int64_t> load_or_initialize() {
    const auto& ck = config.checkpoint;
    std::filesystem::path load_dir;
    // A relaunch that finds this experiment's own checkpoint continues it, even for a finetuning
    // run: finetune applies to the first start from `load` (Primus adjusts finetune likewise).
    bool continuing_own_run = false;
    if (ck.auto_continue_train && checkpoint::latest_checkpoint_iteration(paths.checkpoints)) {
      load_dir = paths.checkpoints;
      continuing_own_run = true;
    } else if (!ck.load.empty()) {
      load_dir = ck.load;
    }
    if (load_dir.empty()) {
      engine->init_parameters(static_cast<std::uint64_t>(config.training.seed));
      return std::nullopt;
    }
    const auto loaded = checkpoint::load_checkpoint(load_dir);
    {
      auto params = host_buffer();
      checkpoint::read_model_into_flat_buffer(loaded, ranges(), params);
      engine->write_parameters(params);
    }
    if (ck.finetune && !continuing_own_run) {
      // Finetuning starts a new run from the weights: iteration, data position and optimizer reset.
      logger->info("loaded weights of iteration {} from {} for finetuning", loaded.iteration(), load_dir.string());
      return loaded.iteration();
    }
    iteration = loaded.iteration();
    consumed_train_samples = loaded.consumed_train_samples();
    consumed_valid_samples = loaded.consumed_valid_samples();
    if (!ck.no_load_optim) {
      if (!loaded.has_optimizer()) {
        throw std::runtime_error(fmt::format(
            "checkpoint '{}' was saved without optimizer state (no_save_optim): set no_load_optim: true to resume "
            "from its weights with a fresh optimizer and learning-rate schedule, or finetune: true",
            loaded.directory().string()));
      }
      auto exp_avg = host_buffer();
      auto exp_avg_sq = host_buffer();
      checkpoint::read_optimizer_into_flat_buffers(loaded, ranges(), exp_avg, exp_avg_sq);
      engine->write_optimizer_state(exp_avg, exp_avg_sq);
      engine->set_optimizer_step_count(loaded.optimizer_step());
      if (!loaded.scheduler_state().is_null() && !config.optimizer.override_opt_param_scheduler) {
        scheduler.check_state(loaded.scheduler_state());
      }
    }
    logger->info("resumed from {} at iteration {} ({} consumed samples)", load_dir.string(), iteration,
                 consumed_train_samples);
    return iteration;
  }

  void save_checkpoint() {
    const auto start = Clock::now();
    checkpoint::CheckpointContents contents;
    contents.iteration = iteration;
    contents.consumed_train_samples = consumed_train_samples;
    contents.consumed_valid_samples = consumed_valid_samples;
    contents.optimizer_step = engine->optimizer_step_count();
    contents.scheduler_state = scheduler.state(engine->optimizer_step_count());
    // No dropout on this backend and the data position is consumed_train_samples:
    // the seed is the whole random state.
    if (!config.checkpoint.no_save_rng) contents.rng_state = {{"seed", config.training.seed}};
    contents.config = resolved_config;
    contents.parallel_layout = {{"tp", config.parallel.tensor_model_parallel_size},
                                {"pp", config.parallel.pipeline_model_parallel_size},
                                {"dp", config.parallel.data_parallel_size},
                                {"world", config.parallel.world_size}};
    // Host copies: the CheckpointTensors below view them until the save returns.
    auto params = host_buffer();
    engine->read_parameters(params);
    contents.model = checkpoint::tensors_from_flat_buffer(ranges(), params);
    std::vector<float> exp_avg, exp_avg_sq;
    if (!config.checkpoint.no_save_optim) {
      exp_avg = host_buffer();
      exp_avg_sq = host_buffer();
      engine->read_optimizer_state(exp_avg, exp_avg_sq);
      contents.optimizer = checkpoint::optimizer_tensors_from_flat_buffers(ranges(), exp_avg, exp_avg_sq);
    }
    checkpoint::save_checkpoint(paths.checkpoints, contents);
    logger->info("saved checkpoint at iteration {:8d} to {} in {:.1f} ms", iteration, paths.checkpoints.string(),
                 seconds_since(start) * 1000.0);
    logger->flush();
  }

  // One global batch: micro-batches forward and backward, then one optimizer step at the
  // scheduled learning rate (the schedule counts successful updates, as Megatron's).
  StepResult train_step() {
    const int num_micro_batches = config.training.num_micro_batches;
    for (int m = 0; m < num_micro_batches; ++m) {
      engine->forward_backward(to_micro_batch(train_iterator->next()), m, num_micro_batches);
    }
    const std::int64_t steps = engine->optimizer_step_count();
    return engine->optimizer_step(scheduler.lr_at(steps), scheduler.weight_decay_at(steps), config.optimizer.clip_grad);
  }

  // The next eval_iters global batches of a split from `consumed` on (for validation, where the
  // previous evaluation stopped, wrapping around as Megatron's cyclic iterator does).
  double evaluate(const std::shared_ptr<const data::GPTSampleSource>& split, std::int64_t& consumed) {
    data::MicroBatchIterator iterator(split, config.training.micro_batch_size, 0, config.parallel.data_parallel_size,
                                      consumed, config.data.eod_token_id, config.data.eod_mask_loss,
                                      config.data.reset_position_ids, /*cyclic=*/true);
    double loss_sum = 0.0;
    int count = 0;
    for (int i = 0; i < config.training.eval_iters; ++i) {
      for (int m = 0; m < config.training.num_micro_batches; ++m) {
        loss_sum += engine->evaluate_loss(to_micro_batch(iterator.next()));
        ++count;
      }
    }
    consumed = iterator.consumed_samples();
    return loss_sum / std::max(1, count);
  }

  // Megatron's evaluate_and_print_results line; `at` is "iteration N" during training and
  // "iteration N on validation set" / "on test set" at its end. TensorBoard gets the value under
  // "lm loss validation" in every case, test set included, as in Megatron.
  void log_validation(double loss, const std::string& at) {
    const std::string line = fmt::format(" validation loss at {} | lm loss value: {:.6E} | lm loss PPL: {:.6E} | ", at,
                                         loss, std::exp(std::min(20.0, loss)));
    const std::string rule(line.size() + 1, '-');
    logger->info("{}", rule);
    logger->info("{}", line);
    logger->info("{}", rule);
    logger->flush();
    if (tensorboard) {
      tensorboard->add_scalar("lm loss validation", loss, iteration);
      tensorboard->add_scalar("lm loss validation vs samples", loss, consumed_train_samples);
    }
  }
};

Trainer::Trainer(const config::TrainConfig& config, nlohmann::json resolved_config, TrainerHooks hooks)
    : state_(std::make_unique<State>(config, std::move(resolved_config), std::move(hooks))) {}

Trainer::~Trainer() = default;

const ExperimentPaths& Trainer::paths() const { return state_->paths; }

spdlog::logger& Trainer::logger() { return *state_->logger; }

TrainSummary Trainer::train() {
  State& s = *state_;
  const auto& cfg = s.config;
  const auto launch = Clock::now();
  create_experiment_dirs(s.paths, cfg);

  TrainSummary summary;
  summary.resumed_from = s.load_or_initialize();
  summary.start_iteration = s.iteration;
  s.build_data();
  if (!cfg.logging.disable_tensorboard) s.tensorboard = std::make_unique<log::TensorBoardWriter>(s.paths.tensorboard);
  s.logger->info("model: {} parameters ({} layers, hidden {}) on the {} backend; global batch {} = {} "
                 "micro-batches of {}; iterations {} -> {}",
                 s.engine->num_parameters(), cfg.model.num_layers, cfg.model.hidden_size, s.engine->backend_name(),
                 cfg.training.global_batch_size, cfg.training.num_micro_batches, cfg.training.micro_batch_size,
                 s.iteration, cfg.training.train_iters);

  const double flops_per_iteration = log::num_floating_point_operations(cfg.model, cfg.training.global_batch_size);
  auto progress = log::ProgressDisplay::for_stderr(cfg.training.train_iters);
  StopSignalScope signals;

  // Iteration-line accumulators: Megatron prints the mean loss of the iterations since the last line.
  double interval_loss = 0.0;
  int interval_advanced = 0;
  int interval_iterations = 0;
  auto interval_start = Clock::now();
  bool saved_this_iteration = false;

  while (s.iteration < cfg.training.train_iters) {
    const auto step = s.train_step();
    ++s.iteration;
    s.consumed_train_samples += cfg.training.global_batch_size;
    ++interval_iterations;
    saved_this_iteration = false;
    // The LR the scheduler holds after this update, which Megatron's line shows.
    const double lr = s.scheduler.lr_at(s.engine->optimizer_step_count());

    const IterationRecord record{s.iteration, step.loss, step.grad_norm, lr, step.skipped};
    summary.iterations.push_back(record);
    if (step.skipped) {
      ++s.skipped_iterations;
      // Megatron counts a skipped iteration as a nan iteration only when its loss is non-finite.
      if (!std::isfinite(step.loss)) ++s.nan_iterations;
      ++s.consecutive_nan_iterations;
      s.logger->warn("iteration {}: non-finite {}; step skipped ({} in a row)", s.iteration,
                     std::isfinite(step.loss) ? "gradients" : "loss", s.consecutive_nan_iterations);
      if (s.consecutive_nan_iterations > cfg.training.max_consecutive_nan_iterations) {
        throw std::runtime_error(fmt::format(
            "aborting at iteration {}: {} consecutive iterations had non-finite loss or gradients "
            "(max_consecutive_nan_iterations: {})",
            s.iteration, s.consecutive_nan_iterations, cfg.training.max_consecutive_nan_iterations));
      }
    } else {
      s.consecutive_nan_iterations = 0;
      interval_loss += step.loss;
      ++interval_advanced;
    }

    if (s.iteration % cfg.logging.log_interval == 0 || s.iteration == cfg.training.train_iters) {
      const double seconds = seconds_since(interval_start) / interval_iterations;
      log::IterationLogLine line;
      line.iteration = s.iteration;
      line.train_iters = cfg.training.train_iters;
      line.consumed_train_samples = s.consumed_train_samples;
      line.elapsed_ms_per_iteration = seconds * 1000.0;
      line.log_throughput = cfg.logging.log_throughput;
      line.tflops_per_gpu = log::tflops_per_gpu(flops_per_iteration, seconds, cfg.parallel.world_size);
      line.tokens_per_second_per_gpu = log::tokens_per_second_per_gpu(
          cfg.model.seq_length, cfg.training.global_batch_size, seconds, cfg.parallel.world_size);
      line.averages = s.averager.record(s.iteration, line.elapsed_ms_per_iteration, line.tflops_per_gpu,
                                        line.tokens_per_second_per_gpu);
      line.learning_rate = lr;
      line.global_batch_size = cfg.training.global_batch_size;
      if (interval_advanced > 0) line.losses.emplace_back("lm loss", interval_loss / interval_advanced);
      line.grad_norm = step.grad_norm;
      line.skipped_iterations = s.skipped_iterations;
      line.nan_iterations = s.nan_iterations;
      line.memory = s.engine->memory_usage();
      s.logger->info("{}", log::format_iteration_line(line, std::chrono::system_clock::now()));
      s.logger->flush();  // a killed job keeps its log up to the last line printed
      if (s.tensorboard) {
        const std::pair<std::string, double> iteration_loss{"lm loss", step.loss};
        auto points = log::megatron_training_scalars(line, std::span(&iteration_loss, 1),
                                                     /*log_timers_to_tensorboard=*/true);
        points.push_back({"tokens-per-second-per-gpu", line.tokens_per_second_per_gpu, s.iteration});
        points.push_back({"mem-used-bytes", static_cast<double>(line.memory->used_bytes), s.iteration});
        points.push_back({"mem-peak-bytes", static_cast<double>(s.engine->peak_memory_bytes()), s.iteration});
        s.tensorboard->add_points(points);
      }
      progress.update(s.iteration, step.loss, line.tokens_per_second_per_gpu, seconds);
      interval_loss = 0.0;
      interval_advanced = 0;
      interval_iterations = 0;
      s.skipped_iterations = 0;
      s.nan_iterations = 0;
      interval_start = Clock::now();
    }

    if (s.datasets.valid && cfg.training.eval_iters > 0 && cfg.training.eval_interval > 0 &&
        s.iteration % cfg.training.eval_interval == 0) {
      const double loss = s.evaluate(s.datasets.valid, s.consumed_valid_samples);
      summary.validation_losses.emplace_back(s.iteration, loss);
      s.log_validation(loss, fmt::format("iteration {}", s.iteration));
      interval_start = Clock::now();  // evaluation time is not training time
    }

    const bool stop = g_stop_requested.load() ||
                      (cfg.training.exit_interval && s.iteration % *cfg.training.exit_interval == 0) ||
                      (s.hooks.after_iteration && !s.hooks.after_iteration(record));
    if ((cfg.checkpoint.save_interval && *cfg.checkpoint.save_interval > 0 &&
         s.iteration % *cfg.checkpoint.save_interval == 0) ||
        stop) {
      s.save_checkpoint();
      saved_this_iteration = true;
    }
    if (stop) {
      summary.interrupted = true;
      s.logger->info("stopping after iteration {} as requested (checkpoint saved)", s.iteration);
      break;
    }
  }
  progress.finish();
  if (!summary.interrupted && !cfg.checkpoint.disable_last_saving && !saved_this_iteration &&
      s.iteration > summary.start_iteration) {
    s.save_checkpoint();
  }
  // After the last checkpoint, as Megatron's pretrain(): the validation split continues where the
  // interval evaluations stopped (not saved), the test split starts at its beginning.
  if (!summary.interrupted && cfg.training.eval_iters > 0) {
    if (s.datasets.valid) {
      summary.final_validation_loss = s.evaluate(s.datasets.valid, s.consumed_valid_samples);
      s.log_validation(*summary.final_validation_loss, fmt::format("iteration {} on validation set", s.iteration));
    }
    if (s.datasets.test) {
      std::int64_t consumed_test_samples = 0;
      summary.final_test_loss = s.evaluate(s.datasets.test, consumed_test_samples);
      s.log_validation(*summary.final_test_loss, fmt::format("iteration {} on test set", s.iteration));
    }
  }
  summary.final_iteration = s.iteration;
  s.logger->info("training finished at iteration {} after {:.1f} s", s.iteration, seconds_since(launch));
  s.logger->flush();
  return summary;
}

}  // namespace primus::train
