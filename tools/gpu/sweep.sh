#!/usr/bin/env bash
# On the GPU machine, after a build (tools/gpu/check.sh): `primus benchmark` on the two
# benchmark shapes once per setting, to compare engine settings on one machine in one call.
#   SETTINGS="PRIMUS_OPTIMIZER_OVERLAP_SMS=0 PRIMUS_OPTIMIZER_OVERLAP_SMS=16" bash tools/gpu/sweep.sh
# A setting is VAR=value or several joined by ',' (VAR=a,VAR2=b); SHAPES picks 8B, 1B or both.
set -uo pipefail
SHAPES=${SHAPES:-"8B 1B"}
ITERS=${ITERS:-12}
config_of() {
  case "$1" in
    8B) echo examples/megatron/configs/bench/llama3_8B-8layers-seq8192.yaml ;;
    1B) echo examples/megatron/configs/bench/llama3.2_1B-seq4096.yaml ;;
    *) echo "unknown shape $1" >&2; exit 2 ;;
  esac
}
for shape in $SHAPES; do
  for setting in ${SETTINGS:-default}; do
    vars=()
    [[ "$setting" != default ]] && IFS=',' read -r -a vars <<<"$setting"
    echo "+ $shape ${vars[*]:-(defaults)}"
    env "${vars[@]}" ./build/primus benchmark --config "$(config_of "$shape")" --iters "$ITERS" --warmup 3 2>&1 | tail -3
  done
done
