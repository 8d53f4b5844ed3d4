// GemmRunner against a CPU reference (double accumulation over the bf16 inputs):
// forward with and without bias, the forward with the residual as cuBLASLt's C, d_input,
// fp32 main-grad accumulation of dW and dbias.
#include <gtest/gtest.h>

#include <ostream>

#include <cmath>
#include <cstring>
#include <iostream>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_test_support.hpp"
#include "primus/ops/cuda/gemm.hpp"

namespace primus::ops::cuda {
namespace {

using testing::DeviceBuffer;
using testing::random_bf16;
using testing::relative_error;

constexpr double kTolerance = 1e-2;

struct LinearShape {
  int64_t rows, in_features, out_features;
};

// Readable test labels in ctest (instead of the struct's bytes).
void PrintTo(const LinearShape& s, std::ostream* os) {
  *os << s.rows << "x" << s.in_features << "->" << s.out_features;
}

class GemmTest : public ::testing::TestWithParam<LinearShape> {};

TEST_P(GemmTest, MatchesCpuReference) {
  PRIMUS_SKIP_WITHOUT_GPU();
  const auto [rows, in, out] = GetParam();
  std::mt19937_64 generator(std::random_device{}());
  const auto input = random_bf16(static_cast<std::size_t>(rows * in), generator);
  const auto weight = random_bf16(static_cast<std::size_t>(out * in), generator);
  const auto bias = random_bf16(static_cast<std::size_t>(out), generator);
  const auto d_output = random_bf16(static_cast<std::size_t>(rows * out), generator);
  std::vector<float> main_grad_start(static_cast<std::size_t>(out * in));
  std::vector<float> bias_grad_start(static_cast<std::size_t>(out));
  std::normal_distribution<float> normal;
  for (float& value : main_grad_start) value = normal(generator);
  for (float& value : bias_grad_start) value = normal(generator);

  // References in double over the bf16-exact inputs.
  std::vector<double> ref_out(static_cast<std::size_t>(rows * out)), ref_out_bias(ref_out.size());
  std::vector<double> ref_d_input(static_cast<std::size_t>(rows * in), 0.0);
  std::vector<double> ref_main_grad(main_grad_start.begin(), main_grad_start.end());
  std::vector<double> ref_bias_grad(bias_grad_start.begin(), bias_grad_start.end());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double sum = 0.0;
      for (int64_t i = 0; i < in; ++i) sum += input.exact[r * in + i] * weight.exact[o * in + i];
      ref_out[r * out + o] = sum;
      ref_out_bias[r * out + o] = sum + bias.exact[o];
      const double g = d_output.exact[r * out + o];
      for (int64_t i = 0; i < in; ++i) {
        ref_d_input[r * in + i] += g * weight.exact[o * in + i];
        ref_main_grad[o * in + i] += g * input.exact[r * in + i];
      }
      ref_bias_grad[o] += g;
    }

  cudaStream_t stream = nullptr;
  PRIMUS_CUDA_CHECK(cudaStreamCreate(&stream));
  {
    GemmRunner runner(stream);
    DeviceBuffer<bf16> d_in_buf(input.values.size()), w_buf(weight.values.size()), b_buf(bias.values.size()),
        dy_buf(d_output.values.size()), y_buf(ref_out.size()), dx_buf(ref_d_input.size());
    DeviceBuffer<float> grad_buf(main_grad_start.size()), bias_grad_buf(bias_grad_start.size());
    d_in_buf.upload(input.values);
    w_buf.upload(weight.values);
    b_buf.upload(bias.values);
    dy_buf.upload(d_output.values);

    y_buf.poison();
    runner.linear_forward(d_in_buf.get(), w_buf.get(), nullptr, y_buf.get(), rows, in, out);
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
    const double forward_error = relative_error(y_buf.download(), ref_out);
    EXPECT_LT(forward_error, kTolerance) << "forward";
    std::cout << "[ rel err  ] forward " << forward_error << "\n";

    y_buf.poison();
    runner.linear_forward(d_in_buf.get(), w_buf.get(), b_buf.get(), y_buf.get(), rows, in, out);
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
    EXPECT_LT(relative_error(y_buf.download(), ref_out_bias), kTolerance) << "forward with bias";

    dx_buf.poison();
    runner.linear_backward_input(dy_buf.get(), w_buf.get(), dx_buf.get(), rows, in, out);
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
    EXPECT_LT(relative_error(dx_buf.download(), ref_d_input), kTolerance) << "d_input";

    grad_buf.upload(main_grad_start);
    runner.linear_backward_weight(dy_buf.get(), d_in_buf.get(), grad_buf.get(), rows, in, out, true);
    bias_grad_buf.upload(bias_grad_start);
    runner.linear_backward_bias(dy_buf.get(), bias_grad_buf.get(), rows, out, true);
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
    // fp32 output: the only rounding left is fp32 accumulation, so hold it far tighter.
    EXPECT_LT(relative_error(grad_buf.download(), ref_main_grad), 1e-4) << "main_grad += d_outputᵀ·input";
    EXPECT_LT(relative_error(bias_grad_buf.download(), ref_bias_grad), 1e-4) << "bias grad accumulate";

    // accumulate=false overwrites: poisoned starting values must vanish.
    grad_buf.poison();
    runner.linear_backward_weight(dy_buf.get(), d_in_buf.get(), grad_buf.get(), rows, in, out, false);
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
    std::vector<double> ref_fresh(ref_main_grad.size());
    for (std::size_t i = 0; i < ref_fresh.size(); ++i) ref_fresh[i] = ref_main_grad[i] - main_grad_start[i];
    EXPECT_LT(relative_error(grad_buf.download(), ref_fresh), 1e-4) << "main_grad = d_outputᵀ·input";

    // The same calls again reuse cached plans.
    const std::size_t plans = runner.cached_plan_count();
    runner.linear_forward(d_in_buf.get(), w_buf.get(), b_buf.get(), y_buf.get(), rows, in, out);
    runner.linear_backward_input(dy_buf.get(), w_buf.get(), dx_buf.get(), rows, in, out);
    PRIMUS_CUDA_CHECK(cudaStreamSynchronize(stream));
    EXPECT_EQ(runner.cached_plan_count(), plans);
  }
  PRIMUS_CUDA_CHECK(cudaStreamDestroy(stream));
}

INSTANTIATE_TEST_SUITE_P(Shapes, GemmTest,
                         ::testing::Values(LinearShape{128, 256, 192}, LinearShape{33, 72, 40},
                                           LinearShape{256, 512, 1024}),
                         [](const ::testing::TestParamInfo<LinearShape>& info) {
                           return "rows" + std::to_string(info.param.rows) + "_in" +
                                  std::to_string(info.param.in_features) + "_out" +
                                  std::to_string(info.param.out_features);
                         });

// output = input·Wᵀ (+ bias) + residual with C (the residual) and D (the output) as separate buffers.
class GemmResidualTest : public ::testing::TestWithParam<LinearShape> {};

// Bytes equal: C is only read.
bool same_bits(const std::vector<bf16>& a, const std::vector<bf16>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(bf16)) == 0;
}

TEST_P(GemmResidualTest, MatchesCpuReference) {
  PRIMUS_SKIP_WITHOUT_GPU();
  const auto [rows, in, out] = GetParam();
  std::mt19937_64 generator(std::random_device{}());
  // Residual and bias as large as the product (its stddev is sqrt(in)): dropping either fails by far.
  const double scale = std::sqrt(static_cast<double>(in));
  const auto input = random_bf16(static_cast<std::size_t>(rows * in), generator);
  const auto weight = random_bf16(static_cast<std::size_t>(out * in), generator);
  const auto bias = random_bf16(static_cast<std::size_t>(out), generator, scale);
  const auto residual = random_bf16(static_cast<std::size_t>(rows * out), generator, scale);
  std::vector<double> ref(static_cast<std::size_t>(rows * out)), ref_bias(ref.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double sum = residual.exact[r * out + o];
      for (int64_t i = 0; i < in; ++i) sum += input.exact[r * in + i] * weight.exact[o * in + i];
      ref[r * out + o] = sum;
      ref_bias[r * out + o] = sum + bias.exact[o];
    }

  GemmRunner runner(nullptr);
  DeviceBuffer<bf16> x(input.values.size()), w(weight.values.size()), b(bias.values.size()),
      c(residual.values.size()), y(ref.size());
  x.upload(input.values);
  w.upload(weight.values);
  b.upload(bias.values);
  c.upload(residual.values);

  // Poisoned D: an element the GEMM does not write stays NaN and fails relative_error.
  y.poison();
  runner.linear_forward_residual(x.get(), w.get(), nullptr, c.get(), y.get(), rows, in, out);
  PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
  const double error = relative_error(y.download(), ref);
  EXPECT_LT(error, kTolerance) << "input·Wᵀ + residual";
  std::cout << "[ rel err  ] forward + residual " << error << "\n";
  EXPECT_TRUE(same_bits(c.download(), residual.values)) << "the residual (C) must not be written";

  y.poison();
  runner.linear_forward_residual(x.get(), w.get(), b.get(), c.get(), y.get(), rows, in, out);
  PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
  EXPECT_LT(relative_error(y.download(), ref_bias), kTolerance) << "input·Wᵀ + bias + residual";
  EXPECT_TRUE(same_bits(c.download(), residual.values)) << "the residual (C) must not be written (bias)";

  // In place: residual == output (C == D), the residual stream updated where it lies.
  for (const bool with_bias : {false, true}) {
    DeviceBuffer<bf16> stream_buffer(residual.values.size());
    stream_buffer.upload(residual.values);
    runner.linear_forward_residual(x.get(), w.get(), with_bias ? b.get() : nullptr, stream_buffer.get(),
                                   stream_buffer.get(), rows, in, out);
    PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
    EXPECT_LT(relative_error(stream_buffer.download(), with_bias ? ref_bias : ref), kTolerance)
        << "in place, bias " << with_bias;
  }

  // The plain forward at the same shape and pointers must not reuse the residual plan (nor the reverse).
  const std::size_t plans = runner.cached_plan_count();
  y.poison();
  runner.linear_forward(x.get(), w.get(), nullptr, y.get(), rows, in, out);
  PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
  EXPECT_EQ(runner.cached_plan_count(), plans + 1) << "plain forward: a plan of its own";
  std::vector<double> ref_plain(ref.size());
  for (std::size_t i = 0; i < ref.size(); ++i) ref_plain[i] = ref[i] - residual.exact[i];
  EXPECT_LT(relative_error(y.download(), ref_plain), kTolerance) << "plain forward after the residual form";
}

INSTANTIATE_TEST_SUITE_P(Shapes, GemmResidualTest,
                         ::testing::Values(LinearShape{128, 256, 192}, LinearShape{33, 72, 40},
                                           LinearShape{5, 19, 23}, LinearShape{256, 512, 1024}),
                         [](const ::testing::TestParamInfo<LinearShape>& info) {
                           return "rows" + std::to_string(info.param.rows) + "_in" +
                                  std::to_string(info.param.in_features) + "_out" +
                                  std::to_string(info.param.out_features);
                         });

// C's alignment is part of the plan key: a residual 16 bytes into its allocation after one at
// 256 bytes (same shape, same D) gets a plan that does not assume 256; with an SM target too.
TEST(GemmRunner, ResidualForwardOnSixteenByteAlignedResidualAndSmTarget) {
  PRIMUS_SKIP_WITHOUT_GPU();
  const int64_t rows = 64, in = 128, out = 96, offset = 8;  // 8 bf16 = 16 bytes
  std::mt19937_64 generator(std::random_device{}());
  const double scale = std::sqrt(static_cast<double>(in));
  const auto input = random_bf16(static_cast<std::size_t>(rows * in), generator);
  const auto weight = random_bf16(static_cast<std::size_t>(out * in), generator);
  const auto residual = random_bf16(static_cast<std::size_t>(rows * out + offset), generator, scale);
  auto reference = [&](int64_t residual_offset) {
    std::vector<double> ref(static_cast<std::size_t>(rows * out));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o) {
        double sum = residual.exact[residual_offset + r * out + o];
        for (int64_t i = 0; i < in; ++i) sum += input.exact[r * in + i] * weight.exact[o * in + i];
        ref[r * out + o] = sum;
      }
    return ref;
  };
  GemmRunner runner(nullptr);
  DeviceBuffer<bf16> x(input.values.size()), w(weight.values.size()), c(residual.values.size()),
      y(static_cast<std::size_t>(rows * out));
  x.upload(input.values);
  w.upload(weight.values);
  c.upload(residual.values);
  y.poison();
  runner.linear_forward_residual(x.get(), w.get(), nullptr, c.get(), y.get(), rows, in, out);
  PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
  EXPECT_LT(relative_error(y.download(), reference(0)), kTolerance) << "256-byte aligned residual";
  const std::size_t plans = runner.cached_plan_count();

  y.poison();
  runner.linear_forward_residual(x.get(), w.get(), nullptr, c.get() + offset, y.get(), rows, in, out);
  PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
  EXPECT_LT(relative_error(y.download(), reference(offset)), kTolerance) << "16-byte aligned residual";
  EXPECT_EQ(runner.cached_plan_count(), plans + 1) << "C's alignment selects the plan";

  int sms = 0, device = 0;
  PRIMUS_CUDA_CHECK(cudaGetDevice(&device));
  PRIMUS_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  runner.set_sm_count_target(sms > 16 ? sms - 16 : sms);
  y.poison();
  runner.linear_forward_residual(x.get(), w.get(), nullptr, c.get() + offset, y.get(), rows, in, out);
  PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
  runner.set_sm_count_target(0);
  EXPECT_LT(relative_error(y.download(), reference(offset)), kTolerance) << "with an SM count target";
  EXPECT_EQ(runner.cached_plan_count(), plans + 2) << "the SM target selects the plan";
}

// Sub-views of larger buffers start 16 bytes past an allocation: the plan must not assume 256.
TEST(GemmRunner, ForwardOnSixteenByteAlignedViews) {
  PRIMUS_SKIP_WITHOUT_GPU();
  const int64_t rows = 64, in = 128, out = 96, offset = 8;  // 8 bf16 = 16 bytes
  std::mt19937_64 generator(std::random_device{}());
  const auto input = random_bf16(static_cast<std::size_t>(rows * in + offset), generator);
  const auto weight = random_bf16(static_cast<std::size_t>(out * in + offset), generator);
  std::vector<double> ref_out(static_cast<std::size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double sum = 0.0;
      for (int64_t i = 0; i < in; ++i) sum += input.exact[offset + r * in + i] * weight.exact[offset + o * in + i];
      ref_out[r * out + o] = sum;
    }
  GemmRunner runner(nullptr);
  DeviceBuffer<bf16> x(input.values.size()), w(weight.values.size()), y(ref_out.size() + offset);
  x.upload(input.values);
  w.upload(weight.values);
  y.poison();
  runner.linear_forward(x.get() + offset, w.get() + offset, nullptr, y.get() + offset, rows, in, out);
  PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
  const auto all = y.download();
  const std::vector<bf16> result(all.begin() + offset, all.end());
  EXPECT_LT(relative_error(result, ref_out), kTolerance);
}

// Every proposal the heuristic makes computes the same product: a later proposal (its own
// plan, beside the first's) matches the reference; one past the last throws out_of_range.
TEST(GemmRunner, EveryHeuristicProposalMatchesTheReference) {
  PRIMUS_SKIP_WITHOUT_GPU();
  const int64_t rows = 256, in = 512, out = 384;
  std::mt19937_64 generator(std::random_device{}());
  const auto input = random_bf16(static_cast<std::size_t>(rows * in), generator);
  const auto weight = random_bf16(static_cast<std::size_t>(out * in), generator);
  std::vector<double> ref_out(static_cast<std::size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double sum = 0.0;
      for (int64_t i = 0; i < in; ++i) sum += input.exact[r * in + i] * weight.exact[o * in + i];
      ref_out[r * out + o] = sum;
    }
  GemmRunner runner(nullptr);
  DeviceBuffer<bf16> x(input.values.size()), w(weight.values.size()), y(ref_out.size());
  x.upload(input.values);
  w.upload(weight.values);
  int proposals = 0;
  std::set<std::string> algorithms;
  for (int index = 0; index < 64; ++index) {
    runner.set_algorithm_index(index);
    y.poison();
    try {
      runner.linear_forward(x.get(), w.get(), nullptr, y.get(), rows, in, out);
    } catch (const std::out_of_range&) {
      break;
    }
    PRIMUS_CUDA_CHECK(cudaDeviceSynchronize());
    EXPECT_LT(relative_error(y.download(), ref_out), kTolerance) << "proposal " << index;
    const std::string algorithm = runner.last_algorithm_description();
    EXPECT_NE(algorithm.find("tile="), std::string::npos) << algorithm;
    algorithms.insert(algorithm);
    ++proposals;
  }
  // The index selects: the proposals run different algorithms, not the first one again.
  EXPECT_GE(algorithms.size(), 2u) << "every proposal ran the same algorithm";
  EXPECT_GE(proposals, 2) << "the heuristic should propose more than one algorithm for " << rows << "x" << in
                          << "->" << out;
  EXPECT_LT(proposals, 64) << "no proposal index was out of range";
  EXPECT_EQ(runner.cached_plan_count(), static_cast<std::size_t>(proposals));
}

TEST(GemmRunner, RejectsNonPositiveSizes) {
  PRIMUS_SKIP_WITHOUT_GPU();
  GemmRunner runner(nullptr);
  EXPECT_THROW(runner.linear_forward(nullptr, nullptr, nullptr, nullptr, 0, 8, 8), std::invalid_argument);
  EXPECT_THROW(runner.linear_forward_residual(nullptr, nullptr, nullptr, nullptr, nullptr, 0, 8, 8),
               std::invalid_argument);
  // A null residual throws before anything is enqueued (beta 1 would read C).
  EXPECT_THROW(runner.linear_forward_residual(nullptr, nullptr, nullptr, nullptr, nullptr, 8, 8, 8),
               std::invalid_argument);
}

}  // namespace
}  // namespace primus::ops::cuda
