#!/usr/bin/env bash
# On the GPU machine, from the repository root: build (Release), run every cuda_tests test
# (kernels, GEMM, attention, the CUDA engine against the CPU engine), then a 200-step loss
# curve of the tiny model on cuda and on cpu (mock data, same seed) and its max |Δloss|.
# Logs in $OUT (default /tmp/gpu_check). Prints pass/fail counts last; exit 1 on any failure.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
pass=0; fail=0
NINJA=${NINJA:-/opt/torch/.venv/bin/ninja}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
start=$(date +%s)
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_MAKE_PROGRAM="$NINJA" -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.log" 2>&1 ||
    { tail -30 "$OUT/cmake.log"; exit 1; }
  cmake --build build -j16 --target primus cuda_tests >"$OUT/build.log" 2>&1 ||
    { grep -E "error" -A4 "$OUT/build.log" | head -80; echo "check: 0 passed, 1 failed (build)"; exit 1; }
  echo "build: $(( $(date +%s) - start )) s"
fi

# LOSS_CURVE=0 skips the loss curve; TESTS=0 skips cuda_tests (e.g. to run the curve on its own).
curve() {  # backend -> $OUT/curve_<backend>.log
  PRIMUS_WORKSPACE="$OUT/ws_$1" ./build/primus train pretrain --config examples/megatron/configs/tiny_llama-pretrain.yaml \
    --backend "$1" --log_interval 1 --eval_interval 1000 --save_interval 100000 >"$OUT/curve_$1.log" 2>&1
}
if [[ "${TESTS:-1}" == 1 ]]; then
start=$(date +%s)
./build/cuda_tests --gtest_filter='-Benchmark.*' >"$OUT/cuda_tests.log" 2>&1
echo "cuda_tests: $(( $(date +%s) - start )) s"
grep -E "^\[ +(FAILED|PASSED|SKIPPED) |^\[ (logits|grads) |Failure|Expected|Which is|what\(\)" "$OUT/cuda_tests.log" | head -60
p=$(grep -cE "^\[       OK \]" "$OUT/cuda_tests.log"); f=$(grep -cE "^\[  FAILED  \] [A-Za-z]" "$OUT/cuda_tests.log")
f=$(( f / 2 ))  # gtest lists each failure twice (when it fails and in the summary)
pass=$((pass + p)); fail=$((fail + f))
grep -q "PASSED" "$OUT/cuda_tests.log" || { [[ $f -eq 0 ]] && fail=$((fail + 1)); echo "cuda_tests did not finish"; }
fi

if [[ "${LOSS_CURVE:-1}" == 1 ]]; then
start=$(date +%s)
curve cpu & cpu_pid=$!
curve cuda
wait $cpu_pid
echo "loss curves: $(( $(date +%s) - start )) s"
python3 - "$OUT/curve_cpu.log" "$OUT/curve_cuda.log" <<'PY' && pass=$((pass + 1)) || fail=$((fail + 1))
import re, sys
def losses(path):
    out = {}
    for line in open(path, errors="replace"):
        m = re.search(r"iteration\s+(\d+)/\s*\d+.*?lm loss:\s*([0-9.eE+-]+|nan|inf)", line)
        if m: out[int(m.group(1))] = float(m.group(2))
    return out
cpu, gpu = losses(sys.argv[1]), losses(sys.argv[2])
common = sorted(set(cpu) & set(gpu))
if len(common) < 200:
    print(f"loss curve: only {len(common)} common iterations (cpu {len(cpu)}, cuda {len(gpu)})"); sys.exit(1)
deltas = [abs(cpu[i] - gpu[i]) for i in common]
worst = max(range(len(common)), key=lambda k: deltas[k])
print(f"loss curve: 200 iterations; first cpu {cpu[1]:.4f} cuda {gpu[1]:.4f}; last cpu {cpu[200]:.4f} cuda {gpu[200]:.4f}; "
      f"max |dloss| {deltas[worst]:.4f} at iteration {common[worst]}; mean |dloss| {sum(deltas)/len(deltas):.4f}")
ok = all(d == d for d in deltas) and deltas[worst] < 0.1 and abs(cpu[200] - gpu[200]) < 0.05
sys.exit(0 if ok else 1)
PY
fi
echo "check: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
