#!/usr/bin/env bash
# Cachemir's main job: compile a Llama-family model (default: the tiny fixture) into a plan at the
# secure N16_BOOT set, decode the token after PROMPT_IDS in plaintext (the reference) and encrypted
# (client and server in one process, bootstrapping included), and print both tokens side by side.
# Usage: [LAYERS=N] scripts/main-job.sh [MODEL.onnx|MODEL.gguf] [PROMPT_IDS, e.g. 1 or 1,504]
# LAYERS keeps the first N decoder layers (reference and plan alike); CACHEMIR_COMPILE_FLAGS and
# CACHEMIR_RUN_FLAGS add flags to `cachemir compile` and `cachemir-run`. The default takes about
# 6 minutes and 15 GB of memory (docs/benchmarks.md). Exits 1 if the tokens differ.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-tests/fixtures/tiny-llama/optimum/model.onnx}
prompt=${2:-1}
scripts/setup.sh
cargo build --release -q -p cachemir-compiler -p cachemir-runtime
mkdir -p target/main-job
plan=target/main-job/model.plan
layers=${LAYERS:+--layers $LAYERS}
# shellcheck disable=SC2086 # the flags are words
target/release/cachemir compile "$model" -o "$plan" --max-context 16 --report $layers ${CACHEMIR_COMPILE_FLAGS:-}
# shellcheck disable=SC2086
reference=$(target/release/cachemir reference "$model" --prompt-ids "$prompt" --max-new-tokens 1 $layers | tail -n 1)
# shellcheck disable=SC2086
target/release/cachemir-run "$plan" --prompt-ids "$prompt" --max-new-tokens 0 ${CACHEMIR_RUN_FLAGS:-} | tee target/main-job/encrypted.txt
encrypted=$(sed -n 's/^greedy next token after the last one fed: //p' target/main-job/encrypted.txt)
echo
echo "next token after $prompt"
printf '  %-22s %s\n' "plaintext reference:" "$reference" "encrypted:" "$encrypted"
if [ "$reference" = "$encrypted" ]; then
  echo "  they agree"
else
  echo "  they DIFFER"
  exit 1
fi
