// Builds the train / valid / test GPT sample sources from the data config, as
// Megatron's BlendedMegatronDatasetBuilder does: mock data, one data_path split
// by the `split` string, a weighted data_path blend, or explicit
// train/valid/test_data_path blends. Also the parsing of blends and splits and
// the number of samples each split must provide.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "primus/config/train_config.hpp"
#include "primus/data/gpt_dataset.hpp"

namespace primus::data {

// Samples each split must provide (Megatron's get_train_valid_test_num_samples).
struct SplitSamples {
  std::int64_t train = 0;
  std::int64_t valid = 0;
  std::int64_t test = 0;
};

// train: train_samples or train_iters * global_batch_size;
// valid: (train_iters / eval_interval + 1) * eval_iters * global_batch_size;
// test:  eval_iters * global_batch_size.
SplitSamples split_samples(const config::TrainingConfig& training);

struct TrainValidTestDatasets {
  std::shared_ptr<const GPTSampleSource> train;  // null when the split is absent
  std::shared_ptr<const GPTSampleSource> valid;
  std::shared_ptr<const GPTSampleSource> test;
};

// EOD for mock data is data.eod_token_id (Megatron's NullTokenizer uses vocab_size - 1).
// Throws std::invalid_argument / std::runtime_error with the offending key or file.
TrainValidTestDatasets build_gpt_datasets(const config::DataConfig& data, int seq_length,
                                          int vocab_size, std::int64_t seed, SplitSamples samples);

// A data path list: "prefix ...", or "weight prefix weight prefix ..."; entries
// may themselves hold several whitespace-separated items. weights is empty when
// the list has no weights.
struct Blend {
  std::vector<std::string> prefixes;
  std::vector<double> weights;
};
Blend parse_blend(const std::vector<std::string>& items, const std::string& key);

// "99,1,0" -> {0.99, 0.01, 0.0}; missing trailing parts are 0.
std::array<double, 3> parse_split(const std::string& split);

// Normalized split -> per split [begin, end) fractions, absent for an empty share.
using SplitMatrix = std::array<std::optional<std::pair<double, double>>, 3>;
SplitMatrix split_matrix(const std::array<double, 3>& split);

// Fractions -> a [begin, end) sequence range, rounding half to even as Python's round().
std::pair<std::int64_t, std::int64_t> split_range(const std::pair<double, double>& bookends,
                                                  std::int64_t num_sequences);

// Megatron's per-dataset request inside a blend: ceil(ceil(target * weight) * (1 + 0.005)).
std::int64_t blended_dataset_request(std::int64_t target_samples, double weight);

}  // namespace primus::data
