// The CPU reference backend's op list: every op is a <op>_forward / <op>_backward
// pair over raw fp32 pointers and sizes (llm.c style). Backward functions write (=)
// input gradients and accumulate (+=) parameter gradients, as each header states.
// The CUDA twins (ops/cuda/) keep the same names and argument order.
#pragma once

#include "primus/ops/cpu/attention.hpp"
#include "primus/ops/cpu/cross_entropy.hpp"
#include "primus/ops/cpu/embedding.hpp"
#include "primus/ops/cpu/gelu.hpp"
#include "primus/ops/cpu/layernorm.hpp"
#include "primus/ops/cpu/linear.hpp"
#include "primus/ops/cpu/qkv_split.hpp"
#include "primus/ops/cpu/residual.hpp"
#include "primus/ops/cpu/rmsnorm.hpp"
#include "primus/ops/cpu/rope.hpp"
#include "primus/ops/cpu/swiglu.hpp"
