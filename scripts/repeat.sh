#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run make check's QEMU step many times on one build, to see whether the
# gate can be trusted on a busy machine, or to reproduce a rare failure.
#
#   scripts/repeat.sh check [N]     make check-repeat N=10 [LOAD=1]
#   scripts/repeat.sh stress [N]    make stress N=5 [LOAD=1] [REPEAT=4]
#   scripts/repeat.sh only [N]      make only TESTS="migrate_test" [KUNIT="suite"]
#
# check: the whole QEMU step of make check, N times (default 10).
# stress: the pair of tests that stalled together once (the kernel's own
#   set_memory_region_test and netns_migrate.sh), REPEAT times each per
#   boot (default 4), in N boots (default 1), with the ftrace ring of
#   SRCU, timer and IPI events on and a 30 s hung-task threshold, so that
#   a stall is caught and dumped early (qemu/README.md). TESTS="a b"
#   runs other tests instead.
# only: the kselftests TESTS and the KUnit suites KUNIT (both may be
#   empty), as make check runs them: what a developer runs while working.
#
# Both build once (kernel, module, kselftests), then print a line per run
# (result, time, the failures) and at the end "N passed, N failed" and the
# time's minimum, median and maximum. LOAD=N runs N CPU-bound processes on
# the host throughout (LOAD=1: one busy core, as a second heavy process on
# a developer's machine). TRACE=1 keeps the ftrace ring in check mode
# too. KERNEL_ARGS adds kernel parameters to the test
# kernel's command line; QEMU names another qemu-system-x86_64. Each run's
# logs are in build/repeat/<mode>-K/ (or REPEAT_OUT/<mode>-K/).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KCM_TOP"

mode=${1:-check}
case "$mode" in
check) n=${2:-10} ;;
stress | only) n=${2:-1} ;;
*) kcm_die "unknown mode '$mode' (check, stress or only)" ;;
esac
[[ "$n" =~ ^[1-9][0-9]*$ ]] || kcm_die "N must be a positive number, not '$n'"
load=${LOAD:-0}
[[ "$load" =~ ^[0-9]+$ ]] || kcm_die "LOAD must be a number of busy processes, not '$load'"

out=${REPEAT_OUT:-$KCM_TOP/build/repeat}
mkdir -p "$out"
rm -rf "${out:?}/$mode"-*

logged() { kcm_logged "$out" "$@"; }
logged deps scripts/install-deps.sh
logged kernel scripts/kernel.sh debug
kdir=$(tail -n 1 "$out/kernel.log")
ksrc=$(scripts/kernel.sh ksrc)
mk=(make --no-print-directory KDIR="$kdir" KSRC="$ksrc")
logged build-module "${mk[@]}" module KCFLAGS=-Werror
logged build-selftests "${mk[@]}" selftests

tests=$KCM_TOP/build/selftests
if [ "$mode" = stress ]; then
	tests=$out/stress-tests
	rm -rf "$tests"
	mkdir -p "$tests"
	list=${TESTS:-set_memory_region_test netns_migrate.sh}
	for t in $list coco-migrate; do
		install -D -m 0755 "build/selftests/$t" "$tests/$t" ||
			kcm_die "no test '$t' in build/selftests"
	done
	{
		echo "KCM_KUNIT_SUITES=''"
		echo "KCM_KSELFTESTS='$list'"
		echo "KCM_SUPPORT='coco-migrate'"
		echo "KCM_REPEAT=${REPEAT:-4}"
		echo "KCM_TRACE=1"
		echo "KCM_STALL_SECS=30"
		echo "KCM_PAIRED=1"
	} >"$tests/tests.conf"
	# Several runs of the pair take longer than one make check.
	export KCM_QEMU_TIMEOUT=${KCM_QEMU_TIMEOUT:-$((600 + 600 * ${REPEAT:-4}))}
fi
# only: some of make check's tests, as make check runs them (make only).
if [ "$mode" = only ]; then
	tests=$out/only-tests
	rm -rf "$tests"
	mkdir -p "$tests"
	for t in ${TESTS:-} coco-migrate; do
		install -D -m 0755 "build/selftests/$t" "$tests/$t" ||
			kcm_die "no test '$t' in build/selftests"
	done
	{
		echo "KCM_KUNIT_SUITES='${KUNIT:-}'"
		echo "KCM_KSELFTESTS='${TESTS:-}'"
		echo "KCM_SUPPORT='coco-migrate'"
	} >"$tests/tests.conf"
fi
# TRACE=1: the check mode with the stress mode's tracing and dumps.
if [ "$mode" = check ] && [ -n "${TRACE:-}" ]; then
	tests=$out/check-tests
	rm -rf "$tests"
	cp -a build/selftests "$tests"
	echo "KCM_TRACE=1" >>"$tests/tests.conf"
fi
[ -n "${KERNEL_ARGS:-}" ] && export KCM_KERNEL_ARGS=$KERNEL_ARGS
[ -n "${QEMU:-}" ] && export KCM_QEMU=$QEMU

hogs=()
qpid=""
stop_load() {
	[ "${#hogs[@]}" -gt 0 ] && kill "${hogs[@]}" 2>/dev/null
	hogs=()
	# run.sh and its QEMU run in their own session: end them with us.
	[ -n "$qpid" ] && kill -- -"$qpid" 2>/dev/null
	qpid=""
}
trap stop_load EXIT
trap 'exit 130' INT TERM
for ((h = 0; h < load; h++)); do
	sh -c 'while :; do :; done' &
	hogs+=("$!")
done

qemu_version=$("${QEMU:-qemu-system-x86_64}" --version | head -n 1)
kcm_log "$mode: $n run(s), LOAD=$load, $qemu_version${KERNEL_ARGS:+, kernel args: $KERNEL_ARGS}"
passed=0 failed=0
times=()
for ((k = 1; k <= n; k++)); do
	dir=$out/$mode-$k
	mkdir -p "$dir"
	start=$(date +%s)
	setsid -w tools/testing/selftests/kvm-coco-mig/qemu/run.sh "$kdir" "$KCM_TOP" "$tests" \
		"$dir" >"$dir/qemu.log" 2>&1 &
	qpid=$!
	wait "$qpid"
	rc=$?
	qpid=""
	secs=$(($(date +%s) - start))
	times+=("$secs")
	line=$(grep -E '^results: ' "$dir/qemu.log" | tail -n 1)
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
		echo "run $k: PASS in ${secs} s (${line#results: })"
	else
		failed=$((failed + 1))
		echo "run $k: FAIL in ${secs} s (${line#results: }); see ${dir#"$KCM_TOP"/}/"
		grep -E '^FAIL ' "$dir/qemu.log" | head -n 10 | sed 's/^/    /'
		sed -n '/^why:$/,/^why: end$/p' "$dir/qemu.log" | head -n 60 | sed 's/^/    /'
	fi
	grep -E '^platform: ' "$dir/qemu.log" | sed 's/^/    /'
	# Stalls caught and recovered still fail the run; count them apart.
	stalls=$(grep -c '^KCM-STALL' "$dir/results.log" 2>/dev/null)
	[ "${stalls:-0}" -gt 0 ] && echo "    $stalls stall(s) caught by the watchdog: $(grep -h '^KCM-KICK' "$dir/results.log" | tr '\r\n' '  ')"
done
stop_load

sorted=$(printf '%s\n' "${times[@]}" | sort -n)
min=$(head -n 1 <<<"$sorted")
max=$(tail -n 1 <<<"$sorted")
# The median; of an even number of runs, the mean of the middle two.
lo=$(sed -n "$(((n + 1) / 2))p" <<<"$sorted")
hi=$(sed -n "$((n / 2 + 1))p" <<<"$sorted")
med=$(((lo + hi) / 2))
echo "time: min ${min} s, median ${med} s, max ${max} s (QEMU step only)"
# Each kselftest's longest time over the runs (guest seconds), which the
# per-test timeouts are set from.
cat "$out/$mode"-*/results.log 2>/dev/null | tr -d '\r' | awk '
	$1 == "KCM-TIME" && $3 ~ /^[0-9]+$/ {
		name = $2; sub(/@[0-9]+$/, "", name)
		if (!(name in max) || $3 > max[name]) max[name] = $3
		runs[name]++
	}
	END { for (n in max) printf "  %-40s longest %4d s over %d run(s)\n", n, max[n], runs[n] }' |
	sort | sed '1i kselftest times:'

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
