#!/usr/bin/env bash
# usage: scripts/llama/prepare-lab.sh [--dir DIR] [--no-archive] [PYTHON]
# Everything the lab's serving stack needs on the controller, under DIR (default .cache/inference-lab):
# the llama.cpp image (built or reused), saved as DIR/llama-cpp.tar unless --no-archive (the bundle
# playbook takes the image from podman's storage and needs no archive), and the tiny test model
# DIR/model/tiny.gguf with its SHA-256 manifest DIR/manifest.json. PYTHON must have the gguf package
# (default: .venv/bin/python). Idempotent: reuses what is up to date, and rewrites no file whose
# content is the same (the appliance's image is keyed by its inputs' times too).
# The one place that makes the lab's model: the demo, and the inference, offline and appliance scenarios.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
LAB=$ONPREM_CACHE/inference-lab
ARCHIVE=1
while [ $# -gt 0 ]; do
  case $1 in
    --dir) LAB=${2:?--dir needs a directory}; shift 2 ;;
    --no-archive) ARCHIVE=0; shift ;;
    -*) die "prepare-lab.sh: unknown option $1 (allowed: --dir DIR, --no-archive)" ;;
    *) break ;;
  esac
done
PYTHON=${1:-${ONPREM_GGUF_PYTHON:-$ONPREM_ROOT/.venv/bin/python}}
mkdir -p "$LAB/model"
if [ "$ARCHIVE" = 1 ]; then
  ONPREM_LLAMA_ARCHIVE=$LAB/llama-cpp.tar bash "$ONPREM_ROOT/scripts/build-llama-image.sh"
else
  bash "$ONPREM_ROOT/scripts/build-llama-image.sh"
fi
if [ ! -s "$LAB/model/tiny.gguf" ]; then
  "$PYTHON" -c 'import gguf' 2>/dev/null || die "$PYTHON lacks the gguf package (pip install gguf, see requirements.txt)"
  "$PYTHON" "$ONPREM_ROOT/scripts/llama/make_tiny_gguf.py" "$LAB/model/tiny.gguf.new"
  mv "$LAB/model/tiny.gguf.new" "$LAB/model/tiny.gguf"
  note "generated $LAB/model/tiny.gguf"
fi
sum=$(sha256sum "$LAB/model/tiny.gguf" | cut -d' ' -f1)
size=$(stat -c %s "$LAB/model/tiny.gguf")
manifest=$(printf '[{"name": "tiny.gguf", "sha256": "%s", "size": %s}]' "$sum" "$size")
if [ "$(cat "$LAB/manifest.json" 2>/dev/null)" != "$manifest" ]; then
  printf '%s\n' "$manifest" > "$LAB/manifest.json"
  note "model manifest written: $LAB/manifest.json"
fi
