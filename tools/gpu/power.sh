#!/usr/bin/env bash
# On the GPU machine, after a build: `primus benchmark` on one shape while nvidia-smi samples
# the SM clock, power draw and throttle reasons every 100 ms; prints the benchmark's result and
# a summary of the samples taken while the GPU was busy (is the step power- or clock-limited?).
#   SHAPE=8B ENV="PRIMUS_OPTIMIZER_OVERLAP_SMS=0" bash tools/gpu/power.sh
set -uo pipefail
OUT=${OUT:-/tmp/gpu_power}
mkdir -p "$OUT"
case "${SHAPE:-8B}" in
  8B) config=examples/megatron/configs/bench/llama3_8B-8layers-seq8192.yaml ;;
  1B) config=examples/megatron/configs/bench/llama3.2_1B-seq4096.yaml ;;
  *) echo "unknown shape $SHAPE" >&2; exit 2 ;;
esac
samples="$OUT/smi_${SHAPE:-8B}.csv"
nvidia-smi --query-gpu=clocks.sm,power.draw,power.limit,temperature.gpu,utilization.gpu,clocks_throttle_reasons.active \
  --format=csv,noheader,nounits -lms 100 >"$samples" 2>/dev/null &
smi=$!
# shellcheck disable=SC2086
env ${ENV:-} ./build/primus benchmark --config "$config" --iters "${ITERS:-20}" --warmup 3 2>&1 | grep "benchmark:" | tail -2
kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
python3 - "$samples" <<'PY'
import sys, statistics, collections
rows = []
for line in open(sys.argv[1]):
    f = [x.strip() for x in line.split(",")]
    try: rows.append((float(f[0]), float(f[1]), float(f[2]), float(f[3]), float(f[4]), f[5]))
    except (ValueError, IndexError): pass
busy = [r for r in rows if r[4] >= 90]
if not busy: print("power: no busy samples"); sys.exit(0)
clk = [r[0] for r in busy]; pw = [r[1] for r in busy]
reasons = collections.Counter(r[5] for r in busy)
print(f"power: {len(busy)} busy samples; SM clock MHz median {statistics.median(clk):.0f} "
      f"(min {min(clk):.0f}, max {max(clk):.0f}); power W median {statistics.median(pw):.0f} "
      f"(max {max(pw):.0f}, limit {busy[0][2]:.0f}); temperature max {max(r[3] for r in busy):.0f} C; "
      f"throttle reasons {dict(reasons.most_common(4))}")
PY
