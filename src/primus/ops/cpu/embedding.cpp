// Embedding lookups and their scatter-add backward.
#include "primus/ops/cpu/embedding.hpp"
#include "primus/ops/cpu/parallel.hpp"

#include <stdexcept>
#include <string>

namespace primus::ops::cpu {

namespace {
void check_token(std::int32_t token, std::int64_t row, std::int64_t vocab) {
  if (token < 0 || token >= vocab) {
    throw std::out_of_range("embedding: token id " + std::to_string(token) + " at position " + std::to_string(row) +
                            " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  }
}
}  // namespace

void embedding_forward(float* out, const std::int32_t* tokens, const float* weight, std::int64_t rows,
                       std::int64_t vocab, std::int64_t hidden) {
  for (std::int64_t r = 0; r < rows; ++r) check_token(tokens[r], r, vocab);
#pragma omp parallel for if(rows * hidden >= kParallelMinElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* src = weight + static_cast<std::int64_t>(tokens[r]) * hidden;
    float* dst = out + r * hidden;
    for (std::int64_t i = 0; i < hidden; ++i) dst[i] = src[i];
  }
}

void embedding_backward(float* dweight, const float* dout, const std::int32_t* tokens, std::int64_t rows,
                        std::int64_t vocab, std::int64_t hidden) {
  for (std::int64_t r = 0; r < rows; ++r) check_token(tokens[r], r, vocab);
  // Parallel over hidden columns: rows sharing a token never race.
#pragma omp parallel for if(rows * hidden >= kParallelMinElements)
  for (std::int64_t i = 0; i < hidden; ++i) {
    for (std::int64_t r = 0; r < rows; ++r) dweight[static_cast<std::int64_t>(tokens[r]) * hidden + i] += dout[r * hidden + i];
  }
}

void position_embedding_forward(float* out, const float* weight, std::int64_t batch, std::int64_t seq,
                                std::int64_t hidden) {
#pragma omp parallel for collapse(2) if(batch * seq * hidden >= kParallelMinElements)
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t s = 0; s < seq; ++s) {
      float* dst = out + (b * seq + s) * hidden;
      const float* src = weight + s * hidden;
      for (std::int64_t i = 0; i < hidden; ++i) dst[i] += src[i];
    }
  }
}

void position_embedding_backward(float* dweight, const float* dout, std::int64_t batch, std::int64_t seq,
                                 std::int64_t hidden) {
#pragma omp parallel for if(batch * seq * hidden >= kParallelMinElements)
  for (std::int64_t s = 0; s < seq; ++s) {
    for (std::int64_t b = 0; b < batch; ++b) {
      const float* src = dout + (b * seq + s) * hidden;
      float* dst = dweight + s * hidden;
      for (std::int64_t i = 0; i < hidden; ++i) dst[i] += src[i];
    }
  }
}

}  // namespace primus::ops::cpu
