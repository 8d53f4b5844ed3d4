#include "primus/optim/grad_clip.hpp"

#include <cmath>
#include <cstdint>

namespace primus::optim {

double global_grad_norm(std::span<const float> grads) {
  const float* g = grads.data();
  const auto n = static_cast<std::int64_t>(grads.size());
  double sum_of_squares = 0.0;
  // A NaN or Inf gradient makes its square NaN or Inf, which survives the sum and the sqrt.
#pragma omp parallel for reduction(+ : sum_of_squares) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) sum_of_squares += static_cast<double>(g[i]) * static_cast<double>(g[i]);
  return std::sqrt(sum_of_squares);
}

double clip_grad_by_global_norm(std::span<float> grads, double max_norm, double norm) {
  if (!std::isfinite(norm) || max_norm <= 0.0) return 1.0;
  const double clip_coeff = max_norm / (norm + 1.0e-6);
  if (!(clip_coeff < 1.0)) return 1.0;
  const auto factor = static_cast<float>(clip_coeff);
  float* g = grads.data();
  const auto n = static_cast<std::int64_t>(grads.size());
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) g[i] *= factor;
  return clip_coeff;
}

}  // namespace primus::optim
