// The AdamW element update in two forms, torch.optim.AdamW's order:
// - adamw_update: IEEE operations throughout, the CPU optimizer's bits. The fp32 kernel
//   (adamw.cu, the CPU optimizer's twin) runs it.
// - adamw_update_fast: apex-style fast math, as Megatron's fused Adam (apex, built with
//   --use_fast_math). The split-master-weight kernels the CUDA engine runs
//   (train/cuda/master_weights.cu) use it; they agree with each other bit for bit, and with
//   the CPU optimizer within a few ulps of the update term.
#pragma once

#include <cuda_runtime.h>

#include <cmath>

#include "primus/ops/cuda/adamw.hpp"

namespace primus::ops::cuda {

struct AdamWScalars {
  float step_size;                  // lr / (1 - beta1^step)
  float inv_sqrt_bias_correction2;  // 1 / sqrt(1 - beta2^step)
  float decay_factor;               // 1 - lr * weight_decay
  float beta1;
  float beta2;
  float eps;
};

// Bias corrections in double on the host, as the CPU optimizer computes them.
inline AdamWScalars adamw_scalars(const AdamWHyperparameters& hyper) {
  const double bias_correction1 = 1.0 - std::pow(hyper.beta1, static_cast<double>(hyper.step));
  const double bias_correction2 = 1.0 - std::pow(hyper.beta2, static_cast<double>(hyper.step));
  return AdamWScalars{static_cast<float>(hyper.lr / bias_correction1),
                      static_cast<float>(1.0 / std::sqrt(bias_correction2)),
                      static_cast<float>(1.0 - hyper.lr * hyper.weight_decay),
                      static_cast<float>(hyper.beta1),
                      static_cast<float>(hyper.beta2),
                      static_cast<float>(hyper.eps)};
}

// One element: the moments take the (clipped) gradient g; the parameter is decayed first, then
// moved along the Adam direction (decoupled decay). decay is s.decay_factor or 1.
// Every operation is an explicitly rounded intrinsic, so no kernel that inlines this gets a
// different FMA contraction than the CPU optimizer.
__device__ __forceinline__ float adamw_update(float param, float& m, float& v, float g, float decay,
                                              const AdamWScalars& s) {
  m = __fadd_rn(__fmul_rn(s.beta1, m), __fmul_rn(1.0f - s.beta1, g));
  v = __fadd_rn(__fmul_rn(s.beta2, v), __fmul_rn(__fmul_rn(1.0f - s.beta2, g), g));
  const float denom = __fadd_rn(__fmul_rn(__fsqrt_rn(v), s.inv_sqrt_bias_correction2), s.eps);
  return __fsub_rn(__fmul_rn(param, decay), __fdiv_rn(__fmul_rn(s.step_size, m), denom));
}

// The hardware approximations (one MUFU instruction each, ~1 ulp): sqrt.approx and rcp.approx.
__device__ __forceinline__ float sqrt_approx(float x) {
  float y;
  asm("sqrt.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float rcp_approx(float x) {
  float y;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// adamw_update with the moments' multiply-adds fused, the square root and the division by the
// hardware approximations, and the Adam step fused into the decayed weight. Why: on the few SMs
// the overlapped optimizer tail has beside the forward, the IEEE square root and division (a
// Newton sequence and a slow-path check each) are a third of the instructions it issues; this
// form issues ~15 arithmetic instructions per element instead of ~37 and made the 8B step
// 1.5-2 ms faster on an H100 (docs/performance.md, 2026-11-27 S6). Error: the moments within an
// ulp of adamw_update's, the update term within a few ulps (sqrt.approx and rcp.approx are
// within ~2 ulp, flushing subnormals), the weight within an ulp of that.
// Every operation is explicit (an intrinsic or one PTX instruction), so each kernel that
// inlines it computes the same bits: the CUDA engine's forward recomputes the update of the
// rows it gathers (gather_rows_after_adamw) and must get the bits the tail writes later.
__device__ __forceinline__ float adamw_update_fast(float param, float& m, float& v, float g, float decay,
                                                   const AdamWScalars& s) {
  m = __fmaf_rn(s.beta1, m, __fmul_rn(1.0f - s.beta1, g));
  v = __fmaf_rn(s.beta2, v, __fmul_rn(__fmul_rn(1.0f - s.beta2, g), g));
  const float denom = __fmaf_rn(sqrt_approx(v), s.inv_sqrt_bias_correction2, s.eps);
  return __fmaf_rn(-__fmul_rn(s.step_size, m), rcp_approx(denom), __fmul_rn(param, decay));
}

}  // namespace primus::ops::cuda
