// Rows of an fp32 [rows, row_elements] gradient table that a step wrote, one byte each: the
// word embeddings' gradient is zero except in the rows of the batch's tokens (a few thousand
// of 128K), so the step-start zeroing and the grad norm need only those rows. Invariant the
// callers keep: an unmarked row is all zeros (a marked one may be zero too).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace primus::ops::cuda {

// marks[indices[i]] = 1 for i in [0, count); indices outside [0, rows) are ignored (the
// embedding backward skips them too).
void mark_touched_rows(std::uint8_t* marks, const std::int32_t* indices, std::int64_t count, std::int64_t rows,
                       cudaStream_t stream);

// Zero every marked row of table and clear its mark: with the invariant, the whole table is
// then zero (what a memset of it would give) for a fraction of the bytes.
void zero_touched_rows(float* table, std::uint8_t* marks, std::int64_t rows, std::int64_t row_elements,
                       cudaStream_t stream);

}  // namespace primus::ops::cuda
