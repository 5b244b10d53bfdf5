#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Live migration between two hosts: two network namespaces (the source
# host and the target host) joined by a veth pair, coco-migrate target in
# one, coco-migrate source in the other. As netns_migrate.sh: the migration
# and its failures, in TAP. As netns_demo.sh (make run): the migration
# alone, with the tool's own output.
#
# Needs root, busybox (unshare, nsenter, ip) and coco-migrate beside it.
set -u

here=$(cd "$(dirname "$0")" && pwd)
tool=$here/coco-migrate
work=${TMPDIR:-/tmp}/kcm-netns.$$
port=7070
src_ip=10.77.0.1
tgt_ip=10.77.0.2
# This run's own veth names: runs of the stress mode may overlap.
veth=kcm$$
# No step may hang the run: each gets this many seconds. The longest,
# case 1's source, sends at most 6 x 16 MiB (--max-rounds 5, then the
# final set) at about 1 MB/s (the debug kernel under TCG, a busy host):
# 100 s; this is 3x that.
limit=300
demo=0
[ "$(basename "$0")" = netns_demo.sh ] && demo=1

mkdir -p "$work"
holders=""

cleanup() {
	for p in $holders; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT

uptime_s() {
	cut -d. -f1 /proc/uptime
}

# wait_for CMD...: poll until CMD succeeds, for at most $limit s.
wait_for() {
	end=$(($(uptime_s) + limit))
	until "$@"; do
		[ "$(uptime_s)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# in_own_netns PID: PID has left this network namespace (or is gone).
in_own_netns() {
	[ "$(readlink "/proc/$1/ns/net")" != "$(readlink /proc/$$/ns/net)" ]
}

# A namespace is held by a sleeping process; nsenter -t PID -n enters it.
# (Not in a command substitution: the sleeper would hold its pipe open.)
setup() {
	unshare -n sleep 100000 </dev/null >/dev/null 2>&1 &
	src_ns=$!
	unshare -n sleep 100000 </dev/null >/dev/null 2>&1 &
	tgt_ns=$!
	holders="$src_ns $tgt_ns"
	wait_for in_own_netns "$src_ns" || return 1
	wait_for in_own_netns "$tgt_ns" || return 1
	ip link add "$veth-s" type veth peer name "$veth-t" || return 1
	# busybox names the peer itself: find it.
	peer=$(ip -o link | sed -n "s/^[0-9]*: \([^@:]*\)@$veth-s.*/\1/p")
	[ -n "$peer" ] || return 1
	ip link set "$veth-s" netns "$src_ns" || return 1
	ip link set "$peer" netns "$tgt_ns" || return 1
	nsenter -t "$src_ns" -n sh -c "ip link set lo up && ip addr add $src_ip/24 dev $veth-s && ip link set $veth-s up" || return 1
	nsenter -t "$tgt_ns" -n sh -c "ip link set lo up && ip addr add $tgt_ip/24 dev $peer && ip link set $peer up" || return 1
	wait_for nsenter -t "$src_ns" -n ping -c 1 -W 1 "$tgt_ip" >/dev/null || return 1
}

# start_target LOG [OPTION...]: the target, in its namespace, listening
# (or gone: then the source cannot connect, and LOG says why). Its limit
# is twice a source's: it never ends before the source it serves.
start_target() {
	log=$1
	shift
	port=$((port + 1))
	timeout $((2 * limit)) nsenter -t "$tgt_ns" -n "$tool" target \
		--listen "$tgt_ip:$port" "$@" >"$log" 2>&1 &
	tgt_pid=$!
	holders="$holders $tgt_pid"
	while ! grep -q listening "$log" && kill -0 "$tgt_pid" 2>/dev/null; do
		sleep 0.1
	done
}

# source_run OPTION...: the source, in its namespace, for at most $limit s.
source_run() {
	timeout "$limit" nsenter -t "$src_ns" -n "$tool" source --connect "$tgt_ip:$port" "$@"
	src_rc=$?
	# timeout's status when it stopped it (busybox: TERM; coreutils: 124)
	if [ $src_rc = 143 ] || [ $src_rc = 124 ]; then
		echo "netns_migrate: the source was stopped after $limit s"
	fi
	return $src_rc
}

n=0
failed=0
result() { # result OK NAME LOG...
	ok=$1 name=$2
	shift 2
	n=$((n + 1))
	if [ "$ok" = 1 ]; then
		echo "ok $n $name"
	else
		failed=$((failed + 1))
		echo "not ok $n $name"
		for f in "$@"; do
			sed 's/^/# /' "$f"
		done
	fi
}

if [ "$demo" = 1 ]; then
	setup || { echo "network namespaces could not be set up"; exit 1; }
	echo "source host: namespace of pid $src_ns, $src_ip; target host: namespace of pid $tgt_ns, $tgt_ip"
	start_target "$work/target.log"
	# shellcheck disable=SC2086 # make run's RUN_ARGS, split into words
	[ $# = 0 ] && set -- ${KCM_DEMO_ARGS:-}
	source_run "$@"
	rc=$?
	wait "$tgt_pid"
	trc=$?
	sed 's/^/[target] /' "$work/target.log"
	echo "source exit $rc, target exit $trc"
	[ $rc = 0 ] && [ $trc = 0 ]
	exit $?
fi

echo "TAP version 13"
echo "1..14"
if ! setup; then
	echo "Bail out! network namespaces could not be set up"
	exit 1
fi

# 1. A live migration of a two-vCPU guest, verified on the target. How
# many pre-copy rounds follow the full pass is the policy's call on the
# throughput it measured, i.e. on the emulator's speed: not checked. That
# the full pass sent every page, a final round followed, and each vCPU's
# record went before FINISH is.
start_target "$work/t1"
source_run --mem 16M --vcpus 2 --dirty-rate 300 --max-rounds 5 >"$work/s1" 2>&1
rc=$?
wait "$tgt_pid"
trc=$?
ok=0
[ $rc = 0 ] && [ $trc = 0 ] && grep -q "result        VERIFIED" "$work/s1" &&
	grep -q "^round  1: *4096 pages" "$work/s1" && grep -q "^final: " "$work/s1" &&
	grep -q "^vCPUs: *2 records sealed and sent, installed by the target" "$work/s1" &&
	grep -q "target: 2 vCPU records installed" "$work/t1" &&
	grep -q "target: verified" "$work/t1" && ok=1
result $ok live_migration_verified "$work/s1" "$work/t1"

# 2. --json: one object that says so.
start_target "$work/t2"
source_run --mem 4M --dirty-rate 100 --max-rounds 5 --json >"$work/s2" 2>&1
rc=$?
wait "$tgt_pid"
ok=0
[ $rc = 0 ] && grep -q '"migrated": true, "verified": true' "$work/s2" && ok=1
result $ok json_report "$work/s2"

# 3. The target dies mid-migration, in the pre-copy rounds (SIGKILL, which
# it sends itself on receiving packet 2048: the first after the full
# pass's 2048, i.e. in round 2, after a GET_DIRTY; a point in the stream,
# not a moment, so that it is before FINISH however fast the stream goes;
# --downtime-ms 0 keeps the source in its rounds): the source cancels,
# its guest runs on.
start_target "$work/t3" --fault-die-at-packet 2048
source_run --mem 8M --dirty-rate 1000 --downtime-ms 0 >"$work/s3" 2>&1
rc=$?
wait "$tgt_pid"
trc=$?
ok=0
[ $rc = 2 ] && [ $trc = 137 ] && grep -q "target gone mid-stream" "$work/s3" &&
	grep -q "kept running and verified its memory" "$work/s3" && ok=1
result $ok target_killed_source_keeps_running "$work/s3" "$work/t3"

# 4. A byte of the stream flipped: the target refuses, the source cancels.
start_target "$work/t4"
source_run --mem 4M --dirty-rate 100 --fault-corrupt-packet 700 >"$work/s4" 2>&1
rc=$?
wait "$tgt_pid"
trc=$?
ok=0
[ $rc = 2 ] && [ $trc = 2 ] && grep -q "failed authentication" "$work/s4" &&
	grep -q "kept running and verified its memory" "$work/s4" && ok=1
result $ok corrupted_stream_refused "$work/s4" "$work/t4"

# 5. Nobody listening: a clear error, and the guest runs on.
port=$((port + 1))
source_run --mem 4M >"$work/s5" 2>&1
rc=$?
ok=0
[ $rc = 2 ] && grep -q "unreachable" "$work/s5" &&
	grep -q "kept running and verified its memory" "$work/s5" && ok=1
result $ok target_unreachable "$work/s5"

# 6. A peer speaking another protocol version (3, the one before the
# vCPU records): the target says so and quits.
start_target "$work/t6"
# A header: magic "KCMP", version 3, type HELLO, no payload.
printf 'KCMP\003\000\001\000\000\000\000\000' |
	timeout "$limit" nsenter -t "$src_ns" -n nc "$tgt_ip" "$port" >"$work/n6" 2>&1
wait "$tgt_pid"
trc=$?
ok=0
[ $trc = 2 ] && grep -q "protocol version 3, this is 4" "$work/t6" &&
	grep -q "protocol version 3, this is 4" "$work/n6" && ok=1
result $ok protocol_version_mismatch "$work/t6" "$work/n6"

# 7. Not root: /dev/kvm-coco-mig is 0600; a clear error, no guest.
mkdir -p /etc
grep -q '^nobody:' /etc/passwd 2>/dev/null ||
	echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd
port=$((port + 1))
timeout "$limit" su -s /bin/sh nobody -c "$tool source --connect $tgt_ip:$port" >"$work/s7" 2>&1
rc=$?
ok=0
[ $rc = 64 ] && grep -q "not permitted" "$work/s7" && ok=1
result $ok not_permitted "$work/s7"

# 8. The module not loaded: a host without /dev/kvm-coco-mig (a mount
# namespace whose /dev has only kvm and null); a clear error, no guest.
port=$((port + 1))
timeout "$limit" unshare -m sh -c "mount -t tmpfs none /dev && mknod /dev/kvm c 10 232 &&
	mknod /dev/null c 1 3 && exec $tool source --connect $tgt_ip:$port" >"$work/s8" 2>&1
rc=$?
ok=0
[ $rc = 64 ] && grep -q "module loaded?" "$work/s8" && ok=1
result $ok module_not_loaded "$work/s8"

# 9. A live migration on two streams: two data connections, each round's
# gfns cut in two, a thread per stream on either side. The guest, of
# three vCPUs (a record each), verifies on the target as in case 1; the
# target's session had two streams (its STATUS says so) and each stream
# carried pages.
start_target "$work/t9"
source_run --mem 8M --vcpus 3 --dirty-rate 300 --max-rounds 5 --streams 2 >"$work/s9" 2>&1
rc=$?
wait "$tgt_pid"
trc=$?
ok=0
[ $rc = 0 ] && [ $trc = 0 ] && grep -q "result        VERIFIED" "$work/s9" &&
	grep -q "^round  1: *2048 pages" "$work/s9" && grep -q "^final: " "$work/s9" &&
	grep -Eq "^  streams       2 \(pages: [1-9][0-9]* [1-9][0-9]*\)$" "$work/s9" &&
	grep -q "pages on 2 streams;" "$work/t9" &&
	grep -q "target: 3 vCPU records installed" "$work/t9" &&
	grep -q "target: verified" "$work/t9" && ok=1
result $ok two_streams_migration_verified "$work/s9" "$work/t9"

# 10. Case 4 on two streams: packets are numbered over the round's gfns,
# so packet 700 of 1024 is stream 1's. The target refuses it on stream 1
# and stops stream 0; the source reports the target's word, not the
# connection the target then closed, and cancels.
start_target "$work/t10"
source_run --mem 4M --dirty-rate 100 --streams 2 --fault-corrupt-packet 700 >"$work/s10" 2>&1
rc=$?
wait "$tgt_pid"
trc=$?
ok=0
[ $rc = 2 ] && [ $trc = 2 ] && grep -q "stream 1: peer: .*failed authentication" "$work/s10" &&
	grep -q "kept running and verified its memory" "$work/s10" && ok=1
result $ok two_streams_corrupted_stream_refused "$work/s10" "$work/t10"

# 11. More streams than the backend allows (GET_CAPS' max_streams): a
# usage error before any guest or connection.
port=$((port + 1))
source_run --streams 999 >"$work/s11" 2>&1
rc=$?
ok=0
[ $rc = 64 ] && grep -q "allows at most [0-9]* streams" "$work/s11" &&
	! grep -q "guest running" "$work/s11" && ok=1
result $ok streams_above_max_refused "$work/s11"

# 12. A byte of the final record flipped after the source's FINISH (which
# paused the source for good): the target's FINISH refuses it and its VM
# is dead; its abort token goes back, the source resumes with it, and its
# guest checks its own memory: the migration failed, the guest lives.
start_target "$work/t12"
source_run --mem 4M --dirty-rate 100 --fault-corrupt-final >"$work/s12" 2>&1
rc=$?
wait "$tgt_pid"
trc=$?
ok=0
[ $rc = 2 ] && [ $trc = 2 ] && grep -q "FINISH refused the final record" "$work/t12" &&
	grep -q "abort token went to the source" "$work/t12" &&
	grep -q "the target aborted: FINISH refused the final record: .*failed authentication" "$work/s12" &&
	grep -q "source: resumed with the target's abort token" "$work/s12" &&
	grep -q "resumed with the target's abort token and verified its memory" "$work/s12" &&
	grep -q "result        VERIFIED" "$work/s12" && ok=1
result $ok corrupted_final_record_source_resumes "$work/s12" "$work/t12"

# 13. The target dies as the final record comes in, after the source's
# FINISH and before its own: no token can come. The source says its guest
# is paused for good, and does not claim it alive.
start_target "$work/t13" --fault-die-at-final
source_run --mem 4M --dirty-rate 100 >"$work/s13" 2>&1
rc=$?
wait "$tgt_pid"
trc=$?
ok=0
[ $rc = 1 ] && [ $trc = 137 ] && grep -q "no abort token: the source guest stays paused" "$work/s13" &&
	! grep -q "verified its memory\|keeps running\|result        VERIFIED" "$work/s13" && ok=1
result $ok target_killed_after_finish_source_paused "$work/s13" "$work/t13"

# 14. A byte of vCPU 0's record flipped. The source's PACKAGE_VCPU paused
# it, but it has not finished: it FINISHes only on the target's VCPUS.
# The target's RECEIVE_VCPU refuses the record, which fails its session
# and kills its VM, and it says so (no token: none is needed). The source
# cancels, which only a session that never finished can (so it never
# did), the pause is lifted, and its guest checks its own memory.
start_target "$work/t14"
source_run --mem 4M --vcpus 2 --dirty-rate 100 --fault-corrupt-vcpu >"$work/s14" 2>&1
rc=$?
wait "$tgt_pid"
trc=$?
ok=0
[ $rc = 2 ] && [ $trc = 2 ] &&
	grep -q "RECEIVE_VCPU refused the record of vCPU 0: .*failed authentication.*; the target VM is dead" "$work/t14" &&
	grep -q "peer: RECEIVE_VCPU refused the record of vCPU 0: .*failed authentication" "$work/s14" &&
	grep -q "^source: cancelled; the guest keeps running here" "$work/s14" &&
	grep -q "kept running and verified its memory" "$work/s14" &&
	grep -q "result        VERIFIED" "$work/s14" &&
	! grep -q "abort token\|records sealed and sent\|CANCEL:" "$work/s14" "$work/t14" &&
	! grep -q "vCPU records installed" "$work/t14" && ok=1
result $ok corrupted_vcpu_record_source_cancels "$work/s14" "$work/t14"

echo "# $((n - failed)) passed, $failed failed"
[ $failed = 0 ]
