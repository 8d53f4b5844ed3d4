#include "primus/optim/parameter_range.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stdexcept>
#include <unordered_set>

namespace primus::optim {

void validate_parameter_ranges(std::span<const ParameterRange> ranges, std::int64_t buffer_numel) {
  std::unordered_set<std::string> names;
  std::vector<const ParameterRange*> by_offset;
  for (const ParameterRange& range : ranges) {
    if (range.name.empty()) throw std::invalid_argument("parameter range with an empty name");
    if (!names.insert(range.name).second)
      throw std::invalid_argument(fmt::format("parameter '{}' appears twice in the parameter ranges", range.name));
    std::int64_t product = 1;
    for (std::int64_t dim : range.shape) {
      if (dim < 0)
        throw std::invalid_argument(
            fmt::format("parameter '{}' has a negative dimension in shape [{}]", range.name, fmt::join(range.shape, ", ")));
      product *= dim;
    }
    if (product != range.numel)
      throw std::invalid_argument(fmt::format("parameter '{}': numel {} does not match shape [{}] (product {})",
                                              range.name, range.numel, fmt::join(range.shape, ", "), product));
    if (range.offset < 0 || range.offset + range.numel > buffer_numel)
      throw std::invalid_argument(fmt::format("parameter '{}': range [{}, {}) lies outside the flat buffer of {} elements",
                                              range.name, range.offset, range.offset + range.numel, buffer_numel));
    by_offset.push_back(&range);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const ParameterRange& previous = *by_offset[i - 1];
    if (previous.offset + previous.numel > by_offset[i]->offset)
      throw std::invalid_argument(fmt::format("parameters '{}' [{}, {}) and '{}' [{}, {}) overlap in the flat buffer",
                                              previous.name, previous.offset, previous.offset + previous.numel,
                                              by_offset[i]->name, by_offset[i]->offset,
                                              by_offset[i]->offset + by_offset[i]->numel));
  }
}

}  // namespace primus::optim
