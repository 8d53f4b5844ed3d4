// Residual add kernels: element-wise, 8 elements per vector step.
#include "primus/ops/cuda/elementwise.cuh"
#include "primus/ops/cuda/residual.hpp"

namespace primus::ops::cuda {
namespace {

using detail::bf16;

// out = a + b; with out == a this is the accumulating backward form.
struct AddBf16 {
  bf16* out;
  const bf16* a;
  const bf16* b;
  template <int N>
  __device__ void apply(std::int64_t e) const {
    float x[N], y[N];
    detail::load_bf16<N>(a + e, x);
    detail::load_bf16<N>(b + e, y);
#pragma unroll
    for (int i = 0; i < N; ++i) x[i] += y[i];
    detail::store_bf16<N>(out + e, x);
  }
};

}  // namespace

void residual_forward(bf16* out, const bf16* a, const bf16* b, std::int64_t count, cudaStream_t stream) {
  require_kernel_argument(count >= 0, "residual_forward", "count = " + std::to_string(count) + " must be >= 0");
  detail::launch_elementwise(count, detail::can_vectorize(0, {out, a, b}), AddBf16{out, a, b}, stream);
}

void residual_backward(bf16* dresidual, const bf16* dbranch, std::int64_t count, cudaStream_t stream) {
  require_kernel_argument(count >= 0, "residual_backward", "count = " + std::to_string(count) + " must be >= 0");
  detail::launch_elementwise(count, detail::can_vectorize(0, {dresidual, dbranch}),
                             AddBf16{dresidual, dresidual, dbranch}, stream);
}

}  // namespace primus::ops::cuda
