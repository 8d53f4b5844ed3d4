// TrainingEngine: the backend half of training — where parameters, gradients
// and optimizer state live and how one step runs on them. The Trainer owns the
// loop, data, schedule, logging and checkpoints and talks only to this
// interface; the CPU reference engine (cpu_engine.hpp) and the CUDA engine
// (train/cuda/, registered from the CUDA library) implement it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "primus/config/train_config.hpp"
#include "primus/log/iteration_log.hpp"
#include "primus/model/gpt_model.hpp"
#include "primus/tensor/parameter_range.hpp"

namespace primus::train {

// What one optimizer step saw. Reading it is the step's one host synchronisation.
struct StepResult {
  float loss = 0.0f;  // mean over the global batch's micro-batches
  double grad_norm = 0.0;
  bool skipped = false;  // non-finite loss or gradients: parameters and optimizer state untouched
};

class TrainingEngine {
 public:
  virtual ~TrainingEngine() = default;

  // "cpu" or "cuda".
  virtual std::string_view backend_name() const = 0;
  // The flat layout shared by parameters, gradients and optimizer state.
  virtual const std::vector<tensor::ParameterRange>& parameters() const = 0;
  virtual std::int64_t num_parameters() const = 0;
  // Megatron initialisation from `seed`; identical on every backend for the same seed.
  virtual void init_parameters(std::uint64_t seed) = 0;

  // Forward and backward of micro-batch `index` of `count`: gradients of the mean loss accumulate
  // (the engine starts them from zero at index 0).
  virtual void forward_backward(const model::MicroBatch& batch, int index, int count) = 0;
  // Finishes the global batch: loss and gradient norm, the non-finite check, clipping by
  // `clip_grad` (0: off) and one AdamW update at `lr` / `weight_decay` unless skipped.
  virtual StepResult optimizer_step(double lr, double weight_decay, double clip_grad) = 0;
  // Mean loss of one micro-batch, no gradients.
  virtual double evaluate_loss(const model::MicroBatch& batch) = 0;

  // Host fp32 copies in the flat layout, for checkpoints (each span holds num_parameters()).
  virtual void read_parameters(std::span<float> out) const = 0;
  virtual void write_parameters(std::span<const float> in) = 0;
  virtual void read_optimizer_state(std::span<float> exp_avg, std::span<float> exp_avg_sq) const = 0;
  virtual void write_optimizer_state(std::span<const float> exp_avg, std::span<const float> exp_avg_sq) = 0;
  // AdamW's step counter (bias correction; successful updates only).
  virtual std::int64_t optimizer_step_count() const = 0;
  virtual void set_optimizer_step_count(std::int64_t steps) = 0;

  // Memory for the iteration line: the device's on GPU backends, the process's on the CPU.
  virtual log::MemoryUsage memory_usage() const = 0;
  // Peak bytes of activations (and, on GPUs, every allocation) since start.
  virtual std::size_t peak_memory_bytes() const = 0;
};

// Backends register themselves by name; the CUDA library does so at load time.
struct EngineBackend {
  std::string name;                 // "cpu", "cuda"
  int priority = 0;                 // backend: auto picks the available one with the highest priority
  std::function<bool()> available;  // e.g. a GPU is present
  std::function<std::unique_ptr<TrainingEngine>(const config::TrainConfig&)> create;
};
void register_engine_backend(EngineBackend backend);

// The engine for config.training.backend ("auto": the best available; "cpu"/"cuda": that one,
// or an error saying why it is unavailable).
std::unique_ptr<TrainingEngine> make_engine(const config::TrainConfig& config);

// Names of the registered backends, with availability, for messages and `primus --version`-style output.
std::vector<std::pair<std::string, bool>> engine_backends();

}  // namespace primus::train
