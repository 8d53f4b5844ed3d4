// Fused QKV split + RoPE CUDA kernels vs the composition they replace, bit for bit:
// forward against qkv_split_forward then rope_forward on Q and K, backward against
// rope_backward on dQ and dK then qkv_split_backward, with the model's cos/sin tables,
// on grouped-query, multi-head and multi-query layouts, both pairings, partial rotary
// dims, and the vector and scalar paths. Argument errors; a timing (Benchmark.QkvSplitRope).
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernel_benchmark_support.hpp"
#include "kernel_test_support.hpp"
#include "primus/model/rotary_embedding.hpp"
#include "primus/ops/cuda/qkv_rope.hpp"
#include "primus/ops/cuda/qkv_split.hpp"
#include "primus/ops/cuda/rope.hpp"

namespace primus::ops::cuda::test {
namespace {

struct QkvRopeCase {
  std::int64_t batch, seq, heads, groups, head_dim, rotary_dim;
  bool interleaved;
  std::size_t offset;  // elements every bf16 buffer starts past 16-byte alignment (1: scalar path)
};

// The model's cos/sin tables (Megatron's frequencies, base 10000) for seq positions.
model::RotaryTables rotary_tables(const QkvRopeCase& c) {
  config::ModelConfig model;
  model.kv_channels = static_cast<int>(c.head_dim);
  // The model truncates kv_channels * rotary_percent: half a channel over keeps rounding off it.
  model.rotary_percent = (static_cast<double>(c.rotary_dim) + 0.5) / static_cast<double>(c.head_dim);
  model.seq_length = static_cast<int>(c.seq);
  model::RotaryTables tables = model::make_rotary_tables(model, static_cast<int>(c.seq));
  if (tables.rotary_dim != c.rotary_dim)
    throw std::logic_error("rotary_tables: rotary_dim " + std::to_string(tables.rotary_dim));
  return tables;
}

// A device buffer of `count` bf16 (NaN-poisoned) used from element `offset` on; upload() fills that range.
class OffsetBuffer {
 public:
  OffsetBuffer(std::size_t count, std::size_t offset) : buffer_(count + offset), offset_(offset) { buffer_.poison(); }
  bf16* get() { return buffer_.get() + offset_; }
  void upload(const std::vector<bf16>& values) {
    PRIMUS_KERNEL_CHECK(cudaMemcpy(get(), values.data(), values.size() * sizeof(bf16), cudaMemcpyHostToDevice));
  }
  // The used range as raw bf16 bits: equality below is bit equality, and a poisoned element never matches.
  std::vector<std::uint16_t> bits() const {
    const std::vector<bf16> all = buffer_.download();
    std::vector<std::uint16_t> out(all.size() - offset_);
    std::memcpy(out.data(), all.data() + offset_, out.size() * sizeof(std::uint16_t));
    return out;
  }

 private:
  DeviceBuffer<bf16> buffer_;
  std::size_t offset_;
};

void expect_same_bits(const std::vector<std::uint16_t>& got, const std::vector<std::uint16_t>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t e = 0; e < got.size(); ++e)
    ASSERT_EQ(got[e], want[e]) << what << " element " << e << ": fused " << std::hex << got[e] << ", composed "
                               << want[e];
}

class QkvSplitRopeKernel : public ::testing::TestWithParam<QkvRopeCase> {};

TEST_P(QkvSplitRopeKernel, ForwardMatchesSplitThenRopeBitForBit) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const QkvRopeCase c = GetParam();
  const model::RotaryTables tables = rotary_tables(c);
  const std::int64_t rows = c.batch * c.seq, rotary_dim = c.rotary_dim;
  const std::size_t qkv_count = rows * (c.heads + 2 * c.groups) * c.head_dim, q_count = rows * c.heads * c.head_dim,
                    kv_count = rows * c.groups * c.head_dim;
  DeviceBuffer<float> cos(tables.cos), sin(tables.sin);
  OffsetBuffer qkv(qkv_count, c.offset);
  qkv.upload(to_bf16(random_values(qkv_count, 301)));
  OffsetBuffer q(q_count, c.offset), k(kv_count, c.offset), v(kv_count, c.offset);
  OffsetBuffer q_ref(q_count, c.offset), k_ref(kv_count, c.offset), v_ref(kv_count, c.offset);

  qkv_split_forward(q_ref.get(), k_ref.get(), v_ref.get(), qkv.get(), rows, c.heads, c.groups, c.head_dim, nullptr);
  rope_forward(q_ref.get(), cos.get(), sin.get(), c.batch, c.seq, c.heads, c.head_dim, rotary_dim, c.interleaved,
               nullptr);
  rope_forward(k_ref.get(), cos.get(), sin.get(), c.batch, c.seq, c.groups, c.head_dim, rotary_dim, c.interleaved,
               nullptr);
  qkv_split_rope_forward(q.get(), k.get(), v.get(), qkv.get(), cos.get(), sin.get(), c.batch, c.seq, c.heads, c.groups,
                         c.head_dim, rotary_dim, c.interleaved, nullptr);
  expect_same_bits(q.bits(), q_ref.bits(), "q");
  expect_same_bits(k.bits(), k_ref.bits(), "k");
  expect_same_bits(v.bits(), v_ref.bits(), "v");
}

TEST_P(QkvSplitRopeKernel, BackwardMatchesRopeThenSplitBitForBit) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  const QkvRopeCase c = GetParam();
  const model::RotaryTables tables = rotary_tables(c);
  const std::int64_t rows = c.batch * c.seq, rotary_dim = c.rotary_dim;
  const std::size_t qkv_count = rows * (c.heads + 2 * c.groups) * c.head_dim, q_count = rows * c.heads * c.head_dim,
                    kv_count = rows * c.groups * c.head_dim;
  DeviceBuffer<float> cos(tables.cos), sin(tables.sin);
  const auto dq_host = to_bf16(random_values(q_count, 302)), dk_host = to_bf16(random_values(kv_count, 303)),
             dv_host = to_bf16(random_values(kv_count, 304));
  OffsetBuffer dq(q_count, c.offset), dk(kv_count, c.offset), dv(kv_count, c.offset);
  dq.upload(dq_host);
  dk.upload(dk_host);
  dv.upload(dv_host);
  // The composition turns dq and dk in place: it gets its own copies.
  OffsetBuffer dq_turned(q_count, c.offset), dk_turned(kv_count, c.offset);
  dq_turned.upload(dq_host);
  dk_turned.upload(dk_host);
  OffsetBuffer dqkv(qkv_count, c.offset), dqkv_ref(qkv_count, c.offset);

  rope_backward(dq_turned.get(), cos.get(), sin.get(), c.batch, c.seq, c.heads, c.head_dim, rotary_dim, c.interleaved,
                nullptr);
  rope_backward(dk_turned.get(), cos.get(), sin.get(), c.batch, c.seq, c.groups, c.head_dim, rotary_dim, c.interleaved,
                nullptr);
  qkv_split_backward(dqkv_ref.get(), dq_turned.get(), dk_turned.get(), dv.get(), rows, c.heads, c.groups, c.head_dim,
                     nullptr);
  const auto dq_before = dq.bits(), dk_before = dk.bits();
  qkv_split_rope_backward(dqkv.get(), dq.get(), dk.get(), dv.get(), cos.get(), sin.get(), c.batch, c.seq, c.heads,
                          c.groups, c.head_dim, rotary_dim, c.interleaved, nullptr);
  expect_same_bits(dqkv.bits(), dqkv_ref.bits(), "dqkv");
  expect_same_bits(dq.bits(), dq_before, "dq (must stay unmodified)");
  expect_same_bits(dk.bits(), dk_before, "dk (must stay unmodified)");
}

INSTANTIATE_TEST_SUITE_P(
    QkvSplitRopeShapes, QkvSplitRopeKernel,
    ::testing::Values(QkvRopeCase{1, 64, 8, 2, 128, 128, false, 0},  // grouped-query, rotate_half, vector path
                      QkvRopeCase{1, 64, 8, 2, 128, 128, true, 0},   // interleaved
                      QkvRopeCase{1, 64, 8, 2, 128, 64, false, 0},   // partial rotary: pass-through channels
                      QkvRopeCase{1, 64, 8, 2, 128, 64, true, 0},    // partial, interleaved
                      QkvRopeCase{2, 16, 32, 8, 64, 64, false, 0},   // head_dim 64, Llama-3-8B's head ratio, batch 2
                      QkvRopeCase{2, 16, 4, 4, 64, 64, true, 0},     // multi-head (groups == heads)
                      QkvRopeCase{1, 9, 8, 1, 16, 16, false, 0},     // multi-query, smallest vector head
                      QkvRopeCase{2, 5, 6, 2, 40, 40, false, 0},     // rotary_dim / 2 = 20: scalar path
                      QkvRopeCase{2, 5, 6, 2, 40, 20, true, 0},      // rotary_dim 20, interleaved: scalar path
                      QkvRopeCase{1, 3, 4, 2, 6, 2, false, 0},       // head_dim % 8 != 0: scalar path
                      QkvRopeCase{1, 8, 8, 2, 128, 128, false, 1},   // misaligned buffers: scalar path
                      QkvRopeCase{1, 8, 8, 2, 128, 64, true, 1}));   // misaligned, interleaved, partial

// Runs `call`, expecting std::invalid_argument whose message names `needle`.
template <typename Call>
void expect_rejected(Call call, const std::string& needle) {
  try {
    call();
    ADD_FAILURE() << "no exception; expected one naming '" << needle << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(QkvSplitRopeArguments, RejectsBadShapesWithTheValue) {
  // Checked before any launch: no device needed.
  auto forward = [](std::int64_t heads, std::int64_t groups, std::int64_t head_dim, std::int64_t rotary_dim) {
    return [=] {
      qkv_split_rope_forward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 1, 4, heads, groups, head_dim,
                             rotary_dim, false, nullptr);
    };
  };
  expect_rejected(forward(8, 2, 64, 63), "qkv_split_rope_forward: rotary_dim = 63 must be even");
  expect_rejected(forward(8, 2, 64, 128), "rotary_dim = 128 must be even and in [2, head_dim = 64]");
  expect_rejected(forward(8, 2, 64, 0), "rotary_dim = 0");
  expect_rejected(forward(6, 4, 64, 64), "num_heads % num_query_groups == 0");
  expect_rejected(forward(8, 0, 64, 64), "8, 0, 64");
  expect_rejected(
      [] {
        qkv_split_rope_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 1, 0, 8, 2, 64, 64, true,
                                nullptr);
      },
      "qkv_split_rope_backward: batch, seq, num_heads, num_query_groups, head_dim = 1, 0, 8, 2, 64");
  expect_rejected(
      [] {
        qkv_split_rope_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 1, 4, 8, 2, 64, 65, true,
                                nullptr);
      },
      "qkv_split_rope_backward: rotary_dim = 65");
}

TEST(Benchmark, QkvSplitRope) {
  PRIMUS_SKIP_UNLESS_BENCH();
  const std::int64_t batch = 4, seq = 2048, rows = batch * seq, heads = 32, groups = 8;
  for (const std::int64_t head_dim : {std::int64_t{128}, std::int64_t{64}}) {
    const std::int64_t rotary_dim = head_dim;
    const model::RotaryTables tables = rotary_tables({batch, seq, heads, groups, head_dim, rotary_dim, false, 0});
    const std::size_t qkv_count = rows * (heads + 2 * groups) * head_dim, q_count = rows * heads * head_dim,
                      kv_count = rows * groups * head_dim;
    DeviceBuffer<float> cos(tables.cos), sin(tables.sin);
    auto qkv = zeros<bf16>(qkv_count), q = zeros<bf16>(q_count), k = zeros<bf16>(kv_count), v = zeros<bf16>(kv_count);
    // Bytes read and written once: the fused pass moves qkv once each way; the composition
    // also reads and writes Q and K again for the rotation.
    const double fused_bytes = 2.0 * 2.0 * qkv_count, composed_bytes = fused_bytes + 2.0 * 2.0 * (q_count + kv_count);
    const std::string shape = "8192x(32+2*8)x" + std::to_string(head_dim);
    report("qkv_split_rope_forward", shape,
           time_ms(
               [&] {
                 qkv_split_rope_forward(q.get(), k.get(), v.get(), qkv.get(), cos.get(), sin.get(), batch, seq, heads,
                                        groups, head_dim, rotary_dim, false, nullptr);
               },
               20),
           fused_bytes);
    report("qkv_split+rope_forward x2", shape,
           time_ms(
               [&] {
                 qkv_split_forward(q.get(), k.get(), v.get(), qkv.get(), rows, heads, groups, head_dim, nullptr);
                 rope_forward(q.get(), cos.get(), sin.get(), batch, seq, heads, head_dim, rotary_dim, false, nullptr);
                 rope_forward(k.get(), cos.get(), sin.get(), batch, seq, groups, head_dim, rotary_dim, false, nullptr);
               },
               20),
           composed_bytes);
    report("qkv_split_rope_backward", shape,
           time_ms(
               [&] {
                 qkv_split_rope_backward(qkv.get(), q.get(), k.get(), v.get(), cos.get(), sin.get(), batch, seq, heads,
                                         groups, head_dim, rotary_dim, false, nullptr);
               },
               20),
           fused_bytes);
    report("rope_backward x2+qkv_split", shape,
           time_ms(
               [&] {
                 rope_backward(q.get(), cos.get(), sin.get(), batch, seq, heads, head_dim, rotary_dim, false, nullptr);
                 rope_backward(k.get(), cos.get(), sin.get(), batch, seq, groups, head_dim, rotary_dim, false, nullptr);
                 qkv_split_backward(qkv.get(), q.get(), k.get(), v.get(), rows, heads, groups, head_dim, nullptr);
               },
               20),
           composed_bytes);
  }
}

}  // namespace
}  // namespace primus::ops::cuda::test
