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

# debian_rootfs_finalize ROOT SUITE MIRROR: make a debootstrapped tree ready to be an image:
# deb822 sources with all components (the roles enable non-free/contrib packages), no apt
# lists (with an old mtime, else `apt: cache_valid_time` believes the empty cache is fresh),
# and an empty machine-id so that each container or VM makes its own.
debian_rootfs_finalize() {
  local root=$1 suite=$2 mirror=$3
  rm -f "$root/etc/apt/sources.list"
  cat > "$root/etc/apt/sources.list.d/debian.sources" <<EOS
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $suite-security
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/*
  touch -d 2000-01-01 "$root/var/lib/apt/lists"
  : > "$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
}
