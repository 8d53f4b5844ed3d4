// Lazy word-embedding rows: the replay of the steps a row missed, the gather that computes rows
// as of a step, and the update that stores them (see lazy_embedding_rows.hpp).
#include <algorithm>
#include <cstdint>
#include <string>

#include "primus/ops/cuda/adamw_math.cuh"
#include "primus/ops/cuda/cuda_check.hpp"
#include "primus/ops/cuda/device_info.hpp"
#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/train/cuda/lazy_embedding_rows.hpp"
#include "primus/train/cuda/split_master_update.cuh"

namespace primus::train::cuda {

using ops::cuda::AdamWScalars;

std::size_t lazy_rows_ring_bytes(int ring_size) {
  return static_cast<std::size_t>(ring_size) * sizeof(AdamWScalars);
}

namespace {

// The ring in shared memory: every element replays from it, once per missed step.
struct SharedRing {
  AdamWScalars slot[LazyRows::kMaxRing];
};

__device__ __forceinline__ void load_ring(SharedRing& shared, const LazyRows& lazy) {
  const auto* ring = static_cast<const AdamWScalars*>(lazy.ring);
  for (int i = static_cast<int>(threadIdx.x); i < lazy.ring_size; i += static_cast<int>(blockDim.x))
    shared.slot[i] = ring[i];
  __syncthreads();
}

// One element from step `from` (its state is current there) to step `to`: the steps between see
// a +0 gradient, step `to` sees `g_to` (the clipped gradient, or +0). The same element update in
// the same step order as updating the row every step, so the same bits.
__device__ __forceinline__ void replay(std::uint16_t& high, std::uint16_t& low, float& m, float& v, std::int64_t from,
                                       std::int64_t to, float g_to, bool decays, const SharedRing& ring,
                                       int ring_size) {
  int slot = static_cast<int>((from + 1) % ring_size);
  for (std::int64_t s = from + 1; s <= to; ++s) {
    const AdamWScalars& scalars = ring.slot[slot];
    update_one(high, low, m, v, s == to ? g_to : 0.0f, decays ? scalars.decay_factor : 1.0f, scalars);
    slot = slot + 1 == ring_size ? 0 : slot + 1;
  }
}

// A row further behind than the ring reaches, or ahead of the step asked for, means the engine
// broke the slice schedule: stop rather than replay the wrong scalars.
__device__ __forceinline__ void require_in_ring(std::int64_t from, std::int64_t to, int ring_size) {
  if (from > to || to - from > ring_size) __trap();
}

__global__ void record_step_kernel(AdamWScalars* ring, int slot, AdamWScalars scalars) { ring[slot] = scalars; }

__global__ void fill_kernel(std::int32_t* row_step, std::int64_t vocab, std::int32_t step) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t r = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; r < vocab; r += stride)
    row_step[r] = step;
}

// Quad x from step `from` to step `to` (replay's update, the same bits), x.grad the gradient of
// step `to`: the weights are joined once, moved through the missed steps as fp32 values
// (joining and splitting each step would give the same bits) and split once, a pair at a time.
__device__ __forceinline__ void replay_quad(Quad& x, std::int64_t from, std::int64_t to, bool decays,
                                            const SharedRing& ring, int ring_size) {
  float p[4];
  join_quad(x.high, x.low, p);
  float m[4] = {x.exp_avg.x, x.exp_avg.y, x.exp_avg.z, x.exp_avg.w};
  float v[4] = {x.exp_avg_sq.x, x.exp_avg_sq.y, x.exp_avg_sq.z, x.exp_avg_sq.w};
  const float g[4] = {x.grad.x, x.grad.y, x.grad.z, x.grad.w};
  int slot = static_cast<int>((from + 1) % ring_size);
  for (std::int64_t s = from + 1; s <= to; ++s) {
    const AdamWScalars& scalars = ring.slot[slot];
    const float decay = decays ? scalars.decay_factor : 1.0f;
#pragma unroll
    for (int i = 0; i < 4; ++i) p[i] = ops::cuda::adamw_update_fast(p[i], m[i], v[i], s == to ? g[i] : 0.0f, decay, scalars);
    slot = slot + 1 == ring_size ? 0 : slot + 1;
  }
  split_quad(p, x.high, x.low);
  x.exp_avg = make_float4(m[0], m[1], m[2], m[3]);
  x.exp_avg_sq = make_float4(v[0], v[1], v[2], v[3]);
}

// Both kernels give each row to one warp, its lanes taking the row's quads lane, lane + 32, ...,
// and no block barrier stands between rows. The update moves one quad per lane at a time: its
// replay of up to ring_size steps, not the memory, bounds it on the tail's few SMs, and two
// quads spill at its 64 registers. The gather, on the forward's critical path over every SM,
// moves two. The first version gave each row a whole block, one quad per thread, with a block
// barrier per row and, in the update, a scan of every vocabulary row: on the tail's 24 SMs it
// ran ~21 ms for the 8B table's ~24,000 rows a step, into layers whose GEMMs were planned for
// every SM (docs/performance.md, 2026-11-27 T1).
constexpr int kWarp = 32;

struct Row {
  std::int64_t base;  // the row's first element in the split master buffers
  std::int64_t from;  // the step its state is current at
  bool has_grad;      // the step's gradient touched it
};

// Quad q of the table with its gradient times clip, or +0 where the row has none.
__device__ __forceinline__ Quad load_quad(const LazyTable& table, std::int64_t q, bool has_grad, float clip) {
  Quad x;
  x.high = reinterpret_cast<const uint2*>(table.high)[q];
  x.low = reinterpret_cast<const uint2*>(table.low)[q];
  x.exp_avg = reinterpret_cast<const float4*>(table.exp_avg)[q];
  x.exp_avg_sq = reinterpret_cast<const float4*>(table.exp_avg_sq)[q];
  x.grad = make_float4(0.f, 0.f, 0.f, 0.f);
  if (has_grad) {
    const float4 g = reinterpret_cast<const float4*>(table.grads)[q];
    x.grad = make_float4(__fmul_rn(g.x, clip), __fmul_rn(g.y, clip), __fmul_rn(g.z, clip), __fmul_rn(g.w, clip));
  }
  return x;
}

__device__ __forceinline__ void store_quad(const LazyTable& table, std::int64_t q, const Quad& x) {
  store_quad(x, q, reinterpret_cast<std::uint16_t*>(table.high), table.low, table.exp_avg, table.exp_avg_sq);
}

// Brings one row to `step` and stores it (the whole warp calls this).
__device__ __forceinline__ void update_row(const LazyTable& table, const Row& row, std::int64_t step, float clip,
                                           const SharedRing& ring, int ring_size, bool quads, int lane) {
  if (quads) {
    const std::int64_t first = row.base / 4, count = table.hidden / 4;
    for (std::int64_t c = lane; c < count; c += kWarp) {
      Quad a = load_quad(table, first + c, row.has_grad, clip);
      replay_quad(a, row.from, step, table.decay, ring, ring_size);
      store_quad(table, first + c, a);
    }
    return;
  }
  auto* high = reinterpret_cast<std::uint16_t*>(table.high);
  for (std::int64_t c = lane; c < table.hidden; c += kWarp) {
    const std::int64_t i = row.base + c;
    std::uint16_t h = high[i], l = table.low[i];
    float m = table.exp_avg[i], v = table.exp_avg_sq[i];
    replay(h, l, m, v, row.from, step, row.has_grad ? __fmul_rn(table.grads[i], clip) : 0.0f, table.decay, ring,
           ring_size);
    high[i] = h;
    table.low[i] = l;
    table.exp_avg[i] = m;
    table.exp_avg_sq[i] = v;
  }
}

// The row's bf16 weights as of `step` into out, not stored (the whole warp calls this).
__device__ __forceinline__ void gather_row(std::uint16_t* out, const LazyTable& table, const Row& row,
                                           std::int64_t step, float clip, const SharedRing& ring, int ring_size,
                                           bool quads, int lane) {
  if (quads) {  // the caller checked that out's rows start on 8-byte boundaries
    const std::int64_t first = row.base / 4, count = table.hidden / 4;
    const auto* high = reinterpret_cast<const uint2*>(table.high);
    auto* out_quads = reinterpret_cast<uint2*>(out);
    for (std::int64_t c = lane; c < count; c += 2 * kWarp) {
      const bool second = c + kWarp < count;
      if (row.from == step) {  // current: the high halves are the weights
        out_quads[c] = high[first + c];
        if (second) out_quads[c + kWarp] = high[first + c + kWarp];
        continue;
      }
      Quad a = load_quad(table, first + c, row.has_grad, clip), b{};
      if (second) b = load_quad(table, first + c + kWarp, row.has_grad, clip);
      replay_quad(a, row.from, step, table.decay, ring, ring_size);
      out_quads[c] = a.high;
      if (second) {
        replay_quad(b, row.from, step, table.decay, ring, ring_size);
        out_quads[c + kWarp] = b.high;
      }
    }
    return;
  }
  const auto* high = reinterpret_cast<const std::uint16_t*>(table.high);
  for (std::int64_t c = lane; c < table.hidden; c += kWarp) {
    const std::int64_t i = row.base + c;
    std::uint16_t h = high[i];
    if (row.from < step) {
      std::uint16_t l = table.low[i];
      float m = table.exp_avg[i], v = table.exp_avg_sq[i];
      replay(h, l, m, v, row.from, step, row.has_grad ? __fmul_rn(table.grads[i], clip) : 0.0f, table.decay, ring,
             ring_size);
    }
    out[c] = h;
  }
}

__global__ void gather_kernel(std::uint16_t* out, const std::int32_t* tokens, std::int64_t rows, LazyTable table,
                              LazyRows lazy, std::int64_t step, const float* clip_coeff,
                              const std::uint8_t* touched) {
  __shared__ SharedRing ring;
  load_ring(ring, lazy);
  const float clip = *clip_coeff;
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const std::int64_t warps_per_block = blockDim.x / kWarp, warps = gridDim.x * warps_per_block;
  const bool quads =
      table.hidden % 4 == 0 && table.offset % 4 == 0 && reinterpret_cast<std::uintptr_t>(out) % 8 == 0;
  for (std::int64_t r = blockIdx.x * warps_per_block + threadIdx.x / kWarp; r < rows; r += warps) {
    std::uint16_t* out_row = out + r * table.hidden;
    const std::int32_t token = tokens[r];
    if (token < 0 || token >= table.vocab) {  // bf16 NaN marks the bad token's row
      for (std::int64_t c = lane; c < table.hidden; c += kWarp) out_row[c] = 0x7fc0;
      continue;
    }
    const Row row{table.offset + token * table.hidden, lazy.row_step[token], touched != nullptr && touched[token] != 0};
    require_in_ring(row.from, step, lazy.ring_size);
    gather_row(out_row, table, row, step, clip, ring, lazy.ring_size, quads, lane);
  }
}

// Each warp brings rows to `step`, one at a time: every row (all_rows), else the step's slice
// (rows slice, slice + ring_size, ...), then the touched rows outside it, found 32 marks at a
// time with a ballot. Each row is one warp's, which writes its row_step after all its lanes
// have read it.
__global__ void __launch_bounds__(1024, 1)
    update_kernel(LazyTable table, LazyRows lazy, std::int64_t step, const float* clip_coeff,
                  const std::uint8_t* touched, bool all_rows) {
  __shared__ SharedRing ring;
  load_ring(ring, lazy);
  const float clip = *clip_coeff;
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const std::int64_t warps_per_block = blockDim.x / kWarp, warps = gridDim.x * warps_per_block;
  const std::int64_t warp = blockIdx.x * warps_per_block + threadIdx.x / kWarp;
  const bool quads = table.hidden % 4 == 0 && table.offset % 4 == 0;
  const std::int64_t ring_size = lazy.ring_size, slice = step % ring_size;
  auto bring = [&](std::int64_t r) {
    const std::int64_t from = lazy.row_step[r];
    if (from == step) return;  // the whole warp agrees: its lanes read the same value
    require_in_ring(from, step, lazy.ring_size);
    update_row(table, Row{table.offset + r * table.hidden, from, touched != nullptr && touched[r] != 0}, step, clip,
               ring, lazy.ring_size, quads, lane);
    __syncwarp();
    if (lane == 0) lazy.row_step[r] = static_cast<std::int32_t>(step);
  };
  if (all_rows) {
    for (std::int64_t r = warp; r < table.vocab; r += warps) bring(r);
    return;
  }
  for (std::int64_t r = slice + warp * ring_size; r < table.vocab; r += warps * ring_size) bring(r);
  if (touched == nullptr) return;
  for (std::int64_t base = warp * kWarp; base < table.vocab; base += warps * kWarp) {
    const std::int64_t r = base + lane;
    const bool mine = r < table.vocab && touched[r] != 0 && r % ring_size != slice;
    for (unsigned pending = __ballot_sync(0xffffffffu, mine); pending != 0; pending &= pending - 1)
      bring(base + __ffs(static_cast<int>(pending)) - 1);
  }
}

void require_lazy(const LazyRows& lazy, std::int64_t step, const char* op) {
  ops::cuda::require_kernel_argument(lazy.row_step != nullptr && lazy.ring != nullptr && lazy.ring_size >= 1 &&
                                         lazy.ring_size <= LazyRows::kMaxRing,
                                     op, "row steps, and a ring of 1.." + std::to_string(LazyRows::kMaxRing) +
                                             " steps expected");
  ops::cuda::require_kernel_argument(step >= 0 && step <= INT32_MAX, op, "step " + std::to_string(step) +
                                                                              " outside 0..2^31-1");
}

void require_table(const LazyTable& table, const char* op) {
  ops::cuda::require_kernel_argument(table.high != nullptr && table.low != nullptr && table.exp_avg != nullptr &&
                                         table.exp_avg_sq != nullptr && table.grads != nullptr && table.offset >= 0 &&
                                         table.vocab > 0 && table.hidden > 0,
                                     op, "the table's five buffers, offset >= 0, vocab > 0 and hidden > 0 expected");
}

}  // namespace

void lazy_rows_record_step(const LazyRows& lazy, const ops::cuda::AdamWHyperparameters& hyper, cudaStream_t stream) {
  require_lazy(lazy, hyper.step, "lazy_rows_record_step");
  ops::cuda::require_kernel_argument(hyper.step >= 1, "lazy_rows_record_step", "step >= 1 expected");
  record_step_kernel<<<1, 1, 0, stream>>>(static_cast<AdamWScalars*>(lazy.ring),
                                          static_cast<int>(hyper.step % lazy.ring_size),
                                          ops::cuda::adamw_scalars(hyper));
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void lazy_rows_fill(const LazyRows& lazy, std::int64_t vocab, std::int64_t step, cudaStream_t stream) {
  require_lazy(lazy, step, "lazy_rows_fill");
  if (vocab <= 0) return;
  const int blocks = static_cast<int>(std::min<std::int64_t>((vocab + 255) / 256, 1024));
  fill_kernel<<<blocks, 256, 0, stream>>>(lazy.row_step, vocab, static_cast<std::int32_t>(step));
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void lazy_rows_gather(__nv_bfloat16* out, const std::int32_t* tokens, std::int64_t rows, const LazyTable& table,
                      const LazyRows& lazy, std::int64_t step, const float* clip_coeff, const std::uint8_t* touched,
                      cudaStream_t stream) {
  require_lazy(lazy, step, "lazy_rows_gather");
  require_table(table, "lazy_rows_gather");
  ops::cuda::require_kernel_argument(rows >= 0 && clip_coeff != nullptr, "lazy_rows_gather",
                                     "rows >= 0 and a clip coefficient expected");
  if (rows == 0) return;
  // A warp per row, eight warps a block.
  const int blocks =
      static_cast<int>(std::min<std::int64_t>((rows + 7) / 8, std::int64_t{ops::cuda::device_sm_count()} * 8));
  gather_kernel<<<blocks, 256, 0, stream>>>(reinterpret_cast<std::uint16_t*>(out), tokens, rows, table, lazy, step,
                                            clip_coeff, touched);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void lazy_rows_update(const LazyTable& table, const LazyRows& lazy, std::int64_t step, const float* clip_coeff,
                      const std::uint8_t* touched, bool all_rows, int sms, cudaStream_t stream) {
  require_lazy(lazy, step, "lazy_rows_update");
  require_table(table, "lazy_rows_update");
  ops::cuda::require_kernel_argument(clip_coeff != nullptr, "lazy_rows_update", "a clip coefficient expected");
  const int limit = sms > 0 ? std::min(sms, ops::cuda::device_sm_count()) : ops::cuda::device_sm_count();
  const int blocks = static_cast<int>(std::min<std::int64_t>((table.vocab + 31) / 32, limit));
  update_kernel<<<blocks, 1024, 0, stream>>>(table, lazy, step, clip_coeff, touched, all_rows);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::train::cuda
