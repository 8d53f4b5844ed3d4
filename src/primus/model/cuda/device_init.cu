// Parameter-init kernels: one thread per Box-Muller pair (each chunk's stream is random
// access, normal_sampler.hpp), and a constant fill.
#include "primus/model/cuda/device_init.hpp"
#include "primus/model/normal_sampler.hpp"
#include "primus/ops/cuda/kernel_check.hpp"

namespace primus::model::cuda {
namespace {

namespace ns = normal_sampler;

__global__ void normal_kernel(float* out, std::int64_t count, double stddev, std::uint64_t tensor_seed) {
  const std::int64_t pairs = (count + 1) / 2;  // chunks are even, so pairs never straddle one
  for (std::int64_t pair = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; pair < pairs;
       pair += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t i = 2 * pair, chunk = i / ns::kChunk;
    const ns::Pair values = ns::normal_pair(ns::chunk_state(tensor_seed, chunk), (i - chunk * ns::kChunk) / 2, stddev);
    out[i] = values.first;
    if (i + 1 < count) out[i + 1] = values.second;
  }
}

__global__ void value_kernel(float* out, std::int64_t count, float value) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    out[i] = value;
}

int blocks_for(std::int64_t items) {
  const std::int64_t blocks = (items + 255) / 256;
  return static_cast<int>(blocks < 1 ? 1 : (blocks > 65536 ? 65536 : blocks));
}

}  // namespace

void fill_normal_on_device(float* out, std::int64_t count, double stddev, std::uint64_t tensor_seed,
                           cudaStream_t stream) {
  ops::cuda::require_kernel_argument(count >= 0, "fill_normal_on_device",
                                     "count = " + std::to_string(count) + " must be >= 0");
  if (count == 0) return;
  normal_kernel<<<blocks_for((count + 1) / 2), 256, 0, stream>>>(out, count, stddev, tensor_seed);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void fill_value_on_device(float* out, std::int64_t count, float value, cudaStream_t stream) {
  ops::cuda::require_kernel_argument(count >= 0, "fill_value_on_device",
                                     "count = " + std::to_string(count) + " must be >= 0");
  if (count == 0) return;
  value_kernel<<<blocks_for(count), 256, 0, stream>>>(out, count, value);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::model::cuda
