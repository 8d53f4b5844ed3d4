#!/usr/bin/env bash
# On the GPU machine, after a build: each training step's time beside the SM clock and power
# nvidia-smi sampled during it, for `primus benchmark` and for the PyTorch baseline
# (torch.compile). Answers: are the slow steps slow because the clock dropped, and does the
# baseline see the same? The baseline's per-step times come from a copy of
# tools/bench/torch_baseline.py in $OUT that also prints each step's wall-clock end (a
# diagnostic; the side-by-side figures come from the unmodified script in bench.sh).
#   SHAPE=8B ITERS=30 OUT=$OUT bash tools/gpu/step_power.sh
set -uo pipefail
OUT=${OUT:-/tmp/gpu_step_power}
mkdir -p "$OUT"
ITERS=${ITERS:-30}
case "${SHAPE:-8B}" in
  8B) config=examples/megatron/configs/bench/llama3_8B-8layers-seq8192.yaml; torch_args="llama3_8B --layers 8 --seq 8192 --mbs 1" ;;
  1B) config=examples/megatron/configs/bench/llama3.2_1B-seq4096.yaml; torch_args="llama3.2_1B --seq 4096 --mbs 2" ;;
  *) echo "unknown shape $SHAPE" >&2; exit 2 ;;
esac
# The baseline, printing "STEP <end unix s> <seconds>" per timed step.
sed -e 's/^\(\s*\)times.append(time.perf_counter() - t0)/&; print("STEP", time.time(), times[-1], flush=True)/' \
  tools/bench/torch_baseline.py >"$OUT/torch_baseline_steps.py"
grep -q 'print("STEP"' "$OUT/torch_baseline_steps.py" || { echo "step_power: could not instrument the baseline" >&2; exit 1; }

# Sampled fields: the SM clock, the power (the instantaneous reading where the driver has it:
# power.draw averages over about a second), the clock event reasons (a bit mask: 0x4 software
# power cap, 0x8 hardware slowdown, 0x20 software thermal, 0x40 hardware thermal, 0x80 power
# brake) and the GPU and memory temperatures: are the slow steps capped by power or by heat?
fields=timestamp,clocks.sm,power.draw.instant,clocks_event_reasons.active,temperature.gpu,temperature.memory
nvidia-smi --query-gpu="$fields" --format=csv,noheader >/dev/null 2>&1 ||
  fields=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active,temperature.gpu,temperature.memory
trace() {  # name command... -> $OUT/<name>.smi (the fields above) and $OUT/<name>.out
  local name=$1; shift
  nvidia-smi --query-gpu="$fields" --format=csv,noheader,nounits -lms 20 >"$OUT/$name.smi" 2>/dev/null &
  local smi=$!
  "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
  kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
}
trace primus ./build/primus benchmark --config "$config" --iters "$ITERS" --warmup 3
# shellcheck disable=SC2086
trace torch python3 "$OUT/torch_baseline_steps.py" $torch_args --compile --iters "$ITERS"

python3 - "$OUT" <<'PY'
import json, statistics, sys, datetime
out = sys.argv[1]
def samples(name):
    rows = []
    for line in open(f"{out}/{name}.smi"):
        f = [x.strip() for x in line.split(",")]
        try:
            t = datetime.datetime.strptime(f[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
            reasons = int(f[3], 16) if f[3].startswith("0x") else 0
            temps = [float(x) if x.replace(".", "").isdigit() else float("nan") for x in f[4:6]]
            rows.append((t, float(f[1]), float(f[2]), reasons, *temps))
        except (ValueError, IndexError):
            pass
    return rows
def steps(name):
    if name == "primus":
        j = json.loads([l for l in open(f"{out}/primus.out") if l.startswith("{")][-1])
        return list(zip(j["step_end_unix_s"], [ms / 1e3 for ms in j["step_ms"]]))
    return [(float(w[1]), float(w[2])) for w in (l.split() for l in open(f"{out}/torch.out")) if w and w[0] == "STEP"]
for name in ("primus", "torch"):
    rows, st = samples(name), steps(name)
    if not st:
        print(f"{name}: no steps (see {out}/{name}.err)"); continue
    ms = [s * 1e3 for _, s in st]
    print(f"{name}: {len(st)} steps, upper median {sorted(ms)[len(ms) // 2]:.2f} ms, mean {statistics.mean(ms):.2f}, "
          f"min {min(ms):.2f}, max {max(ms):.2f}; {len(rows)} samples")
    for end, seconds in st:
        inside = [r for r in rows if end - seconds <= r[0] <= end]
        clock = statistics.mean(r[1] for r in inside) if inside else float("nan")
        power = statistics.mean(r[2] for r in inside) if inside else float("nan")
        reasons = 0
        for r in inside:
            reasons |= r[3]
        gpu_c = statistics.mean(r[4] for r in inside) if inside else float("nan")
        mem_c = statistics.mean(r[5] for r in inside) if inside else float("nan")
        print(f"  {seconds * 1e3:8.2f} ms  SM {clock:6.0f} MHz  {power:5.0f} W  reasons {reasons:#06x}  "
              f"GPU {gpu_c:4.1f} C  HBM {mem_c:4.1f} C  ({len(inside)} samples)")
PY
