#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make run: the live-migration demo. Installs what is missing, builds (or
# reuses) the test kernel, the module and coco-migrate, boots the kernel
# under QEMU and there creates two network namespaces, the source host and
# the target host, joined by a veth pair; runs coco-migrate target in one
# and coco-migrate source in the other, and prints what they print: one
# line per pre-copy round, then the report.
#
#   make run [RUN_ARGS="--mem 32M --vcpus 2 --streams 2 --dirty-rate 1000 ..."]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KCM_TOP"

out=$KCM_TOP/build/run
rm -rf "$out"
mkdir -p "$out"

step() { kcm_logged "$out" "$@"; }

step deps scripts/install-deps.sh
step kernel scripts/kernel.sh debug
kdir=$(tail -n 1 "$out/kernel.log")
ksrc=$(scripts/kernel.sh ksrc)
mk=(make --no-print-directory KDIR="$kdir" KSRC="$ksrc")
step build-module "${mk[@]}" module
step build-tools "${mk[@]}" selftests

tests=$out/tests
mkdir -p "$tests"
cp build/selftests/netns_demo.sh build/selftests/coco-migrate "$tests/"
{
	echo "KCM_KUNIT_SUITES=''"
	echo "KCM_KSELFTESTS='netns_demo.sh'"
	echo "KCM_SUPPORT='coco-migrate'"
} >"$tests/tests.conf"
# The demo's arguments reach the script through the init's environment.
if [ -n "${RUN_ARGS:-}" ]; then
	printf 'KCM_DEMO_ARGS=%q\n' "$RUN_ARGS" >>"$tests/tests.conf"
fi

kcm_log "qemu: booting the test kernel, migrating (a minute or two under TCG)"
tools/testing/selftests/kvm-coco-mig/qemu/run.sh "$kdir" "$KCM_TOP" "$tests" \
	"$out/qemu" >"$out/qemu.log" 2>&1
res=$out/qemu/results.log
# What the demo printed, between the harness's markers.
tr -d '\r' <"$res" | sed -n '/^KCM-KSELFTEST netns_demo.sh/,/^KCM-EXIT netns_demo.sh/p' |
	sed '1d;$d'
exit_line=$(tr -d '\r' <"$res" | grep -E '^KCM-EXIT netns_demo.sh' | tail -n 1)
if [ "$exit_line" != "KCM-EXIT netns_demo.sh 0" ]; then
	kcm_die "the migration did not verify (${exit_line:-no exit status}); see build/run/"
fi
if grep -q '^FAIL ' "$out/qemu.log"; then
	grep '^FAIL ' "$out/qemu.log" >&2
	kcm_die "the QEMU run reported a problem; see build/run/qemu/console.log"
fi
kcm_log "done: a live migration between two network namespaces, verified by the guest"
