// Terminal progress display: when stderr is a TTY, one line rewritten in place
// (\r) with iteration/total, loss, tokens/s and ETA; otherwise silent.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace primus::log {

// The progress text for one update (no carriage return), e.g. "iteration 10/100 | loss 8.7654 | 1234.5 tokens/s | ETA 00:01:30".
std::string format_progress(std::int64_t iteration, std::int64_t total_iterations, double loss,
                            double tokens_per_second, double seconds_per_iteration);

class ProgressDisplay {
 public:
  // Writes to `stream` only when `enabled`; use for_stderr() in the trainer.
  ProgressDisplay(std::int64_t total_iterations, std::FILE* stream, bool enabled);
  // A display on stderr, enabled when stderr is a TTY.
  static ProgressDisplay for_stderr(std::int64_t total_iterations);

  // Rewrites the line (carriage return, text, erase to end of line) and flushes.
  void update(std::int64_t iteration, double loss, double tokens_per_second, double seconds_per_iteration);
  // Ends the line with a newline so later output starts clean (once, and only after an update).
  void finish();
  // Whether anything is drawn.
  bool enabled() const { return enabled_; }

 private:
  std::int64_t total_iterations_;
  std::FILE* stream_;
  bool enabled_;
  bool line_open_ = false;
};

}  // namespace primus::log
