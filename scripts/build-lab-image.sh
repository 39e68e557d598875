#!/usr/bin/env bash
# usage: build-lab-image.sh SUITE   (bookworm | trixie)
# Builds a Debian base image with systemd as PID 1, python3 and sudo from Debian's archive
# with debootstrap and imports it into podman as localhost/onprem-deepseek/debian:SUITE.
# Cached by its inputs: the image carries the hash of this script, the suite and the mirror
# as a label; a second run with the same inputs reuses it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root "Building lab images"
need debootstrap "Run: sudo scripts/dev setup"
need podman "Run: sudo scripts/dev setup"

SUITE=${1:?usage: build-lab-image.sh bookworm|trixie}
case "$SUITE" in bookworm|trixie) ;; *) die "suite '$SUITE' is not supported; allowed: bookworm, trixie" ;; esac
MIRROR=${ONPREM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGE=localhost/onprem-deepseek/debian:$SUITE
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,iproute2,procps,ca-certificates,pciutils,gnupg
LABEL=org.onprem-deepseek.inputs
inputs=$( { cat "$0" "$(dirname "$0")/lib.sh"; echo "$SUITE $MIRROR $PACKAGES"; } | sha256sum | cut -c1-16)

have=$(podman image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)
if [ "$have" = "$inputs" ]; then
  note "$IMAGE is up to date (inputs $inputs)"
  exit 0
fi

say "Building $IMAGE from $MIRROR (debootstrap, about a minute)"
work=$(mktemp -d "${TMPDIR:-/var/tmp}/onprem-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" > "$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap of $SUITE failed (log above)"; }

# Timers and gettys are noise in a container; the console getty would spin without a tty.
chroot "$root" systemctl mask getty@tty1.service console-getty.service apt-daily.timer \
  apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer dpkg-db-backup.timer >/dev/null 2>&1
debian_rootfs_finalize "$root" "$SUITE" "$MIRROR"

tar -C "$root" -c . | podman import \
  --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL=SIGRTMIN+3' --change 'ENV container=podman' \
  --change "LABEL $LABEL=$inputs" - "$IMAGE" >"$work/import.log" 2>&1 \
  || { cat "$work/import.log" >&2; die "podman import of $IMAGE failed"; }
note "$IMAGE built (inputs $inputs)"
