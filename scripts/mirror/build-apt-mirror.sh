#!/usr/bin/env bash
# Build a signed, flat APT repository of Debian packages, the way an air-gapped site mirrors them:
#   scripts/mirror/build-apt-mirror.sh SUITE PACKAGE_LIST_FILE [LINK]
# It downloads PACKAGE_LIST_FILE's packages and every dependency a fresh lab image lacks (Debian main, contrib,
# non-free), indexes them with apt-ftparchive and signs the Release file with a throwaway key generated for the
# mirror (sign-repo.sh). Everything happens inside a container of the lab image, so the host needs only podman.
# The result is cached in one store for the machine, $ONPREM_MIRROR_STORE (default ~/.cache/onprem-deepseek/apt-mirrors),
# as SUITE-<hash of suite, list, sources, this script and sign-repo.sh>, and linked from the checkout as
# .cache/mirror/LINK (default: SUITE); a second run with the same inputs, from any checkout, does nothing (a fresh
# clone, CI's included, reuses the repository and its signed Release: what the bundle and the appliance image built from
# it key on). Tests bind-mount it as
# file:///srv/mirror/. The last line names the repository's directory ("mirror: DIR (...)"): the bundle playbook reads
# it from there (LINK bundle-SUITE), so that it never switches the link a scenario's mirror is mounted from.
# Where the packages come from (each is part of the cache key):
#   ONPREM_DEBIAN_MIRROR           Debian's archive or the site's mirror of it (default http://deb.debian.org/debian)
#   ONPREM_DEBIAN_SECURITY_MIRROR  its security archive (SUITE-security); empty (the default): none
#   ONPREM_APT_EXTRA_SOURCES       a directory of deb822 *.sources files and the keys they name as Signed-By:
#                                  /extra/<file>: vendor repositories (NVIDIA's CUDA repository, an OFED mirror, the
#                                  site's own), read beside Debian's; a file: URI's directory is mounted read-only
set -euo pipefail

suite="${1:?usage: $0 SUITE PACKAGE_LIST_FILE}"
list="${2:?usage: $0 SUITE PACKAGE_LIST_FILE}"
link="${3:-$suite}"
repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${repo_root}/.cache/mirror"
store="${ONPREM_MIRROR_STORE:-${XDG_CACHE_HOME:-$HOME/.cache}/onprem-deepseek/apt-mirrors}"
image="localhost/onprem-deepseek/debian:${suite}"
packages="$(grep -v '^\s*#' "$list" | tr -s ' \n' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ')"
debian_mirror="${ONPREM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${ONPREM_DEBIAN_SECURITY_MIRROR:-}"
extra="${ONPREM_APT_EXTRA_SOURCES:-}"
extra_args=()
extra_digest=none
if [ -n "$extra" ]; then
    [ -d "$extra" ] || { echo "mirror: ONPREM_APT_EXTRA_SOURCES=$extra is not a directory" >&2; exit 1; }
    extra="$(cd "$extra" && pwd)"
    extra_args+=(-v "${extra}:/extra:ro")
    # A file: URI (a vendor mirror on this machine's disk) is mounted at the same path.
    while read -r dir; do
        [ -d "$dir" ] || { echo "mirror: $dir (a file: URI in $extra) is not a directory" >&2; exit 1; }
        extra_args+=(-v "${dir}:${dir}:ro")
    done < <(sed -n 's|^URIs:[[:space:]]*||p' "$extra"/*.sources | tr ' ' '\n' | sed -n 's|^file:/*|/|p' | sort -u)
    # The files' content, and what a file: repository serves (its Release file names every index by hash).
    extra_digest="$( { (cd "$extra" && find . -type f | LC_ALL=C sort | xargs sha256sum);
        sed -n 's|^URIs:[[:space:]]*||p' "$extra"/*.sources | tr ' ' '\n' | sed -n 's|^file:/*|/|p' | sort -u \
            | while read -r dir; do find "$dir" -maxdepth 3 -name Release -type f | LC_ALL=C sort | xargs -r sha256sum; done
    } | sha256sum | cut -c1-16)"
fi
sign="$(cd "$(dirname "$0")" && pwd)/sign-repo.sh"
key="$( (echo "$suite"; echo "$packages"; echo "$debian_mirror $security_mirror $extra_digest"; cat "$0" "$sign") | sha256sum | cut -c1-12)"
out="${store}/${suite}-${key}"
mkdir -p "$cache" "$store"
# One build of a repository at a time on the machine: another checkout's run waits, then reuses it.
exec 9>"${out}.lock"
flock 9

if [ -f "${out}/.complete" ]; then
    ln -sfn "$out" "${cache}/${link}"
    echo "mirror: ${out} (cached)"
    exit 0
fi
podman image exists "$image" || { echo "mirror: image $image missing: run scripts/dev images" >&2; exit 1; }

echo "mirror: building ${out} from ${suite} (${debian_mirror}${security_mirror:+ ${security_mirror}}${extra:+ and ${extra}/*.sources}): ${packages}"
rm -rf "${out}.tmp"
mkdir -p "${out}.tmp"
podman run --rm --network host -v "${out}.tmp:/out" -v "${sign}:/usr/local/bin/onprem-sign-repo:ro" "${extra_args[@]}" \
    -e SUITE="$suite" -e PACKAGES="$packages" -e DEBIAN_MIRROR="$debian_mirror" -e SECURITY_MIRROR="$security_mirror" "$image" bash -euo pipefail -c '
rm -f /etc/apt/sources.list.d/*.sources /etc/apt/sources.list
cat > /etc/apt/sources.list.d/debian.sources <<SRC
Types: deb
URIs: ${DEBIAN_MIRROR}
Suites: ${SUITE} ${SUITE}-updates
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
if [ -n "$SECURITY_MIRROR" ]; then
cat >> /etc/apt/sources.list.d/debian.sources <<SRC

Types: deb
URIs: ${SECURITY_MIRROR}
Suites: ${SUITE}-security
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
if [ -d /extra ]; then cp /extra/*.sources /etc/apt/sources.list.d/; fi
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
/usr/local/bin/onprem-sign-repo /out "onprem-deepseek test mirror (throwaway) <mirror@onprem.invalid>"
chmod -R a+rX /out
'
mv "${out}.tmp" "$out"
touch "${out}/.complete"
ln -sfn "$out" "${cache}/${link}"
echo "mirror: ${out} ($(ls "${out}/pool" | wc -l) packages, $(du -sh "${out}/pool" | cut -f1))"
