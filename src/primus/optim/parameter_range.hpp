// ParameterRange: where one named parameter lives inside the flat fp32 parameter
// buffer (and, in the same layout, the gradient and optimizer-state buffers).
// Mirrors the model's ParameterInfo so optim/ does not depend on model/.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace primus::optim {

struct ParameterRange {
  std::string name;
  std::vector<std::int64_t> shape;
  std::int64_t offset = 0;  // first element in the flat buffer
  std::int64_t numel = 0;
  bool weight_decay = true;  // false for norms and biases
};

// Throws std::invalid_argument unless every range has numel == prod(shape), lies inside
// [0, buffer_numel) and no two ranges overlap; names must be unique and non-empty.
void validate_parameter_ranges(std::span<const ParameterRange> ranges, std::int64_t buffer_numel);

}  // namespace primus::optim
