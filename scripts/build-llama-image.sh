#!/usr/bin/env bash
# usage: build-llama-image.sh [TAG]
# Builds llama.cpp's OpenAI-compatible server image locally (llama-cpp-python[server] compiled
# from its PyPI sdist, on localhost/onprem-deepseek/debian:trixie) as
# localhost/onprem-deepseek/llama-cpp:TAG (default: the llama-cpp-python version).
# Cached by its inputs: the image carries the hash of this script, the Containerfile (+ its entrypoint), the
# version and the base image's id as a label; a second run with the same inputs reuses it.
# Set ONPREM_LLAMA_ARCHIVE=PATH to also save the image as a tarball (air-gapped sites load it
# with the container_runtime role).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root "Building the llama.cpp image"
need podman "Run: sudo scripts/dev setup"

VERSION=${ONPREM_LLAMA_CPP_PYTHON_VERSION:-0.3.16}
TAG=${1:-$VERSION}
IMAGE=localhost/onprem-deepseek/llama-cpp:$TAG
BASE=localhost/onprem-deepseek/debian:trixie
DIR=$(dirname "$0")/llama
LABEL=org.onprem-deepseek.inputs
JOBS=${ONPREM_BUILD_JOBS:-2}

base_id=$(podman image inspect --format '{{.Id}}' "$BASE" 2>/dev/null) \
  || die "$BASE is missing: run 'sudo scripts/dev images' first."
inputs=$( { cat "$0" "$DIR/Containerfile" "$DIR/onprem_llama_server.py"; echo "$VERSION $base_id"; } | sha256sum | cut -c1-16)

# One build at a time (scripts/dev test starts one in the background; the inference scenario's prepare then waits here
# and reuses its image instead of compiling llama.cpp a second time).
exec 9>"${TMPDIR:-/tmp}/onprem-deepseek-llama-image.lock"
flock 9
have=$(podman image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)
if [ "$have" = "$inputs" ]; then
  note "$IMAGE is up to date (inputs $inputs)"
else
  say "Building $IMAGE (llama-cpp-python $VERSION from its sdist; compiles llama.cpp on $JOBS jobs)"
  # A site whose PyPI traffic goes through a TLS proxy names its CA bundle in pip's config.
  extra=()
  cert=${PIP_CERT:-$(sed -n 's/^cert *= *//p' /etc/pip.conf 2>/dev/null | head -1)}
  if [ -n "$cert" ] && [ -f "$cert" ]; then
    extra+=(--volume "$cert:/etc/pip-ca.crt:ro" --build-arg PIP_CERT=/etc/pip-ca.crt)
  fi
  start=$(date +%s)
  podman build --layers --format docker "${extra[@]}" \
    --build-arg LLAMA_CPP_PYTHON_VERSION="$VERSION" --build-arg BUILD_JOBS="$JOBS" \
    --label "$LABEL=$inputs" --label "org.onprem-deepseek.llama-cpp-python=$VERSION" \
    -t "$IMAGE" -f "$DIR/Containerfile" "$DIR"
  note "$IMAGE built in $(( $(date +%s) - start )) s (inputs $inputs)"
fi
if [ -n "${ONPREM_LLAMA_ARCHIVE:-}" ]; then
  # The archive carries the same inputs hash beside it; it is rewritten only when they change.
  if [ "$(cat "$ONPREM_LLAMA_ARCHIVE.inputs" 2>/dev/null)" = "$inputs" ] && [ -s "$ONPREM_LLAMA_ARCHIVE" ]; then
    note "$ONPREM_LLAMA_ARCHIVE is up to date (inputs $inputs)"
  else
    rm -f "$ONPREM_LLAMA_ARCHIVE.tmp"
    podman save --format docker-archive -o "$ONPREM_LLAMA_ARCHIVE.tmp" "$IMAGE"
    mv -f "$ONPREM_LLAMA_ARCHIVE.tmp" "$ONPREM_LLAMA_ARCHIVE"
    echo "$inputs" > "$ONPREM_LLAMA_ARCHIVE.inputs"
    note "saved $IMAGE to $ONPREM_LLAMA_ARCHIVE"
  fi
fi
