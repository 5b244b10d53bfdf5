# SPDX-License-Identifier: GPL-2.0
# Shared settings for the kvm-coco-mig build and test scripts (sourced, not run).

KCM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KCM_CACHE=${KCM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-coco-mig}
KCM_QEMU_DIR=$KCM_TOP/tools/testing/selftests/kvm-coco-mig/qemu
KCM_SRC_PKG=linux-source-6.12
KCM_JOBS=${KCM_JOBS:-$(nproc)}

kcm_log() { printf '[kcm] %s\n' "$*" >&2; }
kcm_die() { printf '[kcm] error: %s\n' "$*" >&2; exit 1; }

# kcm_logged DIR NAME CMD...: a quiet step, its output in DIR/NAME.log; on
# failure the log's tail, and the script stops.
kcm_logged() {
	local dir=$1 name=$2
	shift 2
	kcm_log "$name"
	"$@" >"$dir/$name.log" 2>&1 && return 0
	tail -n 30 "$dir/$name.log" >&2
	kcm_die "$name failed; see ${dir#"$KCM_TOP"/}/$name.log"
}

# Version of the installed linux-source package (the test kernel's source).
kcm_src_version() {
	dpkg-query -W -f='${Version}' "$KCM_SRC_PKG" 2>/dev/null ||
		kcm_die "$KCM_SRC_PKG is not installed: run scripts/install-deps.sh"
}

# Extracted kernel source tree (KSRC), unpacked once per package version.
kcm_ksrc() {
	local ver dir tmp
	ver=$(kcm_src_version) || exit 1
	dir=$KCM_CACHE/src/$KCM_SRC_PKG-$ver
	if [ ! -e "$dir/.kcm-extracted" ]; then
		kcm_log "extracting /usr/src/$KCM_SRC_PKG.tar.xz to $dir"
		mkdir -p "$KCM_CACHE/src"
		tmp=$(mktemp -d "$KCM_CACHE/src/.extract.XXXXXX")
		tar -C "$tmp" -xf "/usr/src/$KCM_SRC_PKG.tar.xz" || kcm_die "extracting the kernel source failed"
		rm -rf "$dir"
		mv "$tmp/$KCM_SRC_PKG" "$dir"
		rmdir "$tmp"
		touch "$dir/.kcm-extracted"
	fi
	printf '%s\n' "$dir"
}

# Debian's headers package built from the same source version, for host builds.
kcm_distro_kdir() {
	local ver abi
	ver=$(kcm_src_version) || exit 1
	abi=${ver%%-*}+deb12
	printf '/usr/src/linux-headers-%s-amd64\n' "$abi"
}
