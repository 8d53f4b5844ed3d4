// Touched-row marks: a scatter of ones over the batch's indices, and a zeroing pass that
// reads every mark but writes only the marked rows.
#include <algorithm>
#include <cstdint>

#include "primus/ops/cuda/kernel_check.hpp"
#include "primus/ops/cuda/touched_rows.hpp"

namespace primus::ops::cuda {
namespace {

__global__ void mark_kernel(std::uint8_t* marks, const std::int32_t* indices, std::int64_t count, std::int64_t rows) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int32_t row = indices[i];
    if (row >= 0 && row < rows) marks[row] = 1;
  }
}

// One warp per row: lane 0 reads the mark, the warp zeroes the row (16-byte stores when aligned).
__global__ void zero_kernel(float* table, std::uint8_t* marks, std::int64_t rows, std::int64_t row_elements) {
  const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * (blockDim.x / 32);
  const int lane = threadIdx.x % 32;
  for (std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; row < rows;
       row += warps) {
    if (marks[row] == 0) continue;  // the whole warp reads the same byte: uniform branch
    float* begin = table + row * row_elements;
    const bool vector = row_elements % 4 == 0 && reinterpret_cast<std::uintptr_t>(begin) % 16 == 0;
    if (vector) {
      float4* v = reinterpret_cast<float4*>(begin);
      for (std::int64_t i = lane; i < row_elements / 4; i += 32) v[i] = make_float4(0.f, 0.f, 0.f, 0.f);
    } else {
      for (std::int64_t i = lane; i < row_elements; i += 32) begin[i] = 0.0f;
    }
    __syncwarp();
    if (lane == 0) marks[row] = 0;
  }
}

}  // namespace

void mark_touched_rows(std::uint8_t* marks, const std::int32_t* indices, std::int64_t count, std::int64_t rows,
                       cudaStream_t stream) {
  require_kernel_argument(count >= 0 && rows > 0, "mark_touched_rows",
                          "count = " + std::to_string(count) + ", rows = " + std::to_string(rows) +
                              ": expected count >= 0 and rows > 0");
  if (count == 0) return;
  const int blocks = static_cast<int>(std::min<std::int64_t>((count + 255) / 256, 1024));
  mark_kernel<<<blocks, 256, 0, stream>>>(marks, indices, count, rows);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void zero_touched_rows(float* table, std::uint8_t* marks, std::int64_t rows, std::int64_t row_elements,
                       cudaStream_t stream) {
  require_kernel_argument(rows > 0 && row_elements > 0, "zero_touched_rows",
                          "rows = " + std::to_string(rows) + ", row_elements = " + std::to_string(row_elements) +
                              ": expected both > 0");
  const int blocks = static_cast<int>(std::min<std::int64_t>((rows + 7) / 8, 4096));
  zero_kernel<<<blocks, 256, 0, stream>>>(table, marks, rows, row_elements);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::ops::cuda
