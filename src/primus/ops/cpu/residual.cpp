// Residual add.
#include "primus/ops/cpu/residual.hpp"
#include "primus/ops/cpu/parallel.hpp"

namespace primus::ops::cpu {

void residual_forward(float* out, const float* a, const float* b, std::int64_t count) {
#pragma omp parallel for if(count >= kParallelMinElements)
  for (std::int64_t i = 0; i < count; ++i) out[i] = a[i] + b[i];
}

void residual_backward(float* dresidual, const float* dbranch, std::int64_t count) {
#pragma omp parallel for if(count >= kParallelMinElements)
  for (std::int64_t i = 0; i < count; ++i) dresidual[i] += dbranch[i];
}

}  // namespace primus::ops::cpu
