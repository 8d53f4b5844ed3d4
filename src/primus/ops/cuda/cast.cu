// Cast kernels: element-wise, 8 elements per vector step.
#include "primus/ops/cuda/cast.hpp"
#include "primus/ops/cuda/elementwise.cuh"

namespace primus::ops::cuda {
namespace {

using detail::bf16;

struct Fp32ToBf16 {
  bf16* out;
  const float* in;
  template <int N>
  __device__ void apply(std::int64_t e) const {
    float v[N];
    detail::load_f32<N>(in + e, v);
    detail::store_bf16<N>(out + e, v);
  }
};

struct Bf16ToFp32 {
  float* out;
  const bf16* in;
  template <int N>
  __device__ void apply(std::int64_t e) const {
    float v[N];
    detail::load_bf16<N>(in + e, v);
    detail::store_f32<N>(out + e, v);
  }
};

}  // namespace

void cast_fp32_to_bf16(bf16* out, const float* in, std::int64_t count, cudaStream_t stream) {
  require_kernel_argument(count >= 0, "cast_fp32_to_bf16", "count = " + std::to_string(count) + " must be >= 0");
  detail::launch_elementwise(count, detail::can_vectorize(0, {out, in}), Fp32ToBf16{out, in}, stream);
}

void cast_bf16_to_fp32(float* out, const bf16* in, std::int64_t count, cudaStream_t stream) {
  require_kernel_argument(count >= 0, "cast_bf16_to_fp32", "count = " + std::to_string(count) + " must be >= 0");
  detail::launch_elementwise(count, detail::can_vectorize(0, {out, in}), Bf16ToFp32{out, in}, stream);
}

}  // namespace primus::ops::cuda
