// RMSNorm forward and backward.
#include "primus/ops/cpu/rmsnorm.hpp"
#include "primus/ops/cpu/parallel.hpp"

#include <cmath>

namespace primus::ops::cpu {

void rmsnorm_forward(float* out, float* rstd, const float* in, const float* weight, std::int64_t rows,
                     std::int64_t dim, float eps, bool apply_layernorm_1p) {
  const float offset = apply_layernorm_1p ? 1.0f : 0.0f;
#pragma omp parallel for if(rows * dim >= kParallelMinElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * dim;
    double sum_squares = 0.0;
    for (std::int64_t i = 0; i < dim; ++i) sum_squares += static_cast<double>(x[i]) * x[i];
    float row_rstd = static_cast<float>(1.0 / std::sqrt(sum_squares / static_cast<double>(dim) + eps));
    rstd[r] = row_rstd;
    float* y = out + r * dim;
    for (std::int64_t i = 0; i < dim; ++i) y[i] = x[i] * row_rstd * (weight[i] + offset);
  }
}

void rmsnorm_backward(float* din, float* dweight, const float* dout, const float* in, const float* weight,
                      const float* rstd, std::int64_t rows, std::int64_t dim, bool apply_layernorm_1p) {
  const float offset = apply_layernorm_1p ? 1.0f : 0.0f;
#pragma omp parallel for if(rows * dim >= kParallelMinElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * dim;
    const float* dy = dout + r * dim;
    // dx = rstd * (dy*w - xhat * mean(dy*w*xhat)), xhat = x * rstd
    double dot = 0.0;
    for (std::int64_t i = 0; i < dim; ++i) dot += static_cast<double>(dy[i]) * (weight[i] + offset) * x[i] * rstd[r];
    float mean_dot = static_cast<float>(dot / static_cast<double>(dim));
    float* dx = din + r * dim;
    for (std::int64_t i = 0; i < dim; ++i) {
      float xhat = x[i] * rstd[r];
      dx[i] = rstd[r] * (dy[i] * (weight[i] + offset) - xhat * mean_dot);
    }
  }
  // Parallel over columns so that rows never race on dweight.
#pragma omp parallel for if(rows * dim >= kParallelMinElements)
  for (std::int64_t i = 0; i < dim; ++i) {
    double sum = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) sum += static_cast<double>(dout[r * dim + i]) * in[r * dim + i] * rstd[r];
    dweight[i] += static_cast<float>(sum);
  }
}

}  // namespace primus::ops::cpu
