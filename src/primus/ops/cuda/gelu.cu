// GELU kernels: element-wise, 8 elements per vector step.
#include "primus/ops/cuda/elementwise.cuh"
#include "primus/ops/cuda/gelu.hpp"

namespace primus::ops::cuda {
namespace {

using detail::bf16;

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

struct GeluForward {
  bf16* out;
  const bf16* in;
  template <int N>
  __device__ void apply(std::int64_t e) const {
    float x[N];
    detail::load_bf16<N>(in + e, x);
#pragma unroll
    for (int i = 0; i < N; ++i) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * kInvSqrt2));
    detail::store_bf16<N>(out + e, x);
  }
};

struct GeluBackward {
  bf16* din;
  const bf16* dout;
  const bf16* in;
  template <int N>
  __device__ void apply(std::int64_t e) const {
    float x[N], dy[N];
    detail::load_bf16<N>(in + e, x);
    detail::load_bf16<N>(dout + e, dy);
#pragma unroll
    for (int i = 0; i < N; ++i) {
      // d/dx [x * Phi(x)] = Phi(x) + x * phi(x)
      const float cdf = 0.5f * (1.0f + erff(x[i] * kInvSqrt2));
      const float pdf = kInvSqrt2Pi * __expf(-0.5f * x[i] * x[i]);
      x[i] = dy[i] * (cdf + x[i] * pdf);
    }
    detail::store_bf16<N>(din + e, x);
  }
};

}  // namespace

void gelu_forward(bf16* out, const bf16* in, std::int64_t count, cudaStream_t stream) {
  require_kernel_argument(count >= 0, "gelu_forward", "count = " + std::to_string(count) + " must be >= 0");
  detail::launch_elementwise(count, detail::can_vectorize(0, {out, in}), GeluForward{out, in}, stream);
}

void gelu_backward(bf16* din, const bf16* dout, const bf16* in, std::int64_t count, cudaStream_t stream) {
  require_kernel_argument(count >= 0, "gelu_backward", "count = " + std::to_string(count) + " must be >= 0");
  detail::launch_elementwise(count, detail::can_vectorize(0, {din, dout, in}), GeluBackward{din, dout, in}, stream);
}

}  // namespace primus::ops::cuda
