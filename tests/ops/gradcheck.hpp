// Finite-difference gradient checker shared by the op and model tests: compares an
// analytic gradient with central differences of a scalar objective, element by
// element, with the error normalised by the largest gradient magnitude checked.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace primus::testing {

struct GradcheckOptions {
  float eps = 1e-2f;         // central-difference step
  double tolerance = 1e-2;   // max |analytic - numeric| / max |numeric| allowed
  std::vector<std::size_t> indices = {};  // elements to check; empty: all
};

struct GradcheckReport {
  double max_error = 0.0;  // normalised
  std::size_t worst_index = 0;
  double worst_analytic = 0.0, worst_numeric = 0.0, scale = 0.0;
  std::size_t checked = 0;
  bool passed = false;
  std::string describe() const {
    std::ostringstream s;
    s << "normalised error " << max_error << " at element " << worst_index << " (analytic " << worst_analytic
      << ", numeric " << worst_numeric << ", gradient scale " << scale << ", " << checked << " elements checked)";
    return s.str();
  }
};

// objective() evaluates the scalar at the current x; x is perturbed in place and restored.
inline GradcheckReport gradcheck(const std::function<double()>& objective, std::span<float> x,
                                 std::span<const float> analytic, const GradcheckOptions& options = {}) {
  std::vector<std::size_t> indices = options.indices;
  if (indices.empty()) {
    for (std::size_t i = 0; i < x.size(); ++i) indices.push_back(i);
  }
  std::vector<double> numeric(indices.size());
  for (std::size_t n = 0; n < indices.size(); ++n) {
    float& value = x[indices[n]];
    const float original = value;
    value = original + options.eps;
    const double plus = objective();
    value = original - options.eps;
    const double minus = objective();
    value = original;
    numeric[n] = (plus - minus) / (2.0 * static_cast<double>(options.eps));
  }
  GradcheckReport report;
  report.checked = indices.size();
  for (std::size_t n = 0; n < indices.size(); ++n) {
    report.scale = std::max({report.scale, std::abs(numeric[n]), std::abs(static_cast<double>(analytic[indices[n]]))});
  }
  const double denominator = std::max(report.scale, 1e-6);
  for (std::size_t n = 0; n < indices.size(); ++n) {
    const double error = std::abs(static_cast<double>(analytic[indices[n]]) - numeric[n]) / denominator;
    if (error >= report.max_error) {
      report.max_error = error;
      report.worst_index = indices[n];
      report.worst_analytic = analytic[indices[n]];
      report.worst_numeric = numeric[n];
    }
  }
  report.passed = report.max_error <= options.tolerance && std::isfinite(report.max_error);
  return report;
}

inline std::vector<float> random_vector(std::size_t count, std::uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<float> distribution(-scale, scale);
  std::vector<float> v(count);
  for (float& value : v) value = distribution(engine);
  return v;
}

// sum_i out[i] * weights[i] in double: the scalar whose gradient w.r.t. out is `weights`.
inline double weighted_sum(std::span<const float> out, std::span<const float> weights) {
  double sum = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) sum += static_cast<double>(out[i]) * weights[i];
  return sum;
}

}  // namespace primus::testing
