// Embedding CUDA kernels: gather (bit-exact), NaN row for an out-of-range token,
// deterministic sorted backward with repeated tokens vs a double reference, and the
// learned position embeddings.
#include "kernel_test_support.hpp"
#include "primus/ops/cuda/embedding.hpp"

namespace primus::ops::cuda::test {
namespace {

std::vector<std::int32_t> random_tokens(std::size_t count, std::int32_t vocab, std::uint32_t seed) {
  std::mt19937 generator(seed);
  // Few distinct ids so that tokens repeat (the case atomics would make non-deterministic).
  std::uniform_int_distribution<std::int32_t> pick(0, vocab - 1);
  std::vector<std::int32_t> tokens(count);
  for (auto& t : tokens) t = pick(generator);
  return tokens;
}

class EmbeddingKernel : public ::testing::TestWithParam<std::pair<std::int64_t, std::int64_t>> {};

TEST_P(EmbeddingKernel, ForwardGathersAndBackwardSumsDeterministically) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const auto [vocab, hidden] = GetParam();
  const std::int64_t rows = 1000;
  const auto tokens = random_tokens(rows, static_cast<std::int32_t>(vocab), 51);
  const auto weight = random_values(vocab * hidden, 52), dy = random_values(rows * hidden, 53);
  const auto dweight_start = random_values(vocab * hidden, 54);
  DeviceBuffer<std::int32_t> token_ids(tokens);
  DeviceBuffer<bf16> table(to_bf16(weight)), out(rows * hidden), dout(to_bf16(dy));
  out.poison();
  embedding_forward(out.get(), token_ids.get(), table.get(), rows, vocab, hidden, nullptr);
  const auto gathered = out.download();
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < hidden; ++c)
      ASSERT_EQ(to_float(gathered[r * hidden + c]), weight[tokens[r] * hidden + c]) << "row " << r << " col " << c;

  std::vector<double> ref(dweight_start.begin(), dweight_start.end());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < hidden; ++c) ref[tokens[r] * hidden + c] += dy[r * hidden + c];
  const std::size_t scratch_bytes = embedding_backward_scratch_bytes(rows);
  DeviceBuffer<unsigned char> scratch(scratch_bytes);
  std::vector<std::vector<float>> runs;
  for (int run = 0; run < 2; ++run) {
    DeviceBuffer<float> dweight(dweight_start);
    scratch.poison();
    embedding_backward(dweight.get(), dout.get(), token_ids.get(), rows, vocab, hidden, scratch.get(), scratch_bytes,
                       nullptr);
    runs.push_back(dweight.download());
  }
  EXPECT_LT(relative_error(to_double(runs[0]), ref), kFp32Tolerance);
  EXPECT_EQ(runs[0], runs[1]) << "embedding_backward is not deterministic";
}

INSTANTIATE_TEST_SUITE_P(Shapes, EmbeddingKernel,
                         ::testing::Values(std::pair<std::int64_t, std::int64_t>{37, 256},
                                           std::pair<std::int64_t, std::int64_t>{500, 1000},
                                           std::pair<std::int64_t, std::int64_t>{11, 45}));

TEST(EmbeddingKernel, OutOfRangeTokenGivesNanRowAndIsSkippedInBackward) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const std::int64_t vocab = 10, hidden = 16, rows = 3;
  DeviceBuffer<std::int32_t> token_ids(std::vector<std::int32_t>{2, 10, -1});
  DeviceBuffer<bf16> table(to_bf16(random_values(vocab * hidden, 55))), out(rows * hidden);
  embedding_forward(out.get(), token_ids.get(), table.get(), rows, vocab, hidden, nullptr);
  const auto got = out.download();
  for (std::int64_t c = 0; c < hidden; ++c) {
    EXPECT_FALSE(std::isnan(to_float(got[c])));
    EXPECT_TRUE(std::isnan(to_float(got[hidden + c])));
    EXPECT_TRUE(std::isnan(to_float(got[2 * hidden + c])));
  }
  DeviceBuffer<bf16> dout(to_bf16(std::vector<float>(rows * hidden, 1.0f)));
  DeviceBuffer<float> dweight(std::vector<float>(vocab * hidden, 0.0f));
  const std::size_t scratch_bytes = embedding_backward_scratch_bytes(rows);
  DeviceBuffer<unsigned char> scratch(scratch_bytes);
  embedding_backward(dweight.get(), dout.get(), token_ids.get(), rows, vocab, hidden, scratch.get(), scratch_bytes,
                     nullptr);
  const auto dw = dweight.download();
  for (std::int64_t e = 0; e < vocab * hidden; ++e) EXPECT_EQ(dw[e], e / hidden == 2 ? 1.0f : 0.0f) << e;
  EXPECT_THROW(embedding_backward(dweight.get(), dout.get(), token_ids.get(), rows, vocab, hidden, scratch.get(),
                                  scratch_bytes - 1, nullptr),
               std::invalid_argument);
}

TEST(PositionEmbeddingKernel, ForwardAddsAndBackwardSumsOverBatch) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  for (const std::int64_t hidden : {std::int64_t{64}, std::int64_t{21}}) {
    const std::int64_t batch = 3, seq = 50, max_positions = 64;
    const auto x = random_values(batch * seq * hidden, 56), w = random_values(max_positions * hidden, 57);
    const auto dy = random_values(batch * seq * hidden, 58), dw_start = random_values(max_positions * hidden, 59);
    DeviceBuffer<bf16> out(to_bf16(x)), weight(to_bf16(w)), dout(to_bf16(dy));
    DeviceBuffer<float> dweight(dw_start);
    position_embedding_forward(out.get(), weight.get(), batch, seq, hidden, nullptr);
    position_embedding_backward(dweight.get(), dout.get(), batch, seq, hidden, nullptr);
    const auto got = out.download();
    std::vector<double> ref_dw(dw_start.begin(), dw_start.end());
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t s = 0; s < seq; ++s)
        for (std::int64_t c = 0; c < hidden; ++c) {
          const std::int64_t e = (b * seq + s) * hidden + c;
          ASSERT_EQ(to_float(got[e]), static_cast<float>(bf16_round(double(x[e]) + w[s * hidden + c]))) << e;
          ref_dw[s * hidden + c] += dy[e];
        }
    EXPECT_LT(relative_error(to_double(dweight.download()), ref_dw), kFp32Tolerance) << "hidden " << hidden;
  }
}

}  // namespace
}  // namespace primus::ops::cuda::test
