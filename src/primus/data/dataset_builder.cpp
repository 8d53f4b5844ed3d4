#include "primus/data/dataset_builder.hpp"

#include <cmath>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "primus/data/blended_dataset.hpp"
#include "primus/data/indexed_dataset.hpp"
#include "primus/data/mock_dataset.hpp"

namespace primus::data {
namespace {

// Megatron's mid_level_dataset_surplus: each source of a blend is built 0.5% larger.
constexpr double kBlendSurplus = 0.005;
constexpr std::array<Split, 3> kSplits = {Split::train, Split::valid, Split::test};

std::int64_t wanted(const SplitSamples& samples, Split split) {
  switch (split) {
    case Split::train: return samples.train;
    case Split::valid: return samples.valid;
    case Split::test: return samples.test;
  }
  return 0;
}

std::shared_ptr<const GPTSampleSource>& slot(TrainValidTestDatasets& datasets, Split split) {
  switch (split) {
    case Split::train: return datasets.train;
    case Split::valid: return datasets.valid;
    case Split::test: break;
  }
  return datasets.test;
}

// One corpus split by the split matrix: a GPT dataset per split whose range is not empty.
std::array<std::shared_ptr<const GPTSampleSource>, 3> build_split_datasets(
    const std::shared_ptr<const TokenSequences>& sequences, const SplitMatrix& matrix,
    const std::array<std::optional<std::int64_t>, 3>& num_samples, const GPTDatasetConfig& config,
    const std::string& key) {
  std::array<std::shared_ptr<const GPTSampleSource>, 3> datasets;
  for (const Split split : kSplits) {
    const auto i = static_cast<std::size_t>(split);
    if (!matrix[i]) continue;
    const auto [begin, end] = split_range(*matrix[i], sequences->num_sequences());
    if (begin >= end) {
      if (num_samples[i].value_or(0) > 0) {
        throw std::invalid_argument(fmt::format(
            "{}: the {} split of {} gets no sequences ({} sequences, split \"{}\") but {} samples "
            "are needed",
            key, split_name(split), sequences->identity(), sequences->num_sequences(), config.split,
            *num_samples[i]));
      }
      continue;
    }
    datasets[i] = std::make_shared<GPTDataset>(sequences, begin, end, num_samples[i], split, config);
  }
  return datasets;
}

// A blend of corpora (one or more prefixes) for the splits the matrix names.
std::array<std::shared_ptr<const GPTSampleSource>, 3> build_blend_datasets(
    const Blend& blend, const SplitMatrix& matrix, const SplitSamples& samples,
    const GPTDatasetConfig& config, const std::string& key) {
  std::vector<std::shared_ptr<const TokenSequences>> corpora;
  for (const auto& prefix : blend.prefixes) corpora.push_back(std::make_shared<IndexedDataset>(prefix));

  std::array<std::optional<std::int64_t>, 3> targets;
  for (const Split split : kSplits) targets[static_cast<std::size_t>(split)] = wanted(samples, split);
  if (corpora.size() == 1 && blend.weights.empty()) {
    return build_split_datasets(corpora[0], matrix, targets, config, key);
  }

  std::vector<double> weights;
  if (!blend.weights.empty()) weights = normalize_weights(blend.weights);
  std::vector<std::array<std::shared_ptr<const GPTSampleSource>, 3>> per_corpus;
  for (std::size_t c = 0; c < corpora.size(); ++c) {
    std::array<std::optional<std::int64_t>, 3> requests;  // nullopt: one epoch (unweighted blend)
    if (!weights.empty()) {
      for (std::size_t i = 0; i < 3; ++i) requests[i] = blended_dataset_request(*targets[i], weights[c]);
    }
    per_corpus.push_back(build_split_datasets(corpora[c], matrix, requests, config, key));
  }

  std::array<std::shared_ptr<const GPTSampleSource>, 3> blended;
  for (const Split split : kSplits) {
    const auto i = static_cast<std::size_t>(split);
    if (!matrix[i]) continue;
    std::vector<std::shared_ptr<const GPTSampleSource>> sources;
    std::vector<double> split_weights;
    for (std::size_t c = 0; c < corpora.size(); ++c) {
      if (!per_corpus[c][i]) {
        throw std::invalid_argument(fmt::format("{}: {} has no sequences for the {} split", key,
                                                blend.prefixes[c], split_name(split)));
      }
      sources.push_back(per_corpus[c][i]);
      // Unweighted blends weigh each corpus by its size, as Megatron does.
      split_weights.push_back(weights.empty() ? static_cast<double>(per_corpus[c][i]->size())
                                              : weights[c]);
    }
    std::int64_t size = *targets[i];
    if (weights.empty()) {
      std::int64_t total = 0;
      for (const auto& source : sources) total += source->size();
      size = std::min(size, total);
    }
    blended[i] = std::make_shared<BlendedDataset>(std::move(sources), std::move(split_weights), size);
  }
  return blended;
}

}  // namespace

SplitSamples split_samples(const config::TrainingConfig& training) {
  if (training.eval_interval <= 0) {
    throw std::invalid_argument(
        fmt::format("eval_interval must be positive, got {}", training.eval_interval));
  }
  const std::int64_t global_batch_size = training.global_batch_size;
  SplitSamples samples;
  samples.train = training.train_samples ? *training.train_samples
                                         : training.train_iters * global_batch_size;
  samples.valid =
      (training.train_iters / training.eval_interval + 1) * training.eval_iters * global_batch_size;
  samples.test = static_cast<std::int64_t>(training.eval_iters) * global_batch_size;
  return samples;
}

Blend parse_blend(const std::vector<std::string>& items, const std::string& key) {
  std::vector<std::string> words;
  for (const auto& item : items) {
    std::istringstream stream(item);
    for (std::string word; stream >> word;) words.push_back(word);
  }
  Blend blend;
  if (words.empty()) return blend;
  auto as_weight = [](const std::string& word) -> std::optional<double> {
    std::size_t used = 0;
    try {
      const double value = std::stod(word, &used);
      if (used == word.size()) return value;
    } catch (const std::exception&) {
    }
    return std::nullopt;
  };
  std::size_t numeric = 0;
  if (words.size() % 2 == 0) {
    for (std::size_t i = 0; i < words.size(); i += 2) numeric += as_weight(words[i]).has_value();
  }
  if (numeric == 0) {
    blend.prefixes = words;
    return blend;
  }
  if (numeric != words.size() / 2) {
    throw std::invalid_argument(fmt::format(
        "{}: expected \"weight prefix weight prefix ...\" or prefixes only, got \"{}\"", key,
        fmt::join(words, " ")));
  }
  for (std::size_t i = 0; i < words.size(); i += 2) {
    const double weight = *as_weight(words[i]);
    if (!(weight > 0.0)) {
      throw std::invalid_argument(
          fmt::format("{}: weight {} of {} must be positive", key, words[i], words[i + 1]));
    }
    blend.weights.push_back(weight);
    blend.prefixes.push_back(words[i + 1]);
  }
  return blend;
}

std::array<double, 3> parse_split(const std::string& split) {
  static const std::regex number(R"([.0-9]+)");
  std::vector<double> parts;
  for (auto it = std::sregex_iterator(split.begin(), split.end(), number); it != std::sregex_iterator();
       ++it) {
    try {
      parts.push_back(std::stod(it->str()));
    } catch (const std::exception&) {
      throw std::invalid_argument(fmt::format("split: \"{}\" is not a number in \"{}\"", it->str(), split));
    }
  }
  if (parts.empty() || parts.size() > 3) {
    throw std::invalid_argument(fmt::format(
        "split: expected 1 to 3 comma-separated shares such as \"969,30,1\", got \"{}\"", split));
  }
  parts.resize(3, 0.0);
  const auto normalized = normalize_weights(parts);
  return {normalized[0], normalized[1], normalized[2]};
}

SplitMatrix split_matrix(const std::array<double, 3>& split) {
  SplitMatrix matrix;
  double begin = 0.0;
  for (std::size_t i = 0; i < 3; ++i) {
    const double end = begin + split[i];
    if (end > begin) matrix[i] = std::make_pair(begin, end);
    begin = end;
  }
  return matrix;
}

std::pair<std::int64_t, std::int64_t> split_range(const std::pair<double, double>& bookends,
                                                  std::int64_t num_sequences) {
  const auto count = static_cast<double>(num_sequences);
  // std::nearbyint rounds half to even under the default rounding mode, as Python's round().
  return {static_cast<std::int64_t>(std::nearbyint(bookends.first * count)),
          static_cast<std::int64_t>(std::nearbyint(bookends.second * count))};
}

std::int64_t blended_dataset_request(std::int64_t target_samples, double weight) {
  const double share = std::ceil(static_cast<double>(target_samples) * weight);
  return static_cast<std::int64_t>(std::ceil(share * (1.0 + kBlendSurplus)));
}

TrainValidTestDatasets build_gpt_datasets(const config::DataConfig& data, int seq_length,
                                          int vocab_size, std::int64_t seed, SplitSamples samples) {
  if (data.reset_attention_mask) {
    throw std::invalid_argument(
        "reset_attention_mask: true is not implemented (per-document attention masks); set it to "
        "false");
  }
  GPTDatasetConfig config;
  config.seq_length = seq_length;
  config.random_seed = seed;
  config.split = data.split;
  config.path_to_cache = data.data_cache_path;

  TrainValidTestDatasets datasets;
  std::array<std::shared_ptr<const GPTSampleSource>, 3> built;
  const bool per_split_paths = !data.train_data_path.empty() || !data.valid_data_path.empty() ||
                               !data.test_data_path.empty();
  if (data.mock_data) {
    // As Megatron: mock indices are cached only under an explicit data_cache_path.
    config.use_cache = !data.data_cache_path.empty();
    auto mock = std::make_shared<MockGPTLowLevelDataset>(vocab_size, data.eod_token_id);
    std::array<std::optional<std::int64_t>, 3> targets = {samples.train, samples.valid, samples.test};
    built = build_split_datasets(mock, split_matrix(parse_split(data.split)), targets, config,
                                 "mock_data");
  } else if (per_split_paths) {
    if (!data.data_path.empty()) {
      throw std::invalid_argument(
          "data_path and train_data_path/valid_data_path/test_data_path are both set; use one");
    }
    const std::array<const std::vector<std::string>*, 3> lists = {
        &data.train_data_path, &data.valid_data_path, &data.test_data_path};
    const std::array<const char*, 3> keys = {"train_data_path", "valid_data_path", "test_data_path"};
    for (std::size_t i = 0; i < 3; ++i) {
      const Blend blend = parse_blend(*lists[i], keys[i]);
      if (blend.prefixes.empty()) continue;
      SplitMatrix matrix;  // the whole of each corpus serves this one split
      matrix[i] = std::make_pair(0.0, 1.0);
      config.split = fmt::format("{}: whole corpus", keys[i]);
      built[i] = build_blend_datasets(blend, matrix, samples, config, keys[i])[i];
    }
  } else {
    const Blend blend = parse_blend(data.data_path, "data_path");
    if (blend.prefixes.empty()) {
      throw std::invalid_argument(
          "no training data: set data_path (or train_data_path) to Megatron .bin/.idx prefixes, "
          "or mock_data: true");
    }
    built = build_blend_datasets(blend, split_matrix(parse_split(data.split)), samples, config,
                                 "data_path");
  }
  for (const Split split : kSplits) slot(datasets, split) = built[static_cast<std::size_t>(split)];
  return datasets;
}

}  // namespace primus::data
