// StepTimeline: where the time of one training step goes on the GPU when kernels of two
// streams overlap (the overlapped optimizer), for diagnostics: named timing events recorded
// on either stream (re-recording a name moves it) and a report of each mark's time relative
// to one origin mark, sorted. Enabled by PRIMUS_CUDA_TIMELINE=1; otherwise the engine and
// model never create one. ncu serialises kernels and the GPU machine has no nsys, so this is
// how the overlap's schedule is seen.
#pragma once

#include <cuda_runtime.h>

#include <map>
#include <string>

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
  // "timeline: <ms> <name>" lines, one per mark recorded since the last report, relative to
  // `origin` (which must have been recorded), to stderr; waits for the device.
  void report(const std::string& origin);

 private:
  std::map<std::string, cudaEvent_t> events_;
  std::map<std::string, bool> fresh_;
};

}  // namespace primus::model::cuda
