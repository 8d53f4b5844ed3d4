// SwiGLU kernels: element-wise over [rows, ffn], reading gate and up from the two halves of each fc1 row.
#include "primus/ops/cuda/elementwise.cuh"
#include "primus/ops/cuda/swiglu.hpp"

namespace primus::ops::cuda {
namespace {

using detail::bf16;

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + __expf(-x)); }

struct SwigluForward {
  bf16* out;
  const bf16* in;
  std::int64_t ffn;
  template <int N>
  __device__ void apply(std::int64_t e) const {
    const std::int64_t row = e / ffn, column = e % ffn;
    const bf16* gate_row = in + row * 2 * ffn;
    float gate[N], up[N], y[N];
    detail::load_bf16<N>(gate_row + column, gate);
    detail::load_bf16<N>(gate_row + ffn + column, up);
#pragma unroll
    for (int i = 0; i < N; ++i) y[i] = gate[i] * sigmoid(gate[i]) * up[i];
    detail::store_bf16<N>(out + e, y);
  }
};

struct SwigluBackward {
  bf16* din;
  const bf16* dout;
  const bf16* in;
  std::int64_t ffn;
  bf16* out;  // nullptr, or also the forward's output (the same expression as SwigluForward)
  template <int N>
  __device__ void apply(std::int64_t e) const {
    const std::int64_t row = e / ffn, column = e % ffn;
    const std::int64_t first = row * 2 * ffn + column;
    float gate[N], up[N], dy[N], dgate[N], dup[N], y[N];
    detail::load_bf16<N>(in + first, gate);
    detail::load_bf16<N>(in + first + ffn, up);
    detail::load_bf16<N>(dout + e, dy);
#pragma unroll
    for (int i = 0; i < N; ++i) {
      const float s = sigmoid(gate[i]);
      // d silu(g)/dg = s * (1 + g * (1 - s))
      dgate[i] = dy[i] * up[i] * s * (1.0f + gate[i] * (1.0f - s));
      dup[i] = dy[i] * gate[i] * s;
      y[i] = gate[i] * s * up[i];
    }
    if (out != nullptr) detail::store_bf16<N>(out + e, y);
    detail::store_bf16<N>(din + first, dgate);
    detail::store_bf16<N>(din + first + ffn, dup);
  }
};

void check_shape(const char* op, std::int64_t rows, std::int64_t ffn) {
  require_kernel_argument(
      rows >= 0 && ffn > 0, op,
      "rows = " + std::to_string(rows) + ", ffn = " + std::to_string(ffn) + ": expected rows >= 0 and ffn > 0");
}

}  // namespace

void swiglu_forward(bf16* out, const bf16* in, std::int64_t rows, std::int64_t ffn, cudaStream_t stream) {
  check_shape("swiglu_forward", rows, ffn);
  detail::launch_elementwise(rows * ffn, detail::can_vectorize(ffn, {out, in}), SwigluForward{out, in, ffn}, stream);
}

void swiglu_backward(bf16* din, const bf16* dout, const bf16* in, std::int64_t rows, std::int64_t ffn,
                     cudaStream_t stream) {
  check_shape("swiglu_backward", rows, ffn);
  detail::launch_elementwise(rows * ffn, detail::can_vectorize(ffn, {din, dout, in}),
                             SwigluBackward{din, dout, in, ffn, nullptr}, stream);
}

void swiglu_backward_and_forward(bf16* out, bf16* din, const bf16* dout, const bf16* in, std::int64_t rows,
                                 std::int64_t ffn, cudaStream_t stream) {
  check_shape("swiglu_backward_and_forward", rows, ffn);
  require_kernel_argument(out != nullptr, "swiglu_backward_and_forward", "out must be a device pointer");
  detail::launch_elementwise(rows * ffn, detail::can_vectorize(ffn, {out, din, dout, in}),
                             SwigluBackward{din, dout, in, ffn, out}, stream);
}

}  // namespace primus::ops::cuda
