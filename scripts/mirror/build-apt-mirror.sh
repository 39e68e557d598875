#!/usr/bin/env bash
# Build a signed, flat APT repository of Debian packages, the way an air-gapped site mirrors them:
#   scripts/mirror/build-apt-mirror.sh SUITE PACKAGE_LIST_FILE [LINK]
# It downloads PACKAGE_LIST_FILE's packages and every dependency a fresh lab image lacks (Debian main, contrib,
# non-free), indexes them with apt-ftparchive and signs the Release file with a throwaway key generated for the
# mirror. Everything happens inside a container of the lab image, so the host needs only podman.
# The result is cached under .cache/mirror/SUITE-<hash of suite, list and this script> and linked as
# .cache/mirror/LINK (default: SUITE); a second run with the same inputs does nothing. Tests bind-mount it as
# file:///srv/mirror/. The last line names the repository's directory ("mirror: DIR (...)"): the bundle playbook reads
# it from there (LINK bundle-SUITE), so that it never switches the link a scenario's mirror is mounted from.
set -euo pipefail

suite="${1:?usage: $0 SUITE PACKAGE_LIST_FILE}"
list="${2:?usage: $0 SUITE PACKAGE_LIST_FILE}"
link="${3:-$suite}"
repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${repo_root}/.cache/mirror"
image="localhost/onprem-deepseek/debian:${suite}"
packages="$(grep -v '^\s*#' "$list" | tr -s ' \n' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ')"
key="$( (echo "$suite"; echo "$packages"; cat "$0") | sha256sum | cut -c1-12)"
out="${cache}/${suite}-${key}"

if [ -f "${out}/.complete" ]; then
    ln -sfn "$(basename "$out")" "${cache}/${link}"
    echo "mirror: ${out} (cached)"
    exit 0
fi
podman image exists "$image" || { echo "mirror: image $image missing: run scripts/dev images" >&2; exit 1; }

echo "mirror: building ${out} from ${suite}: ${packages}"
rm -rf "${out}.tmp"
mkdir -p "${out}.tmp"
podman run --rm --network host -v "${out}.tmp:/out" -e SUITE="$suite" -e PACKAGES="$packages" "$image" bash -euo pipefail -c '
rm -f /etc/apt/sources.list.d/*.sources /etc/apt/sources.list
cat > /etc/apt/sources.list.d/debian.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: ${SUITE} ${SUITE}-updates
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt-get update -qq
# The closure is computed before the tools below are installed, so it is what a fresh lab image lacks.
closure="$(apt-get install -s --no-install-recommends $PACKAGES | awk "/^Inst /{print \$2}")"
mkdir -p /out/pool
cd /out/pool
apt-get download -qq $closure
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends apt-utils gnupg >/dev/null
cd /out
apt-ftparchive packages pool > Packages
gzip -9kn Packages
apt-ftparchive -o APT::FTPArchive::Release::Origin=onprem-deepseek-test-mirror \
    -o APT::FTPArchive::Release::Label=onprem-deepseek-test-mirror release . > /tmp/Release
mv /tmp/Release Release
export GNUPGHOME=/tmp/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --pinentry-mode loopback --passphrase "" \
    --quick-gen-key "onprem-deepseek test mirror (throwaway) <mirror@onprem.invalid>" ed25519 sign never
gpg --batch --quiet --clearsign -o InRelease Release
gpg --batch --quiet -abs -o Release.gpg Release
gpg --batch --armor --export > key.asc
chmod -R a+rX /out
'
mv "${out}.tmp" "$out"
touch "${out}/.complete"
ln -sfn "$(basename "$out")" "${cache}/${link}"
echo "mirror: ${out} ($(ls "${out}/pool" | wc -l) packages, $(du -sh "${out}/pool" | cut -f1))"
