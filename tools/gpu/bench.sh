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
torch() {  # shape: the baseline's JSON line
  case $1 in
    8B) python3 tools/bench/torch_baseline.py llama3_8B --layers 8 --seq 8192 --mbs 1 --compile 2>"$OUT/torch_8B.err" ;;
    1B) python3 tools/bench/torch_baseline.py llama3.2_1B --seq 4096 --mbs 2 --compile 2>"$OUT/torch_1B.err" ;;
  esac | tail -1
}
primus() {  # shape: the benchmark's summary lines and JSON line
  case $1 in
    8B) config=examples/megatron/configs/bench/llama3_8B-8layers-seq8192.yaml ;;
    1B) config=examples/megatron/configs/bench/llama3.2_1B-seq4096.yaml ;;
  esac
  ./build/primus benchmark --config "$config" --iters 12 --warmup 3 2>&1 | tail -4
}
# ORDER=abba runs each shape's pair twice, mirrored (torch, primus, primus, torch), so that
# neither side always runs on the cooler or the warmer GPU, and prints the mean of each side's
# two medians; the default runs each once, torch first.
for shape in ${SHAPES:-8B 1B}; do  # SHAPES=8B: that shape alone
  if [[ "${ORDER:-ab}" == abba ]]; then
    { run torch $shape; run primus $shape; run primus $shape; run torch $shape; } | tee "$OUT/abba_$shape.log"
    python3 - "$shape" "$OUT/abba_$shape.log" <<'PY'
import json, sys
torch, primus = [], []
for line in open(sys.argv[2]):
    if not line.startswith("{"): continue
    j = json.loads(line)
    if "system" in j:  # the baseline's line
        torch.append(j["step_ms"])
    else:
        primus.append(j["ms_per_iter"])
t, p = sum(torch) / len(torch), sum(primus) / len(primus)
print(f"abba {sys.argv[1]}: torch.compile {' / '.join(f'{x:.2f}' for x in torch)} ms, primus "
      f"{' / '.join(f'{x:.2f}' for x in primus)} ms; means {t:.2f} / {p:.2f} ms: {t / p:.3f}x tokens/s")
PY
  else
    run torch $shape; run primus $shape
  fi
done
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
