// StepTimeline: where the time of one training step goes on the GPU when kernels of two
// streams overlap (the overlapped optimizer, the backward-overlapped grad norm), for
// diagnostics. Two kinds of record:
//  - marks: named timing events recorded on either stream (re-recording a name moves it);
//    the report gives each mark's time relative to one origin mark, sorted, and the step's
//    period (origin to the previous recording of the origin);
//  - spans: events recorded in order on one stream after each op; the report attributes the
//    time between consecutive spans to the later span's name and sums it by name over the
//    step (an in-place per-op breakdown, launch gaps included, of the whole step).
// Enabled by PRIMUS_CUDA_TIMELINE=1; otherwise the engine and model never create one. ncu
// serialises kernels and the GPU machine has no nsys, so this is how the schedule is seen.
#pragma once

#include <cuda_runtime.h>

#include <set>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace primus::model::cuda {

class StepTimeline {
 public:
  StepTimeline() = default;
  ~StepTimeline();
  StepTimeline(const StepTimeline&) = delete;
  StepTimeline& operator=(const StepTimeline&) = delete;

  // True when PRIMUS_CUDA_TIMELINE=1.
  static bool requested();

  void mark(const std::string& name, cudaStream_t stream);
  // The op that just ended on `stream` (always the same stream within a step).
  void span(const char* name, cudaStream_t stream);
  // To stderr, then forgets what it reported (waits for the device):
  //  "timeline: <ms> <name>" per mark recorded since the last report, relative to `origin`
  //  (which must have been recorded), and "timeline: period <ms>" from the origin's
  //  previous recording to its latest;
  //  "timeline op: <name> <ms> x<count>" per span name, most time first, and the spans' total.
  void report(const std::string& origin);

 private:
  std::map<std::string, cudaEvent_t> events_;
  std::set<std::string> fresh_;
  // The origin's previous recording (kept when the origin is re-recorded).
  std::string origin_;
  cudaEvent_t previous_origin_ = nullptr;
  bool previous_origin_recorded_ = false;
  // Spans of the current step in order; events are reused across steps.
  std::vector<std::pair<const char*, cudaEvent_t>> spans_;
  std::size_t span_count_ = 0;
};

}  // namespace primus::model::cuda
