// Micro-batches for one data-parallel rank: Megatron's MegatronPretrainingSampler
// (global batches of micro_batch_size * data_parallel_size consecutive samples
// starting at consumed_samples; rank r takes the r-th slice of micro_batch_size)
// and _get_ltor_masks_and_position_ids (tokens = sample[:-1], labels = sample[1:],
// loss_mask 0 where the INPUT token is EOD under eod_mask_loss, position ids
// restarting after each EOD under reset_position_ids).
// Resume is exact: an iterator built at consumed_samples = k yields the batches
// an earlier iterator yielded after k samples.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "primus/data/gpt_dataset.hpp"

namespace primus::data {

// Row-major [micro_batch_size][seq_length].
struct Batch {
  int micro_batch_size = 0;
  int seq_length = 0;
  std::vector<std::int32_t> tokens;
  std::vector<std::int32_t> labels;
  std::vector<std::int32_t> position_ids;
  std::vector<float> loss_mask;
};

// The sample indices of this rank's next micro-batch. Without `cyclic`, throws
// std::out_of_range when fewer than micro_batch_size * data_parallel_size samples
// remain (Megatron drops the last partial global batch); with it, indices wrap
// modulo total_samples (for evaluation, which may run past the valid set).
std::vector<std::int64_t> micro_batch_sample_indices(std::int64_t consumed_samples,
                                                     int micro_batch_size, int data_parallel_rank,
                                                     int data_parallel_size,
                                                     std::int64_t total_samples, bool cyclic);

// Appends one sample (seq_length + 1 tokens) as a row of `batch`.
void append_sample(std::span<const std::int64_t> sample, int eod_token, bool eod_mask_loss,
                   bool reset_position_ids, Batch& batch);

class MicroBatchIterator {
 public:
  MicroBatchIterator(std::shared_ptr<const GPTSampleSource> source, int micro_batch_size,
                     int data_parallel_rank, int data_parallel_size, std::int64_t consumed_samples,
                     int eod_token, bool eod_mask_loss, bool reset_position_ids = false,
                     bool cyclic = false);

  // Whether next() has a full global batch to draw from (always true when cyclic).
  bool has_next() const;
  Batch next();
  // Samples consumed by all data-parallel ranks together (Megatron's consumed_train_samples).
  std::int64_t consumed_samples() const { return consumed_samples_; }

 private:
  std::shared_ptr<const GPTSampleSource> source_;
  int micro_batch_size_;
  int data_parallel_rank_;
  int data_parallel_size_;
  std::int64_t consumed_samples_;
  int eod_token_;
  bool eod_mask_loss_;
  bool reset_position_ids_;
  bool cyclic_;
  std::vector<std::int64_t> sample_buffer_;
};

}  // namespace primus::data
