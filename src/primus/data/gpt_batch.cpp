#include "primus/data/gpt_batch.hpp"

#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace primus::data {

std::vector<std::int64_t> micro_batch_sample_indices(std::int64_t consumed_samples,
                                                     int micro_batch_size, int data_parallel_rank,
                                                     int data_parallel_size,
                                                     std::int64_t total_samples, bool cyclic) {
  const std::int64_t global = static_cast<std::int64_t>(micro_batch_size) * data_parallel_size;
  if (total_samples <= 0) {
    throw std::out_of_range("sampler: the dataset has no samples");
  }
  if (!cyclic && consumed_samples + global > total_samples) {
    throw std::out_of_range(fmt::format(
        "sampler: dataset exhausted: {} samples consumed, {} more needed for a global batch of "
        "micro_batch_size {} x data_parallel_size {}, the dataset has {}",
        consumed_samples, global, micro_batch_size, data_parallel_size, total_samples));
  }
  std::vector<std::int64_t> indices(static_cast<std::size_t>(micro_batch_size));
  const std::int64_t first =
      consumed_samples + static_cast<std::int64_t>(data_parallel_rank) * micro_batch_size;
  for (int j = 0; j < micro_batch_size; ++j) {
    indices[static_cast<std::size_t>(j)] = cyclic ? (first + j) % total_samples : first + j;
  }
  return indices;
}

void append_sample(std::span<const std::int64_t> sample, int eod_token, bool eod_mask_loss,
                   bool reset_position_ids, Batch& batch) {
  const auto seq_length = static_cast<std::size_t>(batch.seq_length);
  if (sample.size() != seq_length + 1) {
    throw std::invalid_argument(fmt::format("batch: a sample has {} tokens, expected seq_length + 1 = {}",
                                            sample.size(), seq_length + 1));
  }
  std::int32_t position = 0;
  for (std::size_t i = 0; i < seq_length; ++i) {
    const std::int64_t token = sample[i];
    if (token < 0 || token > std::numeric_limits<std::int32_t>::max() || sample[i + 1] < 0 ||
        sample[i + 1] > std::numeric_limits<std::int32_t>::max()) {
      throw std::out_of_range(fmt::format("batch: token {} at position {} is not a valid token id",
                                          token < 0 ? token : sample[i + 1], token < 0 ? i : i + 1));
    }
    const bool is_eod = token == eod_token;
    batch.tokens.push_back(static_cast<std::int32_t>(token));
    batch.labels.push_back(static_cast<std::int32_t>(sample[i + 1]));
    batch.loss_mask.push_back(eod_mask_loss && is_eod ? 0.0f : 1.0f);
    batch.position_ids.push_back(position);
    // After an EOD the next document starts at position 0.
    position = reset_position_ids && is_eod ? 0 : position + 1;
  }
}

MicroBatchIterator::MicroBatchIterator(std::shared_ptr<const GPTSampleSource> source,
                                       int micro_batch_size, int data_parallel_rank,
                                       int data_parallel_size, std::int64_t consumed_samples,
                                       int eod_token, bool eod_mask_loss, bool reset_position_ids,
                                       bool cyclic)
    : source_(std::move(source)),
      micro_batch_size_(micro_batch_size),
      data_parallel_rank_(data_parallel_rank),
      data_parallel_size_(data_parallel_size),
      consumed_samples_(consumed_samples),
      eod_token_(eod_token),
      eod_mask_loss_(eod_mask_loss),
      reset_position_ids_(reset_position_ids),
      cyclic_(cyclic) {
  if (!source_) throw std::invalid_argument("MicroBatchIterator: no dataset");
  if (micro_batch_size_ <= 0 || data_parallel_size_ <= 0 || data_parallel_rank_ < 0 ||
      data_parallel_rank_ >= data_parallel_size_ || consumed_samples_ < 0) {
    throw std::invalid_argument(fmt::format(
        "MicroBatchIterator: micro_batch_size {} and data_parallel_size {} must be positive, "
        "data_parallel_rank {} in [0, data_parallel_size), consumed_samples {} non-negative",
        micro_batch_size_, data_parallel_size_, data_parallel_rank_, consumed_samples_));
  }
}

bool MicroBatchIterator::has_next() const {
  if (cyclic_) return source_->size() > 0;
  return consumed_samples_ + static_cast<std::int64_t>(micro_batch_size_) * data_parallel_size_ <=
         source_->size();
}

Batch MicroBatchIterator::next() {
  const auto indices = micro_batch_sample_indices(consumed_samples_, micro_batch_size_,
                                                  data_parallel_rank_, data_parallel_size_,
                                                  source_->size(), cyclic_);
  Batch batch;
  batch.micro_batch_size = micro_batch_size_;
  batch.seq_length = source_->seq_length();
  const auto cells = static_cast<std::size_t>(micro_batch_size_) * static_cast<std::size_t>(batch.seq_length);
  batch.tokens.reserve(cells);
  batch.labels.reserve(cells);
  batch.position_ids.reserve(cells);
  batch.loss_mask.reserve(cells);
  sample_buffer_.resize(static_cast<std::size_t>(batch.seq_length) + 1);
  for (const std::int64_t index : indices) {
    source_->read_sample(index, sample_buffer_.data());
    append_sample(sample_buffer_, eod_token_, eod_mask_loss_, reset_position_ids_, batch);
  }
  consumed_samples_ += static_cast<std::int64_t>(micro_batch_size_) * data_parallel_size_;
  return batch;
}

}  // namespace primus::data
