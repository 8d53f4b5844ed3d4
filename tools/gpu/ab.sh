#!/usr/bin/env bash
# On the GPU machine, after a build of the working tree in build/ (tools/gpu/check.sh): build a
# second tree, the working tree with the files under .ab/ laid over it (prepare them here with
# `tools/gpu/ab_base.sh REF PATH...`, which copies PATH as of git REF to .ab/PATH), and run
# `primus benchmark` on one shape alternately with each, printing each run's median, mean and
# steps (tools/gpu/steps.sh). The device tool carries .ab when the call names it in `carry`.
#   SHAPE=8B ITERS=30 ROUNDS=2 bash tools/gpu/ab.sh ["VAR=x --flag y"]   # extra settings for both
set -uo pipefail
OUT=${OUT:-/tmp/gpu_ab}
NINJA=${NINJA:-/opt/torch/.venv/bin/ninja}
BASE=${BASE_TREE:-/tmp/ab_base}
[[ -d .ab ]] || { echo "ab: no .ab/ overlay (tools/gpu/ab_base.sh makes one)" >&2; exit 2; }
mkdir -p "$OUT" "$BASE"
start=$(date +%s)
# The tree without its build, then the overlay.
tar --exclude=./build --exclude=./.ab --exclude=./.git -cf - . | tar -xf - -C "$BASE"
(cd .ab && find . -type f -print0 | tar --null -T - -cf -) | tar -xf - -C "$BASE"
echo "ab: base = working tree with $(cd .ab && find . -type f | tr '\n' ' ')"
(cd "$BASE" && cmake -S . -B build -G Ninja -DCMAKE_MAKE_PROGRAM="$NINJA" -DCMAKE_BUILD_TYPE=Release >"$OUT/ab_cmake.log" 2>&1 &&
  cmake --build build -j16 --target primus >"$OUT/ab_build.log" 2>&1) ||
  { grep -E "error" -A4 "$OUT/ab_build.log" | head -40; echo "ab: base build failed"; exit 1; }
echo "ab: base built in $(( $(date +%s) - start )) s"
here=$(pwd)
for round in $(seq "${ROUNDS:-2}"); do
  echo "== round $round: working tree"
  bash tools/gpu/steps.sh "${1:-}"
  echo "== round $round: base"
  (cd "$BASE" && bash "$here/tools/gpu/steps.sh" "${1:-}")
done
