// Cross-entropy forward (log-sum-exp minus the label's logit) and backward.
#include "primus/ops/cpu/cross_entropy.hpp"
#include "primus/ops/cpu/parallel.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace primus::ops::cpu {

namespace {
void check_labels(const std::int32_t* labels, std::int64_t rows, std::int64_t vocab) {
  for (std::int64_t r = 0; r < rows; ++r) {
    if (labels[r] < 0 || labels[r] >= vocab) {
      throw std::out_of_range("cross_entropy: label " + std::to_string(labels[r]) + " at position " +
                              std::to_string(r) + " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
  }
}
}  // namespace

void cross_entropy_forward(float* losses, float* lse, const float* logits, const std::int32_t* labels,
                           std::int64_t rows, std::int64_t vocab) {
  check_labels(labels, rows, vocab);
#pragma omp parallel for if(rows * vocab >= kParallelMinElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * vocab;
    float max_logit = *std::max_element(row, row + vocab);
    double sum = 0.0;
    for (std::int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(row[i] - max_logit));
    float row_lse = max_logit + static_cast<float>(std::log(sum));
    lse[r] = row_lse;
    losses[r] = row_lse - row[labels[r]];
  }
}

void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const std::int32_t* labels,
                            const float* dlosses, std::int64_t rows, std::int64_t vocab) {
  check_labels(labels, rows, vocab);
#pragma omp parallel for if(rows * vocab >= kParallelMinElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * vocab;
    float* drow = dlogits + r * vocab;
    for (std::int64_t i = 0; i < vocab; ++i) drow[i] = dlosses[r] * std::exp(row[i] - lse[r]);
    drow[labels[r]] -= dlosses[r];
  }
}

}  // namespace primus::ops::cpu
