// Megatron's MockGPTLowLevelDataset: 100000 synthetic sequences whose lengths
// are drawn from a fixed-seed RNG in [1, 4096) and whose tokens are
// 1, 2, ..., length-1 (mod vocab_size) followed by the EOD token. The GPT
// dataset machinery samples from it as from a real corpus.
// The lengths come from MT19937(seed 0) with numpy's bounded draw, not from
// numpy's default_rng (PCG64), so the lengths differ from Megatron's while the
// construction is the same; they are identical across runs, ranks and threads.
#pragma once

#include <cstdint>
#include <vector>

#include "primus/data/indexed_dataset.hpp"

namespace primus::data {

class MockGPTLowLevelDataset : public TokenSequences {
 public:
  static constexpr std::int64_t kSize = 100000;
  static constexpr std::int64_t kMaxSequenceLength = 4096;  // exclusive
  static constexpr std::uint32_t kSeed = 0;

  MockGPTLowLevelDataset(int vocab_size, int eod_token);

  std::int64_t num_sequences() const override { return kSize; }
  std::int64_t sequence_length(std::int64_t sequence) const override;
  void read_tokens(std::int64_t sequence, std::int64_t offset, std::int64_t length,
                   std::int64_t* out) const override;
  std::string identity() const override;

 private:
  int vocab_size_;
  int eod_token_;
  std::vector<std::int32_t> lengths_;
};

}  // namespace primus::data
