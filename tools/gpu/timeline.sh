#!/usr/bin/env bash
# On the GPU machine, after a build (tools/gpu/check.sh): one step's timeline on each
# benchmark shape (PRIMUS_CUDA_TIMELINE=1: marks at layer boundaries and on the side streams,
# and the per-op spans of the model's stream summed by op), the last step's report printed.
#   SHAPES="8B 1B" bash tools/gpu/timeline.sh        # extra VAR=value settings: ENV="A=1 B=2"
set -uo pipefail
OUT=${OUT:-/tmp/gpu_timeline}
mkdir -p "$OUT"
SHAPES=${SHAPES:-"8B 1B"}
for shape in $SHAPES; do
  case "$shape" in
    8B) config=examples/megatron/configs/bench/llama3_8B-8layers-seq8192.yaml ;;
    1B) config=examples/megatron/configs/bench/llama3.2_1B-seq4096.yaml ;;
    *) echo "unknown shape $shape" >&2; exit 2 ;;
  esac
  log="$OUT/timeline_$shape.log"
  # shellcheck disable=SC2086
  env PRIMUS_CUDA_TIMELINE=1 ${ENV:-} ./build/primus benchmark --config "$config" --iters 1 --warmup 3 >"$log" 2>&1
  echo "+ $shape ${ENV:-}: $(grep -c 'timeline: period' "$log") reports; the last:"
  # The last report: from the line after the previous report's op total to the end.
  awk '/timeline op: total/ { n++ } { lines[NR] = $0; if (/timeline op: total/) last[n] = NR }
       END { start = (n >= 2 ? last[n - 1] + 1 : 1); for (i = start; i <= last[n]; i++) print lines[i] }' "$log" |
    grep -v "layer0[1-9]\|layer1[0-4]" 
  grep "benchmark:" "$log" | tail -2
done
