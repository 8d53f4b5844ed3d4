// Token and learned absolute position embeddings, fp32 CPU reference.
#pragma once

#include <cstdint>

namespace primus::ops::cpu {

// out[row, :] = weight[tokens[row], :]. weight is [vocab, hidden].
// Throws std::out_of_range naming the token when it is outside [0, vocab).
void embedding_forward(float* out, const std::int32_t* tokens, const float* weight, std::int64_t rows,
                       std::int64_t vocab, std::int64_t hidden);
// dweight[tokens[row], :] += dout[row, :] (accumulates).
void embedding_backward(float* dweight, const float* dout, const std::int32_t* tokens, std::int64_t rows,
                        std::int64_t vocab, std::int64_t hidden);

// out[b, s, :] += weight[s, :] for positions 0..seq-1; weight is [max_positions, hidden].
void position_embedding_forward(float* out, const float* weight, std::int64_t batch, std::int64_t seq,
                                std::int64_t hidden);
// dweight[s, :] += sum_b dout[b, s, :] (accumulates).
void position_embedding_backward(float* dweight, const float* dout, std::int64_t batch, std::int64_t seq,
                                 std::int64_t hidden);

}  // namespace primus::ops::cpu
