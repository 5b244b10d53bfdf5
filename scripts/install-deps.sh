#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install, from Debian's packages only, whatever kvm-coco-mig needs to build
# the test kernel, the module and the tests, and to boot them under QEMU.
# Idempotent and non-interactive; a no-op when everything is present.
set -euo pipefail

pkgs=(
	build-essential bc bison flex libelf-dev libssl-dev libbearssl-dev kmod cpio xz-utils
	python3 python3-docutils busybox-static qemu-system-x86 sparse codespell
	iproute2 rsync linux-source-6.12
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# Debian's headers built from the same version as linux-source-6.12, for the
# distro build that a host does. Resolved after the source is known.
src_ver() { dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true; }

apt_install() {
	[ "$(id -u)" = 0 ] || { echo "install-deps: need root to install: $*" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

updated=0
apt_update() {
	[ "$updated" = 1 ] && return
	echo "install-deps: apt-get update" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	updated=1
}

if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}" >&2
	apt_update
	apt_install "${missing[@]}"
fi

ver=$(src_ver)
[ -n "$ver" ] || { echo "install-deps: linux-source-6.12 did not install" >&2; exit 1; }
hdr=linux-headers-${ver%%-*}+deb12-amd64
if ! dpkg-query -W -f='${Status}' "$hdr" 2>/dev/null | grep -q 'install ok installed'; then
	echo "install-deps: installing $hdr (matches linux-source-6.12 $ver)" >&2
	apt_update
	cand=$(apt-cache policy "$hdr" 2>/dev/null | awk '/Candidate:/ { print $2 }')
	if [ "$cand" != "$ver" ]; then
		echo "install-deps: $hdr $ver is not available (candidate: ${cand:-none});" \
			"linux-source-6.12 and the headers must be the same version" >&2
		exit 1
	fi
	apt_install "$hdr"
fi
