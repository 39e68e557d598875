#!/usr/bin/env bash
# Sign a flat APT repository with a new throwaway key, the one signing step of the lab's repositories (the test mirror
# and the bundle's APT part built by build-apt-mirror.sh, the offline scenario's vendor repository, the unit tier's
# one-package repository):
#   scripts/mirror/sign-repo.sh DIR "NAME <EMAIL>"
# writes DIR/InRelease and DIR/Release.gpg over DIR/Release, and the public key as DIR/key.asc (what a host's
# Signed-By: names). The secret key lives only in a temporary GNUPGHOME, removed when the script ends. Needs gpg.
set -euo pipefail
dir="${1:?usage: $0 DIR 'NAME <EMAIL>'}"
uid="${2:?usage: $0 DIR 'NAME <EMAIL>'}"
[ -f "$dir/Release" ] || { echo "sign-repo: $dir/Release does not exist" >&2; exit 1; }
GNUPGHOME="$(mktemp -d)"
export GNUPGHOME
trap 'gpgconf --kill all 2>/dev/null || true; rm -rf "$GNUPGHOME"' EXIT
cd "$dir"
gpg --batch --quiet --pinentry-mode loopback --passphrase "" --quick-gen-key "$uid" ed25519 sign never
gpg --batch --quiet --clearsign -o InRelease Release
gpg --batch --quiet -abs -o Release.gpg Release
gpg --batch --armor --export > key.asc
