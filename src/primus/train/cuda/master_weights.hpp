// Split fp32 master weights: each fp32 master weight is stored as its bf16 high half
// (the model weight the GEMMs read directly; truncation rounding) and a 16-bit low
// half, so master + model copy cost 4 bytes per parameter instead of 6. AdamW
// reassembles the exact fp32 value, updates it and splits it again, in one launch over
// the flat buffer; the loss accumulator and non-finite flag live on the device.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "primus/ops/cuda/adamw.hpp"
#include "primus/ops/cuda/grad_norm.hpp"

namespace primus::train::cuda {

// Host: fp32 -> (high, low) halves and back (exact).
// (defined in master_weights_host.cpp; this header stays C++17 for nvcc)
void split_master_weights(const float* in, std::uint16_t* high, std::uint16_t* low, std::int64_t count);
void join_master_weights(const std::uint16_t* high, const std::uint16_t* low, float* out, std::int64_t count);

// Device: fp32 in[count] -> high, low halves (exact); in may be any scratch of count floats.
void split_master_weights_on_device(const float* in, __nv_bfloat16* high, std::uint16_t* low, std::int64_t count,
                                    cudaStream_t stream);

// One AdamW launch over consecutive parameters: elements [begin, segment_end[count - 1]),
// parameter s ending at segment_end[s], decaying when bit s of decay_mask is set. The
// table travels in the kernel's arguments, so finding an element's parameter costs no
// memory access (a per-element search in a device table starved the loads of a kernel that
// has only a few SMs to itself).
struct SplitAdamWLaunch {
  static constexpr int kMaxSegments = 16;
  std::int64_t begin = 0;
  std::int64_t segment_end[kMaxSegments] = {};
  std::uint32_t decay_mask = 0;
  std::int32_t segment_count = 0;
  __host__ __device__ std::int64_t end() const { return segment_count > 0 ? segment_end[segment_count - 1] : begin; }
};

// AdamW (torch.optim.AdamW order, as primus::optim::AdamW::step, in apex-style fast math:
// ops::cuda::adamw_update_fast, within a few ulps of the CPU's update) on the split master weights
// for one launch's elements, on at most `sms` SMs (0: the whole device; exactly one block per
// SM, whichever kernel runs). The gradient is scaled by *clip_coeff; the update is skipped when
// *found_non_finite != 0 or *loss_sum is not finite. zero_grads: rows of the gradient that the
// marks call zero (untied word embeddings: the rows no token of the batch touched) are not read
// but taken as +0, the value they hold: the same bits, 4 fewer bytes per element of those rows.
// Their master weights and moments are still updated (moment decay, weight decay). A pack that
// straddles a row edge reads the elements of its marked rows one by one.
void split_adamw_launch(const SplitAdamWLaunch& launch, __nv_bfloat16* high, std::uint16_t* low, float* exp_avg,
                        float* exp_avg_sq, const float* grads, const float* clip_coeff,
                        const std::int32_t* found_non_finite, const double* loss_sum,
                        const ops::cuda::AdamWHyperparameters& hyper, int sms, cudaStream_t stream,
                        const ops::cuda::ZeroRows& zero_grads = {});

// The kernels that can run split_adamw_launch: the same update, bit for bit, at different
// speeds per SM (1024-thread blocks, one per SM, eight elements per thread at a time).
// kReference: the thread's eight consecutive elements loaded, then computed, with a segment
// search per element. kAsync: every warp access covers whole 32-byte sectors, one segment
// search per four elements, and the thread's next elements are copied into shared memory
// (cp.async) while its current ones are computed. split_adamw_launch runs the one
// PRIMUS_SPLIT_ADAMW_KERNEL names (reference or async; read once; default async).
enum class SplitAdamWKernel { kReference, kAsync };

// The kernel a name denotes; std::invalid_argument naming the variable, the value and the
// choices otherwise.
SplitAdamWKernel parse_split_adamw_kernel(const char* name);
// The kernel PRIMUS_SPLIT_ADAMW_KERNEL names (read at the first call), kAsync when unset.
SplitAdamWKernel split_adamw_kernel_from_environment();
const char* split_adamw_kernel_name(SplitAdamWKernel kernel);

// split_adamw_launch with the kernel chosen by the caller (tests and timings compare them).
void split_adamw_launch_with(SplitAdamWKernel kernel, const SplitAdamWLaunch& launch, __nv_bfloat16* high,
                             std::uint16_t* low, float* exp_avg, float* exp_avg_sq, const float* grads,
                             const float* clip_coeff, const std::int32_t* found_non_finite, const double* loss_sum,
                             const ops::cuda::AdamWHyperparameters& hyper, int sms, cudaStream_t stream,
                             const ops::cuda::ZeroRows& zero_grads = {});

// out[r, :] = the bf16 model weights of row tokens[r] of a table of split master weights
// (elements [table_offset, table_offset + vocab * hidden)) as an AdamW update of that table
// that has not run yet will leave them: split_adamw_launch's arithmetic (same clip, skip
// flag, hyperparameters and decay) on the pre-update state, which is only read. Lets the
// forward read the word embeddings before their update, so the update can run later beside
// the forward instead of before it. A token outside [0, vocab) gives a NaN row (as
// embedding_forward). zero_grads (none, or exactly this table: begin table_offset, vocab rows of
// hidden): the gradient of a row its marks call zero is not read, as in split_adamw_launch.
void gather_rows_after_adamw(__nv_bfloat16* out, const std::int32_t* tokens, std::int64_t rows, std::int64_t vocab,
                             std::int64_t hidden, std::int64_t table_offset, bool decay, const __nv_bfloat16* high,
                             const std::uint16_t* low, const float* exp_avg, const float* exp_avg_sq,
                             const float* grads, const float* clip_coeff, const std::int32_t* found_non_finite,
                             const double* loss_sum, const ops::cuda::AdamWHyperparameters& hyper,
                             cudaStream_t stream, const ops::cuda::ZeroRows& zero_grads = {});


// *loss_sum (= when reset, else +=) Σ_r losses[r] * weights[r], one block, fixed order (deterministic).
void accumulate_weighted_loss(double* loss_sum, const float* losses, const float* weights, std::int64_t rows,
                              bool reset, cudaStream_t stream);

}  // namespace primus::train::cuda
