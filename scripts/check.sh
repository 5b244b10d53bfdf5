#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: install what is missing, build the debug test kernel (cached),
# build the module against it and against Debian's headers, run checkpatch
# and sparse, build the kselftests, boot QEMU and run every test.
#
# Each build and static check counts as one test; the QEMU run adds one per
# KUnit case, kselftest case and harness step. The last line is
# "N passed, N failed, N skipped"; the exit status is non-zero on any failure.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KCM_TOP"

out=$KCM_TOP/build/check
rm -rf "$out"
mkdir -p "$out"
passed=0 failed=0 skipped=0
times=()

result() { # result PASS|FAIL NAME [WHY]
	if [ "$1" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	printf '%s %s%s\n' "$1" "$2" "${3:+ ($3)}"
}

# timed NAME CMD...: run a step with its output in build/check/NAME.log.
timed() {
	local name=$1 start rc
	shift
	start=$(date +%s)
	"$@" >"$out/$name.log" 2>&1
	rc=$?
	times+=("$name $(($(date +%s) - start))s")
	return $rc
}

finish() {
	echo "time: ${times[*]}"
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
	exit $?
}

fatal() { # a step everything after depends on failed
	result FAIL "$1" "see build/check/$1.log"
	tail -n 30 "$out/$1.log" >&2
	finish
}

timed deps scripts/install-deps.sh || fatal deps
timed kernel scripts/kernel.sh debug || fatal kernel
kdir=$(tail -n 1 "$out/kernel.log")
ksrc=$(scripts/kernel.sh ksrc)
mk=(make --no-print-directory KDIR="$kdir" KSRC="$ksrc")

if timed build-module "${mk[@]}" module KCFLAGS=-Werror; then
	result PASS build:module
else
	fatal build-module
fi

if timed selftests "${mk[@]}" selftests; then
	result PASS build:selftests
else
	fatal selftests
fi

# The QEMU run leaves a core idle once its shorter lane is done: the host
# checks below run meanwhile. run.sh has copied the modules into its
# initramfs long before sparse, the only one working in the tree, starts.
qstart=$(date +%s)
tools/testing/selftests/kvm-coco-mig/qemu/run.sh "$kdir" "$KCM_TOP" \
	"$KCM_TOP/build/selftests" "$out" >"$out/qemu.log" 2>&1 &
qpid=$!

# A host builds against Debian's headers: keep that build working.
distro_kdir=$(kcm_distro_kdir)
rm -rf build/distro
mkdir -p build/distro
git ls-files -z 2>/dev/null | rsync -a --from0 --files-from=- . build/distro/ ||
	rsync -a --exclude build --exclude .git . build/distro/
if timed build-distro make -C "$distro_kdir" M="$KCM_TOP/build/distro" KSRC="$ksrc" \
	KCFLAGS=-Werror modules; then
	result PASS build:distro-headers
else
	result FAIL build:distro-headers "see build/check/build-distro.log"
fi

if timed checkpatch "${mk[@]}" checkpatch && ! grep -qE '^(ERROR|WARNING|CHECK)' "$out/checkpatch.log"; then
	result PASS style:checkpatch
else
	result FAIL style:checkpatch "see build/check/checkpatch.log"
fi

if timed sparse "${mk[@]}" sparse && ! grep -qE 'warning:|error:' "$out/sparse.log"; then
	result PASS static:sparse
else
	result FAIL static:sparse "see build/check/sparse.log"
fi

# The documentation is the contract: it must at least parse.
if timed docs /usr/bin/python3 scripts/check-rst.py $(git ls-files 'Documentation/*.rst' 2>/dev/null ||
	find Documentation -name '*.rst'); then
	result PASS docs:rst
else
	result FAIL docs:rst "see build/check/docs.log"
fi

wait "$qpid"
qrc=$?
times+=("qemu $(($(date +%s) - qstart))s")
grep -E '^(PASS|FAIL|SKIP) ' "$out/qemu.log"
sed -n "/^why:$/,/^why: end$/p" "$out/qemu.log"
line=$(grep -E '^results: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out/qemu.log" | tail -n 1)
if [ -z "$line" ]; then
	result FAIL qemu "no results; see build/check/qemu.log"
else
	read -r _ p _ f _ s _ <<<"$line"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	[ "$qrc" = 0 ] || [ "$f" -gt 0 ] || result FAIL qemu "runner exit status $qrc"
fi
echo "console: build/check/console.log, results: build/check/results.log"
finish
