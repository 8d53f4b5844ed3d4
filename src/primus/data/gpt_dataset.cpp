#include "primus/data/gpt_dataset.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <span>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "primus/data/npy_file.hpp"
#include "primus/data/numpy_random.hpp"

namespace primus::data {
namespace {

// Megatron draws seq_length + 1 tokens per sample (add_extra_token_to_sequence).
constexpr std::int64_t kExtraToken = 1;
// The last epoch is shuffled separately when it yields fewer than this share of an epoch.
constexpr double kSeparateFinalEpochThreshold = 0.80;

std::vector<std::int32_t> build_document_index(std::int64_t begin, std::int64_t end, int num_epochs,
                                               NumpyRandomState& random_state) {
  std::vector<std::int32_t> index;
  index.reserve(static_cast<std::size_t>((end - begin) * num_epochs));
  for (int epoch = 0; epoch < num_epochs; ++epoch) {
    for (std::int64_t sequence = begin; sequence < end; ++sequence) {
      index.push_back(static_cast<std::int32_t>(sequence));
    }
  }
  random_state.shuffle(std::span<std::int32_t>(index));
  return index;
}

// [0, first) shuffled, then [first, total) shuffled on its own.
std::vector<std::int64_t> build_shuffle_index(std::int64_t first, std::int64_t total,
                                              NumpyRandomState& random_state) {
  std::vector<std::int64_t> index(static_cast<std::size_t>(total));
  std::iota(index.begin(), index.end(), std::int64_t{0});
  random_state.shuffle(std::span<std::int64_t>(index.data(), static_cast<std::size_t>(first)));
  if (first < total) {
    random_state.shuffle(std::span<std::int64_t>(index.data() + first,
                                                 static_cast<std::size_t>(total - first)));
  }
  return index;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

const char* split_name(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::valid: return "valid";
    case Split::test: return "test";
  }
  return "unknown";
}

std::vector<std::int64_t> GPTSampleSource::sample(std::int64_t index) const {
  std::vector<std::int64_t> tokens(static_cast<std::size_t>(seq_length()) + 1);
  read_sample(index, tokens.data());
  return tokens;
}

std::string description_hash(const std::string& description) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const unsigned char byte : description) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", hash);
}

int gpt_num_epochs(std::int64_t tokens_per_epoch, std::optional<std::int64_t> num_samples,
                   int seq_length) {
  if (!num_samples) return 1;
  const std::int64_t tokens_requested = *num_samples * seq_length + kExtraToken;
  int num_epochs = 1;
  for (std::int64_t tokens = tokens_per_epoch; tokens < tokens_requested; tokens += tokens_per_epoch) {
    ++num_epochs;
  }
  return num_epochs;
}

std::vector<std::int64_t> build_gpt_sample_index(const TokenSequences& sequences,
                                                 const std::vector<std::int32_t>& document_index,
                                                 int seq_length, int num_epochs,
                                                 std::int64_t tokens_per_epoch) {
  // The last partial sample is dropped, so every sample has seq_length + 1 tokens.
  const std::int64_t num_samples = (num_epochs * tokens_per_epoch - kExtraToken) / seq_length;
  std::vector<std::int64_t> sample_index;
  sample_index.reserve(static_cast<std::size_t>(2 * (num_samples + 1)));
  std::int64_t position = 0;  // into document_index
  std::int64_t offset = 0;    // into the sequence at `position`
  sample_index.push_back(position);
  sample_index.push_back(offset);
  const auto last_position = static_cast<std::int64_t>(document_index.size()) - 1;
  for (std::int64_t sample = 1; sample <= num_samples; ++sample) {
    std::int64_t remaining = seq_length + kExtraToken;
    while (remaining != 0) {
      const std::int64_t available = sequences.sequence_length(document_index[position]) - offset;
      remaining -= available;
      if (remaining <= 0) {
        // The sample ends inside this sequence; the next one starts on its last token.
        offset += remaining + available - kExtraToken;
        remaining = 0;
      } else if (position == last_position) {
        offset = sequences.sequence_length(document_index[position]) - kExtraToken;
        break;
      } else {
        ++position;
        offset = 0;
      }
    }
    sample_index.push_back(position);
    sample_index.push_back(offset);
  }
  return sample_index;
}

GPTDataset::GPTDataset(std::shared_ptr<const TokenSequences> sequences, std::int64_t begin,
                       std::int64_t end, std::optional<std::int64_t> num_samples, Split split,
                       const GPTDatasetConfig& config)
    : sequences_(std::move(sequences)),
      begin_(begin),
      end_(end),
      num_samples_(num_samples),
      split_(split),
      config_(config) {
  const std::string identity = sequences_->identity();
  if (config_.seq_length < 2) {
    throw std::invalid_argument(
        fmt::format("GPTDataset {}: seq_length must be at least 2, got {}", identity, config_.seq_length));
  }
  if (config_.random_seed < 0 || config_.random_seed > 0xffffffffLL) {
    throw std::invalid_argument(fmt::format(
        "GPTDataset {}: seed {} must be in [0, 2**32) (numpy.random.RandomState's range)", identity,
        config_.random_seed));
  }
  if (begin_ < 0 || end_ > sequences_->num_sequences() || begin_ >= end_) {
    throw std::invalid_argument(fmt::format(
        "GPTDataset {} ({} split): sequence range [{}, {}) is empty or outside the {} sequences",
        identity, split_name(split_), begin_, end_, sequences_->num_sequences()));
  }
  if (end_ > std::numeric_limits<std::int32_t>::max()) {
    throw std::invalid_argument(fmt::format(
        "GPTDataset {}: {} sequences exceed the int32 document index", identity, end_));
  }
  std::int64_t tokens_per_epoch = 0;
  for (std::int64_t sequence = begin_; sequence < end_; ++sequence) {
    tokens_per_epoch += sequences_->sequence_length(sequence);
  }
  if (tokens_per_epoch <= kExtraToken) {
    throw std::invalid_argument(fmt::format(
        "GPTDataset {} ({} split): sequences [{}, {}) hold {} tokens; at least 2 are needed",
        identity, split_name(split_), begin_, end_, tokens_per_epoch));
  }

  nlohmann::ordered_json description;
  description["class"] = "GPTDataset";
  description["dataset_path"] = identity;
  description["num_samples"] = num_samples_ ? nlohmann::json(*num_samples_) : nlohmann::json(nullptr);
  description["index_split"] = split_name(split_);
  description["random_seed"] = config_.random_seed;
  description["sequence_length"] = config_.seq_length;
  description["split"] = config_.split;
  description["sequence_range"] = {begin_, end_};
  description["num_sequences"] = sequences_->num_sequences();
  description["tokens_in_range"] = tokens_per_epoch;
  unique_description_ = description.dump(4);

  if (config_.use_cache) {
    const std::string directory = config_.path_to_cache.empty()
                                      ? identity + "/cache/GPTDataset_indices"
                                      : config_.path_to_cache;
    cache_prefix_ = fmt::format("{}/{}-GPTDataset-{}-", directory,
                                description_hash(unique_description_), split_name(split_));
  }
  if (!cache_prefix_.empty() && load_cached_indices(tokens_per_epoch)) {
    loaded_from_cache_ = true;
    return;
  }
  build_indices(tokens_per_epoch);
  if (!cache_prefix_.empty()) save_cached_indices();
}

void GPTDataset::build_indices(std::int64_t tokens_per_epoch) {
  const int seq_length = config_.seq_length;
  num_epochs_ = gpt_num_epochs(tokens_per_epoch, num_samples_, seq_length);
  separate_final_epoch_ = false;
  if (num_epochs_ > 1) {
    num_samples_sans_final_epoch_ = ((num_epochs_ - 1) * tokens_per_epoch - kExtraToken) / seq_length;
    const std::int64_t from_final_epoch = *num_samples_ - num_samples_sans_final_epoch_;
    const std::int64_t per_epoch = (tokens_per_epoch - kExtraToken) / seq_length;
    separate_final_epoch_ =
        from_final_epoch < static_cast<std::int64_t>(kSeparateFinalEpochThreshold * per_epoch);
  }
  NumpyRandomState random_state(static_cast<std::uint32_t>(config_.random_seed));
  if (separate_final_epoch_) {
    document_index_ = build_document_index(begin_, end_, num_epochs_ - 1, random_state);
    const auto last = build_document_index(begin_, end_, 1, random_state);
    document_index_.insert(document_index_.end(), last.begin(), last.end());
  } else {
    document_index_ = build_document_index(begin_, end_, num_epochs_, random_state);
  }
  sample_index_ =
      build_gpt_sample_index(*sequences_, document_index_, seq_length, num_epochs_, tokens_per_epoch);
  const auto total = static_cast<std::int64_t>(sample_index_.size() / 2) - 1;
  shuffle_index_ = build_shuffle_index(separate_final_epoch_ ? num_samples_sans_final_epoch_ : total,
                                       total, random_state);
}

bool GPTDataset::load_cached_indices(std::int64_t tokens_per_epoch) {
  const std::string description_path = cache_prefix_ + "description.txt";
  const std::string document_path = cache_prefix_ + "document_index.npy";
  const std::string sample_path = cache_prefix_ + "sample_index.npy";
  const std::string shuffle_path = cache_prefix_ + "shuffle_index.npy";
  for (const auto* path : {&description_path, &document_path, &sample_path, &shuffle_path}) {
    if (!std::filesystem::is_regular_file(*path)) return false;
  }
  // The hash names the files; the full text guards against a collision.
  if (read_text(description_path) != unique_description_) return false;
  try {
    std::vector<std::int64_t> document_shape, sample_shape, shuffle_shape;
    auto document_index = load_npy_int32(document_path, document_shape);
    auto sample_index = load_npy_int64(sample_path, sample_shape);
    auto shuffle_index = load_npy_int64(shuffle_path, shuffle_shape);
    const int num_epochs = gpt_num_epochs(tokens_per_epoch, num_samples_, config_.seq_length);
    const std::int64_t num_samples = (num_epochs * tokens_per_epoch - kExtraToken) / config_.seq_length;
    if (document_shape != std::vector<std::int64_t>{num_epochs * (end_ - begin_)} ||
        sample_shape != std::vector<std::int64_t>{num_samples + 1, 2} ||
        shuffle_shape != std::vector<std::int64_t>{num_samples}) {
      return false;  // a stale or damaged cache is rebuilt
    }
    for (const std::int32_t sequence : document_index) {
      if (sequence < begin_ || sequence >= end_) return false;
    }
    for (std::size_t i = 0; i < sample_index.size(); i += 2) {
      if (sample_index[i] < 0 || sample_index[i] >= document_shape[0] || sample_index[i + 1] < 0) return false;
    }
    for (const std::int64_t sample : shuffle_index) {
      if (sample < 0 || sample >= num_samples) return false;
    }
    num_epochs_ = num_epochs;
    document_index_ = std::move(document_index);
    sample_index_ = std::move(sample_index);
    shuffle_index_ = std::move(shuffle_index);
    return true;
  } catch (const std::runtime_error&) {
    return false;
  }
}

void GPTDataset::save_cached_indices() const {
  const std::filesystem::path directory = std::filesystem::path(cache_prefix_).parent_path();
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    throw std::runtime_error(fmt::format("cannot create the dataset index cache folder {}: {}",
                                         directory.string(), error.message()));
  }
  const auto num_samples = static_cast<std::int64_t>(shuffle_index_.size());
  save_npy(cache_prefix_ + "document_index.npy", std::span<const std::int32_t>(document_index_),
           {static_cast<std::int64_t>(document_index_.size())});
  save_npy(cache_prefix_ + "sample_index.npy", std::span<const std::int64_t>(sample_index_),
           {num_samples + 1, 2});
  save_npy(cache_prefix_ + "shuffle_index.npy", std::span<const std::int64_t>(shuffle_index_),
           {num_samples});
  // The description goes last: its presence marks a complete cache.
  const std::string description_path = cache_prefix_ + "description.txt";
  const std::string temp_path = fmt::format("{}.tmp.{}", description_path, ::getpid());
  {
    std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
    out << unique_description_;
    if (!out) throw std::runtime_error(fmt::format("write to {} failed", temp_path));
  }
  std::filesystem::rename(temp_path, description_path);
}

void GPTDataset::read_sample(std::int64_t index, std::int64_t* out) const {
  if (index < 0 || index >= size()) {
    throw std::out_of_range(fmt::format("GPTDataset {} ({} split): sample {} requested, size is {}",
                                        sequences_->identity(), split_name(split_), index, size()));
  }
  const std::int64_t sample = shuffle_index_[static_cast<std::size_t>(index)];
  const std::int64_t first = sample_index_[static_cast<std::size_t>(2 * sample)];
  const std::int64_t first_offset = sample_index_[static_cast<std::size_t>(2 * sample + 1)];
  const std::int64_t last = sample_index_[static_cast<std::size_t>(2 * sample + 2)];
  const std::int64_t last_offset = sample_index_[static_cast<std::size_t>(2 * sample + 3)];
  // Checked so that a damaged index can never write past the sample.
  std::int64_t remaining = config_.seq_length + kExtraToken;
  const auto positions = static_cast<std::int64_t>(document_index_.size());
  for (std::int64_t position = first; position <= last && position < positions; ++position) {
    const std::int32_t sequence = document_index_[static_cast<std::size_t>(position)];
    const std::int64_t offset = position == first ? first_offset : 0;
    const std::int64_t end =
        position == last ? last_offset + kExtraToken : sequences_->sequence_length(sequence);
    if (end - offset > remaining) break;
    sequences_->read_tokens(sequence, offset, end - offset, out);
    out += end - offset;
    remaining -= end - offset;
  }
  if (remaining != 0) {
    throw std::runtime_error(fmt::format(
        "GPTDataset {} ({} split): the sample index is inconsistent at sample {} (cache prefix "
        "\"{}\"); delete the cache files to rebuild them",
        sequences_->identity(), split_name(split_), sample, cache_prefix_));
  }
}

}  // namespace primus::data
