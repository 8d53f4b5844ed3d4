// Logger sinks: per-rank file, levels per sink, sink_level override, quiet non-last ranks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "primus/log/logging.hpp"

#include <spdlog/sinks/sink.h>

namespace primus::log {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class Logging : public ::testing::Test {
 protected:
  void SetUp() override {
    log_dir_ = std::filesystem::temp_directory_path() / ("primus_logs_" + std::to_string(::getpid())) / "logs";
    std::filesystem::remove_all(log_dir_.parent_path());
  }
  void TearDown() override { std::filesystem::remove_all(log_dir_.parent_path()); }
  std::filesystem::path log_dir_;
};

TEST_F(Logging, PerRankFileAtFileLevelAndQuietStderrOnNonLastRank) {
  config::LoggingConfig config;
  config.stderr_sink_level = config::LogLevel::info;
  config.file_sink_level = config::LogLevel::debug;
  auto logger = make_logger(config, {0, 4, log_dir_});
  ASSERT_EQ(logger->sinks().size(), 2u);
  EXPECT_EQ(logger->sinks()[0]->level(), spdlog::level::warn);  // rank 0 of 4 is not the last rank
  EXPECT_EQ(logger->sinks()[1]->level(), spdlog::level::debug);
  logger->trace("trace line");
  logger->debug("debug line");
  logger->info("info line");
  logger->flush();
  const std::string text = read_file(log_dir_ / "rank-0.log");
  EXPECT_EQ(text.find("trace line"), std::string::npos);
  EXPECT_NE(text.find("debug line"), std::string::npos);
  EXPECT_NE(text.find("[rank-0/4][info] info line"), std::string::npos) << text;

  auto last = make_logger(config, {3, 4, log_dir_});
  EXPECT_EQ(last->sinks()[0]->level(), spdlog::level::info);
  EXPECT_TRUE(std::filesystem::exists(rank_log_file(log_dir_, 3)));
}

TEST_F(Logging, SinkLevelOverridesBothAndFilesAreAppended) {
  config::LoggingConfig config;
  config.sink_level = config::LogLevel::error;
  {
    auto logger = make_logger(config, {0, 1, log_dir_});
    EXPECT_EQ(logger->sinks()[0]->level(), spdlog::level::err);
    EXPECT_EQ(logger->sinks()[1]->level(), spdlog::level::err);
    logger->warn("dropped warning");
    logger->error("first run error");
    logger->flush();
  }
  {
    auto logger = make_logger(config, {0, 1, log_dir_});
    logger->error("second run error");
    logger->flush();
  }
  const std::string text = read_file(log_dir_ / "rank-0.log");
  EXPECT_EQ(text.find("dropped warning"), std::string::npos);
  EXPECT_NE(text.find("first run error"), std::string::npos);
  EXPECT_NE(text.find("second run error"), std::string::npos);
}

TEST_F(Logging, NoFileWithoutLogDir) {
  config::LoggingConfig config;
  auto logger = make_logger(config, {0, 1, {}});
  EXPECT_EQ(logger->sinks().size(), 1u);
  EXPECT_EQ(to_spdlog_level(config::LogLevel::warning), spdlog::level::warn);
}

}  // namespace
}  // namespace primus::log
