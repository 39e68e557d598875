# shellcheck shell=bash
# Helpers shared by the project's scripts: progress lines, timing, prerequisite errors.
ONPREM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ONPREM_ROOT
ONPREM_CACHE=${ONPREM_LAB_CACHE:-$ONPREM_ROOT/.cache}
export ONPREM_CACHE

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# need CMD HINT: fail with a clear message when a prerequisite command is missing.
need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed. $2"
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die "$1 needs root (run it with sudo)."
}
