#include "primus/log/progress.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <unistd.h>

namespace primus::log {

std::string format_progress(std::int64_t iteration, std::int64_t total_iterations, double loss,
                            double tokens_per_second, double seconds_per_iteration) {
  const double remaining = std::max<double>(0.0, static_cast<double>(total_iterations - iteration)) * seconds_per_iteration;
  std::string eta = "--:--:--";
  if (std::isfinite(remaining)) {
    const auto total_seconds = static_cast<std::int64_t>(std::llround(remaining));
    eta = fmt::format("{:02d}:{:02d}:{:02d}", total_seconds / 3600, total_seconds / 60 % 60, total_seconds % 60);
  }
  return fmt::format("iteration {}/{} | loss {:.4f} | {:.1f} tokens/s | ETA {}", iteration, total_iterations, loss,
                     tokens_per_second, eta);
}

ProgressDisplay::ProgressDisplay(std::int64_t total_iterations, std::FILE* stream, bool enabled)
    : total_iterations_(total_iterations), stream_(stream), enabled_(enabled && stream != nullptr) {}

ProgressDisplay ProgressDisplay::for_stderr(std::int64_t total_iterations) {
  return ProgressDisplay(total_iterations, stderr, ::isatty(STDERR_FILENO) == 1);
}

void ProgressDisplay::update(std::int64_t iteration, double loss, double tokens_per_second,
                             double seconds_per_iteration) {
  if (!enabled_) return;
  // \x1b[K clears what a longer previous line left behind.
  fmt::print(stream_, "\r{}\x1b[K", format_progress(iteration, total_iterations_, loss, tokens_per_second,
                                                    seconds_per_iteration));
  std::fflush(stream_);
  line_open_ = true;
}

void ProgressDisplay::finish() {
  if (!enabled_ || !line_open_) return;
  std::fputc('\n', stream_);
  std::fflush(stream_);
  line_open_ = false;
}

}  // namespace primus::log
