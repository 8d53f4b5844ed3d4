// Megatron's BlendedDataset: draws each sample from one of several GPT sample
// sources so that, at every prefix of the blend, the share of each source
// tracks its weight (the greedy "largest error first" assignment of
// helpers.cpp build_blending_indices).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "primus/data/gpt_dataset.hpp"

namespace primus::data {

struct BlendingIndices {
  std::vector<std::int16_t> dataset_index;         // which source sample i comes from
  std::vector<std::int64_t> dataset_sample_index;  // its sample number within that source
};

// weights must be normalized (sum 1).
BlendingIndices build_blending_indices(std::span<const double> weights, std::int64_t size);

class BlendedDataset : public GPTSampleSource {
 public:
  // Normalizes weights; throws std::invalid_argument when a source is too small
  // for the samples the blend draws from it.
  BlendedDataset(std::vector<std::shared_ptr<const GPTSampleSource>> datasets,
                 std::vector<double> weights, std::int64_t size);

  std::int64_t size() const override { return size_; }
  int seq_length() const override { return datasets_.front()->seq_length(); }
  void read_sample(std::int64_t index, std::int64_t* out) const override;
  std::string unique_description() const override { return unique_description_; }

  const std::vector<double>& weights() const { return weights_; }
  const BlendingIndices& indices() const { return indices_; }

 private:
  std::vector<std::shared_ptr<const GPTSampleSource>> datasets_;
  std::vector<double> weights_;
  std::int64_t size_;
  std::string unique_description_;
  BlendingIndices indices_;
};

// Weights divided by their sum; throws on an empty list, a negative weight or a zero sum.
std::vector<double> normalize_weights(std::span<const double> weights);

}  // namespace primus::data
