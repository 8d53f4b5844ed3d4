#!/usr/bin/env bash
# On the GPU machine, from the repository root: build cuda_tests (Release), run the
# correctness tests, then the timings (ours: GEMMs and attention; PyTorch's cuDNN SDPA
# and a bf16 matmul for the ceiling). Logs go to $OUT (or /tmp/cuda_check); a summary prints last.
# usage: bash tools/gpu/cuda_check.sh [--no-bench]
set -uo pipefail
OUT=${OUT:-/tmp/cuda_check}
mkdir -p "$OUT"
NINJA=${NINJA:-/opt/torch/.venv/bin/ninja}
status=0

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv,noheader
echo "cmake $(cmake --version | head -1) | nvcc $(nvcc --version | tail -1)"

start=$(date +%s)
if ! cmake -S . -B build -G Ninja -DCMAKE_MAKE_PROGRAM="$NINJA" -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.log" 2>&1; then
  tail -40 "$OUT/cmake.log"; exit 1
fi
if ! cmake --build build -j16 --target cuda_tests >"$OUT/build.log" 2>&1; then
  grep -E "error|Error" -A4 "$OUT/build.log" | head -80; exit 1
fi
echo "build: $(( $(date +%s) - start )) s"

# cuDNN writes its own errors and warnings here: the first place to look when a graph fails.
export CUDNN_LOGLEVEL_DBG=2 CUDNN_LOGDEST_DBG="$OUT/cudnn.log"
./build/cuda_tests --gtest_filter='-Benchmark.*' >"$OUT/tests.log" 2>&1 || status=1
grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|Expected|Which is|error|plans|cuDNN|what\(\)" "$OUT/tests.log" | head -60

if [[ "${1:-}" != "--no-bench" ]]; then
  PRIMUS_CUDA_BENCH=1 ./build/cuda_tests --gtest_filter='Benchmark.*' >"$OUT/bench.log" 2>&1 || status=1
  # The same attention timing against PyTorch's bundled (newer) cuDNN, when present: separates
  # library version from our graph when comparing with PyTorch's SDPA.
  torch_cudnn=$(python3 -c "import nvidia.cudnn as c; print(list(c.__path__)[0] + '/lib')" 2>/dev/null)
  if [[ -n "$torch_cudnn" && -d "$torch_cudnn" ]]; then
    LD_LIBRARY_PATH="$torch_cudnn:${LD_LIBRARY_PATH:-}" PRIMUS_CUDA_BENCH=1 ./build/cuda_tests \
      --gtest_filter='Benchmark.Llama3_8B_Attention' 2>&1 | sed 's/^BENCH/BENCH[torch cuDNN]/' >>"$OUT/bench.log"
  fi
  python3 tools/gpu/torch_sdpa_bench.py >"$OUT/torch.log" 2>&1 || status=1
  echo "==== summary ===="
  grep -E "BENCH|FAILED|what\(\)" "$OUT/bench.log"
  grep -E "TORCH|Error" "$OUT/torch.log"
fi
grep -cE "ERROR|Error" "$OUT/cudnn.log" 2>/dev/null | sed 's/^/cudnn.log error lines: /'
exit $status
