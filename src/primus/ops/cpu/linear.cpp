// Linear forward and backward through cblas_sgemm.
#include "primus/ops/cpu/linear.hpp"
#include "primus/ops/cpu/parallel.hpp"

#include <cblas.h>

namespace primus::ops::cpu {

void linear_forward(float* out, const float* in, const float* weight, const float* bias, std::int64_t rows,
                    std::int64_t in_features, std::int64_t out_features) {
  if (rows == 0 || out_features == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out_features, in_features, 1.0f, in, in_features,
              weight, in_features, 0.0f, out, out_features);
  if (bias == nullptr) return;
#pragma omp parallel for if(rows * out_features >= kParallelMinElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t o = 0; o < out_features; ++o) out[r * out_features + o] += bias[o];
  }
}

void linear_backward(float* din, float* dweight, float* dbias, const float* dout, const float* in,
                     const float* weight, std::int64_t rows, std::int64_t in_features, std::int64_t out_features) {
  if (rows == 0) return;
  if (din != nullptr) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in_features, out_features, 1.0f, dout,
                out_features, weight, in_features, 0.0f, din, in_features);
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_features, in_features, rows, 1.0f, dout, out_features,
              in, in_features, 1.0f, dweight, in_features);
  if (dbias == nullptr) return;
#pragma omp parallel for if(rows * out_features >= kParallelMinElements)
  for (std::int64_t o = 0; o < out_features; ++o) {
    double sum = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) sum += dout[r * out_features + o];
    dbias[o] += static_cast<float>(sum);
  }
}

}  // namespace primus::ops::cpu
