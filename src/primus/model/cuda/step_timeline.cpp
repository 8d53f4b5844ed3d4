// StepTimeline: named timing events, ordered op spans, and the report.
#include "primus/model/cuda/step_timeline.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <utility>
#include <vector>

#include "primus/config/environment.hpp"
#include "primus/ops/cuda/cuda_check.hpp"

namespace primus::model::cuda {

StepTimeline::~StepTimeline() {
  for (auto& [name, event] : events_) cudaEventDestroy(event);
  for (auto& [name, event] : spans_) cudaEventDestroy(event);
  if (previous_origin_ != nullptr) cudaEventDestroy(previous_origin_);
}

bool StepTimeline::requested() { return config::integer_from_environment("PRIMUS_CUDA_TIMELINE", 0, 0, 1) == 1; }

void StepTimeline::mark(const std::string& name, cudaStream_t stream) {
  auto [it, inserted] = events_.try_emplace(name, nullptr);
  if (inserted) {
    PRIMUS_CUDA_CHECK(cudaEventCreate(&it->second));
  } else if (name == origin_) {
    // Keep the origin's last recording for the period: swap it out, re-record the spare.
    if (previous_origin_ == nullptr) PRIMUS_CUDA_CHECK(cudaEventCreate(&previous_origin_));
    std::swap(previous_origin_, it->second);
    previous_origin_recorded_ = true;
  }
  PRIMUS_CUDA_CHECK(cudaEventRecord(it->second, stream));
  fresh_.insert(name);
}

void StepTimeline::span(const char* name, cudaStream_t stream) {
  if (span_count_ == spans_.size()) {
    cudaEvent_t event = nullptr;
    PRIMUS_CUDA_CHECK(cudaEventCreate(&event));
    spans_.emplace_back(name, event);
  }
  spans_[span_count_].first = name;
  PRIMUS_CUDA_CHECK(cudaEventRecord(spans_[span_count_].second, stream));
  ++span_count_;
}

void StepTimeline::report(const std::string& origin) {
  const auto found = events_.find(origin);
  if (found == events_.end())
    throw std::logic_error("StepTimeline: origin mark '" + origin + "' was never recorded");
  PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<std::pair<float, std::string>> times;
  for (const auto& name : fresh_) {
    float ms = 0.0f;
    PRIMUS_CUDA_CHECK(cudaEventElapsedTime(&ms, found->second, events_.at(name)));
    times.emplace_back(ms, name);
  }
  std::sort(times.begin(), times.end());
  for (const auto& [ms, name] : times) std::fprintf(stderr, "timeline: %9.3f ms  %s\n", ms, name.c_str());
  if (origin_ == origin && previous_origin_recorded_) {
    float period = 0.0f;
    PRIMUS_CUDA_CHECK(cudaEventElapsedTime(&period, previous_origin_, found->second));
    std::fprintf(stderr, "timeline: period %9.3f ms  (%s to %s)\n", period, origin.c_str(), origin.c_str());
  }
  origin_ = origin;
  fresh_.clear();
  // Spans: the time since the previous span, summed by name.
  std::map<std::string, std::pair<double, int>> by_name;
  for (std::size_t i = 1; i < span_count_; ++i) {
    float ms = 0.0f;
    PRIMUS_CUDA_CHECK(cudaEventElapsedTime(&ms, spans_[i - 1].second, spans_[i].second));
    auto& [total, count] = by_name[spans_[i].first];
    total += ms;
    ++count;
  }
  if (span_count_ > 1) {
    std::vector<std::pair<double, std::string>> ops;
    double sum = 0.0;
    for (const auto& [name, entry] : by_name) {
      ops.emplace_back(entry.first, name);
      sum += entry.first;
    }
    std::sort(ops.rbegin(), ops.rend());
    for (const auto& [ms, name] : ops)
      std::fprintf(stderr, "timeline op: %-28s %9.3f ms  x%d\n", name.c_str(), ms, by_name[name].second);
    std::fprintf(stderr, "timeline op: %-28s %9.3f ms  (%s to %s)\n", "total", sum, spans_.front().first,
                 spans_[span_count_ - 1].first);
  }
  // The step's last span starts the next step's list (the time up to its next span is the next step's).
  if (span_count_ > 0) {
    std::swap(spans_.front(), spans_[span_count_ - 1]);
    span_count_ = 1;
  }
}

}  // namespace primus::model::cuda
