// `primus benchmark` on the tiny model and the cpu backend, run as a user would: the
// throughput line (per-step median, mean, min and max), the launch-phase line (whose phases add
// up to the launch time it reports), and a last line of JSON with the figures and each step's
// time and wall-clock end.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <regex>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

TEST(BenchmarkCommand, PrintsThroughputLaunchPhasesAndJson) {
  const std::string cmd = std::string("PRIMUS_WORKSPACE=/tmp/primus_benchmark_test ") + PRIMUS_BINARY +
                          " benchmark --config " + PRIMUS_SOURCE_DIR +
                          "/examples/megatron/configs/tiny_llama-pretrain.yaml --backend cpu --iters 3 --warmup 1 "
                          "--train_iters 4 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 512> buf{};
  while (fgets(buf.data(), buf.size(), pipe)) out += buf.data();
  ASSERT_EQ(pclose(pipe), 0) << out;
  EXPECT_NE(out.find("benchmark: backend cpu"), std::string::npos) << out;
  EXPECT_NE(out.find("tokens/s"), std::string::npos) << out;
  std::smatch first, phases;
  ASSERT_TRUE(std::regex_search(out, first, std::regex(R"(first iteration done ([0-9.]+) s after launch)"))) << out;
  ASSERT_TRUE(std::regex_search(out, phases,
                                std::regex(R"(launch phases: process start to main ([0-9.]+) s, config ([0-9.]+) s, )"
                                           R"(engine \(device buffers, libraries\) ([0-9.]+) s, parameter init and )"
                                           R"(upload ([0-9.]+) s, first step ([0-9.]+) s)")))
      << out;
  double sum = 0.0;
  for (int i = 1; i <= 5; ++i) sum += std::stod(phases[i]);
  EXPECT_NEAR(sum, std::stod(first[1]), 0.05) << out;  // printed with two decimals each
  EXPECT_GT(std::stod(phases[5]), 0.0) << "a first step takes time: " << out;
  // Per-step times: the headline is their median, between the fastest and the slowest step, as is the mean.
  std::smatch step;
  ASSERT_TRUE(std::regex_search(
      out, step,
      std::regex(R"(3 iterations, ([0-9.]+) ms/iteration \(median; mean ([0-9.]+), min ([0-9.]+), max ([0-9.]+)\))")))
      << out;
  const double median = std::stod(step[1]), mean = std::stod(step[2]), fastest = std::stod(step[3]),
               slowest = std::stod(step[4]);
  EXPECT_LE(fastest, median) << out;
  EXPECT_LE(median, slowest) << out;
  EXPECT_LE(fastest, mean) << out;
  EXPECT_LE(mean, slowest) << out;
  // The last line is one JSON object with the figures.
  std::istringstream lines(out);
  std::string line, last;
  while (std::getline(lines, line))
    if (!line.empty()) last = line;
  const auto json = nlohmann::json::parse(last);
  EXPECT_EQ(json.at("backend"), "cpu");
  EXPECT_NEAR(json.at("ms_per_iter").get<double>(), median, 0.006) << "the JSON carries the printed median";
  EXPECT_NEAR(json.at("ms_per_iter_mean").get<double>(), mean, 0.006);
  ASSERT_EQ(json.at("step_ms").size(), 3u) << "one time per measured step";
  for (const auto& ms : json.at("step_ms")) {
    EXPECT_GE(ms.get<double>(), fastest - 0.01);
    EXPECT_LE(ms.get<double>(), slowest + 0.01);
  }
  // Each step's wall-clock end (to line steps up with a clock or power trace): in order, spaced
  // by the step times (the two clocks are read microseconds apart), and just before now.
  const auto& ends = json.at("step_end_unix_s");
  ASSERT_EQ(ends.size(), 3u) << "one end per measured step";
  for (std::size_t i = 1; i < ends.size(); ++i)
    EXPECT_NEAR(1e3 * (ends[i].get<double>() - ends[i - 1].get<double>()), json.at("step_ms")[i].get<double>(), 5.0)
        << "step " << i << ": the gap between its end and the previous end is its time";
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GT(ends.back().get<double>(), now - 60.0) << "the ends are Unix seconds of this run";
  EXPECT_LE(ends.back().get<double>(), now);
  EXPECT_GT(json.at("tokens_per_s").get<double>(), 0.0);
}
