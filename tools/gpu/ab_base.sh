#!/usr/bin/env bash
# Here, before a device call: put PATH... as of git REF under .ab/ (ignored through
# .git/info/exclude; the call carries it), the overlay tools/gpu/ab.sh builds as its base.
#   bash tools/gpu/ab_base.sh main src/primus/train/cuda/lazy_embedding_rows.cu
set -euo pipefail
ref=$1
shift
rm -rf .ab
grep -qx '/.ab/' .git/info/exclude 2>/dev/null || echo '/.ab/' >>.git/info/exclude
for path in "$@"; do
  mkdir -p ".ab/$(dirname "$path")"
  git show "$ref:$path" >".ab/$path"
done
find .ab -type f
