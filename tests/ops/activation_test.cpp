// SwiGLU (Megatron's [gate, up] order) and exact GELU: forward values and backward
// against finite differences; residual add.
#include <gtest/gtest.h>

#include <cmath>

#include "gradcheck.hpp"
#include "primus/ops/cpu/gelu.hpp"
#include "primus/ops/cpu/residual.hpp"
#include "primus/ops/cpu/swiglu.hpp"

namespace primus::testing {
namespace {

TEST(SwiGlu, GateIsTheFirstHalf) {
  // One row, ffn 2: in = [gate0, gate1, up0, up1]
  std::vector<float> in = {1.0f, -2.0f, 3.0f, 0.5f}, out(2);
  ops::cpu::swiglu_forward(out.data(), in.data(), 1, 2);
  auto silu = [](double x) { return x / (1.0 + std::exp(-x)); };
  EXPECT_NEAR(out[0], silu(1.0) * 3.0, 1e-6);
  EXPECT_NEAR(out[1], silu(-2.0) * 0.5, 1e-6);
}

TEST(SwiGlu, BackwardMatchesFiniteDifferences) {
  const std::int64_t rows = 4, ffn = 6;
  auto in = random_vector(rows * 2 * ffn, 1, 3.0f), dout = random_vector(rows * ffn, 2);
  std::vector<float> out(rows * ffn), din(in.size(), 1e3f);
  auto objective = [&] {
    ops::cpu::swiglu_forward(out.data(), in.data(), rows, ffn);
    return weighted_sum(out, dout);
  };
  ops::cpu::swiglu_backward(din.data(), dout.data(), in.data(), rows, ffn);
  auto report = gradcheck(objective, in, din, {.eps = 1e-3f});
  EXPECT_TRUE(report.passed) << report.describe();
}

TEST(Gelu, ExactErfValues) {
  // Published values of x * Phi(x).
  std::vector<float> in = {1.0f, -1.0f, 2.0f, 0.0f}, out(4);
  ops::cpu::gelu_forward(out.data(), in.data(), 4);
  EXPECT_NEAR(out[0], 0.8413447f, 1e-6);
  EXPECT_NEAR(out[1], -0.1586553f, 1e-6);
  EXPECT_NEAR(out[2], 1.9544997f, 1e-6);
  EXPECT_EQ(out[3], 0.0f);
}

TEST(Gelu, BackwardMatchesFiniteDifferences) {
  auto in = random_vector(40, 3, 3.0f), dout = random_vector(40, 4);
  std::vector<float> out(40), din(40, 1e3f);
  auto objective = [&] {
    ops::cpu::gelu_forward(out.data(), in.data(), 40);
    return weighted_sum(out, dout);
  };
  ops::cpu::gelu_backward(din.data(), dout.data(), in.data(), 40);
  auto report = gradcheck(objective, in, din, {.eps = 1e-3f});
  EXPECT_TRUE(report.passed) << report.describe();
}

TEST(Residual, ForwardAddsAndBackwardAccumulates) {
  std::vector<float> a = {1, 2, 3}, b = {10, 20, 30}, out(3);
  ops::cpu::residual_forward(out.data(), a.data(), b.data(), 3);
  EXPECT_EQ(out, (std::vector<float>{11, 22, 33}));
  std::vector<float> dresidual = {1, 1, 1}, dbranch = {0.5f, -1, 2};
  ops::cpu::residual_backward(dresidual.data(), dbranch.data(), 3);
  EXPECT_EQ(dresidual, (std::vector<float>{1.5f, 0, 3}));
}

}  // namespace
}  // namespace primus::testing
