// CudaEngine: buffers, upload/download, the optimizer step, and the "cuda" backend registration.
#include "primus/train/cuda/cuda_engine.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "primus/config/environment.hpp"
#include "primus/model/cuda/device_init.hpp"
#include "primus/model/cuda/parameter_fences.hpp"
#include "primus/model/parameter_init.hpp"
#include "primus/ops/cuda/cuda_check.hpp"
#include "primus/ops/cuda/device_info.hpp"
#include "primus/ops/cuda/grad_norm.hpp"
#include "primus/train/cuda/master_weights.hpp"

namespace primus::train::cuda {

namespace {

void require_size(std::size_t got, std::int64_t expected, const char* what) {
  if (static_cast<std::int64_t>(got) != expected)
    throw std::invalid_argument(std::string(what) + ": buffer of " + std::to_string(got) + " elements, expected " +
                                std::to_string(expected));
}

std::size_t device_used_bytes() {
  std::size_t free_bytes = 0, total_bytes = 0;
  PRIMUS_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return total_bytes - free_bytes;
}

void check_supported(const config::TrainConfig& c) {
  if (c.training.precision == config::Precision::fp16)
    throw std::invalid_argument("precision fp16: the cuda backend trains in bf16 (set bf16: true)");
  if (c.parallel.tensor_model_parallel_size != 1 || c.parallel.pipeline_model_parallel_size != 1)
    throw std::invalid_argument("the cuda backend runs one GPU: tensor_model_parallel_size and "
                                "pipeline_model_parallel_size must be 1");
}

}  // namespace

CudaEngine::CudaEngine(const config::TrainConfig& config)
    : config_(config), layout_(model::build_parameter_layout(config.model)) {
  check_supported(config);
  // Before anything is allocated: a bad recompute setting throws here (nothing to release).
  const auto recompute = model::cuda::RecomputePlan::from_config(config.training, config.model.num_layers);
  PRIMUS_CUDA_CHECK(cudaFree(nullptr));  // create the context before measuring
  used_before_ = device_used_bytes();
  PRIMUS_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  const std::int64_t n = layout_.total_numel;
  auto plan = [&](model::cuda::DeviceArena& arena) {
    weights_high_ = arena.allocate<__nv_bfloat16>(n);
    weights_low_ = arena.allocate<std::uint16_t>(n);
    grads_ = arena.allocate<float>(n);
    exp_avg_ = arena.allocate<float>(n);
    exp_avg_sq_ = arena.allocate<float>(n);
    norm_scratch_ = arena.allocate<double>(ops::cuda::grad_sum_of_squares_scratch_doubles(n));
    scalars_ = arena.allocate<DeviceScalars>(1);
    lazy_.row_step = arena.allocate<std::int32_t>(config.model.padded_vocab_size);
    lazy_.ring = arena.allocate_bytes(lazy_rows_ring_bytes(LazyRows::kMaxRing));
  };
  model::cuda::DeviceArena measuring;
  plan(measuring);
  state_ = model::cuda::DeviceArena(measuring.high_water());
  plan(state_);
  PRIMUS_CUDA_CHECK(cudaMemset(exp_avg_, 0, static_cast<std::size_t>(n) * sizeof(float)));
  PRIMUS_CUDA_CHECK(cudaMemset(exp_avg_sq_, 0, static_cast<std::size_t>(n) * sizeof(float)));
  PRIMUS_CUDA_CHECK(cudaMemset(grads_, 0, static_cast<std::size_t>(n) * sizeof(float)));
  PRIMUS_CUDA_CHECK(cudaMemset(scalars_, 0, sizeof(DeviceScalars)));
  PRIMUS_CUDA_CHECK(cudaMemset(lazy_.row_step, 0, static_cast<std::size_t>(config.model.padded_vocab_size) * 4));
  PRIMUS_CUDA_CHECK(cudaMallocHost(&host_scalars_, sizeof(DeviceScalars)));
  model_ = std::make_unique<model::cuda::CudaGPTModel>(
      config.model, config.training.micro_batch_size, recompute, layout_, weights_high_, grads_, stream_);
  configure_optimizer();
  if (model::cuda::StepTimeline::requested()) {
    timeline_ = std::make_unique<model::cuda::StepTimeline>();
    model_->set_timeline(timeline_.get());
  }
  sample_memory();
}

void CudaEngine::configure_optimizer() {
  std::vector<std::int64_t> offsets, sizes;
  std::int64_t layer_params = 0;
  for (const auto& p : layout_.parameters) {
    offsets.push_back(p.offset);
    sizes.push_back(p.numel);
    if (p.name.rfind("decoder.layers.0.", 0) == 0) layer_params += p.numel;
  }
  // Groups close at parameters of >= 1M elements: a layer's norms and biases ride with its GEMM weights.
  const auto groups = model::cuda::group_parameters(offsets, sizes, 1 << 20);
  // One launch per group, or several where a group holds more parameters than a launch's table.
  std::size_t param = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    while (param < layout_.parameters.size() && layout_.parameters[param].offset < groups[g].end) {
      SplitAdamWLaunch launch;
      launch.begin = layout_.parameters[param].offset;
      while (param < layout_.parameters.size() && layout_.parameters[param].offset < groups[g].end &&
             launch.segment_count < SplitAdamWLaunch::kMaxSegments) {
        const auto& p = layout_.parameters[param++];
        if (p.weight_decay) launch.decay_mask |= 1u << launch.segment_count;
        launch.segment_end[launch.segment_count++] = p.offset + p.numel;
      }
      launches_.push_back({launch, g});
    }
  }
  const int device_sms = ops::cuda::device_sm_count();
  overlap_sms_ = config::integer_from_environment("PRIMUS_OPTIMIZER_OVERLAP_SMS", 24, 0, device_sms / 2);
  if (overlap_sms_ == 0) return;
  fences_ = std::make_unique<model::cuda::ParameterFences>(groups);
  model_->set_parameter_fences(fences_.get());
  PRIMUS_CUDA_CHECK(cudaStreamCreateWithFlags(&optimizer_stream_, cudaStreamNonBlocking));
  PRIMUS_CUDA_CHECK(cudaEventCreateWithFlags(&clip_ready_, cudaEventDisableTiming));
  PRIMUS_CUDA_CHECK(cudaEventCreateWithFlags(&embeddings_read_, cudaEventDisableTiming));
  const auto& first = layout_.parameters.front();
  defer_embeddings_ = config::integer_from_environment("PRIMUS_OPTIMIZER_DEFER_EMBEDDINGS", 1, 0, 1) == 1 &&
                      config_.model.untie_embeddings_and_output_weights &&
                      first.name == "embedding.word_embeddings.weight" && groups.front().end == first.offset + first.numel;
  lazy_rows_ = defer_embeddings_ && model_->word_embedding_zero_rows().marks != nullptr &&
               config::integer_from_environment("PRIMUS_LAZY_EMBEDDING_ROWS", 1, 0, 1) == 1;
  lazy_.ring_size = config::integer_from_environment("PRIMUS_LAZY_EMBEDDING_RING", 8, 1, LazyRows::kMaxRing);
  // How many layers' forward run beside the tail: its bytes (28 per parameter) at what the
  // reserved SMs stream (split_adamw_launch: ~95 GB/s per SM alone on an H100, assumed ~60
  // beside the forward, at most ~2.7 TB/s) against one layer's forward FLOPs at ~450 TFLOP/s
  // (what the 8B layers beside the tail ran at on an H100 at its power limit: 4.1 TFLOP in ~8.9 ms).
  // Only sets which GEMMs leave the SMs free: an underestimate makes GEMMs planned for every SM
  // wait for the tail's; an overestimate leaves SMs idle once the tail is done (8B: 6 layers
  // instead of 8 measured 0.6-2.3 ms a step faster in three calls; PRIMUS_OPTIMIZER_OVERLAP_LAYERS overrides it).
  const auto& m = config_.model;
  // Lazy rows leave the table's few touched rows and one slice of it to the tail: not counted.
  const std::int64_t tail_begin = defer_embeddings_ && !lazy_rows_ ? 0 : fences_->groups().front().end;
  const double tail_bytes = 28.0 * static_cast<double>(layout_.total_numel - tail_begin);
  const double tail_seconds = tail_bytes / std::min(2.7e12, 60e9 * overlap_sms_);
  const double rows = static_cast<double>(config_.training.micro_batch_size) * m.seq_length;
  const double attention_flops = 2.0 * rows * m.seq_length * m.num_attention_heads * m.kv_channels;  // causal fwd
  const double layer_seconds = (2.0 * rows * static_cast<double>(layer_params) + attention_flops) / 450e12;
  const int estimate = static_cast<int>(std::ceil(tail_seconds / std::max(layer_seconds, 1e-9)));
  overlap_layers_ = config::integer_from_environment("PRIMUS_OPTIMIZER_OVERLAP_LAYERS",
                                                    std::min(estimate, m.num_layers), 0, m.num_layers);
}

void CudaEngine::enqueue_word_embedding_update() const {
  if (!embedding_update_pending_) return;
  embedding_update_pending_ = false;
  model_->defer_word_embeddings(nullptr);
  PRIMUS_CUDA_CHECK(cudaEventRecord(embeddings_read_, stream_));
  PRIMUS_CUDA_CHECK(cudaStreamWaitEvent(optimizer_stream_, embeddings_read_, 0));
  if (lazy_rows_) {  // the touched rows and this step's slice
    lazy_rows_update(lazy_table(), lazy_, step_count_, &scalars_->clip_coeff, touched_rows(), /*all_rows=*/false,
                     overlap_sms_, optimizer_stream_);
    fences_->record(0, optimizer_stream_);
    if (timeline_) timeline_->mark("tail.embeddings", optimizer_stream_);
    return;
  }
  // Without lazy rows every gradient row is read here: skipping the untouched ones cost a row
  // lookup per quad, more than the 4 bytes save on the tail's few SMs (IEEE math, 2026-11-26:
  // 1.05e9 parameters, 97 % untouched, 24 SMs: 17.65 ms skipping vs 14.51). On all SMs it pays
  // (optimizer_step).
  for (std::size_t i = 0; i < launches_.size() && launches_[i].group == 0; ++i)
    split_adamw_launch(launches_[i].launch, weights_high_, weights_low_, exp_avg_, exp_avg_sq_, grads_, &scalars_->clip_coeff,
                       &scalars_->found_non_finite, &scalars_->loss_sum, pending_hyper_, overlap_sms_,
                       optimizer_stream_);
  fences_->record(0, optimizer_stream_);
  if (timeline_) timeline_->mark("tail.embeddings", optimizer_stream_);
}

LazyTable CudaEngine::lazy_table() const {
  const auto& table = layout_.parameters.front();
  return LazyTable{weights_high_, weights_low_, exp_avg_, exp_avg_sq_, grads_, table.offset,
                   config_.model.padded_vocab_size, config_.model.hidden_size, table.weight_decay};
}

const std::uint8_t* CudaEngine::touched_rows() const { return model_->word_embedding_zero_rows().marks; }

void CudaEngine::arm_word_embedding_gather() {
  if (!lazy_rows_) return;
  // Every forward, not only the first after a step: rows stay behind until stored. The pending
  // step's touched rows take their gradient from the marks the step's backward set.
  model_->defer_word_embeddings([this](__nv_bfloat16* out, const std::int32_t* tokens, std::int64_t rows) {
    fences_->wait(stream_, layout_.parameters.front().offset);  // no store of rows still in flight
    lazy_rows_gather(out, tokens, rows, lazy_table(), lazy_, step_count_, &scalars_->clip_coeff,
                     embedding_update_pending_ ? touched_rows() : nullptr, stream_);
    enqueue_word_embedding_update();
  });
}

void CudaEngine::synchronize() const {
  if (lazy_rows_) {
    // The host reads or writes the table next: every row brought up to the last step and stored
    // (with the pending step's gradients, if nothing has stored them yet), after any update in flight.
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(optimizer_stream_));
    lazy_rows_update(lazy_table(), lazy_, step_count_, &scalars_->clip_coeff,
                     embedding_update_pending_ ? touched_rows() : nullptr, /*all_rows=*/true, 0, stream_);
    embedding_update_pending_ = false;
    model_->defer_word_embeddings(nullptr);
  }
  enqueue_word_embedding_update();  // a deferred update nothing has read yet still has to happen
  PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream_));
  if (optimizer_stream_ != nullptr) PRIMUS_CUDA_CHECK(cudaStreamSynchronize(optimizer_stream_));
}

CudaEngine::~CudaEngine() {
  if (optimizer_stream_ != nullptr) cudaStreamSynchronize(optimizer_stream_);
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  model_.reset();
  fences_.reset();
  if (clip_ready_ != nullptr) cudaEventDestroy(clip_ready_);
  if (embeddings_read_ != nullptr) cudaEventDestroy(embeddings_read_);
  if (optimizer_stream_ != nullptr) cudaStreamDestroy(optimizer_stream_);
  if (host_scalars_ != nullptr) cudaFreeHost(host_scalars_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void CudaEngine::init_parameters(std::uint64_t seed) {
  // The host's fills, computed on the device into the (then unused) fp32 gradient buffer, then
  // split there: the same bits as model::init_parameters, without ~3e9 host samples and their copy.
  synchronize();
  for (const model::ParameterFill& fill : model::parameter_fills(layout_, config_.model, seed)) {
    if (fill.normal) {
      model::cuda::fill_normal_on_device(grads_ + fill.offset, fill.count, fill.stddev, fill.tensor_seed, stream_);
    } else {
      model::cuda::fill_value_on_device(grads_ + fill.offset, fill.count, fill.value, stream_);
    }
  }
  const std::int64_t n = layout_.total_numel;
  split_master_weights_on_device(grads_, weights_high_, weights_low_, n, stream_);
  PRIMUS_CUDA_CHECK(cudaMemsetAsync(grads_, 0, static_cast<std::size_t>(n) * sizeof(float), stream_));
  PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaEngine::write_parameters(std::span<const float> in) {
  require_size(in.size(), num_parameters(), "write_parameters");
  // The fp32 grads buffer is free between steps: stage the fp32 values there and split on the device.
  const std::size_t n = in.size();
  synchronize();
  PRIMUS_CUDA_CHECK(cudaMemcpy(grads_, in.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  split_master_weights_on_device(grads_, weights_high_, weights_low_, static_cast<std::int64_t>(n), stream_);
  PRIMUS_CUDA_CHECK(cudaMemsetAsync(grads_, 0, n * sizeof(float), stream_));
  PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaEngine::read_parameters(std::span<float> out) const {
  require_size(out.size(), num_parameters(), "read_parameters");
  const std::int64_t n = num_parameters();
  std::vector<std::uint16_t> high(static_cast<std::size_t>(n)), low(static_cast<std::size_t>(n));
  synchronize();
  PRIMUS_CUDA_CHECK(cudaMemcpy(high.data(), weights_high_, high.size() * 2, cudaMemcpyDeviceToHost));
  PRIMUS_CUDA_CHECK(cudaMemcpy(low.data(), weights_low_, low.size() * 2, cudaMemcpyDeviceToHost));
  join_master_weights(high.data(), low.data(), out.data(), n);
}

void CudaEngine::read_optimizer_state(std::span<float> exp_avg, std::span<float> exp_avg_sq) const {
  require_size(exp_avg.size(), num_parameters(), "read_optimizer_state");
  require_size(exp_avg_sq.size(), num_parameters(), "read_optimizer_state");
  synchronize();
  PRIMUS_CUDA_CHECK(cudaMemcpy(exp_avg.data(), exp_avg_, exp_avg.size() * sizeof(float), cudaMemcpyDeviceToHost));
  PRIMUS_CUDA_CHECK(
      cudaMemcpy(exp_avg_sq.data(), exp_avg_sq_, exp_avg_sq.size() * sizeof(float), cudaMemcpyDeviceToHost));
}

void CudaEngine::write_optimizer_state(std::span<const float> exp_avg, std::span<const float> exp_avg_sq) {
  require_size(exp_avg.size(), num_parameters(), "write_optimizer_state");
  require_size(exp_avg_sq.size(), num_parameters(), "write_optimizer_state");
  synchronize();
  PRIMUS_CUDA_CHECK(cudaMemcpy(exp_avg_, exp_avg.data(), exp_avg.size() * sizeof(float), cudaMemcpyHostToDevice));
  PRIMUS_CUDA_CHECK(
      cudaMemcpy(exp_avg_sq_, exp_avg_sq.data(), exp_avg_sq.size() * sizeof(float), cudaMemcpyHostToDevice));
}

void CudaEngine::read_gradients(std::span<float> out) const {
  require_size(out.size(), num_parameters(), "read_gradients");
  synchronize();
  PRIMUS_CUDA_CHECK(cudaMemcpy(out.data(), grads_, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
}

void CudaEngine::set_optimizer_step_count(std::int64_t steps) {
  if (steps < 0) throw std::invalid_argument("optimizer step count " + std::to_string(steps) + " must be >= 0");
  synchronize();  // lazy rows: every row current at the old count, so at the new one
  step_count_ = steps;
  if (lazy_rows_) {
    lazy_rows_fill(lazy_, config_.model.padded_vocab_size, steps, stream_);
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
}

void CudaEngine::upload_batch(const model::MicroBatch& batch, float grad_scale) {
  if (batch.micro_batch_size != model_->micro_batch_size())
    throw std::invalid_argument("MicroBatch: micro_batch_size = " + std::to_string(batch.micro_batch_size) +
                                ", expected " + std::to_string(model_->micro_batch_size()) + " (the model's)");
  if (batch.seq_length <= 0 || batch.seq_length > config_.model.seq_length)
    throw std::invalid_argument("MicroBatch: seq_length = " + std::to_string(batch.seq_length) + ", expected 1.." +
                                std::to_string(config_.model.seq_length));
  const std::size_t rows = static_cast<std::size_t>(batch.micro_batch_size) * batch.seq_length;
  if (batch.tokens.size() != rows || batch.labels.size() != rows || batch.loss_mask.size() != rows)
    throw std::invalid_argument("MicroBatch: tokens, labels and loss_mask must each hold micro_batch_size * "
                                "seq_length = " + std::to_string(rows) + " entries");
  double mask_sum = 0.0;
  for (float m : batch.loss_mask) mask_sum += m;
  host_loss_weights_.resize(rows);
  for (std::size_t r = 0; r < rows; ++r)
    host_loss_weights_[r] = mask_sum > 0.0 ? static_cast<float>(grad_scale * batch.loss_mask[r] / mask_sum) : 0.0f;
  // Pageable sources: cudaMemcpyAsync returns once the data is staged, so the vectors may change afterwards.
  PRIMUS_CUDA_CHECK(cudaMemcpyAsync(model_->tokens(), batch.tokens.data(), rows * 4, cudaMemcpyHostToDevice, stream_));
  PRIMUS_CUDA_CHECK(cudaMemcpyAsync(model_->labels(), batch.labels.data(), rows * 4, cudaMemcpyHostToDevice, stream_));
  PRIMUS_CUDA_CHECK(cudaMemcpyAsync(model_->loss_weights(), host_loss_weights_.data(), rows * 4,
                                    cudaMemcpyHostToDevice, stream_));
}

void CudaEngine::forward_backward(const model::MicroBatch& batch, int index, int count) {
  if (count <= 0 || index < 0 || index >= count)
    throw std::invalid_argument("forward_backward: micro-batch " + std::to_string(index) + " of " +
                                std::to_string(count));
  upload_batch(batch, 1.0f / static_cast<float>(count));
  arm_word_embedding_gather();
  model_->forward_backward(batch.seq_length, index == 0);
  // Σ losses * weights = this micro-batch's masked mean / count: the global batch's mean after the last one.
  accumulate_weighted_loss(&scalars_->loss_sum, model_->losses(), model_->loss_weights(),
                           static_cast<std::int64_t>(batch.micro_batch_size) * batch.seq_length, index == 0, stream_);
}

StepResult CudaEngine::optimizer_step(double lr, double weight_decay, double clip_grad) {
  enqueue_word_embedding_update();  // the last step's, if no forward has read the table since
  // Lazy rows: that store reads the clip coefficient and the ring slot this step overwrites.
  if (lazy_rows_) fences_->wait(stream_, layout_.parameters.front().offset);
  // The step since the last forward began, with the last optimizer tail beside its forward.
  if (timeline_ && step_count_ > 0) timeline_->report("fwd.begin");
  const std::int64_t n = num_parameters();
  ops::cuda::grad_sum_of_squares(&scalars_->sum_of_squares, grads_, n, norm_scratch_, stream_,
                                 model_->word_embedding_zero_rows());
  if (timeline_) timeline_->span("opt.norm", stream_);
  ops::cuda::grad_clip_coefficient(&scalars_->clip_coeff, &scalars_->found_non_finite, &scalars_->grad_norm,
                                   &scalars_->sum_of_squares, clip_grad, stream_);
  if (timeline_) timeline_->span("opt.clip", stream_);
  ops::cuda::AdamWHyperparameters hyper{lr,
                                        config_.optimizer.adam_beta1,
                                        config_.optimizer.adam_beta2,
                                        config_.optimizer.adam_eps,
                                        weight_decay,
                                        step_count_ + 1};
  if (lazy_rows_) lazy_rows_record_step(lazy_, hyper, stream_);  // before anything replays this step
  // The groups in forward order; overlapped: on the side stream, the next forward waiting per parameter.
  cudaStream_t optimizer = fences_ != nullptr ? optimizer_stream_ : stream_;
  if (fences_ != nullptr) {
    PRIMUS_CUDA_CHECK(cudaEventRecord(clip_ready_, stream_));
    PRIMUS_CUDA_CHECK(cudaStreamWaitEvent(optimizer_stream_, clip_ready_, 0));
  }
  for (std::size_t i = 0; i < launches_.size(); ++i) {
    const std::size_t group = launches_[i].group;
    if (defer_embeddings_ && group == 0) continue;  // after the next forward's gather, below
    const int sms = fences_ != nullptr && group > 0 ? overlap_sms_ : 0;  // the first group is read first
    // The first group holds the word embeddings (the first parameter) and runs on all SMs, where
    // the update is bound by memory: their untouched rows' zero gradients are not read
    // (1.05e9 parameters, 97 % of rows untouched, H100: 9.21 ms vs 10.31 reading every row).
    split_adamw_launch(launches_[i].launch, weights_high_, weights_low_, exp_avg_, exp_avg_sq_, grads_,
                       &scalars_->clip_coeff, &scalars_->found_non_finite, &scalars_->loss_sum, hyper, sms, optimizer,
                       group == 0 ? model_->word_embedding_zero_rows() : ops::cuda::ZeroRows{});
    if (fences_ != nullptr && (i + 1 == launches_.size() || launches_[i + 1].group != group)) {
      fences_->record(group, optimizer);
      if (timeline_) timeline_->mark("tail.group" + std::to_string(100 + group).substr(1), optimizer);
    }
  }
  if (fences_ != nullptr) model_->overlap_next_forward(overlap_sms_, overlap_layers_);
  if (lazy_rows_) {
    embedding_update_pending_ = true;  // stored behind the next forward's gather (arm_word_embedding_gather)
  } else if (defer_embeddings_) {
    pending_hyper_ = hyper;
    embedding_update_pending_ = true;
    const auto& table = layout_.parameters.front();
    model_->defer_word_embeddings([this, table_offset = table.offset, decay = table.weight_decay](
                                      __nv_bfloat16* out, const std::int32_t* tokens, std::int64_t rows) {
      gather_rows_after_adamw(out, tokens, rows, config_.model.padded_vocab_size, config_.model.hidden_size,
                              table_offset, decay, weights_high_, weights_low_, exp_avg_, exp_avg_sq_, grads_,
                              &scalars_->clip_coeff, &scalars_->found_non_finite, &scalars_->loss_sum, pending_hyper_,
                              stream_, model_->word_embedding_zero_rows());
      enqueue_word_embedding_update();
    });
  }
  if (timeline_) timeline_->mark("opt.main", stream_);  // norm and clip (serial: AdamW too) done
  if (timeline_) timeline_->span("opt.adamw_or_launches", stream_);
  // The step's one host synchronisation (the norm and loss; not the overlapped AdamW).
  PRIMUS_CUDA_CHECK(
      cudaMemcpyAsync(host_scalars_, scalars_, sizeof(DeviceScalars), cudaMemcpyDeviceToHost, stream_));
  PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream_));
  StepResult result;
  result.loss = static_cast<float>(host_scalars_->loss_sum);
  result.grad_norm = host_scalars_->grad_norm;
  result.skipped = host_scalars_->found_non_finite != 0 || !std::isfinite(host_scalars_->loss_sum);
  if (!result.skipped) ++step_count_;
  if (lazy_rows_ && result.skipped) embedding_update_pending_ = false;  // nothing of this step to store
  sample_memory();
  return result;
}

double CudaEngine::evaluate_loss(const model::MicroBatch& batch) {
  upload_batch(batch, 1.0f);
  arm_word_embedding_gather();
  model_->forward_loss(batch.seq_length);
  accumulate_weighted_loss(&scalars_->eval_loss, model_->losses(), model_->loss_weights(),
                           static_cast<std::int64_t>(batch.micro_batch_size) * batch.seq_length, true, stream_);
  double loss = 0.0;
  PRIMUS_CUDA_CHECK(cudaMemcpyAsync(&host_scalars_->eval_loss, &scalars_->eval_loss, sizeof(double),
                                    cudaMemcpyDeviceToHost, stream_));
  PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream_));
  loss = host_scalars_->eval_loss;
  return loss;
}

void CudaEngine::forward_logits(const model::MicroBatch& batch, std::span<float> out) {
  const std::size_t count = static_cast<std::size_t>(batch.micro_batch_size) * batch.seq_length *
                            static_cast<std::size_t>(config_.model.padded_vocab_size);
  require_size(out.size(), static_cast<std::int64_t>(count), "forward_logits");
  upload_batch(batch, 1.0f);
  arm_word_embedding_gather();
  model_->forward_loss(batch.seq_length);
  std::vector<__nv_bfloat16> host(count);
  PRIMUS_CUDA_CHECK(cudaMemcpyAsync(host.data(), model_->logits(), count * 2, cudaMemcpyDeviceToHost, stream_));
  PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream_));
  for (std::size_t i = 0; i < count; ++i) out[i] = __bfloat162float(host[i]);
}

void CudaEngine::sample_memory() const { peak_used_ = std::max(peak_used_, device_used_bytes()); }

std::size_t CudaEngine::peak_memory_bytes() const {
  sample_memory();
  return peak_used_ > used_before_ ? peak_used_ - used_before_ : 0;
}

std::size_t CudaEngine::arena_bytes() const { return state_.capacity() + model_->activation_bytes(); }

log::MemoryUsage CudaEngine::memory_usage() const {
  std::size_t free_bytes = 0, total_bytes = 0;
  PRIMUS_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  log::MemoryUsage usage;
  usage.source = "cuda";
  usage.used_bytes = total_bytes - free_bytes;
  usage.free_bytes = free_bytes;
  usage.total_bytes = total_bytes;
  return usage;
}

namespace {

bool cuda_device_present() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

// Registers "cuda" when the CUDA library is linked in (whole-archive).
const bool registered = [] {
  register_engine_backend({"cuda", 10, cuda_device_present,
                           [](const config::TrainConfig& c) -> std::unique_ptr<TrainingEngine> {
                             return std::make_unique<CudaEngine>(c);
                           }});
  return true;
}();

}  // namespace

}  // namespace primus::train::cuda
