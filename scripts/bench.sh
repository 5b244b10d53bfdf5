#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the sw backend's PACKAGE_PAGES and RECEIVE_PAGES throughput at
# 1, 64 and 512 pages per call, against the raw AEAD they are built on (the
# same AES-256-GCM on the same bytes through the kernel crypto API), all in
# one boot of the non-debug test kernel under QEMU. Absolute figures under
# TCG mean little; the ratios are what is reported.
#
# The clock (KCM_BENCH_CLOCK):
#   icount  (the default) QEMU's -icount: the guest's clocks count the
#           instructions it executes, 2^KCM_BENCH_ICOUNT_SHIFT ns each
#           (default shift 1: 2 ns), not the host's time, so the host's load
#           does not change the figures. Virtual time weighs every
#           instruction alike: an AES-NI or PCLMULQDQ instruction counts as
#           one, a string instruction as one per iteration, a VM exit as
#           the instructions around it. -icount does not work with MTTCG
#           (one host thread runs the guest), and with QEMU 7.2 a second
#           vCPU does not boot under it (the local APIC timer fails the
#           kernel's verification, ticking at half the rate calibrated, and
#           bringing up CPU 1 hangs), so this boot has one vCPU: the bench's
#           threads (track_bench's vCPU thread and the one that re-arms)
#           take turns on it, as two vCPUs would on one instruction clock.
#           sleep=off: an idle guest skips ahead to its next timer.
#   host    TCG with a thread per vCPU and two vCPUs (as make check), on the
#           host's time.
# Either way the samples are short and interleaved with their reference and
# the figures are medians of per-sample ratios (see bench.c, track_bench.c).
#
# Builds the release kernel (cached), then the module, kvm-coco-mig-bench.ko
# and the selftests in a copy of the tree (build/bench/src), boots QEMU with
# only the bench to run, prints a table and writes build/bench/bench.json.
# A missed target is reported, not failed: the exit status is non-zero only
# when something did not build or run, or the bench left no results.
#
# KCM_BENCH_ONLY=streams skips the first boot and runs only the second, the
# streams bench (two vCPUs, the host's time); its table and JSON then have
# only the streams row. KCM_STREAM_SAMPLES sets how many two-stream samples
# that bench takes (see stream_bench.c).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KCM_TOP"

out=$KCM_TOP/build/bench
rm -rf "$out"
mkdir -p "$out"

logged() { kcm_logged "$out" "$@"; }

only=${KCM_BENCH_ONLY:-}
case $only in
'' | streams) ;;
*) kcm_die "KCM_BENCH_ONLY must be empty or streams, not '$only'" ;;
esac
ssamples=${KCM_STREAM_SAMPLES:-}
[ -z "$ssamples" ] || [[ $ssamples =~ ^[0-9]+$ ]] ||
	kcm_die "KCM_STREAM_SAMPLES must be a number, not '$ssamples'"
clock=${KCM_BENCH_CLOCK:-icount}
shift_=${KCM_BENCH_ICOUNT_SHIFT:-1}
case $clock in
icount)
	[[ $shift_ =~ ^[0-9]+$ ]] && [ "$shift_" -le 10 ] ||
		kcm_die "KCM_BENCH_ICOUNT_SHIFT must be 0 to 10, not '$shift_'"
	export KCM_QEMU_ACCEL=tcg
	export KCM_QEMU_OPTS="-icount shift=$shift_,sleep=off"
	# QEMU 7.2 cannot bring up a second vCPU under -icount (README).
	export KCM_QEMU_SMP=1
	;;
host)
	export KCM_QEMU_ACCEL=tcg,thread=multi
	export KCM_QEMU_OPTS=
	export KCM_QEMU_SMP=2
	;;
*)
	kcm_die "KCM_BENCH_CLOCK must be icount or host, not '$clock'"
	;;
esac

logged deps scripts/install-deps.sh
logged kernel scripts/kernel.sh release
kdir=$(tail -n 1 "$out/kernel.log")
ksrc=$(scripts/kernel.sh ksrc)

# Build in a copy: the tree itself may be in use by another build. Tracked
# files and new ones that git does not ignore (so that uncommitted work is
# measured), or without git everything but build products.
src=$out/src
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		rsync -a --from0 --files-from=- --ignore-missing-args . "$src/" ||
		kcm_die "copying the tree to $src failed"
else
	rsync -a --exclude /build --exclude .git --exclude '*.o' --exclude '*.ko' \
		--exclude '*.mod' --exclude '*.mod.c' --exclude '.*.cmd' \
		--exclude Module.symvers --exclude modules.order . "$src/" ||
		kcm_die "copying the tree to $src failed"
fi
mk=(make --no-print-directory -C "$src" KDIR="$kdir" KSRC="$ksrc")
logged build-module "${mk[@]}" KCM_BENCH=y module KCFLAGS=-Werror
[ -e "$src/kvm-coco-mig-bench.ko" ] ||
	kcm_die "kvm-coco-mig-bench.ko was not built (does $kdir have CONFIG_KUNIT?)"
logged build-selftests "${mk[@]}" selftests

json= tjson= others= wall=0 load0= load1=
if [ "$only" != streams ]; then
	# Only the bench runs in this boot.
	tests=$out/tests
	mkdir -p "$tests"
	cp "$src/build/selftests/bench" "$src/build/selftests/track_bench" "$tests/"
	{
		echo "KCM_KUNIT_SUITES=''"
		echo "KCM_KSELFTESTS='bench track_bench'"
		echo "KCM_LANES=1"
	} >"$tests/tests.conf"

	# The harness judges the boot as make check does: the release kernel has no
	# kmemleak, so that step fails here by design. The bench is judged by its
	# own results below; the harness verdict is only reported.
	kcm_log "qemu, -accel $KCM_QEMU_ACCEL${KCM_QEMU_OPTS:+ $KCM_QEMU_OPTS}" \
		"(the bench takes a few minutes under TCG)"
	mkdir -p "$out/qemu"
	t0=$(date +%s)
	load0=$(cut -d' ' -f1 /proc/loadavg)
	tools/testing/selftests/kvm-coco-mig/qemu/run.sh "$kdir" "$src" "$tests" \
		"$out/qemu" >"$out/qemu.log" 2>&1
	wall=$(($(date +%s) - t0))
	load1=$(cut -d' ' -f1 /proc/loadavg)
	results=$out/qemu/results.log

	exit_line=$(tr -d '\r' <"$results" 2>/dev/null | grep -E '^KCM-EXIT bench ' | tail -n 1)
	json=$(tr -d '\r' <"$results" 2>/dev/null | grep -E '^KCM-BENCH-JSON ' | tail -n 1)
	texit=$(tr -d '\r' <"$results" 2>/dev/null | grep -E '^KCM-EXIT track_bench ' | tail -n 1)
	tjson=$(tr -d '\r' <"$results" 2>/dev/null | grep -E '^KCM-TRACK-JSON ' | tail -n 1)
	if [ -z "$tjson" ] || [ "$texit" != "KCM-EXIT track_bench 0" ]; then
		tr -d '\r' <"$results" 2>/dev/null | tail -n 40 >&2
		kcm_die "the tracking bench did not run to its end (${texit:-no exit status});" \
			"see build/bench/qemu.log and build/bench/qemu/"
	fi
	if [ -z "$json" ] || [ "$exit_line" != "KCM-EXIT bench 0" ]; then
		tr -d '\r' <"$results" 2>/dev/null | tail -n 40 >&2
		kcm_die "the bench did not run to its end (${exit_line:-no exit status});" \
			"see build/bench/qemu.log and build/bench/qemu/"
	fi

	others=$(grep -E '^FAIL ' "$out/qemu.log" | grep -vE '^FAIL harness:kmemleak-present( |$)' || true)
fi

# Streams scale with vCPUs, so their row needs a boot with two: TCG with a
# thread per vCPU, on the host's time, whatever the clock of the first boot
# (-icount has one vCPU). Its figure is a ratio of samples taken in turn in
# that boot, two streams against one.
stests=$out/stream-tests
mkdir -p "$stests" "$out/stream-qemu"
cp "$src/build/selftests/stream_bench" "$stests/"
{
	echo "KCM_KUNIT_SUITES=''"
	echo "KCM_KSELFTESTS='stream_bench'"
	echo "KCM_LANES=1"
	[ -z "$ssamples" ] || echo "export KCM_STREAM_SAMPLES=$ssamples"
} >"$stests/tests.conf"
# Two vCPU threads need both of a 2-core host's CPUs: whatever else runs
# on the host during the boot lowers the two-stream samples more than the
# one-stream ones (which leave a CPU idle). So the boot's CPU time is
# accounted: the host's busy time (user, nice, system, irq, softirq) and
# steal from /proc/stat, less what QEMU and the harness used (bash's time),
# is what other processes took.
kcm_cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }
kcm_log "qemu, -accel tcg,thread=multi, two vCPUs: the streams"
st0=$(date +%s.%N)
sload0=$(cut -d' ' -f1 /proc/loadavg)
read -r sbusy0 ssteal0 < <(kcm_cpu_ticks)
TIMEFORMAT='%3U %3S'
{
	time KCM_QEMU_ACCEL=tcg,thread=multi KCM_QEMU_OPTS= KCM_QEMU_SMP=2 \
		tools/testing/selftests/kvm-coco-mig/qemu/run.sh "$kdir" "$src" "$stests" \
		"$out/stream-qemu" >"$out/stream-qemu.log" 2>&1
} 2>"$out/stream-qemu.time"
read -r sbusy1 ssteal1 < <(kcm_cpu_ticks)
swall=$(awk -v a="$st0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
sload1=$(cut -d' ' -f1 /proc/loadavg)
scpu="$(getconf CLK_TCK) $((sbusy1 - sbusy0)) $((ssteal1 - ssteal0)) $(cat "$out/stream-qemu.time")"
sresults=$out/stream-qemu/results.log
sexit=$(tr -d '\r' <"$sresults" 2>/dev/null | grep -E '^KCM-EXIT stream_bench ' | tail -n 1)
sjson=$(tr -d '\r' <"$sresults" 2>/dev/null | grep -E '^KCM-STREAM-JSON ' | tail -n 1)
if [ -z "$sjson" ] || [ "$sexit" != "KCM-EXIT stream_bench 0" ]; then
	tr -d '\r' <"$sresults" 2>/dev/null | tail -n 40 >&2
	kcm_die "the streams bench did not run to its end (${sexit:-no exit status});" \
		"see build/bench/stream-qemu.log and build/bench/stream-qemu/"
fi

KCM_BENCH_JSON=${json#KCM-BENCH-JSON } \
KCM_TRACK_JSON=${tjson#KCM-TRACK-JSON } \
KCM_STREAM_JSON=${sjson#KCM-STREAM-JSON } \
KCM_BENCH_KERNEL=$(cat "$kdir/include/config/kernel.release") \
KCM_BENCH_QEMU=$("${KCM_QEMU:-qemu-system-x86_64}" --version | head -n 1) \
KCM_BENCH_CPU=$(grep -m 1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') \
KCM_BENCH_CLOCK=$clock KCM_BENCH_SHIFT=$shift_ KCM_BENCH_WALL=$wall \
KCM_BENCH_LOAD="$load0 $load1" \
KCM_STREAM_WALL=$swall KCM_STREAM_LOAD="$sload0 $sload1" KCM_STREAM_CPU="$scpu" \
python3 - "$out/bench.json" <<'EOF' || kcm_die "the bench's results are not valid JSON"
import json, os, sys

full = bool(os.environ["KCM_BENCH_JSON"])
r = json.loads(os.environ["KCM_BENCH_JSON"]) if full else {}
r["kernel"] = os.environ["KCM_BENCH_KERNEL"]
r["qemu"] = os.environ["KCM_BENCH_QEMU"]
r["host_cpu"] = os.environ["KCM_BENCH_CPU"]
verdict = lambda ok: "met" if ok else "MISSED"

def iqr(v):
    return f"{v[0]:.3f}-{v[1]:.3f}"

if full:
    icount = os.environ["KCM_BENCH_CLOCK"] == "icount"
    shift = int(os.environ["KCM_BENCH_SHIFT"])
    r["clock"] = {
        "mode": os.environ["KCM_BENCH_CLOCK"],
        "qemu_accel": os.environ["KCM_QEMU_ACCEL"],
        "qemu_opts": os.environ["KCM_QEMU_OPTS"],
        "ns_per_instruction": 2 ** shift if icount else None,
        "boot_wall_s": int(os.environ["KCM_BENCH_WALL"]),
        "host_loadavg_before_after": [float(x) for x in os.environ["KCM_BENCH_LOAD"].split()],
    }
    raw, t = r["raw"], r["targets"]

    def span(v):
        return f"{min(v):.3f}-{max(v):.3f}"

    print(f"make bench: the sw backend against the raw AEAD, {r['pages']} pages of "
          f"{r['page_size']} bytes, one boot of {r['kernel']} under QEMU TCG "
          f"({r['clock']['boot_wall_s']} s; host load average "
          f"{r['clock']['host_loadavg_before_after'][0]:.2f} before, "
          f"{r['clock']['host_loadavg_before_after'][1]:.2f} after, on "
          f"{os.cpu_count()} CPUs)")
    if icount:
        print(f"clock: virtual (-icount shift={shift},sleep=off, one vCPU): every guest "
              f"instruction takes {2 ** shift} ns of guest time, whatever the host's load; "
              f"an AES-NI instruction counts as one")
    else:
        print("clock: the host's (TCG, a thread per vCPU, two vCPUs): the figures move "
              "with the host's load")
    print(f"{r['rounds']} samples of {r['sample_pages']} pages per batch size, the batch "
          f"sizes in turn, each between two raw measurements of as many pages; ratio: "
          f"the sample over the mean of its two raw neighbours; median over all samples, "
          f"interquartile range in brackets; steady: samples whose raw neighbours agree "
          f"within {100 * r['max_raw_spread']:.0f} %")
    print(f"raw AES-256-GCM, kernel crypto API: seal {raw['seal_MBps']:.1f} MB/s, "
          f"open {raw['open_MBps']:.1f} MB/s (memcpy {raw['memcpy_MBps']:.1f} MB/s); "
          f"seal {span(raw['seal_MBps_samples'])} MB/s over {raw['samples']} samples")
    print(f"{'pages/call':>10}  {'steady':>6}  {'PACKAGE MB/s':>12}  {'/ seal':>6} {'(IQR)':>13}  "
          f"{'RECEIVE MB/s':>12}  {'/ open':>6} {'(IQR)':>13}  {'wire/payload':>12}")
    for b in r["batches"]:
        print(f"{b['pages_per_call']:>10}  {str(b['stable_rounds']) + '/' + str(r['rounds']):>6}  "
              f"{b['package_MBps']:>12.1f}  {b['package_ratio']:>6.3f} "
              f"{'(' + iqr(b['package_ratio_quartiles']) + ')':>13}  "
              f"{b['receive_MBps']:>12.1f}  {b['receive_ratio']:>6.3f} "
              f"{'(' + iqr(b['receive_ratio_quartiles']) + ')':>13}  "
              f"{b['wire_per_payload']:>12.5f}")

    last = r["batches"][-1]
    print(f"targets at {last['pages_per_call']} pages per call: "
          f"PACKAGE >= {t['min_ratio_at_512']:.2f} x seal: {verdict(r['met']['package'])} "
          f"({last['package_ratio']:.3f}); "
          f"RECEIVE >= {t['min_ratio_at_512']:.2f} x open: {verdict(r['met']['receive'])} "
          f"({last['receive_ratio']:.3f}); "
          f"wire <= {t['max_wire_per_payload']:.3f} x payload: {verdict(r['met']['wire'])} "
          f"({last['wire_per_payload']:.5f})")

st = json.loads(os.environ["KCM_STREAM_JSON"])
sload = [float(x) for x in os.environ["KCM_STREAM_LOAD"].split()]
st["boot_wall_s"] = round(float(os.environ["KCM_STREAM_WALL"]), 1)
st["host_loadavg_before_after"] = sload
hz, busy, steal, qu, qs = (float(x) for x in os.environ["KCM_STREAM_CPU"].split())
ours = qu + qs
st["host_cpus"] = {
    "cpus": os.cpu_count(),
    "qemu_cores": round(ours / st["boot_wall_s"], 3),
    "others_cores": round(max(0.0, busy / hz - ours) / st["boot_wall_s"], 3),
    "steal_cores": round(steal / hz / st["boot_wall_s"], 3),
}
r["streams"] = st
if full:
    print()
hc = st["host_cpus"]
print(f"streams ({'a second' if full else 'one'} boot: TCG, a thread per vCPU, two vCPUs, "
      f"the host's time, {st['boot_wall_s']} s; host load average {sload[0]:.2f} before, "
      f"{sload[1]:.2f} after; of the host's {hc['cpus']} CPUs, QEMU used "
      f"{hc['qemu_cores']:.2f}, other processes {hc['others_cores']:.2f}, steal "
      f"{hc['steal_cores']:.2f}): "
      f"{st['streams']} streams driven by {st['threads']} threads over one stream by one "
      f"thread, {st['pages_per_sample']} pages per sample at {st['pages_per_call']} per "
      f"call, {st['samples']} samples in turn with one-stream samples; median ratio, IQR "
      f"in brackets:")
print(f"  PACKAGE {st['package_ratio']:.3f} ({iqr(st['package_ratio_quartiles'])}), "
      f"RECEIVE {st['receive_ratio']:.3f} ({iqr(st['receive_ratio_quartiles'])}); "
      f"one stream: {st['one_stream_package_MBps']:.1f} / {st['one_stream_receive_MBps']:.1f} MB/s; "
      f"goal >= {st['goal']:.2f}: PACKAGE {verdict(st['met']['package'])}, "
      f"RECEIVE {verdict(st['met']['receive'])}")

if full:
    tr = json.loads(os.environ["KCM_TRACK_JSON"])
    r["tracking"] = tr
    print()
    print(f"dirty tracking, {tr['pages']} pages of private memory, guest running throughout, "
          f"re-armed by GET_DIRTY every {tr['rearm_ms']} ms; {tr['overhead'][0]['pairs']} "
          f"pairs of {tr['overhead'][0]['window_ms']} ms windows, off then on; ratio: "
          f"median over the pairs of on / off:")
    for o in tr["overhead"]:
        what = (f"write loop, {o['hot_pages']} hot pages" if not o["read_pages"] else
                f"write loop, {o['hot_pages']} hot pages, {o['read_pages']} pages read")
        print(f"  {what}: {o['writes_per_s_off']:.0f} writes/s off, {o['writes_per_s_on']:.0f} on: "
              f"{o['ratio_on_off']:.3f}, {100 * o['slowdown']:.1f} % slower "
              f"(goal <= {100 * o['target']:.0f} %: {verdict(o['met'])}); KVM's own dirty "
              f"logging of an ordinary memslot, same guest: {o['kvm_dirty_log_ratio_on_off']:.3f}, "
              f"{100 * o['kvm_dirty_log_slowdown']:.1f} % slower")
        print(f"    the re-arming thread's CPU time: {100 * o['rearm_share']:.1f} % of the "
              f"windows (KVM's: {100 * o['kvm_dirty_log_rearm_share']:.1f} %)"
              + ("; the boot has one vCPU, so the guest lost that time" if icount else ""))
    print("  (a read after a re-arm faults as a write does: the tracker cannot tell them "
          "apart; KVM's write protection lets reads through)")
    print(f"  {'hot pages':>9}  {'of memory':>9}  {'rounds':>6}  {'pages sent per round (full pass first)':<40}  "
          f"{'final round':>11}  {'over-reported':>13}")
    for c in tr["convergence"]:
        print(f"  {c['hot_pages']:>9}  {100 * c['hot_pages'] / tr['pages']:>8.1f}%  {c['rounds']:>6}  "
              f"{' '.join(str(x) for x in c['sent_per_round']):<40}  "
              f"{100 * c['final_share']:>10.1f}%  {100 * c['over_reporting']:>12.1f}%")
    print(f"  (rounds last at least 20 ms, so that the guest runs in each)")
    print(f"  (over-reported: pages re-sent that had not changed, measured by the target; "
          f"the guest also reads {tr['read_set']} pages per sweep, which the tracker counts "
          f"as written)")
with open(sys.argv[1], "w") as f:
    json.dump(r, f, indent=2)
    f.write("\n")
EOF
if [ -n "$others" ]; then
	kcm_log "note: the boot's harness also reported (see build/bench/qemu.log):"
	printf '%s\n' "$others" >&2
fi
echo "JSON: build/bench/bench.json; logs: build/bench/"
