#!/usr/bin/env bash
# On the GPU machine, from the repository root: the fused-kernel tests of cuda_tests,
# then the same tests under compute-sanitizer memcheck, then the bandwidth table
# (Benchmark.Kernels*: Llama-3-8B-sized inputs next to a device-to-device copy; and
# Benchmark.QkvSplitRope: the fused split + RoPE next to the kernels it replaces).
# Logs go to $OUT (or /tmp/kernels_check); the summary prints last.
# usage: bash tools/gpu/kernels_check.sh [path/to/cuda_tests]   (default: build it here, Release)
set -uo pipefail
OUT=${OUT:-/tmp/kernels_check}
mkdir -p "$OUT"
status=0
kernel_tests='*Rmsnorm*:*Layernorm*:*Rope*:*Swiglu*:*Gelu*:*QkvSplit*:*Embedding*:*CrossEntropy*:*AdamW*:*GradNorm*:*CastAndResidual*'

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw --format=csv,noheader
binary=${1:-}
if [[ -z "$binary" ]]; then
  NINJA=${NINJA:-/opt/torch/.venv/bin/ninja}
  start=$(date +%s)
  cmake -S . -B build -G Ninja -DCMAKE_MAKE_PROGRAM="$NINJA" -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.log" 2>&1 ||
    { tail -30 "$OUT/cmake.log"; exit 1; }
  cmake --build build -j16 --target cuda_tests >"$OUT/build.log" 2>&1 ||
    { grep -E "error" -A4 "$OUT/build.log" | head -60; exit 1; }
  echo "build: $(( $(date +%s) - start )) s"
  binary=./build/cuda_tests
fi

start=$(date +%s)
"$binary" --gtest_filter="$kernel_tests" >"$OUT/tests.log" 2>&1 || status=1
echo "tests: $(( $(date +%s) - start )) s"
grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|Expected|Which is|error|what\(\)" "$OUT/tests.log" | head -60

if command -v compute-sanitizer >/dev/null; then
  start=$(date +%s)
  timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 "$binary" --gtest_filter="$kernel_tests" \
    >"$OUT/memcheck.log" 2>&1
  rc=$?
  echo "memcheck: rc=$rc, $(( $(date +%s) - start )) s; $(grep -E 'ERROR SUMMARY' "$OUT/memcheck.log" | tail -1)"
  [[ $rc -eq 0 ]] || { status=1; grep -E "Invalid|ERROR|at 0x|by thread" "$OUT/memcheck.log" | head -20; }
fi

PRIMUS_CUDA_BENCH=1 "$binary" --gtest_filter='Benchmark.Kernels*:Benchmark.QkvSplitRope' >"$OUT/bench.log" 2>&1 || status=1
echo "==== bandwidth ===="
grep -E "BENCH|FAILED|what\(\)" "$OUT/bench.log"
exit $status
