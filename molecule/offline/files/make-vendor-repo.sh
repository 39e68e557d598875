#!/usr/bin/env bash
# A vendor's own signed, flat APT repository with one package (onprem-vendor-probe), standing in for NVIDIA's CUDA
# repository or a site's mirror of it: the offline scenario's bundle takes it through bundle_apt_sources, beside
# Debian's archive, and the lab host installs the package from the bundle alone. Built on this machine with dpkg-deb,
# dpkg-scanpackages and gpg (scripts/mirror/packages.txt), signed with a throwaway key (scripts/mirror/sign-repo.sh); a
# second run does nothing.
#   make-vendor-repo.sh DIR     -> DIR/{onprem-vendor-probe_1.0_all.deb, Packages, Release, InRelease, key.asc}
set -euo pipefail
sign="$(cd "$(dirname "$0")/../../../scripts/mirror" && pwd)/sign-repo.sh"
out=${1:?usage: $0 DIR}
if [ -f "$out/.complete" ]; then echo "vendor repository: $out (cached)"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pkg/DEBIAN" "$work/pkg/usr/share/doc/onprem-vendor-probe" "$work/repo"
cat > "$work/pkg/DEBIAN/control" <<CONTROL
Package: onprem-vendor-probe
Version: 1.0
Architecture: all
Maintainer: onprem.deepseek lab <lab@onprem.invalid>
Description: onprem.deepseek lab: a package only a vendor repository has
CONTROL
echo "Installed from the offline bundle; it came from a vendor repository (bundle_apt_sources)." \
  > "$work/pkg/usr/share/doc/onprem-vendor-probe/README"
dpkg-deb --root-owner-group -Zgzip --build "$work/pkg" "$work/repo/onprem-vendor-probe_1.0_all.deb" >/dev/null
cd "$work/repo"
dpkg-scanpackages --multiversion . /dev/null 2>/dev/null > Packages
gzip -9kn Packages
{
  echo "Origin: onprem-vendor-probe"
  echo "Label: onprem-vendor-probe"
  echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
  echo "SHA256:"
  for f in Packages Packages.gz; do printf ' %s %s %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"; done
} > Release
"$sign" . "onprem-deepseek vendor probe (throwaway) <vendor@onprem.invalid>"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -a "$work/repo" "$out"
chmod -R a+rX "$out"
touch "$out/.complete"
echo "vendor repository: $out (1 package)"
