#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the kvm-coco-mig test kernel and print its build directory.
#
#   scripts/kernel.sh debug     # kernel.config + debug.config (make check)
#   scripts/kernel.sh release   # kernel.config only (make bench)
#   scripts/kernel.sh ksrc      # only print the source tree (KSRC)
#
# The kernel is built from the installed linux-source-6.12 into
# $KCM_CACHE/kernel/<variant>-<hash>, where the hash covers the config
# fragments, the source package version, the compiler and the recipe
# version below (bump it when the build steps change), so a warm run, even
# from a new clone, does not rebuild it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:-debug}
if [ "$variant" = ksrc ]; then
	kcm_ksrc
	exit 0
fi
case "$variant" in
debug) frags=("$KCM_QEMU_DIR/kernel.config" "$KCM_QEMU_DIR/debug.config") ;;
release) frags=("$KCM_QEMU_DIR/kernel.config") ;;
*) kcm_die "unknown kernel variant '$variant' (debug or release)" ;;
esac

ksrc=$(kcm_ksrc)
recipe=2
hash=$({
	cat "${frags[@]}"
	echo "recipe $recipe"
	kcm_src_version
	gcc --version | head -n 1
} | sha256sum | cut -c1-16)
out=$KCM_CACHE/kernel/$variant-$hash

if [ -e "$out/.kcm-built" ]; then
	kcm_log "test kernel ($variant) cached in $out"
	printf '%s\n' "$out"
	exit 0
fi

# Start from the newest earlier build of this variant, if any: Kbuild tracks
# dependencies per CONFIG symbol, so only what the change touches rebuilds.
prev=$(ls -dt "$KCM_CACHE/kernel/$variant"-* 2>/dev/null | grep -v -- "-$hash\$" | head -n 1 || true)
rm -rf "$out" "$out.tmp"
if [ -n "$prev" ] && [ -e "$prev/.kcm-built" ]; then
	kcm_log "building the $variant test kernel in $out, starting from $prev"
	mv "$prev" "$out.tmp"
	rm -f "$out.tmp/.kcm-built"
	rm -rf "$out.tmp/staging" "$out.tmp/usr"
	mv "$out.tmp" "$out"
else
	kcm_log "building the $variant test kernel in $out (about 15 minutes on 2 cores)"
	mkdir -p "$out"
fi
mk() { make -s -C "$ksrc" O="$out" ARCH=x86_64 "$@"; }

# allnoconfig with the fragments as KCONFIG_ALLCONFIG: every symbol that no
# fragment asks for (and nothing selects) stays off, which keeps it small.
cat "${frags[@]}" >"$out/kcm.config"
mk KCONFIG_ALLCONFIG="$out/kcm.config" allnoconfig >"$out/kconfig.log" 2>&1

# Fail when Kconfig silently dropped a symbol we asked for (an unmet dependency).
missing=0
for f in "${frags[@]}"; do
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		sym=${line%%=*}
		val=${line#*=}
		if [ "$val" = n ]; then
			grep -qx "$sym=.*" "$out/.config" && { kcm_log "$sym: wanted n"; missing=1; }
		else
			grep -qxF "$line" "$out/.config" || { kcm_log "$sym: wanted $val, got '$(grep "^$sym=\|^# $sym " "$out/.config" || echo unset)'"; missing=1; }
		fi
	done <"$f"
done
[ "$missing" = 0 ] || kcm_die "the kernel config does not have what the fragments ask for"

mk -j"$KCM_JOBS" bzImage modules
mk INSTALL_MOD_PATH="$out/staging" INSTALL_MOD_STRIP=1 modules_install >/dev/null
mk INSTALL_HDR_PATH="$out/usr" headers_install >/dev/null
touch "$out/.kcm-built"
printf '%s\n' "$out"
