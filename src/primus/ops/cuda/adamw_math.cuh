// The AdamW element update, shared by the fp32 kernel (adamw.cu, the CPU optimizer's twin)
// and the split-master-weight kernel the CUDA engine runs (train/cuda/master_weights.cu):
// one formula, torch.optim.AdamW's order, so both stay the same update.
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
// different FMA contraction: the CUDA engine's forward recomputes the update of the rows it
// gathers (gather_rows_after_adamw) and must get the bits split_adamw_launch writes later.
// IEEE sqrt and division: hardware approximations (sqrt.approx, rcp.approx) made
// split_adamw_launch 1.3x faster per SM on few SMs but the training step no faster (2026-11-26).
__device__ __forceinline__ float adamw_update(float param, float& m, float& v, float g, float decay,
                                              const AdamWScalars& s) {
  m = __fadd_rn(__fmul_rn(s.beta1, m), __fmul_rn(1.0f - s.beta1, g));
  v = __fadd_rn(__fmul_rn(s.beta2, v), __fmul_rn(__fmul_rn(1.0f - s.beta2, g), g));
  const float denom = __fadd_rn(__fmul_rn(__fsqrt_rn(v), s.inv_sqrt_bias_correction2), s.eps);
  return __fsub_rn(__fmul_rn(param, decay), __fdiv_rn(__fmul_rn(s.step_size, m), denom));
}

}  // namespace primus::ops::cuda
