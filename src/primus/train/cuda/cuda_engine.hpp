// CudaEngine: the TrainingEngine on one GPU ("cuda" backend). Memory per parameter:
// bf16 high half of the fp32 master weight (the model weight) 2 B + low half 2 B +
// fp32 main grad 4 B + two fp32 AdamW moments 8 B = 16 B; activations in the model's
// planned arena. A step: per micro-batch forward/backward with GEMM gradient
// accumulation; then the grad norm, clip coefficient and non-finite flag on the device,
// AdamW over the flat buffer, and one host read of {loss, norm, skipped}.
//
// Overlapped optimizer (PRIMUS_OPTIMIZER_OVERLAP_SMS, default 24; 0: off): AdamW runs on a
// side stream in groups of parameters in forward order; the first group (the word
// embeddings, read first) on the whole GPU, the rest on that many SMs while the next
// forward, which waits per parameter on the group's event, runs on the others. The step's
// host read waits only for the norm and loss, not for AdamW. Untied word embeddings: the
// next forward's gather computes the updated rows it reads, and the table's update joins the
// tail behind that read (docs/cuda_engine.md).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "primus/model/cuda/cuda_gpt_model.hpp"
#include "primus/model/cuda/device_arena.hpp"
#include "primus/model/parameter_layout.hpp"
#include "primus/ops/cuda/adamw.hpp"
#include "primus/train/cuda/lazy_embedding_rows.hpp"
#include "primus/train/cuda/master_weights.hpp"
#include "primus/train/engine.hpp"

namespace primus::train::cuda {

class CudaEngine final : public TrainingEngine {
 public:
  explicit CudaEngine(const config::TrainConfig& config);
  ~CudaEngine() override;

  std::string_view backend_name() const override { return "cuda"; }
  const std::vector<tensor::ParameterRange>& parameters() const override { return layout_.parameters; }
  std::int64_t num_parameters() const override { return layout_.total_numel; }
  void init_parameters(std::uint64_t seed) override;

  void forward_backward(const model::MicroBatch& batch, int index, int count) override;
  StepResult optimizer_step(double lr, double weight_decay, double clip_grad) override;
  double evaluate_loss(const model::MicroBatch& batch) override;

  void read_parameters(std::span<float> out) const override;
  void write_parameters(std::span<const float> in) override;
  void read_optimizer_state(std::span<float> exp_avg, std::span<float> exp_avg_sq) const override;
  void write_optimizer_state(std::span<const float> exp_avg, std::span<const float> exp_avg_sq) override;
  std::int64_t optimizer_step_count() const override { return step_count_; }
  void set_optimizer_step_count(std::int64_t steps) override;

  log::MemoryUsage memory_usage() const override;
  // Peak device memory this process used since the engine started, CUDA context excluded:
  // max over samples of (total - free) minus the figure before the engine allocated anything.
  std::size_t peak_memory_bytes() const override;
  // Bytes of the engine's own arenas (parameters/optimizer, activations).
  std::size_t arena_bytes() const;

  // Tests and diagnostics: host fp32 copy of the gradients of the last global batch.
  void read_gradients(std::span<float> out) const;
  // Tests: bf16 logits (as fp32) of one micro-batch, [rows, padded_vocab_size].
  void forward_logits(const model::MicroBatch& batch, std::span<float> out);
  cudaStream_t stream() const { return stream_; }
  // SMs the optimizer's tail keeps while the next forward runs (0: no overlap).
  int optimizer_overlap_sms() const { return overlap_sms_; }

 private:
  struct DeviceScalars {
    double loss_sum;
    double eval_loss;
    double sum_of_squares;
    double grad_norm;
    float clip_coeff;
    std::int32_t found_non_finite;
  };
  void upload_batch(const model::MicroBatch& batch, float grad_scale);
  // Waits for both streams: before any host access to parameters, moments or gradients.
  void synchronize() const;
  // The AdamW launches (parameter groups in forward order) and the overlap settings.
  void configure_optimizer();
  // Enqueues a deferred word-embedding update (behind whatever has read the table so far).
  void enqueue_word_embedding_update() const;
  // Lazy rows: the next forward reads the word embeddings through lazy_rows_gather.
  void arm_word_embedding_gather();
  LazyTable lazy_table() const;
  const std::uint8_t* touched_rows() const;
  void sample_memory() const;

  config::TrainConfig config_;
  model::ParameterLayout layout_;
  cudaStream_t stream_ = nullptr;
  cudaStream_t optimizer_stream_ = nullptr;  // the overlapped AdamW groups
  cudaEvent_t clip_ready_ = nullptr;
  int overlap_sms_ = 0, overlap_layers_ = 0;
  struct GroupLaunch {
    SplitAdamWLaunch launch;
    std::size_t group;  // the parameter group (fence) it belongs to
  };
  std::vector<GroupLaunch> launches_;
  // Word embeddings (group 0, untied) updated after the next forward's gather, which computes
  // the rows it reads on the fly (PRIMUS_OPTIMIZER_DEFER_EMBEDDINGS, default 1 with the overlap).
  bool defer_embeddings_ = false;
  mutable bool embedding_update_pending_ = false;
  ops::cuda::AdamWHyperparameters pending_hyper_{};
  // With the deferred update and tracked touched rows, the table is kept lazily per row
  // (lazy_embedding_rows.hpp; PRIMUS_LAZY_EMBEDDING_ROWS, default 1; PRIMUS_LAZY_EMBEDDING_RING,
  // default 8): the pending update stores only the touched rows and one slice.
  bool lazy_rows_ = false;
  LazyRows lazy_{};
  cudaEvent_t embeddings_read_ = nullptr;
  std::unique_ptr<model::cuda::StepTimeline> timeline_;  // PRIMUS_CUDA_TIMELINE=1 only
  std::unique_ptr<model::cuda::ParameterFences> fences_;
  std::size_t used_before_ = 0;
  mutable std::size_t peak_used_ = 0;
  model::cuda::DeviceArena state_;  // weights (high, low), grads, moments, scalars, tables
  __nv_bfloat16* weights_high_ = nullptr;
  std::uint16_t* weights_low_ = nullptr;
  float *grads_ = nullptr, *exp_avg_ = nullptr, *exp_avg_sq_ = nullptr;
  double* norm_scratch_ = nullptr;
  DeviceScalars* scalars_ = nullptr;
  DeviceScalars* host_scalars_ = nullptr;  // pinned
  std::unique_ptr<model::cuda::CudaGPTModel> model_;
  std::vector<float> host_loss_weights_;
  std::int64_t step_count_ = 0;
};

}  // namespace primus::train::cuda
