// ParameterFences: one event per parameter group; the forward's waits.
#include "primus/model/cuda/parameter_fences.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "primus/ops/cuda/cuda_check.hpp"

namespace primus::model::cuda {

ParameterFences::ParameterFences(std::vector<ParameterGroup> groups) : groups_(std::move(groups)) {
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    if (groups_[i].begin >= groups_[i].end || (i > 0 && groups_[i].begin != groups_[i - 1].end))
      throw std::invalid_argument("ParameterFences: group " + std::to_string(i) + " [" +
                                  std::to_string(groups_[i].begin) + ", " + std::to_string(groups_[i].end) +
                                  ") is empty or does not follow the previous one");
  }
  events_.resize(groups_.size(), nullptr);
  for (cudaEvent_t& event : events_) PRIMUS_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
}

ParameterFences::~ParameterFences() {
  for (cudaEvent_t event : events_)
    if (event != nullptr) cudaEventDestroy(event);
}

void ParameterFences::record(std::size_t index, cudaStream_t stream) {
  PRIMUS_CUDA_CHECK(cudaEventRecord(events_.at(index), stream));
}

void ParameterFences::wait(cudaStream_t stream, std::int64_t element) const {
  // First group whose end lies beyond the element.
  auto it = std::upper_bound(groups_.begin(), groups_.end(), element,
                             [](std::int64_t e, const ParameterGroup& g) { return e < g.end; });
  if (it == groups_.end() || element < it->begin) return;  // not updated by the side stream
  PRIMUS_CUDA_CHECK(cudaStreamWaitEvent(stream, events_[static_cast<std::size_t>(it - groups_.begin())], 0));
}

std::vector<ParameterGroup> group_parameters(const std::vector<std::int64_t>& offsets,
                                             const std::vector<std::int64_t>& sizes, std::int64_t min_elements) {
  std::vector<ParameterGroup> groups;
  if (offsets.size() != sizes.size())
    throw std::invalid_argument("group_parameters: offsets and sizes differ in length");
  std::int64_t begin = offsets.empty() ? 0 : offsets.front();
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    const std::int64_t end = offsets[i] + sizes[i];
    if (sizes[i] >= min_elements || i + 1 == offsets.size()) {
      groups.push_back({begin, end});
      begin = end;
    }
  }
  return groups;
}

}  // namespace primus::model::cuda
