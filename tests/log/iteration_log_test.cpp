// The iteration line against Megatron's format strings, and Primus's averaging window on synthetic timings.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "primus/log/iteration_log.hpp"

namespace primus::log {
namespace {

// 2026-11-26 14:30:00.123456 UTC.
std::chrono::system_clock::time_point fixed_time() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1795703400)) + std::chrono::microseconds(123456);
}

class UtcClock : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tz = std::getenv("TZ");
    saved_ = tz ? std::optional<std::string>(tz) : std::nullopt;
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
  void TearDown() override {
    if (saved_) ::setenv("TZ", saved_->c_str(), 1);
    else ::unsetenv("TZ");
    ::tzset();
  }
  std::optional<std::string> saved_;
};

using IterationLine = UtcClock;

TEST_F(IterationLine, MatchesMegatronWithPrimusAverages) {
  IterationLogLine line;
  line.iteration = 10;
  line.train_iters = 100;
  line.consumed_train_samples = 1280;
  line.elapsed_ms_per_iteration = 123.25;
  line.tflops_per_gpu = 1.25;
  line.tokens_per_second_per_gpu = 1234.5;
  line.averages = {120.0, 1.5, 1200.0};
  line.learning_rate = 1e-3;
  line.global_batch_size = 128;
  line.losses = {{"lm loss", 8.765432}};
  line.grad_norm = 1.5;
  const std::string expected =
      " [2026-11-26 14:30:00.123456] iteration       10/     100 | consumed samples:         1280 |"
      " elapsed time per iteration (ms): 123.2/120.0 | throughput per GPU (TFLOP/s/GPU): 1.2/1.5 |"
      " tokens per GPU (tokens/s/GPU): 1234.5/1200.0 | learning rate: 1.000000E-03 | global batch size:   128 |"
      " lm loss: 8.765432E+00 | loss scale: 1.0 | grad norm: 1.500 | number of skipped iterations:   0 |"
      " number of nan iterations:   0 |";
  EXPECT_EQ(format_iteration_line(line, fixed_time()), expected);
}

TEST_F(IterationLine, OptionalFieldsAndMemory) {
  IterationLogLine line;
  line.iteration = 3;
  line.train_iters = 5;
  line.consumed_train_samples = 12;
  line.skipped_train_samples = 4;
  line.elapsed_ms_per_iteration = 50.0;
  line.log_throughput = false;
  line.global_batch_size = 4;
  line.losses = {{"lm loss", 2.0}, {"mtp loss", -1.0}};
  line.skipped_iterations = 1;
  line.nan_iterations = 2;
  line.memory = MemoryUsage{"cuda", 1ull << 30, 3ull << 30, 4ull << 30};
  const std::string expected =
      " [2026-11-26 14:30:00.123456] iteration        3/       5 | consumed samples:           12 |"
      " skipped samples:            4 | elapsed time per iteration (ms): 50.0 | global batch size:     4 |"
      " lm loss: 2.000000E+00 | loss scale: 1.0 | number of skipped iterations:   1 |"
      " number of nan iterations:   2 | cuda mem usage/free/total/usage_ratio: 1.00GiB/3.00GiB/4.00GiB/25.00% |";
  EXPECT_EQ(format_iteration_line(line, fixed_time()), expected);
}

TEST(ThroughputAverager, SkipsFirstIterationsThenTumbles) {
  ThroughputAverager averager(/*log_avg_skip_iterations=*/2, /*log_avg_reset_interval=*/3);
  // Iterations 1-2 are warm-up: nothing averaged.
  auto a = averager.record(1, 1000.0, 1.0, 10.0);
  EXPECT_FALSE(a.elapsed_ms);
  EXPECT_FALSE(a.tokens_per_second_per_gpu);
  a = averager.record(2, 900.0, 2.0, 20.0);
  EXPECT_FALSE(a.tflops_per_gpu);
  // Window: 3, 4, 5.
  a = averager.record(3, 100.0, 10.0, 100.0);
  EXPECT_DOUBLE_EQ(*a.elapsed_ms, 100.0);
  a = averager.record(4, 200.0, 20.0, 200.0);
  EXPECT_DOUBLE_EQ(*a.elapsed_ms, 150.0);
  EXPECT_DOUBLE_EQ(*a.tflops_per_gpu, 15.0);
  EXPECT_DOUBLE_EQ(*a.tokens_per_second_per_gpu, 2.0 / (1.0 / 100 + 1.0 / 200));  // 133.33
  a = averager.record(5, 600.0, 60.0, 400.0);
  EXPECT_DOUBLE_EQ(*a.elapsed_ms, 300.0);
  EXPECT_DOUBLE_EQ(*a.tflops_per_gpu, 30.0);
  EXPECT_DOUBLE_EQ(*a.tokens_per_second_per_gpu, 3.0 / (1.0 / 100 + 1.0 / 200 + 1.0 / 400));
  // Window full (3 entries): iteration 6 starts a new one.
  a = averager.record(6, 50.0, 5.0, 0.0);
  EXPECT_DOUBLE_EQ(*a.elapsed_ms, 50.0);
  EXPECT_DOUBLE_EQ(*a.tokens_per_second_per_gpu, 0.0);  // no positive rate yet
  a = averager.record(7, 150.0, 15.0, 50.0);
  EXPECT_DOUBLE_EQ(*a.elapsed_ms, 100.0);
  EXPECT_DOUBLE_EQ(*a.tokens_per_second_per_gpu, 50.0);  // the zero rate is left out
}

TEST(ThroughputAverager, RateHelpers) {
  // 1e15 FLOPs in 0.5 s on 8 GPUs: 250 TFLOP/s/GPU. 8192 * 16 tokens in 0.5 s on 8 GPUs: 32768 tokens/s/GPU.
  EXPECT_DOUBLE_EQ(tflops_per_gpu(1e15, 0.5, 8), 250.0);
  EXPECT_DOUBLE_EQ(tokens_per_second_per_gpu(8192, 16, 0.5, 8), 32768.0);
}

}  // namespace
}  // namespace primus::log
