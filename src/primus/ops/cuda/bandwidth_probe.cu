// Read-bandwidth probes (diagnostics for the overlapped optimizer; see the header).
#include "primus/ops/cuda/bandwidth_probe.hpp"
#include "primus/ops/cuda/kernel_check.hpp"

namespace primus::ops::cuda {
namespace {

constexpr int kThreads = 1024;

__global__ void __launch_bounds__(kThreads, 1) ldg_read(const uint4* data, std::int64_t count, unsigned* out) {
  unsigned acc = 0;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  for (; i + 3 * stride < count; i += 4 * stride) {  // four independent loads in flight per thread
    const uint4 a = data[i], b = data[i + stride], c = data[i + 2 * stride], d = data[i + 3 * stride];
    acc += a.x + b.y + c.z + d.w;
  }
  for (; i < count; i += stride) acc += data[i].x;
  atomicAdd(out, acc);
}

constexpr int kStages = 6;
constexpr int kStageBytes = 32 * 1024;

__device__ __forceinline__ unsigned smem_address(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// Block b reads chunks b, b + grid, ... of kStageBytes each through a ring of kStages stages.
__global__ void __launch_bounds__(kThreads, 1) bulk_read(const unsigned char* data, std::int64_t chunks, unsigned* out) {
  extern __shared__ __align__(128) unsigned char ring[];
  __shared__ __align__(8) unsigned long long full[kStages];
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s)
      asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(smem_address(&full[s])));
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  auto issue = [&](std::int64_t chunk, int stage) {
    const unsigned bar = smem_address(&full[stage]);
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(kStageBytes) : "memory");
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
            smem_address(ring + stage * kStageBytes)),
        "l"(data + chunk * kStageBytes), "r"(kStageBytes), "r"(bar)
        : "memory");
  };
  const std::int64_t mine = chunks > blockIdx.x ? (chunks - blockIdx.x + gridDim.x - 1) / gridDim.x : 0;
  if (threadIdx.x == 0)
    for (int s = 0; s < kStages && s < mine; ++s) issue(blockIdx.x + s * static_cast<std::int64_t>(gridDim.x), s);
  unsigned acc = 0;
  for (std::int64_t n = 0; n < mine; ++n) {
    const int stage = static_cast<int>(n % kStages);
    const unsigned parity = static_cast<unsigned>((n / kStages) & 1);
    const unsigned bar = smem_address(&full[stage]);
    unsigned done = 0;
    while (!done)
      asm volatile(
          "{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
          : "=r"(done)
          : "r"(bar), "r"(parity)
          : "memory");
    const uint4* stage_data = reinterpret_cast<const uint4*>(ring + stage * kStageBytes);
    for (int k = threadIdx.x; k < kStageBytes / 16; k += blockDim.x) acc += stage_data[k].x;
    __syncthreads();  // everyone is done with the stage before it is refilled
    if (threadIdx.x == 0 && n + kStages < mine)
      issue(blockIdx.x + (n + kStages) * static_cast<std::int64_t>(gridDim.x), stage);
  }
  atomicAdd(out, acc);
}

}  // namespace

void probe_read_ldg(const void* data, std::int64_t bytes, unsigned* sum, int blocks, cudaStream_t stream) {
  require_kernel_argument(bytes % 16 == 0 && blocks > 0, "probe_read_ldg", "bytes % 16 == 0 and blocks > 0 expected");
  ldg_read<<<blocks, kThreads, 0, stream>>>(static_cast<const uint4*>(data), bytes / 16, sum);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

void probe_read_bulk(const void* data, std::int64_t bytes, unsigned* sum, int blocks, cudaStream_t stream) {
  require_kernel_argument(bytes % kStageBytes == 0 && blocks > 0, "probe_read_bulk",
                          "bytes % 32768 == 0 and blocks > 0 expected");
  const int smem = kStages * kStageBytes;
  static const bool raised = [&] {
    PRIMUS_KERNEL_CHECK(cudaFuncSetAttribute(bulk_read, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    return true;
  }();
  (void)raised;
  bulk_read<<<blocks, kThreads, smem, stream>>>(static_cast<const unsigned char*>(data), bytes / kStageBytes, sum);
  PRIMUS_KERNEL_LAUNCH_CHECK();
}

}  // namespace primus::ops::cuda
