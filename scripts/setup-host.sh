#!/usr/bin/env bash
# Prepares this machine for the lab and the tests: Debian packages, podman configured for
# the runc runtime and the ulimits a sandbox allows, and the Python virtualenv pinned in
# requirements.txt. Idempotent: a second run only checks.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root "Host setup"
[ -r /etc/debian_version ] || die "host setup supports Debian 12/13 only (no /etc/debian_version)."

PKGS=(podman runc debootstrap uidmap slirp4netns fuse-overlayfs containernetworking-plugins
      iptables git openssl openssh-client python3-venv ca-certificates)
# Each lab tool lists the host packages it needs in scripts/<tool>/packages.txt (VM lab, mirror, ...).
for list in "$ONPREM_ROOT"/scripts/*/packages.txt; do
  [ -r "$list" ] || continue
  mapfile -t more < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')
  PKGS+=("${more[@]}")
done
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  # No service of these packages may start on this machine (nginx, haproxy, keepalived are tools of the tests, run in
  # the foreground or in namespaces): a policy-rc.d that refuses every start while apt runs, where none is in place.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# scripts/setup-host.sh: no service starts during its package installs (removed after).\nexit 101\n' > "$policy"
    chmod 0755 "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || { [ -z "$policy" ] || rm -f "$policy"; exit 1; }
  [ -z "$policy" ] || rm -f "$policy"
else
  note "Debian packages present"
fi

# runc: crun fails in this sandbox. Container rlimits above what the sandbox's root may set
# (nofile 1048576, nproc > 32768) make runc fail with "error setting rlimit".
nofile=$(ulimit -Hn)
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 20000 ]; then nofile=20000; fi
conf_dir=/etc/containers/containers.conf.d
conf=$conf_dir/50-onprem-deepseek-lab.conf
want=$(cat <<EOC
# Written by onprem.deepseek scripts/setup-host.sh for the local lab.
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOC
)
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  say "Configuring podman ($conf)"
  mkdir -p "$conf_dir"
  printf '%s\n' "$want" > "$conf"
fi

venv=$ONPREM_ROOT/.venv
req_sum=$(sha256sum "$ONPREM_ROOT/requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$req_sum" ]; then
  say "Installing Python requirements into .venv (pinned in requirements.txt)"
  need python3 "Install python3 (apt-get install python3 python3-venv)."
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$ONPREM_ROOT/requirements.txt"
  echo "$req_sum" > "$venv/.requirements.sha256"
else
  note "Python virtualenv up to date"
fi
