// Softmax cross-entropy over the padded vocabulary on the GPU, twin of
// primus::ops::cpu::cross_entropy_*: bf16 logits, fp32 losses and lse. The forward reads
// the logits once (online max / sum of exponentials); training's fused forward+backward writes
// dlogits over the bf16 logits in the same launch, so no fp32 copy of the logits ever exists.
// Out-of-range labels cannot throw from the GPU: that row's loss is NaN (caught by the
// step's non-finite check) and its dlogits lack the one-hot term.
// Vectorised when vocab % 8 == 0 and pointers are 16-byte aligned; any vocab works.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

// logits: [rows, vocab]; labels: [rows] (device); losses, lse: [rows] fp32.
void cross_entropy_forward(float* losses, float* lse, const __nv_bfloat16* logits, const std::int32_t* labels,
                           std::int64_t rows, std::int64_t vocab, cudaStream_t stream);
// Training's one pass: the forward's losses and lse, and in the same launch
// dlogits[r, :] = dlosses[r] * (softmax(logits[r]) - onehot(labels[r])), the logits crossing
// memory once. dlogits may be the logits themselves (in place) or a separate buffer.
void cross_entropy_forward_backward(float* losses, float* lse, __nv_bfloat16* dlogits, const __nv_bfloat16* logits,
                                    const std::int32_t* labels, const float* dlosses, std::int64_t rows,
                                    std::int64_t vocab, cudaStream_t stream);
// dlogits[r, :] = dlosses[r] * (softmax(logits[r]) - onehot(labels[r])) from a saved lse: written (=).
// dlogits may alias logits (the intended use: in place).
void cross_entropy_backward(__nv_bfloat16* dlogits, const __nv_bfloat16* logits, const float* lse,
                            const std::int32_t* labels, const float* dlosses, std::int64_t rows, std::int64_t vocab,
                            cudaStream_t stream);

}  // namespace primus::ops::cuda
