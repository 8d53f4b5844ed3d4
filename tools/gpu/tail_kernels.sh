#!/usr/bin/env bash
# On the GPU machine, after a build: the optimizer tail's kernels. Their tests, each variant's
# instructions per launch (ncu, over the 3M-element test launch: divide by 3,000,011/32 for
# warp instructions per element), GB/s per SM at 16 and 24 SMs, then 8B steps for the settings
# given as arguments (as tools/gpu/steps.sh takes them; default: the defaults twice).
#   OUT=$OUT bash tools/gpu/tail_kernels.sh "" "PRIMUS_SPLIT_ADAMW_KERNEL=reference"
set -uo pipefail
OUT=${OUT:-/tmp/gpu_tail}
mkdir -p "$OUT"
./build/cuda_tests --gtest_filter='*SplitAdamW*:-Benchmark.*' 2>&1 |
  grep -E "^\[  FAILED|^\[  PASSED|Failure|Expected|Which|differs|element" | head -30
if command -v ncu >/dev/null; then
  ncu --metrics smsp__inst_executed.sum,gpu__time_duration.sum --kernel-name regex:split_adamw \
    ./build/cuda_tests --gtest_filter='AllKernels/SplitAdamWKernels.LargeLaunchOnThreeSms/*' >"$OUT/ncu.txt" 2>&1
  grep -E "split_adamw|inst_executed|duration" "$OUT/ncu.txt" | sed 's/(primus.*//; s/(SplitAdamWLaunch.*//'
fi
PRIMUS_CUDA_BENCH=1 ./build/cuda_tests --gtest_filter='Benchmark.SplitAdamWBySmCount' 2>&1 | grep BENCH |
  grep -E "sms=(16|24) " | grep -v rows
[[ $# -gt 0 ]] || set -- "" ""
SHAPE=8B ITERS=${ITERS:-30} bash tools/gpu/steps.sh "$@" 2>&1 | sed 's/, steps.*//'
