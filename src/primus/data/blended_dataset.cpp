#include "primus/data/blended_dataset.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace primus::data {

std::vector<double> normalize_weights(std::span<const double> weights) {
  if (weights.empty()) throw std::invalid_argument("blend: no weights given");
  double sum = 0.0;
  for (const double weight : weights) {
    if (!(weight >= 0.0)) {
      throw std::invalid_argument(fmt::format("blend: weight {} is negative", weight));
    }
    sum += weight;
  }
  if (!(sum > 0.0)) throw std::invalid_argument("blend: the weights sum to 0");
  std::vector<double> normalized(weights.begin(), weights.end());
  for (double& weight : normalized) weight /= sum;
  return normalized;
}

BlendingIndices build_blending_indices(std::span<const double> weights, std::int64_t size) {
  BlendingIndices indices;
  indices.dataset_index.resize(static_cast<std::size_t>(size));
  indices.dataset_sample_index.resize(static_cast<std::size_t>(size));
  std::vector<std::int64_t> drawn(weights.size(), 0);
  for (std::int64_t sample = 0; sample < size; ++sample) {
    // Give the sample to the source furthest behind its target share (ties: the first).
    const double target = std::max(static_cast<double>(sample), 1.0);
    std::size_t chosen = 0;
    double largest_error = weights[0] * target - static_cast<double>(drawn[0]);
    for (std::size_t source = 1; source < weights.size(); ++source) {
      const double error = weights[source] * target - static_cast<double>(drawn[source]);
      if (error > largest_error) {
        largest_error = error;
        chosen = source;
      }
    }
    indices.dataset_index[static_cast<std::size_t>(sample)] = static_cast<std::int16_t>(chosen);
    indices.dataset_sample_index[static_cast<std::size_t>(sample)] = drawn[chosen]++;
  }
  return indices;
}

BlendedDataset::BlendedDataset(std::vector<std::shared_ptr<const GPTSampleSource>> datasets,
                               std::vector<double> weights, std::int64_t size)
    : datasets_(std::move(datasets)), size_(size) {
  if (datasets_.empty() || datasets_.size() != weights.size() || datasets_.size() >= 32767) {
    throw std::invalid_argument(fmt::format(
        "BlendedDataset: {} datasets and {} weights (need the same positive count below 32767)",
        datasets_.size(), weights.size()));
  }
  for (const auto& dataset : datasets_) {
    if (dataset->seq_length() != datasets_.front()->seq_length()) {
      throw std::invalid_argument("BlendedDataset: the datasets have different seq_length");
    }
  }
  weights_ = normalize_weights(weights);
  nlohmann::ordered_json description;
  description["class"] = "BlendedDataset";
  description["datasets"] = nlohmann::ordered_json::array();
  for (const auto& dataset : datasets_) {
    description["datasets"].push_back(nlohmann::ordered_json::parse(dataset->unique_description()));
  }
  description["weights"] = weights_;
  description["size"] = size_;
  unique_description_ = description.dump(4);

  indices_ = build_blending_indices(weights_, size_);
  std::vector<std::int64_t> needed(datasets_.size(), 0);
  for (std::int64_t i = 0; i < size_; ++i) {
    const auto source = static_cast<std::size_t>(indices_.dataset_index[static_cast<std::size_t>(i)]);
    needed[source] = indices_.dataset_sample_index[static_cast<std::size_t>(i)] + 1;
  }
  for (std::size_t source = 0; source < datasets_.size(); ++source) {
    if (needed[source] > datasets_[source]->size()) {
      throw std::invalid_argument(fmt::format(
          "BlendedDataset: dataset {} (weight {}) has {} samples, the blend of {} draws {} from it",
          source, weights_[source], datasets_[source]->size(), size_, needed[source]));
    }
  }
}

void BlendedDataset::read_sample(std::int64_t index, std::int64_t* out) const {
  if (index < 0 || index >= size_) {
    throw std::out_of_range(
        fmt::format("BlendedDataset: sample {} requested, size is {}", index, size_));
  }
  const auto i = static_cast<std::size_t>(index);
  datasets_[static_cast<std::size_t>(indices_.dataset_index[i])]->read_sample(
      indices_.dataset_sample_index[i], out);
}

}  // namespace primus::data
