// spdlog setup for a run: a stderr sink at stderr_sink_level and a per-rank file
// <log_dir>/rank-<r>.log at file_sink_level (sink_level overrides both). Ranks
// other than the last print to stderr only at warning and above, because
// Megatron prints its progress lines on the last rank.
#pragma once

#include <filesystem>
#include <memory>
#include <spdlog/spdlog.h>
#include <string>

#include "primus/config/train_config.hpp"

namespace primus::log {

// Where this process logs: its rank, the world size, and the logs directory (<experiment>/logs; empty: no file).
struct LogPlacement {
  int rank = 0;
  int world_size = 1;
  std::filesystem::path log_dir;
};

// The spdlog level for a config level.
spdlog::level::level_enum to_spdlog_level(config::LogLevel level);

// The per-rank log file: <log_dir>/rank-<rank>.log.
std::filesystem::path rank_log_file(const std::filesystem::path& log_dir, int rank);

// A logger (not registered globally) with the stderr and per-rank file sinks; the file is appended to, never truncated.
std::shared_ptr<spdlog::logger> make_logger(const config::LoggingConfig& config, const LogPlacement& placement,
                                            const std::string& name = "primus");

}  // namespace primus::log
