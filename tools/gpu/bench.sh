#!/usr/bin/env bash
# On the GPU machine, from the repository root, after a build (tools/gpu/check.sh): the
# PyTorch baseline (torch.compile) and `primus benchmark` on both benchmark shapes, side by
# side in one run, then a per-kernel breakdown of one step (nsys, else ncu) on the 8B shape.
# Logs in $OUT (default /tmp/gpu_bench).
set -uo pipefail
OUT=${OUT:-/tmp/gpu_bench}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
run() { echo "+ $*"; "$@"; }
run python3 tools/bench/torch_baseline.py llama3_8B --layers 8 --seq 8192 --mbs 1 --compile 2>"$OUT/torch_8B.err" | tail -1
run ./build/primus benchmark --config examples/megatron/configs/bench/llama3_8B-8layers-seq8192.yaml --iters 12 --warmup 3 2>&1 | tail -4
run python3 tools/bench/torch_baseline.py llama3.2_1B --seq 4096 --mbs 2 --compile 2>"$OUT/torch_1B.err" | tail -1
run ./build/primus benchmark --config examples/megatron/configs/bench/llama3.2_1B-seq4096.yaml --iters 12 --warmup 3 2>&1 | tail -4
if [[ "${BREAKDOWN:-1}" == 1 ]]; then
  if command -v nsys >/dev/null; then
    timeout 150 nsys profile -t cuda -o "$OUT/step" --force-overwrite true ./build/primus benchmark \
      --config examples/megatron/configs/bench/llama3_8B-8layers-seq8192.yaml --iters 2 --warmup 1 >/dev/null 2>&1
    nsys stats -r cuda_gpu_kern_sum "$OUT/step.nsys-rep" 2>/dev/null | head -40
  elif command -v ncu >/dev/null; then
    timeout 200 ncu --metrics gpu__time_duration.sum --csv ./build/primus benchmark \
      --config examples/megatron/configs/bench/llama3_8B-8layers-seq8192.yaml --iters 1 --warmup 1 >"$OUT/ncu.csv" 2>/dev/null
    python3 - "$OUT/ncu.csv" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
head, data = rows[0], rows[1:]
ki, vi, ui = head.index("Kernel Name"), head.index("Metric Value"), head.index("Metric Unit")
total = collections.defaultdict(float); count = collections.Counter()
for r in data:
    v = float(r[vi].replace(",", "")); v = v / 1e6 if r[ui] in ("ns", "nsecond") else v / 1e3 if r[ui] in ("us", "usecond") else v
    name = r[ki][:70]; total[name] += v / 2; count[name] += 1  # two steps profiled
all_ms = sum(total.values())
print(f"kernel time per step (ncu, serialized, 2 steps / 2): {all_ms:.1f} ms")
for name, ms in sorted(total.items(), key=lambda x: -x[1])[:25]:
    print(f"{ms:9.2f} ms {100*ms/all_ms:5.1f}%  x{count[name]//2:4d}  {name}")
PY
  fi
fi
