#include "primus/checkpoint/flat_buffer.hpp"

#include <fmt/format.h>
#include <stdexcept>

namespace primus::checkpoint {

namespace {

void check_buffer(std::span<const optim::ParameterRange> ranges, std::size_t buffer_size, const char* what) {
  optim::validate_parameter_ranges(ranges, static_cast<std::int64_t>(buffer_size));
  if (ranges.empty() && buffer_size != 0)
    throw std::invalid_argument(fmt::format("{} buffer has {} elements but no parameter ranges", what, buffer_size));
}

void read_ranges(const LoadedCheckpoint& checkpoint, std::span<const optim::ParameterRange> ranges,
                 std::span<float> buffer, const std::string& prefix, bool optimizer) {
  check_buffer(ranges, buffer.size(), prefix.empty() ? "parameter" : prefix.c_str());
  for (const optim::ParameterRange& range : ranges) {
    const auto out = buffer.subspan(static_cast<std::size_t>(range.offset), static_cast<std::size_t>(range.numel));
    if (optimizer)
      checkpoint.read_optimizer_tensor(prefix + range.name, range.shape, out);
    else
      checkpoint.read_tensor(prefix + range.name, range.shape, out);
  }
}

}  // namespace

std::vector<CheckpointTensor> tensors_from_flat_buffer(std::span<const optim::ParameterRange> ranges,
                                                       std::span<const float> buffer, const std::string& prefix) {
  check_buffer(ranges, buffer.size(), prefix.empty() ? "parameter" : prefix.c_str());
  std::vector<CheckpointTensor> tensors;
  tensors.reserve(ranges.size());
  for (const optim::ParameterRange& range : ranges)
    tensors.push_back({prefix + range.name, range.shape,
                       buffer.subspan(static_cast<std::size_t>(range.offset), static_cast<std::size_t>(range.numel))});
  return tensors;
}

std::vector<CheckpointTensor> optimizer_tensors_from_flat_buffers(std::span<const optim::ParameterRange> ranges,
                                                                  std::span<const float> exp_avg,
                                                                  std::span<const float> exp_avg_sq) {
  auto tensors = tensors_from_flat_buffer(ranges, exp_avg, "exp_avg.");
  auto second = tensors_from_flat_buffer(ranges, exp_avg_sq, "exp_avg_sq.");
  tensors.insert(tensors.end(), second.begin(), second.end());
  return tensors;
}

void read_model_into_flat_buffer(const LoadedCheckpoint& checkpoint, std::span<const optim::ParameterRange> ranges,
                                 std::span<float> params) {
  std::vector<std::string> names;
  for (const optim::ParameterRange& range : ranges) names.push_back(range.name);
  checkpoint.check_tensor_names(names);
  read_ranges(checkpoint, ranges, params, "", false);
}

void read_optimizer_into_flat_buffers(const LoadedCheckpoint& checkpoint,
                                      std::span<const optim::ParameterRange> ranges, std::span<float> exp_avg,
                                      std::span<float> exp_avg_sq) {
  read_ranges(checkpoint, ranges, exp_avg, "exp_avg.", true);
  read_ranges(checkpoint, ranges, exp_avg_sq, "exp_avg_sq.", true);
}

}  // namespace primus::checkpoint
