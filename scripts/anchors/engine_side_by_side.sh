#!/usr/bin/env bash
# Our engine and Lattigo v6.2 side by side on this machine, 1 thread, one job at a time: products and
# rotations at 25+5 and 10+5 limbs, then the full-slot bootstrap (ours on 1 and 2 threads). Results, one
# file per job, go to target/side-by-side/. Needs a release build and the Lattigo wheels in a venv:
#   python3 -m venv /tmp/lattigo && /tmp/lattigo/bin/pip install orion-v2-lattigo==6.2.4 orion-v2-evaluator==2.1.8
# Usage: scripts/anchors/engine_side_by_side.sh [VENV_PYTHON] (about 15 minutes; Lattigo's bootstrap
# peaks near 23 GB, so run nothing else).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-/tmp/lattigo/bin/python}
ours=target/release/cachemir-run
lattigo() { GOMAXPROCS=1 "$python" scripts/anchors/lattigo_side_by_side.py "$@"; }
out=target/side-by-side
mkdir -p "$out" target/keys
for shape in 25+5 10+5; do
  echo "== $(date -u +%T) ours primitives $shape"
  /usr/bin/time -v $ours bench primitives --limbs $shape --threads 1 --runs 3 --json > "$out/ours-$shape.json" 2> "$out/ours-$shape.err"
  echo "== $(date -u +%T) Lattigo mul and rotate $shape"
  lattigo mul 3 $shape > "$out/lattigo-mul-$shape.txt" 2>&1
  lattigo rotate 3 $shape > "$out/lattigo-rotate-$shape.txt" 2>&1
done
echo "== $(date -u +%T) ours bootstrap, 1 thread"
/usr/bin/time -v $ours bench bootstrap --threads 1 --runs 2 --key-cache target/keys --json > "$out/ours-boot-1.json" 2> "$out/ours-boot-1.err"
echo "== $(date -u +%T) Lattigo bootstrap"
lattigo boot 2 > "$out/lattigo-boot.txt" 2>&1
echo "== $(date -u +%T) ours bootstrap, 2 threads"
/usr/bin/time -v $ours bench bootstrap --threads 2 --runs 2 --key-cache target/keys --json > "$out/ours-boot-2.json" 2> "$out/ours-boot-2.err"
echo "== $(date -u +%T) done: $out"
