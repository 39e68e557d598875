#!/bin/bash
# Build (or reuse) the VM lab's bootable Debian disk image.
#
#   scripts/vm/build-image.sh [--force]      -> prints the image folder
#
# The image is a partitioned qcow2 disk (MBR, one ext4 partition at 1 MiB) with
# Debian's own cloud kernel, GRUB (grub-pc, BIOS/SeaBIOS boot), systemd, sshd
# with the lab key, python3 and the packages of guest-packages.txt. The guest
# boots through its own GRUB, so kernel command line changes made by a role
# (update-grub) take effect on the next reboot, as on real hardware.
#
# Cache: $LAB_IMAGE_STORE/<suite>-<key>/ (lib.sh: ~/.cache/onprem-deepseek/vm-images,
# shared by every checkout on the machine; $ONPREM_LAB_CACHE/images when that is set). <key> hashes this script, lib.sh's inputs (guest-packages.txt,
# suite, mirror); a second run with the same inputs only prints the folder.
#
# Steps: debootstrap -> rootfs tweaks -> mkfs.ext4 -d at a 1 MiB offset of a raw
# file + sfdisk (no loop device, no mount) -> one direct-kernel boot whose init
# runs grub-install + update-grub and powers off -> qcow2.
set -euo pipefail
# shellcheck source=scripts/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1
ROOT_MB=${ONPREM_LAB_ROOT_MB:-4096}        # size of the root partition (sparse)
BUILD_TIMEOUT=${ONPREM_LAB_GRUB_TIMEOUT:-600}

[ "$(id -u)" -eq 0 ] || lab_die "build-image.sh needs root (debootstrap, chroot)"
for t in debootstrap:debootstrap qemu-img:qemu-utils qemu-system-x86_64:qemu-system-x86 \
         sfdisk:fdisk mkfs.ext4:e2fsprogs ssh-keygen:openssh-client flock:util-linux; do
  lab_require "${t%%:*}" "${t#*:}"
done

IMG=$(lab_image_dir)
if [ "$FORCE" -eq 0 ] && [ -f "$IMG/.complete" ]; then
  lab_log "image cached: $IMG"
  echo "$IMG"
  exit 0
fi

mkdir -p "$LAB_IMAGE_STORE"
exec 9>"$LAB_IMAGE_STORE/.build.lock"
flock 9                                       # one build at a time (parallel molecule runs)
if [ "$FORCE" -eq 0 ] && [ -f "$IMG/.complete" ]; then echo "$IMG"; exit 0; fi

START=$(date +%s)
W="$IMG.build"
rm -rf "$W" "$IMG"
mkdir -p "$W"
R="$W/rootfs"
cleanup() { rm -rf "$W"; }
trap cleanup EXIT

lab_log "debootstrap $LAB_SUITE from $LAB_MIRROR (takes a few minutes)"
debootstrap --variant=minbase --include="$(lab_guest_packages)" \
  "$LAB_SUITE" "$R" "$LAB_MIRROR" >"$W/debootstrap.log" 2>&1 \
  || { tail -20 "$W/debootstrap.log" >&2; lab_die "debootstrap failed (log above)"; }

ROOT_UUID=$(cat /proc/sys/kernel/random/uuid)

# --- rootfs configuration -------------------------------------------------
echo "UUID=$ROOT_UUID / ext4 rw,errors=remount-ro 0 1" > "$R/etc/fstab"
echo labvm > "$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 labvm\n' > "$R/etc/hosts"
rm -f "$R/etc/resolv.conf"
echo 'nameserver 10.0.2.3' > "$R/etc/resolv.conf"   # QEMU user-mode (slirp) DNS

# NIC 1 (user-mode NAT, SSH from the host) has a fixed MAC and uses DHCP.
cat > "$R/etc/systemd/network/10-lab-nat.network" <<'EON'
[Match]
MACAddress=52:54:00:12:34:56

[Network]
DHCP=ipv4
EON

# NIC 2 (private fabric between the VMs): address and hostname come from QEMU
# fw_cfg entries written by lab-vm (opt/onprem/hostname, opt/onprem/fabric).
cat > "$R/usr/local/sbin/lab-guest-config" <<'EOS'
#!/bin/sh
# Apply the per-VM identity that lab-vm passes via QEMU fw_cfg.
modprobe qemu_fw_cfg 2>/dev/null || true
FW=/sys/firmware/qemu_fw_cfg/by_name/opt/onprem
[ -r "$FW/hostname/raw" ] && { H=$(cat "$FW/hostname/raw"); hostname "$H"; echo "$H" > /etc/hostname;
  sed -i "s/^127.0.1.1 .*/127.0.1.1 $H/" /etc/hosts; }
if [ -r "$FW/fabric/raw" ]; then
  # format: "<mac> <address/prefix>"
  set -- $(cat "$FW/fabric/raw")
  mkdir -p /run/systemd/network
  printf '[Match]\nMACAddress=%s\n\n[Network]\nAddress=%s\nLinkLocalAddressing=no\n' "$1" "$2" \
    > /run/systemd/network/20-lab-fabric.network
fi
exit 0
EOS
chmod 0755 "$R/usr/local/sbin/lab-guest-config"
cat > "$R/etc/systemd/system/lab-guest-config.service" <<'EOU'
[Unit]
Description=VM lab: hostname and fabric address from QEMU fw_cfg
DefaultDependencies=no
After=systemd-remount-fs.service
Before=systemd-networkd.service network-pre.target
Wants=network-pre.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/lab-guest-config

[Install]
WantedBy=sysinit.target
EOU

# GRUB: no menu delay, serial console, no os-prober.
sed -i -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=0/' \
  -e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0,115200n8"/' \
  "$R/etc/default/grub"
printf 'GRUB_TIMEOUT_STYLE=hidden\nGRUB_DISABLE_OS_PROBER=true\nGRUB_TERMINAL="serial console"\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n' \
  > "$R/etc/default/grub.d/00-lab.cfg"

# One-time init for the GRUB install boot (never used afterwards).
cat > "$R/usr/local/sbin/lab-install-grub" <<'EOS'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mountpoint -q /run || mount -t tmpfs tmpfs /run
# MODULES=dep: initramfs rebuilds inside the VM (nouveau blacklist handler) take seconds, not minutes
sed -i 's/^MODULES=.*/MODULES=dep/' /etc/initramfs-tools/initramfs.conf
# zstd -1 instead of initramfs-tools' default -9, to shorten the nouveau blacklist's rebuild in the VM scenario's
# converge (92 s there under TCG, 2026-12-06); the lab's disk space is no concern.
echo COMPRESSLEVEL=1 >> /etc/initramfs-tools/initramfs.conf
if grub-install --target=i386-pc /dev/vda && update-initramfs -u -k all && update-grub; then
  echo "LAB-GRUB-OK"
else
  echo "LAB-GRUB-FAILED"
fi
sync
mount -o remount,ro / || true
echo o > /proc/sysrq-trigger
sleep 30
EOS
chmod 0755 "$R/usr/local/sbin/lab-install-grub"

# SSH: the lab key for root; key-only logins.
ssh-keygen -q -t ed25519 -N '' -C onprem-vm-lab -f "$W/id_ed25519"
install -d -m 0700 "$R/root/.ssh"
install -m 0600 "$W/id_ed25519.pub" "$R/root/.ssh/authorized_keys"
printf 'PasswordAuthentication no\nUseDNS no\n' > "$R/etc/ssh/sshd_config.d/lab.conf"

chroot "$R" systemctl enable systemd-networkd ssh lab-guest-config.service >/dev/null 2>&1
chroot "$R" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
  dpkg-db-backup.timer systemd-networkd-wait-online.service >/dev/null 2>&1

debian_rootfs_finalize "$R" "$LAB_SUITE" "$LAB_MIRROR"   # scripts/lib.sh

cp "$R"/boot/vmlinuz-* "$W/vmlinuz"
cp "$R"/boot/initrd.img-* "$W/initrd.img"
KVER=$(basename "$R"/boot/vmlinuz-* | sed 's/^vmlinuz-//')

# --- disk: MBR + one ext4 partition at 1 MiB, no loop device --------------
lab_log "creating partitioned disk (${ROOT_MB} MiB root)"
truncate -s "$((ROOT_MB + 1))M" "$W/disk.raw"
mkfs.ext4 -q -F -L root -U "$ROOT_UUID" -d "$R" -E offset=1048576 "$W/disk.raw" "${ROOT_MB}M"
echo 'start=2048, type=83, bootable' | sfdisk -q --wipe never --wipe-partitions never "$W/disk.raw" >/dev/null
rm -rf "$R"

# --- one-time boot: grub-install + update-grub inside the guest -----------
lab_log "installing GRUB + a MODULES=dep initramfs inside the guest (one TCG boot)"
timeout "$BUILD_TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 1024 \
  -kernel "$W/vmlinuz" -initrd "$W/initrd.img" \
  -append "root=/dev/vda1 rw console=ttyS0 panic=-1 init=/usr/local/sbin/lab-install-grub" \
  -drive "file=$W/disk.raw,if=virtio,format=raw,cache=unsafe" \
  -nic none -display none -no-reboot -serial "file:$W/grub-install.log" -monitor none \
  || lab_die "GRUB install boot failed or timed out (log: $W/grub-install.log)"
grep -q LAB-GRUB-OK "$W/grub-install.log" || {
  tail -30 "$W/grub-install.log" >&2; lab_die "grub-install/update-grub failed inside the guest"; }

qemu-img convert -O qcow2 "$W/disk.raw" "$W/base.qcow2"
mkdir -p "$IMG"
mv "$W/base.qcow2" "$W/id_ed25519" "$W/id_ed25519.pub" "$IMG/"
cp "$W/grub-install.log" "$IMG/"
cat > "$IMG/image.env" <<EOE
SUITE=$LAB_SUITE
KERNEL=$KVER
ROOT_UUID=$ROOT_UUID
BUILT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
BUILD_SECONDS=$(( $(date +%s) - START ))
EOE
touch "$IMG/.complete"
lab_log "image built in $(( $(date +%s) - START )) s: $IMG"
echo "$IMG"
