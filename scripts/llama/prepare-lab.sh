#!/usr/bin/env bash
# usage: scripts/llama/prepare-lab.sh [PYTHON]
# Everything the lab's serving stack needs on the controller, under .cache/inference-lab:
# the llama.cpp image (built or reused) saved as llama-cpp.tar, and the tiny test model
# model/tiny.gguf with its SHA-256 manifest manifest.json. PYTHON must have the gguf package
# (default: .venv/bin/python). Idempotent: reuses what is up to date.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
PYTHON=${1:-${ONPREM_GGUF_PYTHON:-$ONPREM_ROOT/.venv/bin/python}}
LAB=$ONPREM_CACHE/inference-lab
mkdir -p "$LAB/model"
ONPREM_LLAMA_ARCHIVE=$LAB/llama-cpp.tar bash "$ONPREM_ROOT/scripts/build-llama-image.sh"
if [ ! -s "$LAB/model/tiny.gguf" ]; then
  "$PYTHON" -c 'import gguf' 2>/dev/null || die "$PYTHON lacks the gguf package (pip install gguf, see requirements.txt)"
  "$PYTHON" "$ONPREM_ROOT/scripts/llama/make_tiny_gguf.py" "$LAB/model/tiny.gguf"
  note "generated $LAB/model/tiny.gguf"
fi
sum=$(sha256sum "$LAB/model/tiny.gguf" | cut -d' ' -f1)
size=$(stat -c %s "$LAB/model/tiny.gguf")
printf '[{"name": "tiny.gguf", "sha256": "%s", "size": %s}]\n' "$sum" "$size" > "$LAB/manifest.json"
note "model manifest: $LAB/manifest.json"
