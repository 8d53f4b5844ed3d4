// Validation of the flat-buffer parameter layout the optimizer steps over.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "primus/tensor/parameter_range.hpp"

namespace primus::optim {

using tensor::ParameterRange;

// Throws std::invalid_argument unless every range has numel == prod(shape), lies inside
// [0, buffer_numel) and no two ranges overlap; names must be unique and non-empty.
void validate_parameter_ranges(std::span<const ParameterRange> ranges, std::int64_t buffer_numel);

}  // namespace primus::optim
