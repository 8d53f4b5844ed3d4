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

__global__ void gather_kernel(std::uint16_t* out, const std::int32_t* tokens, std::int64_t rows, LazyTable table,
                              LazyRows lazy, std::int64_t step, const float* clip_coeff,
                              const std::uint8_t* touched) {
  __shared__ SharedRing ring;
  load_ring(ring, lazy);
  const auto* high = reinterpret_cast<const std::uint16_t*>(table.high);
  const float clip = *clip_coeff;
  const std::int64_t count = rows * table.hidden;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < count; e += stride) {
    const std::int32_t token = tokens[e / table.hidden];
    if (token < 0 || token >= table.vocab) {
      out[e] = 0x7fc0;  // bf16 NaN marks the bad token's row
      continue;
    }
    const std::int64_t i = table.offset + token * table.hidden + e % table.hidden;
    std::uint16_t h = high[i];
    const std::int64_t from = lazy.row_step[token];
    require_in_ring(from, step, lazy.ring_size);
    if (from < step) {
      std::uint16_t l = table.low[i];
      float m = table.exp_avg[i], v = table.exp_avg_sq[i];
      const float g = touched != nullptr && touched[token] != 0 ? __fmul_rn(table.grads[i], clip) : 0.0f;
      replay(h, l, m, v, from, step, g, table.decay, ring, lazy.ring_size);
    }
    out[e] = h;
  }
}

// Four elements from step `from` to step `to` (replay's update, the same bits): the weights are
// joined once, moved through the missed steps as fp32 values (joining and splitting each step
// would give the same bits) and split once, a pair at a time.
__device__ __forceinline__ void replay_quad(uint2& high, uint2& low, float4& m4, float4& v4, std::int64_t from,
                                            std::int64_t to, float4 g_to, bool decays, const SharedRing& ring,
                                            int ring_size) {
  float p[4];
  join_quad(high, low, p);
  float m[4] = {m4.x, m4.y, m4.z, m4.w}, v[4] = {v4.x, v4.y, v4.z, v4.w};
  const float g[4] = {g_to.x, g_to.y, g_to.z, g_to.w};
  int slot = static_cast<int>((from + 1) % ring_size);
  for (std::int64_t s = from + 1; s <= to; ++s) {
    const AdamWScalars& scalars = ring.slot[slot];
    const float decay = decays ? scalars.decay_factor : 1.0f;
#pragma unroll
    for (int i = 0; i < 4; ++i) p[i] = ops::cuda::adamw_update_fast(p[i], m[i], v[i], s == to ? g[i] : 0.0f, decay, scalars);
    slot = slot + 1 == ring_size ? 0 : slot + 1;
  }
  split_quad(p, high, low);
  m4 = make_float4(m[0], m[1], m[2], m[3]);
  v4 = make_float4(v[0], v[1], v[2], v[3]);
}

// One block per row at a time (rows b, b + grid, ...), its threads over the row's elements: four
// at a time with 8- and 16-byte accesses where the rows allow it (hidden and the table's offset
// multiples of 4), else one at a time.
__global__ void __launch_bounds__(1024, 1)
    update_kernel(LazyTable table, LazyRows lazy, std::int64_t step, const float* clip_coeff,
                  const std::uint8_t* touched, bool all_rows) {
  __shared__ SharedRing ring;
  load_ring(ring, lazy);
  auto* high = reinterpret_cast<std::uint16_t*>(table.high);
  const float clip = *clip_coeff;
  const int slice = static_cast<int>(step % lazy.ring_size);
  const bool quads = table.hidden % 4 == 0 && table.offset % 4 == 0;
  for (std::int64_t row = blockIdx.x; row < table.vocab; row += gridDim.x) {
    const bool has_grad = touched != nullptr && touched[row] != 0;
    if (!all_rows && !has_grad && row % lazy.ring_size != slice) continue;
    const std::int64_t from = lazy.row_step[row];
    if (from == step) continue;  // the whole block agrees: all its threads read the same value
    require_in_ring(from, step, lazy.ring_size);
    const std::int64_t base = table.offset + row * table.hidden;
    if (quads) {
      const std::int64_t first = base / 4;
      for (std::int64_t c = threadIdx.x; c < table.hidden / 4; c += blockDim.x) {
        const std::int64_t q = first + c;
        uint2 h = reinterpret_cast<const uint2*>(high)[q], l = reinterpret_cast<const uint2*>(table.low)[q];
        float4 m = reinterpret_cast<const float4*>(table.exp_avg)[q];
        float4 v = reinterpret_cast<const float4*>(table.exp_avg_sq)[q];
        float4 g = make_float4(0.f, 0.f, 0.f, 0.f);
        if (has_grad) {
          g = reinterpret_cast<const float4*>(table.grads)[q];
          g = make_float4(__fmul_rn(g.x, clip), __fmul_rn(g.y, clip), __fmul_rn(g.z, clip), __fmul_rn(g.w, clip));
        }
        replay_quad(h, l, m, v, from, step, g, table.decay, ring, lazy.ring_size);
        reinterpret_cast<uint2*>(high)[q] = h;
        reinterpret_cast<uint2*>(table.low)[q] = l;
        reinterpret_cast<float4*>(table.exp_avg)[q] = m;
        reinterpret_cast<float4*>(table.exp_avg_sq)[q] = v;
      }
    } else {
      for (std::int64_t c = threadIdx.x; c < table.hidden; c += blockDim.x) {
        const std::int64_t i = base + c;
        std::uint16_t h = high[i], l = table.low[i];
        float m = table.exp_avg[i], v = table.exp_avg_sq[i];
        replay(h, l, m, v, from, step, has_grad ? __fmul_rn(table.grads[i], clip) : 0.0f, table.decay, ring,
               lazy.ring_size);
        high[i] = h;
        table.low[i] = l;
        table.exp_avg[i] = m;
        table.exp_avg_sq[i] = v;
      }
    }
    __syncthreads();  // every thread has read row_step[row] before it moves on
    if (threadIdx.x == 0) lazy.row_step[row] = static_cast<std::int32_t>(step);
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
  const std::int64_t count = rows * table.hidden;
  const int blocks = static_cast<int>(
      std::min<std::int64_t>((count + 255) / 256, std::int64_t{ops::cuda::device_sm_count()} * 16));
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
  const int blocks = static_cast<int>(std::min<std::int64_t>(table.vocab, limit));
  update_kernel<<<blocks, 1024, 0, stream>>>(table, lazy, step, clip_coeff, touched, all_rows);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::train::cuda
