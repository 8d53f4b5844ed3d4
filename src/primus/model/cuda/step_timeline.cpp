// StepTimeline: named timing events and the sorted report.
#include "primus/model/cuda/step_timeline.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <utility>
#include <vector>

#include "primus/ops/cuda/cuda_check.hpp"

namespace primus::model::cuda {

StepTimeline::~StepTimeline() {
  for (auto& [name, event] : events_) cudaEventDestroy(event);
}

bool StepTimeline::requested() {
  const char* flag = std::getenv("PRIMUS_CUDA_TIMELINE");
  return flag != nullptr && flag[0] == '1';
}

void StepTimeline::mark(const std::string& name, cudaStream_t stream) {
  auto [it, inserted] = events_.try_emplace(name, nullptr);
  if (inserted) PRIMUS_CUDA_CHECK(cudaEventCreate(&it->second));
  PRIMUS_CUDA_CHECK(cudaEventRecord(it->second, stream));
  fresh_[name] = true;
}

void StepTimeline::report(const std::string& origin) {
  const auto found = events_.find(origin);
  if (found == events_.end())
    throw std::logic_error("StepTimeline: origin mark '" + origin + "' was never recorded");
  PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<std::pair<float, std::string>> times;
  for (const auto& [name, event] : events_) {
    if (!fresh_[name]) continue;
    float ms = 0.0f;
    PRIMUS_CUDA_CHECK(cudaEventElapsedTime(&ms, found->second, event));
    times.emplace_back(ms, name);
  }
  std::sort(times.begin(), times.end());
  for (const auto& [ms, name] : times) std::fprintf(stderr, "timeline: %9.3f ms  %s\n", ms, name.c_str());
  for (auto& [name, fresh] : fresh_) fresh = false;
}

}  // namespace primus::model::cuda
