// GPTDataset: samples are windows of seq_length + 1 tokens over the documents
// concatenated in document-index order; epochs, shuffles and the cache.
#include "primus/data/gpt_dataset.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "data_test_support.hpp"
#include "primus/data/numpy_random.hpp"
#include "primus/data/npy_file.hpp"

namespace primus::data {
namespace {

using testing::ScratchDir;
using testing::varied_sequences;
using testing::write_corpus;

GPTDatasetConfig make_config(int seq_length, std::int64_t seed = 1234, std::string cache = "") {
  GPTDatasetConfig config;
  config.seq_length = seq_length;
  config.random_seed = seed;
  config.split = "test";
  config.path_to_cache = std::move(cache);
  return config;
}

bool is_permutation_of_range(std::vector<std::int64_t> values, std::int64_t begin, std::int64_t end) {
  std::sort(values.begin(), values.end());
  std::vector<std::int64_t> expected(static_cast<std::size_t>(end - begin));
  std::iota(expected.begin(), expected.end(), begin);
  return values == expected;
}

// Values from numpy itself: numpy.random.RandomState(seed).permutation(10).
TEST(NumpyRandomState, ShuffleMatchesNumpyPermutation) {
  for (const auto& [seed, expected] : std::vector<std::pair<std::uint32_t, std::vector<int>>>{
           {0, {2, 8, 4, 9, 1, 6, 7, 3, 0, 5}}, {42, {8, 1, 5, 0, 7, 2, 9, 4, 3, 6}}}) {
    std::vector<int> values(10);
    std::iota(values.begin(), values.end(), 0);
    NumpyRandomState random_state(seed);
    random_state.shuffle(std::span<int>(values));
    EXPECT_EQ(values, expected) << "seed " << seed;
  }
}

TEST(NumpyRandomState, RandomIntervalStaysInRange) {
  NumpyRandomState random_state(7);
  std::vector<int> seen(6, 0);
  for (int i = 0; i < 6000; ++i) ++seen.at(random_state.random_interval(5));
  for (const int count : seen) EXPECT_GT(count, 800);  // each of 0..5 about 1000 times
}

// Two sequences of 3 and 5 tokens, seq_length 3: samples of 4 tokens that share
// their boundary token. Worked by hand from helpers.cpp build_sample_idx.
class TwoSequences : public TokenSequences {
 public:
  std::int64_t num_sequences() const override { return 2; }
  std::int64_t sequence_length(std::int64_t sequence) const override { return sequence == 0 ? 3 : 5; }
  void read_tokens(std::int64_t sequence, std::int64_t offset, std::int64_t length,
                   std::int64_t* out) const override {
    for (std::int64_t i = 0; i < length; ++i) out[i] = sequence * 10 + offset + i;
  }
  std::string identity() const override { return "two"; }
};

TEST(GPTSampleIndex, MatchesAHandWorkedExample) {
  const TwoSequences sequences;
  // 8 tokens, one epoch: (8 - 1) / 3 = 2 samples.
  EXPECT_EQ(build_gpt_sample_index(sequences, {0, 1}, 3, 1, 8),
            (std::vector<std::int64_t>{0, 0, 1, 0, 1, 3}));
  // Sequence 1 first: sample 0 = s1[0:4], sample 1 = s1[3:5] + s0[0:2].
  EXPECT_EQ(build_gpt_sample_index(sequences, {1, 0}, 3, 1, 8),
            (std::vector<std::int64_t>{0, 0, 0, 3, 1, 1}));
  // Two epochs: (16 - 1) / 3 = 5 samples; the last one ends on the final token.
  EXPECT_EQ(build_gpt_sample_index(sequences, {0, 1, 1, 0}, 3, 2, 8),
            (std::vector<std::int64_t>{0, 0, 1, 0, 1, 3, 2, 1, 2, 4, 3, 2}));
}

class GPTDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = dir_ / "corpus";
    sequences_ = write_corpus(prefix_, varied_sequences(40, 23));
    corpus_ = std::make_shared<IndexedDataset>(prefix_);
  }

  // The tokens of the split's documents laid end to end in document-index order.
  std::vector<std::int64_t> token_stream(const GPTDataset& dataset) const {
    std::vector<std::int64_t> stream;
    for (const std::int32_t sequence : dataset.document_index()) {
      const auto& tokens = sequences_.at(static_cast<std::size_t>(sequence));
      stream.insert(stream.end(), tokens.begin(), tokens.end());
    }
    return stream;
  }

  std::int64_t tokens_in(std::int64_t begin, std::int64_t end) const {
    std::int64_t total = 0;
    for (auto i = begin; i < end; ++i) total += static_cast<std::int64_t>(sequences_[static_cast<std::size_t>(i)].size());
    return total;
  }

  ScratchDir dir_;
  std::string prefix_;
  std::vector<std::vector<std::int64_t>> sequences_;
  std::shared_ptr<const IndexedDataset> corpus_;
};

TEST_F(GPTDatasetTest, SamplesAreConsecutiveWindowsOfTheDocumentStream) {
  const int seq_length = 16;
  GPTDataset dataset(corpus_, 5, 35, 200, Split::train, make_config(seq_length, 1234, dir_ / "cache"));
  const auto stream = token_stream(dataset);
  const std::int64_t per_epoch = tokens_in(5, 35);
  EXPECT_EQ(dataset.size(), (dataset.num_epochs() * per_epoch - 1) / seq_length);
  EXPECT_GE(dataset.size(), 200);
  EXPECT_EQ(stream.size(), static_cast<std::size_t>(dataset.num_epochs() * per_epoch));
  for (std::int64_t i = 0; i < dataset.size(); ++i) {
    const auto sample = dataset.sample(i);
    ASSERT_EQ(sample.size(), static_cast<std::size_t>(seq_length + 1));
    const std::int64_t k = dataset.shuffle_index()[static_cast<std::size_t>(i)];
    const auto start = stream.begin() + k * seq_length;
    ASSERT_TRUE(std::equal(sample.begin(), sample.end(), start)) << "sample " << i << " (unshuffled " << k << ")";
  }
}

TEST_F(GPTDatasetTest, EpochsCoverEveryDocumentAndShuffleIsAPermutation) {
  const int seq_length = 8;
  // Enough samples for several epochs, with a large last epoch (no separate shuffle).
  const std::int64_t per_epoch_samples = (tokens_in(0, 40) - 1) / seq_length;
  GPTDataset dataset(corpus_, 0, 40, 3 * per_epoch_samples - 2, Split::train, make_config(seq_length, 7, dir_ / "c"));
  EXPECT_EQ(dataset.num_epochs(), 3);
  EXPECT_FALSE(dataset.separate_final_epoch());
  std::map<std::int32_t, int> counts;
  for (const auto sequence : dataset.document_index()) ++counts[sequence];
  EXPECT_EQ(counts.size(), 40u);
  for (const auto& [sequence, count] : counts) EXPECT_EQ(count, 3) << "sequence " << sequence;
  EXPECT_TRUE(is_permutation_of_range(dataset.shuffle_index(), 0, dataset.size()));
  // Shuffled: not the identity.
  std::vector<std::int64_t> identity(static_cast<std::size_t>(dataset.size()));
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(dataset.shuffle_index(), identity);
}

TEST_F(GPTDatasetTest, SmallLastEpochIsShuffledSeparately) {
  const int seq_length = 8;
  const std::int64_t per_epoch_tokens = tokens_in(0, 40);
  const std::int64_t per_epoch_samples = (per_epoch_tokens - 1) / seq_length;
  // One epoch plus a few samples: the second epoch supplies well under 80% of an epoch.
  GPTDataset dataset(corpus_, 0, 40, per_epoch_samples + 3, Split::train, make_config(seq_length, 7, dir_ / "c"));
  ASSERT_EQ(dataset.num_epochs(), 2);
  EXPECT_TRUE(dataset.separate_final_epoch());
  const auto& documents = dataset.document_index();
  std::vector<std::int64_t> first(documents.begin(), documents.begin() + 40);
  std::vector<std::int64_t> last(documents.begin() + 40, documents.end());
  EXPECT_TRUE(is_permutation_of_range(first, 0, 40));
  EXPECT_TRUE(is_permutation_of_range(last, 0, 40));
  // Samples wholly inside the first epoch are shuffled among themselves first.
  const std::int64_t sans_final = (per_epoch_tokens - 1) / seq_length;
  std::vector<std::int64_t> head(dataset.shuffle_index().begin(), dataset.shuffle_index().begin() + sans_final);
  std::vector<std::int64_t> tail(dataset.shuffle_index().begin() + sans_final, dataset.shuffle_index().end());
  EXPECT_TRUE(is_permutation_of_range(head, 0, sans_final));
  EXPECT_TRUE(is_permutation_of_range(tail, sans_final, dataset.size()));
}

TEST_F(GPTDatasetTest, OneEpochWhenNoSampleCountIsGiven) {
  GPTDataset dataset(corpus_, 0, 10, std::nullopt, Split::valid, make_config(4, 1, dir_ / "c"));
  EXPECT_EQ(dataset.num_epochs(), 1);
  EXPECT_EQ(dataset.size(), (tokens_in(0, 10) - 1) / 4);
}

TEST_F(GPTDatasetTest, NumEpochsCountsTheExtraToken) {
  EXPECT_EQ(gpt_num_epochs(100, 99, 1), 1);   // 99 + 1 tokens fit one epoch of 100
  EXPECT_EQ(gpt_num_epochs(100, 100, 1), 2);  // 101 tokens do not
  EXPECT_EQ(gpt_num_epochs(100, 33, 3), 1);
  EXPECT_EQ(gpt_num_epochs(100, 34, 3), 2);
  EXPECT_EQ(gpt_num_epochs(100, std::nullopt, 3), 1);
}

TEST_F(GPTDatasetTest, CacheIsReusedAndRebuiltWhenTheDescriptionChanges) {
  const std::string cache = dir_ / "index_cache";
  GPTDataset first(corpus_, 0, 30, 50, Split::train, make_config(8, 1234, cache));
  EXPECT_FALSE(first.loaded_from_cache());
  for (const char* suffix : {"description.txt", "document_index.npy", "sample_index.npy", "shuffle_index.npy"}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(first.cache_prefix() + suffix)) << suffix;
  }
  EXPECT_EQ(first.cache_prefix().rfind(cache + "/", 0), 0u);
  EXPECT_NE(first.cache_prefix().find("-GPTDataset-train-"), std::string::npos);

  GPTDataset second(corpus_, 0, 30, 50, Split::train, make_config(8, 1234, cache));
  EXPECT_TRUE(second.loaded_from_cache());
  EXPECT_EQ(second.document_index(), first.document_index());
  EXPECT_EQ(second.sample_index(), first.sample_index());
  EXPECT_EQ(second.shuffle_index(), first.shuffle_index());
  EXPECT_EQ(second.sample(3), first.sample(3));

  // A different seed or sample count is a different description: rebuilt, not reused.
  GPTDataset reseeded(corpus_, 0, 30, 50, Split::train, make_config(8, 99, cache));
  EXPECT_FALSE(reseeded.loaded_from_cache());
  EXPECT_NE(reseeded.cache_prefix(), first.cache_prefix());
  EXPECT_NE(reseeded.shuffle_index(), first.shuffle_index());
  GPTDataset longer(corpus_, 0, 30, 500, Split::train, make_config(8, 1234, cache));
  EXPECT_FALSE(longer.loaded_from_cache());

  // A damaged cache file is rebuilt rather than trusted.
  std::filesystem::resize_file(first.cache_prefix() + "sample_index.npy", 100);
  GPTDataset repaired(corpus_, 0, 30, 50, Split::train, make_config(8, 1234, cache));
  EXPECT_FALSE(repaired.loaded_from_cache());
  EXPECT_EQ(repaired.sample_index(), first.sample_index());
  GPTDataset reloaded(corpus_, 0, 30, 50, Split::train, make_config(8, 1234, cache));
  EXPECT_TRUE(reloaded.loaded_from_cache());
}

TEST_F(GPTDatasetTest, CacheFilesAreNpyArraysWithTheIndices) {
  GPTDataset dataset(corpus_, 0, 30, 20, Split::test, make_config(8, 5, dir_ / "npy"));
  std::vector<std::int64_t> shape;
  EXPECT_EQ(load_npy_int32(dataset.cache_prefix() + "document_index.npy", shape), dataset.document_index());
  EXPECT_EQ(shape, (std::vector<std::int64_t>{static_cast<std::int64_t>(dataset.document_index().size())}));
  EXPECT_EQ(load_npy_int64(dataset.cache_prefix() + "sample_index.npy", shape), dataset.sample_index());
  EXPECT_EQ(shape, (std::vector<std::int64_t>{dataset.size() + 1, 2}));
  // The header is numpy's: magic, version 1.0, and data aligned to 64 bytes.
  const auto bytes = testing::read_bytes(dataset.cache_prefix() + "shuffle_index.npy");
  ASSERT_GT(bytes.size(), 10u);
  EXPECT_EQ(std::string(bytes.begin() + 1, bytes.begin() + 6), "NUMPY");
  const std::size_t header_length = bytes[8] | (bytes[9] << 8);
  EXPECT_EQ((10 + header_length) % 64, 0u);
  const std::string header(bytes.begin() + 10, bytes.begin() + 10 + static_cast<std::ptrdiff_t>(header_length));
  EXPECT_NE(header.find("'descr': '<i8'"), std::string::npos) << header;
  EXPECT_NE(header.find("'shape': (" + std::to_string(dataset.size()) + ",)"), std::string::npos) << header;
}

TEST_F(GPTDatasetTest, DefaultCacheFolderIsMegatrons) {
  GPTDataset dataset(corpus_, 0, 30, 20, Split::train, make_config(8));
  EXPECT_EQ(dataset.cache_prefix().rfind(prefix_ + "/cache/GPTDataset_indices/", 0), 0u) << dataset.cache_prefix();
  EXPECT_TRUE(std::filesystem::is_regular_file(dataset.cache_prefix() + "description.txt"));
}

TEST_F(GPTDatasetTest, RejectsEmptyRangesAndTinySequenceLengths) {
  EXPECT_THROW(GPTDataset(corpus_, 5, 5, 10, Split::train, make_config(8, 1, dir_ / "c")), std::invalid_argument);
  EXPECT_THROW(GPTDataset(corpus_, 0, 41, 10, Split::train, make_config(8, 1, dir_ / "c")), std::invalid_argument);
  EXPECT_THROW(GPTDataset(corpus_, 0, 10, 10, Split::train, make_config(1, 1, dir_ / "c")), std::invalid_argument);
  GPTDataset dataset(corpus_, 0, 10, 10, Split::train, make_config(8, 1, dir_ / "c"));
  EXPECT_THROW(dataset.sample(dataset.size()), std::out_of_range);
}

}  // namespace
}  // namespace primus::data
