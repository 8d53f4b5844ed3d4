#!/usr/bin/env bash
# On the GPU machine, after a build: `primus benchmark` on one shape once per setting, printing
# the median step, the mean, peak memory and every step's time in order (drift, alternation and
# outliers show there, which a mean hides).
#   SHAPE=8B ITERS=20 bash tools/gpu/steps.sh "" "PRIMUS_OPTIMIZER_OVERLAP_SMS=0" "--recompute_modules mlp"
# Each argument is one run: VAR=value words go to the environment, the rest to the command line.
set -uo pipefail
case "${SHAPE:-8B}" in
  8B) config=examples/megatron/configs/bench/llama3_8B-8layers-seq8192.yaml ;;
  1B) config=examples/megatron/configs/bench/llama3.2_1B-seq4096.yaml ;;
  *) echo "unknown shape $SHAPE" >&2; exit 2 ;;
esac
config=${CONFIG:-$config}  # any experiment file, e.g. the tiny model with "--backend cpu" to try the script
summary='
import json, sys
j = json.load(sys.stdin)
print("median %.2f ms, mean %.2f, peak %.2f GB, steps %s" % (j["ms_per_iter"], j["ms_per_iter_mean"], j["peak_mem_gb"], j["step_ms"]))'
for setting in "$@"; do
  vars=(); args=()
  for word in $setting; do
    if [[ "$word" == *=* && "$word" != -* ]]; then vars+=("$word"); else args+=("$word"); fi
  done
  echo "+ ${SHAPE:-8B} ${setting:-defaults}"
  env "${vars[@]}" ./build/primus benchmark --config "$config" --iters "${ITERS:-20}" --warmup 3 "${args[@]}" 2>/dev/null |
    tail -1 | python3 -c "$summary"
done
