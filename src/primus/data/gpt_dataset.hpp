// Megatron-Core's GPTDataset: samples of seq_length + 1 tokens cut from a split
// of a token corpus concatenated over enough epochs. Three indices make it:
//   document index  the split's sequence ids repeated per epoch and shuffled
//                   (the last epoch shuffled on its own when it is used for
//                   less than 80% of its samples: the "separate last epoch" rule);
//   sample index    (position in the document index, token offset) where each
//                   sample starts; consecutive samples share one token;
//   shuffle index   a permutation of the samples.
// The indices are cached as .npy files next to a description (JSON); a cache
// whose description differs from the one asked for is never used.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "primus/data/indexed_dataset.hpp"

namespace primus::data {

enum class Split { train = 0, valid = 1, test = 2 };
const char* split_name(Split split);

// What every source of GPT samples offers the sampler.
class GPTSampleSource {
 public:
  virtual ~GPTSampleSource() = default;
  virtual std::int64_t size() const = 0;
  virtual int seq_length() const = 0;
  // Writes the seq_length + 1 tokens of sample `index` (in [0, size())) into out.
  virtual void read_sample(std::int64_t index, std::int64_t* out) const = 0;
  // A JSON text that identifies the source (part of blended descriptions).
  virtual std::string unique_description() const = 0;

  std::vector<std::int64_t> sample(std::int64_t index) const;
};

struct GPTDatasetConfig {
  int seq_length = 0;
  std::int64_t random_seed = 1234;
  std::string split;  // the split string the ranges came from (part of the cache description)
  // Where to cache the indices; empty: Megatron's default <path_prefix>/cache/GPTDataset_indices.
  std::string path_to_cache;
  bool use_cache = true;  // mock data is cached only under an explicit path (as in Megatron)
};

class GPTDataset : public GPTSampleSource {
 public:
  // Exposes sequences [begin, end) of `sequences`. num_samples: the samples wanted
  // (the dataset then has at least that many); nullopt: exactly one epoch.
  GPTDataset(std::shared_ptr<const TokenSequences> sequences, std::int64_t begin, std::int64_t end,
             std::optional<std::int64_t> num_samples, Split split, const GPTDatasetConfig& config);

  std::int64_t size() const override { return static_cast<std::int64_t>(shuffle_index_.size()); }
  int seq_length() const override { return config_.seq_length; }
  void read_sample(std::int64_t index, std::int64_t* out) const override;
  std::string unique_description() const override { return unique_description_; }

  Split split() const { return split_; }
  int num_epochs() const { return num_epochs_; }
  bool separate_final_epoch() const { return separate_final_epoch_; }
  const std::vector<std::int32_t>& document_index() const { return document_index_; }
  // Flattened [size() + 1][2]: (position in the document index, offset in that sequence).
  const std::vector<std::int64_t>& sample_index() const { return sample_index_; }
  const std::vector<std::int64_t>& shuffle_index() const { return shuffle_index_; }
  // True when the indices were read from the cache rather than built.
  bool loaded_from_cache() const { return loaded_from_cache_; }
  // The cache file path prefix ("<dir>/<hash>-GPTDataset-<split>-"); empty when not cached.
  const std::string& cache_prefix() const { return cache_prefix_; }

 private:
  void build_indices(std::int64_t tokens_per_epoch);
  bool load_cached_indices(std::int64_t tokens_per_epoch);
  void save_cached_indices() const;

  std::shared_ptr<const TokenSequences> sequences_;
  std::int64_t begin_;
  std::int64_t end_;
  std::optional<std::int64_t> num_samples_;
  Split split_;
  GPTDatasetConfig config_;
  std::string unique_description_;
  std::string cache_prefix_;
  int num_epochs_ = 1;
  bool separate_final_epoch_ = false;
  std::int64_t num_samples_sans_final_epoch_ = 0;
  bool loaded_from_cache_ = false;
  std::vector<std::int32_t> document_index_;
  std::vector<std::int64_t> sample_index_;
  std::vector<std::int64_t> shuffle_index_;
};

// The steps of the index construction, exposed for tests.
int gpt_num_epochs(std::int64_t tokens_per_epoch, std::optional<std::int64_t> num_samples,
                   int seq_length);
std::vector<std::int64_t> build_gpt_sample_index(const TokenSequences& sequences,
                                                 const std::vector<std::int32_t>& document_index,
                                                 int seq_length, int num_epochs,
                                                 std::int64_t tokens_per_epoch);
// 64-bit FNV-1a of the description, as 16 hex digits (names the cache files).
std::string description_hash(const std::string& description);

}  // namespace primus::data
