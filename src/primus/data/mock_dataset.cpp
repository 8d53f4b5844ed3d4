#include "primus/data/mock_dataset.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "primus/data/numpy_random.hpp"

namespace primus::data {

MockGPTLowLevelDataset::MockGPTLowLevelDataset(int vocab_size, int eod_token)
    : vocab_size_(vocab_size), eod_token_(eod_token) {
  if (vocab_size_ < 1) {
    throw std::invalid_argument(
        fmt::format("mock data: vocab_size must be positive, got {}", vocab_size_));
  }
  NumpyRandomState random_state(kSeed);
  lengths_.resize(static_cast<std::size_t>(kSize));
  for (auto& length : lengths_) {
    length = static_cast<std::int32_t>(1 + random_state.random_interval(kMaxSequenceLength - 2));
  }
}

std::int64_t MockGPTLowLevelDataset::sequence_length(std::int64_t sequence) const {
  return lengths_.at(static_cast<std::size_t>(sequence));
}

void MockGPTLowLevelDataset::read_tokens(std::int64_t sequence, std::int64_t offset,
                                         std::int64_t length, std::int64_t* out) const {
  const std::int64_t sequence_tokens = sequence_length(sequence);
  if (offset < 0 || length < 0 || offset + length > sequence_tokens) {
    throw std::out_of_range(fmt::format("mock data: tokens [{}, {}) of sequence {} (length {})",
                                        offset, offset + length, sequence, sequence_tokens));
  }
  for (std::int64_t i = 0; i < length; ++i) {
    const std::int64_t position = offset + i;
    out[i] = position == sequence_tokens - 1 ? eod_token_ : (position + 1) % vocab_size_;
  }
}

std::string MockGPTLowLevelDataset::identity() const {
  return fmt::format("mock(vocab_size={}, eod={})", vocab_size_, eod_token_);
}

}  // namespace primus::data
