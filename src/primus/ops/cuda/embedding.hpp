// Token and learned absolute position embeddings on the GPU, twins of
// primus::ops::cpu::embedding_* and position_embedding_*: bf16 weight and activations,
// fp32 dweight (main grad). The token backward is deterministic: token ids are sorted
// (CUB radix sort in caller scratch) and each distinct token's rows are summed in row
// order by one block, so no two threads ever add into the same dweight row.
// Out-of-range token ids cannot throw from the GPU: the forward writes a NaN row (the
// loss turns NaN and the step's non-finite check catches it), the backward skips them.
// Vectorised when hidden % 8 == 0 and pointers are 16-byte aligned; any hidden works.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace primus::ops::cuda {

// out[row, :] = weight[tokens[row], :]. weight is [vocab, hidden]; tokens is a device array.
void embedding_forward(__nv_bfloat16* out, const std::int32_t* tokens, const __nv_bfloat16* weight, std::int64_t rows,
                       std::int64_t vocab, std::int64_t hidden, cudaStream_t stream);

// Bytes of scratch embedding_backward needs for `rows` tokens (sort keys, values, CUB temp).
std::size_t embedding_backward_scratch_bytes(std::int64_t rows);

// dweight[tokens[row], :] += dout[row, :] (accumulates, deterministic).
// scratch: at least embedding_backward_scratch_bytes(rows) bytes of device memory.
void embedding_backward(float* dweight, const __nv_bfloat16* dout, const std::int32_t* tokens, std::int64_t rows,
                        std::int64_t vocab, std::int64_t hidden, void* scratch, std::size_t scratch_bytes,
                        cudaStream_t stream);

// out[b, s, :] += weight[s, :] for positions 0..seq-1; weight is [max_positions, hidden].
void position_embedding_forward(__nv_bfloat16* out, const __nv_bfloat16* weight, std::int64_t batch, std::int64_t seq,
                                std::int64_t hidden, cudaStream_t stream);
// dweight[s, :] += sum_b dout[b, s, :] (accumulates, deterministic).
void position_embedding_backward(float* dweight, const __nv_bfloat16* dout, std::int64_t batch, std::int64_t seq,
                                 std::int64_t hidden, cudaStream_t stream);

}  // namespace primus::ops::cuda
