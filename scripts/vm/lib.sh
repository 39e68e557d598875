#!/bin/bash
# Shared helpers for the VM lab scripts (sourced, not executed).
# shellcheck shell=bash

LAB_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_REPO_ROOT=$(cd "$LAB_SCRIPTS_DIR/../.." && pwd)
# debian_rootfs_finalize and the other helpers shared with the container image builder.
# shellcheck source=scripts/lib.sh
. "$LAB_SCRIPTS_DIR/../lib.sh"
# Everything the lab builds or runs lives here (git-ignored); override with ONPREM_LAB_CACHE.
LAB_CACHE=${ONPREM_LAB_CACHE:-$LAB_REPO_ROOT/.cache/vm}
LAB_SUITE=${ONPREM_LAB_SUITE:-bookworm}
LAB_MIRROR=${ONPREM_LAB_MIRROR:-http://deb.debian.org/debian}

lab_log() { printf '[vm-lab] %s\n' "$*" >&2; }
lab_die() { printf '[vm-lab] ERROR: %s\n' "$*" >&2; exit 1; }

# lab_require CMD [PACKAGE]: fail with a clear message when a host tool is missing.
lab_require() {
  command -v "$1" >/dev/null 2>&1 && return 0
  PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null 2>&1 && return 0
  lab_die "'$1' not found on this host: install the Debian package '${2:-$1}' (see scripts/vm/packages.txt)"
}

# Cache key of the image: the build script, the guest package list, suite and mirror.
lab_image_key() {
  cat "$LAB_SCRIPTS_DIR/build-image.sh" "$LAB_SCRIPTS_DIR/guest-packages.txt" "$LAB_SCRIPTS_DIR/../lib.sh" \
    | { cat; printf '%s\n%s\n' "$LAB_SUITE" "$LAB_MIRROR"; } | sha256sum | cut -c1-16
}

# Built images are named by that key, so every checkout on this machine shares them (a fresh clone, CI's included, reuses
# the image another run built instead of spending about 10 minutes of a 2-core machine on it); ONPREM_LAB_IMAGE_STORE
# moves the store, ONPREM_LAB_CACHE alone keeps the images under it as before.
LAB_IMAGE_STORE=${ONPREM_LAB_IMAGE_STORE:-${ONPREM_LAB_CACHE:+$ONPREM_LAB_CACHE/images}}
LAB_IMAGE_STORE=${LAB_IMAGE_STORE:-${XDG_CACHE_HOME:-$HOME/.cache}/onprem-deepseek/vm-images}
lab_image_dir() { printf '%s/%s-%s\n' "$LAB_IMAGE_STORE" "$LAB_SUITE" "$(lab_image_key)"; }

lab_guest_packages() { sed -e 's/#.*//' -e 's/[[:space:]]//g' "$LAB_SCRIPTS_DIR/guest-packages.txt" | grep -v '^$' | paste -sd, -; }
