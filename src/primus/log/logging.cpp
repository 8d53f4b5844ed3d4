#include "primus/log/logging.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <vector>

namespace primus::log {

spdlog::level::level_enum to_spdlog_level(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::trace: return spdlog::level::trace;
    case config::LogLevel::debug: return spdlog::level::debug;
    case config::LogLevel::info: return spdlog::level::info;
    case config::LogLevel::warning: return spdlog::level::warn;
    case config::LogLevel::error: return spdlog::level::err;
    case config::LogLevel::critical: return spdlog::level::critical;
    case config::LogLevel::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::filesystem::path rank_log_file(const std::filesystem::path& log_dir, int rank) {
  return log_dir / fmt::format("rank-{}.log", rank);
}

std::shared_ptr<spdlog::logger> make_logger(const config::LoggingConfig& config, const LogPlacement& placement,
                                            const std::string& name) {
  auto stderr_level = to_spdlog_level(config.sink_level.value_or(config.stderr_sink_level));
  const auto file_level = to_spdlog_level(config.sink_level.value_or(config.file_sink_level));
  if (placement.rank != placement.world_size - 1) stderr_level = std::max(stderr_level, spdlog::level::warn);

  // Primus's line prefix: [date time][rank-r/world][level] message.
  const std::string pattern = fmt::format("[%Y%m%d %H:%M:%S][rank-{}/{}][%l] %v", placement.rank, placement.world_size);
  std::vector<spdlog::sink_ptr> sinks;
  auto stderr_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  stderr_sink->set_level(stderr_level);
  stderr_sink->set_pattern(pattern);
  sinks.push_back(stderr_sink);
  auto logger_level = stderr_level;
  if (!placement.log_dir.empty()) {
    std::filesystem::create_directories(placement.log_dir);
    auto file_sink =
        std::make_shared<spdlog::sinks::basic_file_sink_mt>(rank_log_file(placement.log_dir, placement.rank).string(),
                                                            /*truncate=*/false);
    file_sink->set_level(file_level);
    file_sink->set_pattern(pattern);
    sinks.push_back(file_sink);
    logger_level = std::min(logger_level, file_level);
  }
  auto logger = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
  logger->set_level(logger_level);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace primus::log
