// GELU forward and backward: x * Phi(x).
#include "primus/ops/cpu/gelu.hpp"
#include "primus/ops/cpu/parallel.hpp"

#include <cmath>

namespace primus::ops::cpu {

namespace {
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
}  // namespace

void gelu_forward(float* out, const float* in, std::int64_t count) {
#pragma omp parallel for if(count >= kParallelMinElements)
  for (std::int64_t i = 0; i < count; ++i) out[i] = 0.5f * in[i] * (1.0f + std::erf(in[i] * kInvSqrt2));
}

void gelu_backward(float* din, const float* dout, const float* in, std::int64_t count) {
#pragma omp parallel for if(count >= kParallelMinElements)
  for (std::int64_t i = 0; i < count; ++i) {
    float x = in[i];
    float cdf = 0.5f * (1.0f + std::erf(x * kInvSqrt2));
    float pdf = kInvSqrt2Pi * std::exp(-0.5f * x * x);
    din[i] = dout[i] * (cdf + x * pdf);
  }
}

}  // namespace primus::ops::cpu
