// Micro-batches: token/label shift, EOD loss mask, position resets, the
// data-parallel partition of each global batch, and exact resume.
#include "primus/data/gpt_batch.hpp"

#include <set>
#include <stdexcept>

#include <gtest/gtest.h>

#include "data_test_support.hpp"
#include "primus/data/dataset_builder.hpp"

namespace primus::data {
namespace {

using testing::ScratchDir;
using testing::varied_sequences;
using testing::write_corpus;

constexpr int kEod = 99;

Batch one_row(int seq_length) {
  Batch batch;
  batch.micro_batch_size = 1;
  batch.seq_length = seq_length;
  return batch;
}

TEST(BatchRow, ShiftsTokensIntoLabels) {
  Batch batch = one_row(6);
  append_sample(std::vector<std::int64_t>{1, 2, kEod, 3, 4, kEod, 5}, kEod, false, false, batch);
  EXPECT_EQ(batch.tokens, (std::vector<std::int32_t>{1, 2, kEod, 3, 4, kEod}));
  EXPECT_EQ(batch.labels, (std::vector<std::int32_t>{2, kEod, 3, 4, kEod, 5}));
  EXPECT_EQ(batch.loss_mask, (std::vector<float>{1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(batch.position_ids, (std::vector<std::int32_t>{0, 1, 2, 3, 4, 5}));
}

// Megatron masks the positions whose input token is EOD (the prediction across documents).
TEST(BatchRow, EodMaskLossZeroesPositionsWhoseInputIsEod) {
  Batch batch = one_row(6);
  append_sample(std::vector<std::int64_t>{1, 2, kEod, 3, 4, kEod, 5}, kEod, true, false, batch);
  EXPECT_EQ(batch.loss_mask, (std::vector<float>{1, 1, 0, 1, 1, 0}));
}

TEST(BatchRow, ResetPositionIdsRestartAfterEachEod) {
  Batch batch = one_row(7);
  append_sample(std::vector<std::int64_t>{kEod, 1, 2, kEod, 3, 4, 5, 6}, kEod, false, true, batch);
  EXPECT_EQ(batch.position_ids, (std::vector<std::int32_t>{0, 0, 1, 2, 0, 1, 2}));
}

TEST(BatchRow, RejectsWrongLengthsAndNegativeTokens) {
  Batch batch = one_row(4);
  EXPECT_THROW(append_sample(std::vector<std::int64_t>{1, 2, 3, 4}, kEod, false, false, batch), std::invalid_argument);
  EXPECT_THROW(append_sample(std::vector<std::int64_t>{1, -2, 3, 4, 5}, kEod, false, false, batch), std::out_of_range);
}

TEST(Sampler, RanksPartitionEachGlobalBatch) {
  const int micro_batch_size = 3, data_parallel_size = 4;
  for (std::int64_t consumed = 0; consumed + 12 <= 100; consumed += 12) {
    std::set<std::int64_t> seen;
    for (int rank = 0; rank < data_parallel_size; ++rank) {
      const auto indices = micro_batch_sample_indices(consumed, micro_batch_size, rank, data_parallel_size, 100, false);
      ASSERT_EQ(indices.size(), 3u);
      // Megatron's slice: rank r takes [consumed + r * micro_batch_size, + micro_batch_size).
      EXPECT_EQ(indices.front(), consumed + rank * micro_batch_size);
      for (const auto index : indices) EXPECT_TRUE(seen.insert(index).second) << "sample " << index << " twice";
    }
    EXPECT_EQ(seen.size(), 12u);
    EXPECT_EQ(*seen.begin(), consumed);
    EXPECT_EQ(*seen.rbegin(), consumed + 11);
  }
  // 96 consumed: 4 left, fewer than a global batch of 12.
  EXPECT_THROW(micro_batch_sample_indices(96, 3, 0, 4, 100, false), std::out_of_range);
  EXPECT_EQ(micro_batch_sample_indices(96, 3, 1, 4, 100, true), (std::vector<std::int64_t>{99, 0, 1}));
}

class IteratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_corpus(dir_ / "corpus", varied_sequences(60, 25));
    GPTDatasetConfig config;
    config.seq_length = 12;
    config.path_to_cache = dir_ / "cache";
    dataset_ = std::make_shared<GPTDataset>(std::make_shared<IndexedDataset>(dir_ / "corpus"), 0, 60, 200,
                                            Split::train, config);
  }
  ScratchDir dir_;
  std::shared_ptr<const GPTDataset> dataset_;
};

TEST_F(IteratorTest, BatchesHoldTheSamplerSamples) {
  MicroBatchIterator iterator(dataset_, 2, 1, 3, 12, kEod, false);
  const Batch batch = iterator.next();
  EXPECT_EQ(iterator.consumed_samples(), 18);
  EXPECT_EQ(batch.micro_batch_size, 2);
  EXPECT_EQ(batch.seq_length, 12);
  ASSERT_EQ(batch.tokens.size(), 24u);
  for (int row = 0; row < 2; ++row) {
    const auto sample = dataset_->sample(12 + 2 + row);  // consumed 12, rank 1 of micro_batch_size 2
    for (int t = 0; t < 12; ++t) {
      EXPECT_EQ(batch.tokens[static_cast<std::size_t>(row * 12 + t)], sample[static_cast<std::size_t>(t)]);
      EXPECT_EQ(batch.labels[static_cast<std::size_t>(row * 12 + t)], sample[static_cast<std::size_t>(t + 1)]);
    }
  }
}

TEST_F(IteratorTest, ResumeAtConsumedSamplesIsExact) {
  const int micro_batch_size = 2, data_parallel_size = 2;
  for (int rank = 0; rank < data_parallel_size; ++rank) {
    MicroBatchIterator original(dataset_, micro_batch_size, rank, data_parallel_size, 0, kEod, true);
    std::vector<Batch> batches;
    for (int i = 0; i < 10; ++i) batches.push_back(original.next());
    const std::int64_t resume_at = 4 * micro_batch_size * data_parallel_size;
    MicroBatchIterator resumed(dataset_, micro_batch_size, rank, data_parallel_size, resume_at, kEod, true);
    for (int i = 4; i < 10; ++i) {
      const Batch batch = resumed.next();
      EXPECT_EQ(batch.tokens, batches[static_cast<std::size_t>(i)].tokens) << "rank " << rank << " batch " << i;
      EXPECT_EQ(batch.labels, batches[static_cast<std::size_t>(i)].labels);
      EXPECT_EQ(batch.loss_mask, batches[static_cast<std::size_t>(i)].loss_mask);
    }
    EXPECT_EQ(resumed.consumed_samples(), original.consumed_samples());
  }
}

TEST_F(IteratorTest, StopsAtTheEndUnlessCyclic) {
  const std::int64_t size = dataset_->size();
  const std::int64_t last_full = (size / 8) * 8 - 8;
  MicroBatchIterator once(dataset_, 4, 0, 2, last_full, kEod, false);
  EXPECT_TRUE(once.has_next());
  once.next();
  EXPECT_FALSE(once.has_next());
  EXPECT_THROW(once.next(), std::out_of_range);
  MicroBatchIterator cyclic(dataset_, 4, 0, 2, last_full, kEod, false, false, true);
  for (int i = 0; i < 5; ++i) EXPECT_NO_THROW(cyclic.next());
  EXPECT_THROW(MicroBatchIterator(dataset_, 4, 2, 2, 0, kEod, false), std::invalid_argument);
}

TEST(MockBatches, EodMaskMatchesTheEodTokensEndToEnd) {
  config::DataConfig data;
  data.mock_data = true;
  data.eod_mask_loss = true;
  data.eod_token_id = 255;
  const auto datasets = build_gpt_datasets(data, 128, 256, 1234, {32, 8, 8});
  MicroBatchIterator iterator(datasets.train, 4, 0, 2, 0, data.eod_token_id, data.eod_mask_loss);
  int masked = 0;
  for (int step = 0; step < 4; ++step) {
    const Batch batch = iterator.next();
    ASSERT_EQ(batch.tokens.size(), 4u * 128u);
    for (std::size_t i = 0; i < batch.tokens.size(); ++i) {
      EXPECT_EQ(batch.loss_mask[i], batch.tokens[i] == 255 ? 0.0f : 1.0f);
      masked += batch.loss_mask[i] == 0.0f;
    }
  }
  EXPECT_GT(masked, 0);
  EXPECT_EQ(iterator.consumed_samples(), 32);
}

}  // namespace
}  // namespace primus::data
