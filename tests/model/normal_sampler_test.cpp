// The init's normal sampler (model/normal_sampler.hpp): its log, sin and cos, written as
// fixed sequences of correctly rounded operations so that a CUDA kernel gets the same bits,
// against the C library; its uniforms against a sequential splitmix64; its samples' moments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numbers>

#include "primus/model/normal_sampler.hpp"

namespace ns = primus::model::normal_sampler;

namespace {

std::uint64_t sequential_splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

TEST(NormalSampler, DirectStreamAccessMatchesTheSequentialGenerator) {
  std::uint64_t state = 0x1234567890abcdefULL;
  const std::uint64_t start = state;
  for (std::uint64_t k = 1; k <= 1000; ++k) EXPECT_EQ(ns::splitmix64_at(start, k), sequential_splitmix64(state)) << k;
}

TEST(NormalSampler, LogMatchesTheCLibrary) {
  double worst = 0.0;
  for (std::uint64_t k = 1; k <= 1'000'000; ++k) {
    const double u = ns::uniform_open(ns::splitmix64_at(42, k));
    const double x = k % 3 == 0 ? std::ldexp(u, -static_cast<int>(k % 50)) : u;  // small values too
    worst = std::max(worst, std::abs(ns::log(x) - std::log(x)) / std::abs(std::log(x)));
  }
  for (const double x : {0.5, 0.9999999999999999, 1e-16, 0.7071067811865476, 0.7071067811865475})
    worst = std::max(worst, std::abs(ns::log(x) - std::log(x)) / std::abs(std::log(x)));
  EXPECT_LT(worst, 1e-15);
}

TEST(NormalSampler, SinAndCosOfTwoPiUMatchTheCLibrary) {
  double worst = 0.0;
  auto check = [&](double u) {
    const ns::SinCos sc = ns::sincos_two_pi(u);
    const double angle = 2.0 * std::numbers::pi * u;
    worst = std::max({worst, std::abs(sc.sin - std::sin(angle)), std::abs(sc.cos - std::cos(angle))});
  };
  for (std::uint64_t k = 1; k <= 1'000'000; ++k) check(ns::uniform_open(ns::splitmix64_at(7, k)));
  for (const double u : {0.0, 0.125, 0.25, 0.375, 0.5, 0.75, 0.9999999999999999}) check(u);
  EXPECT_LT(worst, 4e-15);  // the library's own 2*pi*u rounding is ~1e-16 of 2*pi
}

TEST(NormalSampler, SamplesHaveNormalMoments) {
  const int pairs = 500'000;
  double sum = 0.0, sum2 = 0.0, sum4 = 0.0;
  for (int p = 0; p < pairs; ++p) {
    const ns::Pair pair = ns::normal_pair(ns::chunk_state(99, p / 1000), p % 1000, 2.0);
    for (const double v : {double(pair.first) / 2.0, double(pair.second) / 2.0}) {
      sum += v;
      sum2 += v * v;
      sum4 += v * v * v * v;
    }
  }
  const double n = 2.0 * pairs, mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(var, 1.0, 0.01);
  EXPECT_NEAR(sum4 / n, 3.0, 0.05);  // kurtosis of a normal
}

}  // namespace
