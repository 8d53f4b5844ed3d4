// Building train/valid/test from the data config: split strings, blends,
// per-split paths, mock data, and the sample counts per split.
#include "primus/data/dataset_builder.hpp"

#include <cmath>
#include <set>
#include <stdexcept>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data_test_support.hpp"
#include "primus/data/blended_dataset.hpp"
#include "primus/data/mock_dataset.hpp"

namespace primus::data {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;
using testing::varied_sequences;
using testing::write_corpus;

TEST(SplitString, ParsesAndNormalizes) {
  const auto split = parse_split("99,1,0");
  EXPECT_DOUBLE_EQ(split[0], 0.99);
  EXPECT_DOUBLE_EQ(split[1], 0.01);
  EXPECT_DOUBLE_EQ(split[2], 0.0);
  const auto megatron_default = parse_split("969, 30, 1");
  EXPECT_DOUBLE_EQ(megatron_default[0], 0.969);
  EXPECT_DOUBLE_EQ(megatron_default[2], 0.001);
  const auto only_train = parse_split("100");
  EXPECT_DOUBLE_EQ(only_train[0], 1.0);
  EXPECT_DOUBLE_EQ(only_train[1], 0.0);
  EXPECT_THROW(parse_split("a,b"), std::invalid_argument);
  EXPECT_THROW(parse_split("1,2,3,4"), std::invalid_argument);
  EXPECT_THROW(parse_split("0,0,0"), std::invalid_argument);
}

TEST(SplitString, MatrixAndRanges) {
  const auto matrix = split_matrix({0.99, 0.01, 0.0});
  ASSERT_TRUE(matrix[0] && matrix[1]);
  EXPECT_FALSE(matrix[2]);
  EXPECT_DOUBLE_EQ(matrix[0]->second, 0.99);
  EXPECT_DOUBLE_EQ(matrix[1]->first, 0.99);
  EXPECT_DOUBLE_EQ(matrix[1]->second, 1.0);
  EXPECT_EQ(split_range(*matrix[0], 1000), (std::pair<std::int64_t, std::int64_t>{0, 990}));
  EXPECT_EQ(split_range(*matrix[1], 1000), (std::pair<std::int64_t, std::int64_t>{990, 1000}));
  // Python's round() sends halves to the even neighbour: 2.5 -> 2, 7.5 -> 8.
  EXPECT_EQ(split_range({0.0, 0.5}, 5), (std::pair<std::int64_t, std::int64_t>{0, 2}));
  EXPECT_EQ(split_range({0.5, 0.75}, 10), (std::pair<std::int64_t, std::int64_t>{5, 8}));
}

TEST(Blend, ParsesWeightedAndPlainLists) {
  auto blend = parse_blend({"0.3 /a/x 0.7", "/b/y"}, "data_path");
  EXPECT_EQ(blend.prefixes, (std::vector<std::string>{"/a/x", "/b/y"}));
  EXPECT_EQ(blend.weights, (std::vector<double>{0.3, 0.7}));
  blend = parse_blend({"/a/x", "/b/y"}, "data_path");
  EXPECT_EQ(blend.prefixes, (std::vector<std::string>{"/a/x", "/b/y"}));
  EXPECT_TRUE(blend.weights.empty());
  blend = parse_blend({"/only"}, "data_path");
  EXPECT_EQ(blend.prefixes, (std::vector<std::string>{"/only"}));
  try {
    parse_blend({"0.3 /a /b /c"}, "train_data_path");
    FAIL() << "a half-weighted list was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), HasSubstr("train_data_path"));
  }
  EXPECT_THROW(parse_blend({"0 /a 1 /b"}, "data_path"), std::invalid_argument);
}

TEST(Blend, PerDatasetRequestHasMegatronsMargin) {
  EXPECT_EQ(blended_dataset_request(1000, 0.3), 302);  // ceil(300 * 1.005) = ceil(301.5)
  EXPECT_EQ(blended_dataset_request(1000, 0.7), 704);  // ceil(700 * 1.005) = ceil(703.5)
  EXPECT_EQ(blended_dataset_request(10, 0.25), 4);     // ceil(ceil(2.5) * 1.005) = ceil(3.015)
}

TEST(Blend, GreedyIndicesTrackTheWeights) {
  const std::vector<double> weights = {0.5, 0.3, 0.2};
  const auto indices = build_blending_indices(weights, 10);
  // Derived by hand from the rule "largest weight * max(i, 1) - drawn, first on ties".
  EXPECT_EQ(indices.dataset_index, (std::vector<std::int16_t>{0, 1, 2, 0, 1, 0, 2, 0, 1, 0}));
  EXPECT_EQ(indices.dataset_sample_index, (std::vector<std::int64_t>{0, 0, 0, 1, 1, 2, 1, 3, 2, 4}));
}

TEST(SplitSamples, FollowMegatronsFormulas) {
  config::TrainingConfig training;
  training.train_iters = 100;
  training.global_batch_size = 8;
  training.eval_interval = 10;
  training.eval_iters = 2;
  auto samples = split_samples(training);
  EXPECT_EQ(samples.train, 800);
  EXPECT_EQ(samples.valid, (100 / 10 + 1) * 2 * 8);
  EXPECT_EQ(samples.test, 16);
  training.train_samples = 1234;
  EXPECT_EQ(split_samples(training).train, 1234);
  training.eval_interval = 0;
  EXPECT_THROW(split_samples(training), std::invalid_argument);
}

class BuilderTest : public ::testing::Test {
 protected:
  config::DataConfig data_;
  ScratchDir dir_;
};

TEST_F(BuilderTest, SingleCorpusIsSplitByTheSplitString) {
  write_corpus(dir_ / "one", varied_sequences(100, 30));
  data_.data_path = {dir_ / "one"};
  data_.split = "80,20,0";
  const auto datasets = build_gpt_datasets(data_, 16, 1000, 1234, {500, 40, 0});
  ASSERT_TRUE(datasets.train && datasets.valid);
  EXPECT_FALSE(datasets.test);
  const auto& train = dynamic_cast<const GPTDataset&>(*datasets.train);
  const auto& valid = dynamic_cast<const GPTDataset&>(*datasets.valid);
  EXPECT_GE(train.size(), 500);
  EXPECT_GE(valid.size(), 40);
  for (const auto sequence : train.document_index()) EXPECT_LT(sequence, 80);
  for (const auto sequence : valid.document_index()) EXPECT_GE(sequence, 80);
}

TEST_F(BuilderTest, WeightedBlendFollowsTheWeights) {
  // Corpus a holds tokens below 100000, corpus b tokens from 100000: a sample's first token names its corpus.
  write_corpus(dir_ / "a", varied_sequences(60, 40, 0));
  write_corpus(dir_ / "b", varied_sequences(60, 40, 100000));
  data_.data_path = {"0.3", dir_ / "a", "0.7", dir_ / "b"};
  data_.split = "100,0,0";
  data_.data_cache_path = dir_ / "cache";
  const auto datasets = build_gpt_datasets(data_, 16, 200000, 1234, {10000, 0, 0});
  ASSERT_TRUE(datasets.train);
  EXPECT_FALSE(datasets.valid);
  ASSERT_EQ(datasets.train->size(), 10000);
  std::int64_t from_b = 0;
  std::vector<std::int64_t> sample(17);
  for (std::int64_t i = 0; i < datasets.train->size(); ++i) {
    datasets.train->read_sample(i, sample.data());
    const bool first_b = sample.front() >= 100000;
    for (const auto token : sample) ASSERT_EQ(token >= 100000, first_b) << "sample " << i << " mixes corpora";
    from_b += first_b;
  }
  EXPECT_NEAR(static_cast<double>(from_b) / 10000.0, 0.7, 0.01);
}

TEST_F(BuilderTest, PerSplitPathsBuildOnlyTheirSplits) {
  write_corpus(dir_ / "train", varied_sequences(50, 30, 0));
  write_corpus(dir_ / "valid", varied_sequences(20, 30, 500000));
  data_.train_data_path = {dir_ / "train"};
  data_.valid_data_path = {dir_ / "valid"};
  data_.data_cache_path = dir_ / "cache";
  const auto datasets = build_gpt_datasets(data_, 8, 1000000, 1, {100, 20, 10});
  ASSERT_TRUE(datasets.train && datasets.valid);
  EXPECT_FALSE(datasets.test);
  EXPECT_LT(datasets.train->sample(0).front(), 500000);
  EXPECT_GE(datasets.valid->sample(0).front(), 500000);
  const auto& train = dynamic_cast<const GPTDataset&>(*datasets.train);
  EXPECT_EQ(std::set<std::int32_t>(train.document_index().begin(), train.document_index().end()).size(), 50u);
}

TEST_F(BuilderTest, UnweightedBlendWeighsBySize) {
  write_corpus(dir_ / "small", varied_sequences(20, 30, 0));
  write_corpus(dir_ / "large", varied_sequences(60, 30, 100000));
  data_.data_path = {dir_ / "small", dir_ / "large"};
  data_.split = "1";
  data_.data_cache_path = dir_ / "cache";
  const auto datasets = build_gpt_datasets(data_, 8, 200000, 1, {50, 0, 0});
  const auto& blended = dynamic_cast<const BlendedDataset&>(*datasets.train);
  EXPECT_EQ(blended.size(), 50);
  ASSERT_EQ(blended.weights().size(), 2u);
  EXPECT_LT(blended.weights()[0], blended.weights()[1]);
}

TEST_F(BuilderTest, ConfigErrorsNameTheKey) {
  try {
    build_gpt_datasets(data_, 8, 100, 1, {10, 0, 0});
    FAIL() << "built without data";
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), HasSubstr("data_path"));
  }
  data_.data_path = {dir_ / "missing"};
  try {
    build_gpt_datasets(data_, 8, 100, 1, {10, 0, 0});
    FAIL() << "built from a missing corpus";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), HasSubstr(dir_ / "missing.idx"));
  }
  data_.train_data_path = {dir_ / "other"};
  EXPECT_THROW(build_gpt_datasets(data_, 8, 100, 1, {10, 0, 0}), std::invalid_argument);
  data_ = {};
  data_.mock_data = true;
  data_.reset_attention_mask = true;
  try {
    build_gpt_datasets(data_, 8, 100, 1, {10, 0, 0});
    FAIL() << "reset_attention_mask accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), HasSubstr("reset_attention_mask"));
  }
}

TEST(MockData, DocumentsFollowMegatronsConstruction) {
  const MockGPTLowLevelDataset mock(1000, 999);
  EXPECT_EQ(mock.num_sequences(), 100000);
  std::int64_t shortest = 1 << 20, longest = 0;
  for (std::int64_t i = 0; i < mock.num_sequences(); ++i) {
    shortest = std::min(shortest, mock.sequence_length(i));
    longest = std::max(longest, mock.sequence_length(i));
  }
  EXPECT_EQ(shortest, 1);
  EXPECT_EQ(longest, 4095);
  // Find a document longer than the vocabulary to see the wrap.
  std::int64_t long_document = 0;
  while (mock.sequence_length(long_document) < 1500) ++long_document;
  const auto length = mock.sequence_length(long_document);
  std::vector<std::int64_t> tokens(static_cast<std::size_t>(length));
  mock.read_tokens(long_document, 0, length, tokens.data());
  for (std::int64_t i = 0; i + 1 < length; ++i) ASSERT_EQ(tokens[static_cast<std::size_t>(i)], (i + 1) % 1000);
  EXPECT_EQ(tokens.back(), 999);
}

TEST(MockData, SamplesAreDeterministic) {
  config::DataConfig data;
  data.mock_data = true;
  data.split = "99,1,0";
  data.eod_token_id = 511;
  const auto first = build_gpt_datasets(data, 64, 512, 1234, {64, 16, 0});
  const auto second = build_gpt_datasets(data, 64, 512, 1234, {64, 16, 0});
  ASSERT_TRUE(first.train && first.valid);
  EXPECT_FALSE(first.test);
  bool saw_eod = false;
  for (std::int64_t i = 0; i < 64; ++i) {
    const auto sample = first.train->sample(i);
    ASSERT_EQ(sample, second.train->sample(i));
    ASSERT_EQ(sample.size(), 65u);
    for (std::size_t t = 0; t + 1 < sample.size(); ++t) {
      // Inside a document tokens count up; after an EOD a new document starts at 1 (or is a lone EOD).
      // (Token 511 also occurs inside long documents, where (i + 1) % 512 reaches it, then 0 follows.)
      if (sample[t] == 511) {
        saw_eod = true;
        EXPECT_TRUE(sample[t + 1] == 0 || sample[t + 1] == 1 || sample[t + 1] == 511);
      } else {
        EXPECT_TRUE(sample[t + 1] == sample[t] + 1 || sample[t + 1] == 511)
            << sample[t] << " -> " << sample[t + 1];
      }
    }
  }
  EXPECT_TRUE(saw_eod);
  const auto reseeded = build_gpt_datasets(data, 64, 512, 99, {64, 16, 0});
  EXPECT_NE(reseeded.train->sample(0), first.train->sample(0));
}

}  // namespace
}  // namespace primus::data
