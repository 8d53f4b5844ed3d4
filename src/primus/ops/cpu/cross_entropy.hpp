// Softmax cross-entropy per token over the padded vocabulary, fp32 CPU reference.
// As Megatron's vocab-parallel cross-entropy, the softmax runs over every column
// of the logits, padded ones included (their embedding rows are simply untrained).
#pragma once

#include <cstdint>

namespace primus::ops::cpu {

// logits: [rows, vocab]; labels: [rows]; losses, lse: [rows] (lse saved for backward).
// Throws std::out_of_range naming the label when it is outside [0, vocab).
void cross_entropy_forward(float* losses, float* lse, const float* logits, const std::int32_t* labels,
                           std::int64_t rows, std::int64_t vocab);
// dlogits[r, :] = dlosses[r] * (softmax(logits[r]) - onehot(labels[r])): written (=).
// dlogits may alias logits (computed row by row in place).
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const std::int32_t* labels,
                            const float* dlosses, std::int64_t rows, std::int64_t vocab);

}  // namespace primus::ops::cpu
