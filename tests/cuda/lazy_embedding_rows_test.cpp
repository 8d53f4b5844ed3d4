// Lazy word-embedding rows (train/cuda/lazy_embedding_rows) against the eager update they
// stand for: the reference AdamW kernel over the whole table every step, the untouched rows'
// gradients taken as +0. Over more steps than the ring holds, with a new set of touched rows
// each step: the gather of a token list (repeats, untouched and touched rows, one token out of
// range) must give the eager table's bf16 weights bit for bit at every step, and after the last
// step bringing every row up must give the eager high and low halves and both moments bit for
// bit. Untouched rows' gradients hold NaN, so reading one would show. Three table shapes: 4096
// wide (two quads per lane per pass), 100 wide at an offset of 4 (a row's quads not a multiple
// of 32), and 6 wide at an offset of 2 (the element-wise path).
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_support.hpp"
#include "primus/train/cuda/lazy_embedding_rows.hpp"
#include "primus/train/cuda/master_weights.hpp"

namespace primus::ops::cuda::test {
namespace {

using train::cuda::LazyRows;
using train::cuda::LazyTable;

struct TableShape {
  std::int64_t vocab, hidden, offset;
  int ring;
};

void expect_same_bits(const std::vector<std::uint16_t>& got, const std::vector<std::uint16_t>& want,
                      const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t differ = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i] && differ++ == 0) first = i;
  EXPECT_EQ(differ, 0u) << what << ": first at " << first << " (" << got[first] << " vs " << want[first] << ")";
}

void expect_same_bits(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t differ = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], 4) != 0 && differ++ == 0) first = i;
  EXPECT_EQ(differ, 0u) << what << ": first at " << first << " (" << got[first] << " vs " << want[first] << ")";
}

void run_against_eager(const TableShape& shape) {
  const std::int64_t n = shape.offset + shape.vocab * shape.hidden + 3;  // a little past the table too
  std::mt19937 rng(static_cast<std::uint32_t>(shape.hidden * 7 + shape.ring));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::uint16_t> high(n), low(n);
  std::vector<float> m(n), v(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const float p = 0.05f * normal(rng);
    std::uint32_t bits;
    std::memcpy(&bits, &p, 4);
    high[i] = static_cast<std::uint16_t>(bits >> 16);
    low[i] = static_cast<std::uint16_t>(bits & 0xffff);
    m[i] = 0.01f * normal(rng);
    v[i] = 1e-4f * std::abs(normal(rng));
  }
  // Eager (reference kernel, every row every step) and lazy copies of the same state.
  DeviceBuffer<std::uint16_t> eager_high(high), eager_low(low), lazy_high(high), lazy_low(low);
  DeviceBuffer<float> eager_m(m), eager_v(v), lazy_m(m), lazy_v(v), grads(static_cast<std::size_t>(n));
  DeviceBuffer<std::uint8_t> marks(static_cast<std::size_t>(shape.vocab));
  DeviceBuffer<std::int32_t> row_step(static_cast<std::size_t>(shape.vocab));
  DeviceBuffer<std::uint8_t> ring(train::cuda::lazy_rows_ring_bytes(shape.ring));
  DeviceBuffer<float> clip(std::vector<float>{0.7f});
  DeviceBuffer<std::int32_t> skip(std::vector<std::int32_t>{0});
  LazyRows lazy{row_step.get(), ring.get(), shape.ring};
  const LazyTable table{reinterpret_cast<bf16*>(lazy_high.get()), lazy_low.get(), lazy_m.get(), lazy_v.get(),
                        grads.get(), shape.offset, shape.vocab, shape.hidden, /*decay=*/true};
  train::cuda::lazy_rows_fill(lazy, shape.vocab, 0, nullptr);

  train::cuda::SplitAdamWLaunch launch;
  launch.begin = shape.offset;
  launch.segment_end[0] = shape.offset + shape.vocab * shape.hidden;
  launch.segment_count = 1;
  launch.decay_mask = 1;

  // Tokens: every row the steps touch is likely among them, and token 1 twice; the last is out of range.
  std::vector<std::int32_t> tokens;
  for (std::int64_t r = 0; r < shape.vocab; r += 3) tokens.push_back(static_cast<std::int32_t>(r));
  tokens.push_back(1);
  tokens.push_back(static_cast<std::int32_t>(shape.vocab));
  DeviceBuffer<std::int32_t> device_tokens(tokens);
  const std::int64_t rows = static_cast<std::int64_t>(tokens.size());
  DeviceBuffer<std::uint16_t> gathered(static_cast<std::size_t>(rows * shape.hidden));

  const int steps = 2 * shape.ring + 3;
  std::bernoulli_distribution touch(0.15);
  for (int step = 1; step <= steps; ++step) {
    const std::string where = "vocab " + std::to_string(shape.vocab) + " hidden " + std::to_string(shape.hidden) +
                              " offset " + std::to_string(shape.offset) + " ring " + std::to_string(shape.ring) +
                              ", step " + std::to_string(step);
    std::vector<std::uint8_t> touched(static_cast<std::size_t>(shape.vocab));
    std::vector<float> g(static_cast<std::size_t>(n), std::numeric_limits<float>::quiet_NaN());
    for (std::int64_t r = 0; r < shape.vocab; ++r) {
      touched[r] = touch(rng) ? 1 : 0;
      for (std::int64_t c = 0; c < shape.hidden && touched[r]; ++c) g[shape.offset + r * shape.hidden + c] = 0.1f * normal(rng);
    }
    marks.upload(touched);
    grads.upload(g);
    const AdamWHyperparameters hyper{1e-3 * (1.0 + 0.1 * step), 0.9, 0.95, 1e-8, 0.1, step};
    train::cuda::split_adamw_launch_with(train::cuda::SplitAdamWKernel::kReference, launch,
                                         reinterpret_cast<bf16*>(eager_high.get()), eager_low.get(), eager_m.get(),
                                         eager_v.get(), grads.get(), clip.get(), skip.get(), nullptr, hyper, 0, nullptr,
                                         ZeroRows{marks.get(), shape.offset, shape.vocab, shape.hidden});
    train::cuda::lazy_rows_record_step(lazy, hyper, nullptr);
    gathered.poison();
    train::cuda::lazy_rows_gather(reinterpret_cast<bf16*>(gathered.get()), device_tokens.get(), rows, table, lazy, step,
                                  clip.get(), marks.get(), nullptr);
    const std::vector<std::uint16_t> eager = eager_high.download(), got = gathered.download();
    std::vector<std::uint16_t> want(got.size());
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < shape.hidden; ++c)
        want[r * shape.hidden + c] = tokens[r] < shape.vocab ? eager[shape.offset + tokens[r] * shape.hidden + c] : 0x7fc0;
    expect_same_bits(got, want, "gather, " + where);
    train::cuda::lazy_rows_update(table, lazy, step, clip.get(), marks.get(), /*all_rows=*/false, 3, nullptr);
    PRIMUS_KERNEL_CHECK(cudaDeviceSynchronize());
  }
  // Every row up to the last step, twice (the second finds them current and leaves them).
  for (int pass = 0; pass < 2; ++pass)
    train::cuda::lazy_rows_update(table, lazy, steps, clip.get(), marks.get(), /*all_rows=*/true, 0, nullptr);
  const std::string where = "every row after " + std::to_string(steps) + " steps, hidden " + std::to_string(shape.hidden);
  expect_same_bits(lazy_high.download(), eager_high.download(), "high halves, " + where);
  expect_same_bits(lazy_low.download(), eager_low.download(), "low halves, " + where);
  expect_same_bits(lazy_m.download(), eager_m.download(), "exp_avg, " + where);
  expect_same_bits(lazy_v.download(), eager_v.download(), "exp_avg_sq, " + where);
  // The test must be able to fail: the eager table moved away from where it started.
  EXPECT_NE(eager_high.download(), high) << where;
}

TEST(LazyEmbeddingRows, GatherAndStoreMatchUpdatingEveryRowEveryStep) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  for (const TableShape& shape : {TableShape{200, 4096, 0, 8}, TableShape{300, 100, 4, 3}, TableShape{300, 6, 2, 5}})
    run_against_eager(shape);
}

}  // namespace
}  // namespace primus::ops::cuda::test
