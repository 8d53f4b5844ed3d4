// LayerNorm forward and backward.
#include "primus/ops/cpu/layernorm.hpp"
#include "primus/ops/cpu/parallel.hpp"

#include <cmath>

namespace primus::ops::cpu {

void layernorm_forward(float* out, float* mean, float* rstd, const float* in, const float* weight,
                       const float* bias, std::int64_t rows, std::int64_t dim, float eps, bool apply_layernorm_1p) {
  const float offset = apply_layernorm_1p ? 1.0f : 0.0f;
#pragma omp parallel for if(rows * dim >= kParallelMinElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * dim;
    double sum = 0.0;
    for (std::int64_t i = 0; i < dim; ++i) sum += x[i];
    double row_mean = sum / static_cast<double>(dim);
    double variance = 0.0;
    for (std::int64_t i = 0; i < dim; ++i) variance += (x[i] - row_mean) * (x[i] - row_mean);
    variance /= static_cast<double>(dim);
    float m = static_cast<float>(row_mean);
    float s = static_cast<float>(1.0 / std::sqrt(variance + eps));
    mean[r] = m;
    rstd[r] = s;
    float* y = out + r * dim;
    for (std::int64_t i = 0; i < dim; ++i) y[i] = (x[i] - m) * s * (weight[i] + offset) + bias[i];
  }
}

void layernorm_backward(float* din, float* dweight, float* dbias, const float* dout, const float* in,
                        const float* weight, const float* mean, const float* rstd, std::int64_t rows,
                        std::int64_t dim, bool apply_layernorm_1p) {
  const float offset = apply_layernorm_1p ? 1.0f : 0.0f;
#pragma omp parallel for if(rows * dim >= kParallelMinElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * dim;
    const float* dy = dout + r * dim;
    // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w
    double sum_g = 0.0, sum_g_xhat = 0.0;
    for (std::int64_t i = 0; i < dim; ++i) {
      double g = static_cast<double>(dy[i]) * (weight[i] + offset);
      sum_g += g;
      sum_g_xhat += g * (x[i] - mean[r]) * rstd[r];
    }
    float mean_g = static_cast<float>(sum_g / static_cast<double>(dim));
    float mean_g_xhat = static_cast<float>(sum_g_xhat / static_cast<double>(dim));
    float* dx = din + r * dim;
    for (std::int64_t i = 0; i < dim; ++i) {
      float xhat = (x[i] - mean[r]) * rstd[r];
      dx[i] = rstd[r] * (dy[i] * (weight[i] + offset) - mean_g - xhat * mean_g_xhat);
    }
  }
#pragma omp parallel for if(rows * dim >= kParallelMinElements)
  for (std::int64_t i = 0; i < dim; ++i) {
    double sum_w = 0.0, sum_b = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) {
      double dy = dout[r * dim + i];
      sum_w += dy * (in[r * dim + i] - mean[r]) * rstd[r];
      sum_b += dy;
    }
    dweight[i] += static_cast<float>(sum_w);
    dbias[i] += static_cast<float>(sum_b);
  }
}

}  // namespace primus::ops::cpu
