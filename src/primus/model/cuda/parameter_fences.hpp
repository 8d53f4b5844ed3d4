// ParameterFences: where the next forward may read each parameter. The overlapped
// optimizer updates the flat parameter buffer in groups of consecutive parameters (layout
// order, which is the order the forward reads them) on a side stream and records one event
// per group; before the forward reads a parameter it makes its stream wait for the group
// holding that parameter's first element. Groups never split a parameter, and they complete
// in order on one stream, so that one wait covers everything the parameter depends on.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace primus::model::cuda {

struct ParameterGroup {
  std::int64_t begin = 0, end = 0;  // elements [begin, end) of the flat buffer
};

class ParameterFences {
 public:
  // groups: consecutive, covering [groups.front().begin, groups.back().end).
  explicit ParameterFences(std::vector<ParameterGroup> groups);
  ~ParameterFences();
  ParameterFences(const ParameterFences&) = delete;
  ParameterFences& operator=(const ParameterFences&) = delete;

  const std::vector<ParameterGroup>& groups() const { return groups_; }
  // The side stream has enqueued the update of group `index`.
  void record(std::size_t index, cudaStream_t stream);
  // `stream` waits until the group holding `element` is updated (a no-op once it is, or
  // before the first record).
  void wait(cudaStream_t stream, std::int64_t element) const;

 private:
  std::vector<ParameterGroup> groups_;
  std::vector<cudaEvent_t> events_;
};

// Groups for an update in forward order: each parameter of at least `min_elements` closes a
// group, so the small ones (norm weights, biases) ride with the large parameter after them.
std::vector<ParameterGroup> group_parameters(const std::vector<std::int64_t>& offsets,
                                             const std::vector<std::int64_t>& sizes, std::int64_t min_elements);

}  // namespace primus::model::cuda
