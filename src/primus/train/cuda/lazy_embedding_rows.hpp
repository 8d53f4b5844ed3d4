// The untied word-embedding table's AdamW update, kept lazily per row. A step's batch touches
// few of the table's rows (8B: at most 8192 of 128256), yet AdamW moves every row every step
// (moment decay, weight decay): 28 bytes a parameter, ~14.7 GB a step on Llama 3 8B, for rows
// whose gradient is +0. Here a row's state (split master weight, moments) is only brought
// up to date when something needs it: the forward's gather (computed on the fly, not stored),
// the rows the step's gradient touched, one slice of rows per step (row % ring_size ==
// step % ring_size, so that no row falls more than ring_size - 1 steps behind and a ring of
// ring_size steps' scalars suffices), and every row before the host reads the table. Bringing
// a row up replays the steps it missed with +0 gradients through the same element update
// (split_master_update.cuh), in step order, so every bit equals updating every row every step.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "primus/ops/cuda/adamw.hpp"

namespace primus::train::cuda {

// Device state: the step each row is current at, and the last ring_size steps' AdamW scalars.
struct LazyRows {
  static constexpr int kMaxRing = 64;
  std::int32_t* row_step = nullptr;  // [vocab]
  void* ring = nullptr;              // lazy_rows_ring_bytes(ring_size): step t's scalars at slot t % ring_size
  int ring_size = 0;
};
std::size_t lazy_rows_ring_bytes(int ring_size);

// The table: rows [0, vocab) of `hidden` elements at `offset` of the split master buffers.
struct LazyTable {
  __nv_bfloat16* high = nullptr;
  std::uint16_t* low = nullptr;
  float *exp_avg = nullptr, *exp_avg_sq = nullptr;
  const float* grads = nullptr;
  std::int64_t offset = 0, vocab = 0, hidden = 0;
  bool decay = false;  // the table takes weight decay
};

// Stores step `step`'s scalars (AdamW with hyper, hyper.step == step) in its ring slot.
void lazy_rows_record_step(const LazyRows& lazy, const ops::cuda::AdamWHyperparameters& hyper, cudaStream_t stream);
// Every row current at `step` (after the host wrote the table, or loaded a checkpoint).
void lazy_rows_fill(const LazyRows& lazy, std::int64_t vocab, std::int64_t step, cudaStream_t stream);

// out[r, :] = the bf16 weights of row tokens[r] as of step `step` (computed, not stored). The
// steps a row missed see +0 gradients, except step `step` itself for a row that touched[row]
// marks (non-zero): its gradient times *clip_coeff. touched == nullptr: no row has one (their
// update is stored already). A token outside [0, vocab) gives a NaN row (as embedding_forward).
void lazy_rows_gather(__nv_bfloat16* out, const std::int32_t* tokens, std::int64_t rows, const LazyTable& table,
                      const LazyRows& lazy, std::int64_t step, const float* clip_coeff, const std::uint8_t* touched,
                      cudaStream_t stream);

// Brings rows up to `step` and stores them: every row (all_rows), else the touched rows and the
// step's slice. Gradients as in lazy_rows_gather. On at most `sms` SMs (0: the whole device),
// one 1024-thread block per SM, as split_adamw_launch.
void lazy_rows_update(const LazyTable& table, const LazyRows& lazy, std::int64_t step, const float* clip_coeff,
                      const std::uint8_t* touched, bool all_rows, int sms, cudaStream_t stream);

}  // namespace primus::train::cuda
