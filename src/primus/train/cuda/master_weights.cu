// Split master weights: the AdamW kernels (reference, async), the gather of rows
// after a pending update, the device split and the loss accumulator.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "primus/ops/cuda/adamw_math.cuh"
#include "primus/ops/cuda/cuda_check.hpp"
#include "primus/ops/cuda/device_info.hpp"
#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/train/cuda/master_weights.hpp"
#include "primus/train/cuda/split_master_update.cuh"

namespace primus::train::cuda {

using ops::cuda::AdamWHyperparameters;
using ops::cuda::AdamWScalars;
using ops::cuda::ZeroRows;

namespace {

// ZeroRows as the AdamW kernels test it: rows of row_elements elements over [begin, end);
// marks == nullptr (also when the launch misses the rows): every gradient is read.
struct GradZeroRows {
  const std::uint8_t* marks;
  std::int64_t begin, end, row_elements;
};

// Whether gradient element e lies in a row the marks call zero (so it holds +0 and is not read).
__device__ __forceinline__ bool in_zero_row(const GradZeroRows& zero, std::int64_t e) {
  return zero.marks != nullptr && e >= zero.begin && e < zero.end &&
         zero.marks[(e - zero.begin) / zero.row_elements] == 0;
}

// How a run of kCount gradient elements from `first` is loaded: read whole (outside the rows, or
// in a marked row), taken as zeros (inside one unmarked row: not read), or element by element
// (it straddles a row edge or the rows' edge: never the engine's, whose rows are packs apart).
enum class RunGrads { kRead, kZero, kMixed };
template <int kCount>
__device__ __forceinline__ RunGrads run_grads(const GradZeroRows& zero, std::int64_t first) {
  if (zero.marks == nullptr || first + kCount <= zero.begin || first >= zero.end) return RunGrads::kRead;
  if (first < zero.begin || first + kCount > zero.end) return RunGrads::kMixed;
  const std::int64_t row = (first - zero.begin) / zero.row_elements;
  if (first + kCount > zero.begin + (row + 1) * zero.row_elements) return RunGrads::kMixed;
  return zero.marks[row] == 0 ? RunGrads::kZero : RunGrads::kRead;
}

// One gradient element: +0 in a zero row (the value it holds there), else read.
__device__ __forceinline__ float load_grad(const float* grads, std::int64_t e, const GradZeroRows& zero) {
  return in_zero_row(zero, e) ? 0.0f : grads[e];
}

// Index of the launch's segment holding `element`, scanning on from `from` (a thread's
// elements only move forward).
__device__ __forceinline__ int segment_from(const SplitAdamWLaunch& launch, int from, std::int64_t element) {
  while (from + 1 < launch.segment_count && element >= launch.segment_end[from]) ++from;
  return from;
}

// kCount elements of one parameter (decay: its factor).
template <int kCount>
__device__ __forceinline__ void update_with_decay(std::uint16_t* h, std::uint16_t* l, float* m, float* v,
                                                  const float* g, float decay, float clip, const AdamWScalars& s) {
#pragma unroll
  for (int i = 0; i < kCount; ++i) update_one(h[i], l[i], m[i], v[i], __fmul_rn(g[i], clip), decay, s);
}

// kCount consecutive elements from `first`, `seg` the segment of an element at or before
// `first` (left at first's). One segment search and one decay factor when the run lies inside
// one parameter (the common case: parameters are large); a search per element otherwise.
template <int kCount>
__device__ __forceinline__ void update_run(std::uint16_t* h, std::uint16_t* l, float* m, float* v, const float* g,
                                           std::int64_t first, int& seg, const SplitAdamWLaunch& launch, float clip,
                                           const AdamWScalars& s) {
  seg = segment_from(launch, seg, first);
  if (first + (kCount - 1) < launch.segment_end[seg]) {
    update_with_decay<kCount>(h, l, m, v, g, (launch.decay_mask >> seg) & 1u ? s.decay_factor : 1.0f, clip, s);
    return;
  }
  int e = seg;
#pragma unroll
  for (int i = 0; i < kCount; ++i) {
    e = segment_from(launch, e, first + i);
    const float decay = (launch.decay_mask >> e) & 1u ? s.decay_factor : 1.0f;
    update_one(h[i], l[i], m[i], v[i], __fmul_rn(g[i], clip), decay, s);
  }
}

// Whether this launch's update is skipped (non-finite gradients or loss).
__device__ __forceinline__ bool skip_update(const std::int32_t* found_non_finite, const double* loss_sum) {
  return (found_non_finite != nullptr && *found_non_finite != 0) || (loss_sum != nullptr && !isfinite(*loss_sum));
}

// The factor the gradients are scaled by (grad clipping; 1 without a coefficient).
__device__ __forceinline__ float clip_factor(const float* clip_coeff) {
  return clip_coeff != nullptr ? *clip_coeff : 1.0f;
}

// The launch's 8-element packs [first_pack, end_pack): the 8-aligned middle of [begin, end).
struct PackRange {
  std::int64_t first_pack, end_pack;
};
__device__ __forceinline__ PackRange pack_range(const SplitAdamWLaunch& launch) {
  constexpr int kPack = 8;
  const std::int64_t begin = launch.begin, end = launch.end();
  const std::int64_t first_pack = (begin + kPack - 1) / kPack;
  return {first_pack, end / kPack > first_pack ? end / kPack : first_pack};
}

// Head [begin, first_pack*8) and tail [end_pack*8, end), fewer than 8 elements each: threads
// 0..15 of block 0, one element each.
__device__ __forceinline__ void update_head_and_tail(const SplitAdamWLaunch& launch, PackRange packs,
                                                     std::uint16_t* high, std::uint16_t* low, float* exp_avg,
                                                     float* exp_avg_sq, const float* grads,
                                                     const GradZeroRows& zero, float clip, const AdamWScalars& s) {
  constexpr int kPack = 8;
  if (blockIdx.x != 0 || threadIdx.x >= 2 * kPack) return;
  const std::int64_t begin = launch.begin, end = launch.end();
  const std::int64_t head_end = packs.first_pack * kPack < end ? packs.first_pack * kPack : end;
  const std::int64_t tail_begin = packs.end_pack * kPack > head_end ? packs.end_pack * kPack : head_end;
  const std::int64_t i = threadIdx.x < kPack ? begin + threadIdx.x : tail_begin + (threadIdx.x - kPack);
  const bool in_head = threadIdx.x < kPack && i < head_end;
  const bool in_tail = threadIdx.x >= kPack && i < end;
  if (in_head || in_tail) {
    const int seg = segment_from(launch, 0, i);
    const float decay = (launch.decay_mask >> seg) & 1u ? s.decay_factor : 1.0f;
    update_one(high[i], low[i], exp_avg[i], exp_avg_sq[i], __fmul_rn(load_grad(grads, i, zero), clip), decay, s);
  }
}

// kReference: the launch's elements, eight consecutive ones per thread: 16-byte high/low,
// moment and gradient accesses over the 8-aligned middle, all loads issued before any
// arithmetic, a segment search per element; block 0 takes the unaligned head and tail. A pack
// inside a zero row reads no gradient.
// 1024-thread blocks, at most 64 registers: exactly one block per SM, so a grid of k blocks
// occupies k SMs (the overlapped optimizer relies on it).
__global__ void __launch_bounds__(1024, 1)
    split_adamw_kernel(const SplitAdamWLaunch launch, std::uint16_t* high, std::uint16_t* low, float* exp_avg,
                       float* exp_avg_sq, const float* grads, const float* clip_coeff,
                       const std::int32_t* found_non_finite, const double* loss_sum, AdamWScalars s,
                       const GradZeroRows zero) {
  if (skip_update(found_non_finite, loss_sum)) return;
  constexpr int kPack = 8;
  const float clip = clip_factor(clip_coeff);
  const PackRange packs = pack_range(launch);
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t pack = packs.first_pack + blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       pack < packs.end_pack; pack += stride) {
    uint4 hi8 = reinterpret_cast<const uint4*>(high)[pack];
    uint4 lo8 = reinterpret_cast<const uint4*>(low)[pack];
    float4 m8[2] = {reinterpret_cast<const float4*>(exp_avg)[2 * pack], reinterpret_cast<const float4*>(exp_avg)[2 * pack + 1]};
    float4 v8[2] = {reinterpret_cast<const float4*>(exp_avg_sq)[2 * pack],
                    reinterpret_cast<const float4*>(exp_avg_sq)[2 * pack + 1]};
    const std::int64_t first = pack * kPack;
    float4 g8[2] = {make_float4(0.f, 0.f, 0.f, 0.f), make_float4(0.f, 0.f, 0.f, 0.f)};
    const RunGrads grad_run = run_grads<kPack>(zero, first);
    if (grad_run == RunGrads::kRead) {
      g8[0] = reinterpret_cast<const float4*>(grads)[2 * pack];
      g8[1] = reinterpret_cast<const float4*>(grads)[2 * pack + 1];
    } else if (grad_run == RunGrads::kMixed) {
#pragma unroll
      for (int i = 0; i < kPack; ++i) reinterpret_cast<float*>(g8)[i] = load_grad(grads, first + i, zero);
    }
    std::uint16_t* h = reinterpret_cast<std::uint16_t*>(&hi8);
    std::uint16_t* l = reinterpret_cast<std::uint16_t*>(&lo8);
    float* m = reinterpret_cast<float*>(m8);
    float* v = reinterpret_cast<float*>(v8);
    const float* g = reinterpret_cast<const float*>(g8);
    int seg = segment_from(launch, 0, first);
#pragma unroll
    for (int i = 0; i < kPack; ++i) {
      seg = segment_from(launch, seg, first + i);
      const float decay = (launch.decay_mask >> seg) & 1u ? s.decay_factor : 1.0f;
      update_one(h[i], l[i], m[i], v[i], __fmul_rn(g[i], clip), decay, s);
    }
    reinterpret_cast<uint4*>(high)[pack] = hi8;
    reinterpret_cast<uint4*>(low)[pack] = lo8;
    reinterpret_cast<float4*>(exp_avg)[2 * pack] = m8[0];
    reinterpret_cast<float4*>(exp_avg)[2 * pack + 1] = m8[1];
    reinterpret_cast<float4*>(exp_avg_sq)[2 * pack] = v8[0];
    reinterpret_cast<float4*>(exp_avg_sq)[2 * pack + 1] = v8[1];
  }
  update_head_and_tail(launch, packs, high, low, exp_avg, exp_avg_sq, grads, zero, clip, s);
}

// Quad x updated as update_one would each element (the same bits), with one decay factor; the
// high/low halves joined and split a pair at a time (one PRMT per element each way).
__device__ __forceinline__ void update_quad(Quad& x, float decay, float clip, const AdamWScalars& s) {
  float p[4];
  join_quad(x.high, x.low, p);
#pragma unroll
  for (int i = 0; i < 4; ++i)
    p[i] = ops::cuda::adamw_update_fast(p[i], x.m()[i], x.v()[i], __fmul_rn(x.g()[i], clip), decay, s);
  split_quad(p, x.high, x.low);
}

// cp.async: a global -> shared copy that holds no register while in flight. `after` is an
// operand only: the copy cannot issue before the registers it was computed from are written.
template <int kBytes>
__device__ __forceinline__ void copy_async(void* shared, const void* global, unsigned after) {
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  if constexpr (kBytes == 16)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16; // after %2\n" ::"r"(address), "l"(global), "r"(after)
                 : "memory");
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2; // after %3\n" ::"r"(address), "l"(global), "n"(kBytes),
                 "r"(after)
                 : "memory");
}
__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void copy_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

// Quad q's gradient into this thread's shared slot: copied (cp.async, after `after`), or +0
// where its rows are zero, stored by the thread itself and so ordered after its earlier reads
// of the slot like any own access; a quad straddling a row edge goes element by element.
// kZeroRows false: zero.marks is null, every gradient is copied (the row checks compile away).
template <bool kZeroRows>
__device__ __forceinline__ void copy_quad_grad(float4* slot, const float* grads, std::int64_t q,
                                               const GradZeroRows& zero, unsigned after) {
  constexpr int kQuad = 4;
  const RunGrads run = kZeroRows ? run_grads<kQuad>(zero, kQuad * q) : RunGrads::kRead;
  if (run == RunGrads::kRead) {
    copy_async<16>(slot, reinterpret_cast<const float4*>(grads) + q, after);
  } else if (run == RunGrads::kZero) {
    *slot = make_float4(0.f, 0.f, 0.f, 0.f);
  } else {
    float* element = reinterpret_cast<float*>(slot);
#pragma unroll
    for (int k = 0; k < kQuad; ++k) {
      if (in_zero_row(zero, kQuad * q + k)) {
        element[k] = 0.0f;
      } else {
        copy_async<4>(element + k, grads + kQuad * q + k, after);
      }
    }
  }
}

// kAsync's shared memory: a chunk of 2 * 1024 quads, per field, thread t's two quads at [0][t]
// and [1][t] (consecutive threads, consecutive addresses: no bank conflicts). 128 KB: more than
// half of an SM's shared memory, so a second block never fits beside the first.
constexpr int kAsyncThreads = 1024;
struct AsyncChunk {
  uint2 high[2][kAsyncThreads], low[2][kAsyncThreads];
  float4 exp_avg[2][kAsyncThreads], exp_avg_sq[2][kAsyncThreads], grad[2][kAsyncThreads];
};
static_assert(sizeof(AsyncChunk) > 228 * 1024 / 2, "one block per SM: a second must not fit beside it");

// kAsync: the launch's 8-aligned middle in chunks of 2 * 1024 four-element quads; block b takes
// chunks b, b + grid, ...; thread t owns quads t and 1024 + t of each, so that every warp access,
// load or store, covers whole 32-byte sectors (kReference's eight consecutive elements per thread
// store each moment sector in two 16-byte halves: a memory-only probe of that pattern moved
// ~55-62 GB/s per SM on an H100, this one ~102-106). The next chunk is copied into shared memory
// (cp.async) while the current one is computed from registers, so a thread never waits for
// memory and math in turn: each thread reads its 8 elements of chunk i out of shared memory,
// issues the copies of chunk i + 1 into the same slots (its own: no block barrier; ordered after
// those reads by a register dependency), then computes chunk i and stores it to global memory.
// The gradient of a quad inside a zero row is not copied: the thread stores +0 into its slot.
// kZeroRows: whether zero.marks may be set. Without marks (the overlapped tail's launches) the
// per-quad row checks go: ~76 -> ~62 instructions per element with IEEE math (ncu; 37.6 now).
template <bool kZeroRows>
__global__ void __launch_bounds__(kAsyncThreads, 1)
    split_adamw_async_kernel(const SplitAdamWLaunch launch, std::uint16_t* high, std::uint16_t* low, float* exp_avg,
                             float* exp_avg_sq, const float* grads, const float* clip_coeff,
                             const std::int32_t* found_non_finite, const double* loss_sum, AdamWScalars s,
                             const GradZeroRows zero) {
  if (skip_update(found_non_finite, loss_sum)) return;
  constexpr int kQuad = 4;
  extern __shared__ uint4 shared_words[];
  AsyncChunk& chunk = *reinterpret_cast<AsyncChunk*>(shared_words);
  const float clip = clip_factor(clip_coeff);
  const PackRange packs = pack_range(launch);
  const std::int64_t end_quad = 2 * packs.end_pack;
  const int t = static_cast<int>(threadIdx.x);
  // This thread's quad `half` of the block's i-th chunk (at or past end_quad once the block has run out).
  auto quad = [&](std::int64_t i, int half) {
    return 2 * packs.first_pack + (blockIdx.x + i * static_cast<std::int64_t>(gridDim.x)) * (2 * kAsyncThreads) +
           half * kAsyncThreads + t;
  };
  auto issue = [&](std::int64_t i, unsigned after) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const std::int64_t q = quad(i, half);
      if (q < end_quad) {
        copy_async<8>(&chunk.high[half][t], reinterpret_cast<const uint2*>(high) + q, after);
        copy_async<8>(&chunk.low[half][t], reinterpret_cast<const uint2*>(low) + q, after);
        copy_async<16>(&chunk.exp_avg[half][t], reinterpret_cast<const float4*>(exp_avg) + q, after);
        copy_async<16>(&chunk.exp_avg_sq[half][t], reinterpret_cast<const float4*>(exp_avg_sq) + q, after);
        copy_quad_grad<kZeroRows>(&chunk.grad[half][t], grads, q, zero, after);
      }
    }
    copy_async_commit();
  };
  issue(0, 0);
  int seg = 0;  // this thread's quads only move forward
  for (std::int64_t i = 0; quad(i, 0) < end_quad; ++i) {
    // Both quads inside one parameter (nearly always): one segment search for the eight elements.
    const std::int64_t q0 = quad(i, 0), q1 = quad(i, 1);
    seg = segment_from(launch, seg, kQuad * q0);
    const bool uniform = kQuad * (q1 < end_quad ? q1 : q0) + (kQuad - 1) < launch.segment_end[seg];
    const float decay = (launch.decay_mask >> seg) & 1u ? s.decay_factor : 1.0f;
    copy_async_wait_all();  // this thread's copies of chunk i have landed
    Quad x[2];
#pragma unroll
    for (int half = 0; half < 2; ++half)
      x[half] = {chunk.high[half][t], chunk.low[half][t], chunk.exp_avg[half][t], chunk.exp_avg_sq[half][t],
                 chunk.grad[half][t]};
    // One word of every shared-memory read: the copies that overwrite the slots wait for the reads.
    unsigned after = 0;
#pragma unroll
    for (int half = 0; half < 2; ++half)
      after ^= x[half].high.x ^ x[half].low.x ^ __float_as_uint(x[half].exp_avg.x) ^
               __float_as_uint(x[half].exp_avg_sq.x) ^ __float_as_uint(x[half].grad.x);
    issue(i + 1, after);
    if (uniform) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const std::int64_t q = half == 0 ? q0 : q1;
        if (q < end_quad) {
          update_quad(x[half], decay, clip, s);
          store_quad(x[half], q, high, low, exp_avg, exp_avg_sq);
        }
      }
      continue;
    }
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const std::int64_t q = half == 0 ? q0 : q1;
      if (q < end_quad) {
        update_run<kQuad>(x[half].h(), x[half].l(), x[half].m(), x[half].v(), x[half].g(), kQuad * q, seg, launch,
                          clip, s);
        store_quad(x[half], q, high, low, exp_avg, exp_avg_sq);
      }
    }
  }
  copy_async_wait_all();  // no copy outlives the block (the last issue copies nothing)
  update_head_and_tail(launch, packs, high, low, exp_avg, exp_avg_sq, grads, zero, clip, s);
}

__global__ void gather_after_adamw_kernel(std::uint16_t* out, const std::int32_t* tokens, std::int64_t rows,
                                          std::int64_t vocab, std::int64_t hidden, std::int64_t table_offset,
                                          float decay, const std::uint16_t* high, const std::uint16_t* low,
                                          const float* exp_avg, const float* exp_avg_sq, const float* grads,
                                          const float* clip_coeff, const std::int32_t* found_non_finite,
                                          const double* loss_sum, AdamWScalars s, const std::uint8_t* zero_marks) {
  const bool skip = skip_update(found_non_finite, loss_sum);
  const float clip = clip_factor(clip_coeff);
  const std::int64_t count = rows * hidden;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < count; e += stride) {
    const std::int32_t token = tokens[e / hidden];
    if (token < 0 || token >= vocab) {
      out[e] = 0x7fc0;  // bf16 NaN marks the bad token's row
      continue;
    }
    const std::int64_t i = table_offset + token * hidden + e % hidden;
    std::uint16_t h = high[i];
    if (!skip) {
      std::uint16_t l = low[i];
      float m = exp_avg[i], v = exp_avg_sq[i];
      // A row the marks call zero holds +0: not read.
      const float g = zero_marks != nullptr && zero_marks[token] == 0 ? 0.0f : grads[i];
      update_one(h, l, m, v, __fmul_rn(g, clip), decay, s);
    }
    out[e] = h;
  }
}

__global__ void split_kernel(const float* in, std::uint16_t* high, std::uint16_t* low, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count; i += stride) {
    const unsigned bits = __float_as_uint(in[i]);
    high[i] = static_cast<std::uint16_t>(bits >> 16);
    low[i] = static_cast<std::uint16_t>(bits & 0xffffu);
  }
}

__global__ void weighted_loss_kernel(double* loss_sum, const float* losses, const float* weights, std::int64_t rows,
                                     bool reset) {
  __shared__ double partial[1024];
  double sum = 0.0;
  for (std::int64_t r = threadIdx.x; r < rows; r += blockDim.x)
    sum += static_cast<double>(losses[r]) * static_cast<double>(weights[r]);
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned width = blockDim.x / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) partial[threadIdx.x] += partial[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x == 0) *loss_sum = (reset ? 0.0 : *loss_sum) + partial[0];
}

}  // namespace

namespace {

constexpr SplitAdamWKernel kSplitAdamWKernels[] = {SplitAdamWKernel::kReference, SplitAdamWKernel::kAsync};

}  // namespace

const char* split_adamw_kernel_name(SplitAdamWKernel kernel) {
  switch (kernel) {
    case SplitAdamWKernel::kReference:
      return "reference";
    case SplitAdamWKernel::kAsync:
      return "async";
  }
  return "?";
}

SplitAdamWKernel parse_split_adamw_kernel(const char* name) {
  std::string choices;
  for (SplitAdamWKernel kernel : kSplitAdamWKernels) {
    if (name != nullptr && std::string(name) == split_adamw_kernel_name(kernel)) return kernel;
    choices += std::string(choices.empty() ? "" : ", ") + split_adamw_kernel_name(kernel);
  }
  throw std::invalid_argument(std::string("PRIMUS_SPLIT_ADAMW_KERNEL: '") + (name != nullptr ? name : "") +
                              "' is not a kernel; expected one of " + choices);
}

SplitAdamWKernel split_adamw_kernel_from_environment() {
  static const SplitAdamWKernel kernel = [] {
    const char* name = std::getenv("PRIMUS_SPLIT_ADAMW_KERNEL");
    return name == nullptr || *name == '\0' ? SplitAdamWKernel::kAsync : parse_split_adamw_kernel(name);
  }();
  return kernel;
}

void split_adamw_launch(const SplitAdamWLaunch& launch, __nv_bfloat16* high, std::uint16_t* low, float* exp_avg,
                        float* exp_avg_sq, const float* grads, const float* clip_coeff,
                        const std::int32_t* found_non_finite, const double* loss_sum,
                        const AdamWHyperparameters& hyper, int sms, cudaStream_t stream, const ZeroRows& zero_grads) {
  split_adamw_launch_with(split_adamw_kernel_from_environment(), launch, high, low, exp_avg, exp_avg_sq, grads,
                          clip_coeff, found_non_finite, loss_sum, hyper, sms, stream, zero_grads);
}

void split_adamw_launch_with(SplitAdamWKernel kernel, const SplitAdamWLaunch& launch, __nv_bfloat16* high,
                             std::uint16_t* low, float* exp_avg, float* exp_avg_sq, const float* grads,
                             const float* clip_coeff, const std::int32_t* found_non_finite, const double* loss_sum,
                             const AdamWHyperparameters& hyper, int sms, cudaStream_t stream,
                             const ZeroRows& zero_grads) {
  using ops::cuda::is_aligned;
  bool ordered = launch.segment_count >= 1 && launch.segment_count <= SplitAdamWLaunch::kMaxSegments &&
                 launch.begin >= 0 && launch.begin < launch.segment_end[0];
  for (int i = 1; ordered && i < launch.segment_count; ++i)
    ordered = launch.segment_end[i - 1] < launch.segment_end[i];
  ops::cuda::require_kernel_argument(ordered && hyper.step >= 1, "split_adamw_launch",
                                     "1..16 non-empty segments in order and step >= 1 expected");
  ops::cuda::require_kernel_argument(is_aligned(high, 16) && is_aligned(low, 16) && is_aligned(exp_avg, 16) &&
                                         is_aligned(exp_avg_sq, 16) && is_aligned(grads, 16),
                                     "split_adamw_launch", "16-byte aligned buffers expected");
  ops::cuda::require_kernel_argument(
      zero_grads.marks == nullptr || (zero_grads.begin >= 0 && zero_grads.rows >= 0 && zero_grads.row_elements > 0),
      "split_adamw_launch", "zero rows: begin >= 0, rows >= 0, row_elements > 0 expected");
  // Rows that miss the launch cost the kernels nothing: they see none.
  GradZeroRows zero{zero_grads.marks, zero_grads.begin, zero_grads.begin + zero_grads.rows * zero_grads.row_elements,
                    zero_grads.row_elements};
  if (zero.marks == nullptr || zero.end <= launch.begin || zero.begin >= launch.end() || zero.begin == zero.end)
    zero = GradZeroRows{nullptr, 0, 0, 1};
  const AdamWScalars s = ops::cuda::adamw_scalars(hyper);
  const int threads = 1024;
  const std::int64_t packs = (launch.end() - launch.begin) / 8 + 2;
  const int limit = sms > 0 ? std::min(sms, ops::cuda::device_sm_count()) : ops::cuda::device_sm_count();
  const int blocks =
      static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>((packs + threads - 1) / threads, limit)));
  auto* high_bits = reinterpret_cast<std::uint16_t*>(high);
  if (kernel == SplitAdamWKernel::kAsync) {
    constexpr int shared_bytes = sizeof(AsyncChunk);
    static const bool shared_raised = [] {  // more than 48 KB only once the limit is raised
      for (auto* function : {split_adamw_async_kernel<true>, split_adamw_async_kernel<false>})
        PRIMUS_CUDA_CHECK(cudaFuncSetAttribute(function, cudaFuncAttributeMaxDynamicSharedMemorySize, shared_bytes));
      return true;
    }();
    (void)shared_raised;
    auto* kernel_function = zero.marks != nullptr ? split_adamw_async_kernel<true> : split_adamw_async_kernel<false>;
    kernel_function<<<blocks, threads, shared_bytes, stream>>>(launch, high_bits, low, exp_avg, exp_avg_sq, grads,
                                                               clip_coeff, found_non_finite, loss_sum, s, zero);
  } else {
    split_adamw_kernel<<<blocks, threads, 0, stream>>>(launch, high_bits, low, exp_avg, exp_avg_sq, grads, clip_coeff,
                                                       found_non_finite, loss_sum, s, zero);
  }
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void gather_rows_after_adamw(__nv_bfloat16* out, const std::int32_t* tokens, std::int64_t rows, std::int64_t vocab,
                             std::int64_t hidden, std::int64_t table_offset, bool decay, const __nv_bfloat16* high,
                             const std::uint16_t* low, const float* exp_avg, const float* exp_avg_sq,
                             const float* grads, const float* clip_coeff, const std::int32_t* found_non_finite,
                             const double* loss_sum, const AdamWHyperparameters& hyper, cudaStream_t stream,
                             const ZeroRows& zero_grads) {
  ops::cuda::require_kernel_argument(rows >= 0 && vocab > 0 && hidden > 0 && table_offset >= 0 && hyper.step >= 1,
                                     "gather_rows_after_adamw",
                                     "rows >= 0, vocab > 0, hidden > 0, table_offset >= 0 and step >= 1 expected");
  ops::cuda::require_kernel_argument(zero_grads.marks == nullptr ||
                                         (zero_grads.begin == table_offset && zero_grads.rows == vocab &&
                                          zero_grads.row_elements == hidden),
                                     "gather_rows_after_adamw", "zero rows: none or the table's rows expected");
  if (rows == 0) return;
  const AdamWScalars s = ops::cuda::adamw_scalars(hyper);
  const std::int64_t count = rows * hidden;
  const int blocks = static_cast<int>(std::min<std::int64_t>((count + 255) / 256, std::int64_t{ops::cuda::device_sm_count()} * 16));
  gather_after_adamw_kernel<<<blocks, 256, 0, stream>>>(
      reinterpret_cast<std::uint16_t*>(out), tokens, rows, vocab, hidden, table_offset,
      decay ? s.decay_factor : 1.0f, reinterpret_cast<const std::uint16_t*>(high), low, exp_avg, exp_avg_sq, grads,
      clip_coeff, found_non_finite, loss_sum, s, zero_grads.marks);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void split_master_weights_on_device(const float* in, __nv_bfloat16* high, std::uint16_t* low, std::int64_t count,
                                    cudaStream_t stream) {
  if (count == 0) return;
  const int blocks = static_cast<int>(std::min<std::int64_t>((count + 255) / 256, std::int64_t{ops::cuda::device_sm_count()} * 32));
  split_kernel<<<blocks, 256, 0, stream>>>(in, reinterpret_cast<std::uint16_t*>(high), low, count);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void accumulate_weighted_loss(double* loss_sum, const float* losses, const float* weights, std::int64_t rows,
                              bool reset, cudaStream_t stream) {
  weighted_loss_kernel<<<1, 1024, 0, stream>>>(loss_sum, losses, weights, rows, reset);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::train::cuda
