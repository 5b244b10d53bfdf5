#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the kvm-coco-mig test VM. It loads kvm_amd and kvm_coco_mig, runs
# every KUnit suite and kselftest listed in /kcm/tests, unloads the module
# and scans for leaks. Results go to the second serial port (ttyS1) as a
# line protocol that run.sh parses; the kernel console stays on ttyS0.
# "KCM-SUCCESS" is written last, only when every step ran to its end: the
# host fails a run that lacks it. Pass or fail is the host's call.

/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp /run
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
hostname kcm-test

exec 3>/dev/ttyS1
out() { echo "$*" >&3; }

# step NAME CMD...: a harness check, reported as KCM-STEP NAME RC.
step() {
	name=$1
	shift
	"$@" >/tmp/step.log 2>&1
	rc=$?
	sed "s/^/# /" /tmp/step.log >&3
	out "KCM-STEP $name $rc"
	return $rc
}

die() {
	out "KCM-ABORT $*"
	echo "kcm-init: $*" >/dev/kmsg
	reboot -f
}

. /kcm/watchdog.sh

out "KCM-BEGIN $(uname -r)"
# The timer platform this boot ended up with: under a busy host the local
# APIC timer can fail its calibration check, and every tick then comes
# from the HPET by broadcast (qemu/README.md).
lapic=ok
dmesg | grep -q 'APIC timer disabled' && lapic=disabled
out "KCM-PLATFORM clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" \
	"lapic-timer=$lapic highres=$(awk '/\.hres_active/ { print $3; exit }' /proc/timer_list)"
. /kcm/tests.conf
# make run passes the demo its arguments (RUN_ARGS) this way.
export KCM_DEMO_ARGS
watchdog_start

# Leak candidates from boot are not ours; report only what the run adds.
[ -w /sys/kernel/debug/kmemleak ] && echo clear >/sys/kernel/debug/kmemleak

step modprobe-kvm_amd modprobe kvm_amd || die "kvm_amd did not load"
step insmod-kvm_coco_mig insmod /kcm/kvm-coco-mig.ko || die "kvm_coco_mig did not load"
step dev-node test -c /dev/kvm-coco-mig
# make bench's raw AEAD measurement, present only in scripts/bench.sh's runs.
if [ -e /kcm/kvm-coco-mig-bench.ko ]; then
	step insmod-kvm_coco_mig_bench insmod /kcm/kvm-coco-mig-bench.ko
fi

# KUnit suites run when their module loads; a suite without results fails.
step insmod-kvm_coco_mig_test insmod /kcm/kvm-coco-mig-test.ko
for suite in $KCM_KUNIT_SUITES; do
	out "KCM-KUNIT $suite"
	if [ -r "/sys/kernel/debug/kunit/$suite/results" ]; then
		cat "/sys/kernel/debug/kunit/$suite/results" >&3
	else
		out "KCM-MISSING $suite"
	fi
	out "KCM-KUNIT-END $suite"
done
step rmmod-kvm_coco_mig_test rmmod kvm_coco_mig_test

# kselftests run in one lane per CPU, because the kernel's own tests are
# long under TCG: each lane takes the next test nobody has claimed (mkdir is
# the atomic claim). Their reports are then written out in list order.
# KCM_REPEAT (the stress mode, scripts/repeat.sh) runs the list that many
# times; each run of a test is then reported as TEST@N.
cd /kcm/tests || die "no tests"
repeat=${KCM_REPEAT:-1}
ntests=$(echo $KCM_KSELFTESTS | wc -w)
jobs=""
k=1
while [ "$k" -le "$repeat" ]; do
	for t in $KCM_KSELFTESTS; do
		if [ "$repeat" -gt 1 ]; then
			jobs="$jobs $t@$k"
		else
			jobs="$jobs $t"
		fi
	done
	k=$((k + 1))
done

# A test's start, for the watchdog: /tmp/run.I holds "NAME START".
uptime_s() { cut -d. -f1 /proc/uptime; }

# tests.conf may ask for fewer lanes (make bench: one, for quiet numbers).
lanes=${KCM_LANES:-$(nproc)}
lane=0
lanepids=""
while [ "$lane" -lt "$lanes" ]; do
	(
		i=0
		for j in $jobs; do
			i=$((i + 1))
			# KCM_PAIRED (the stress mode): lane L runs only the
			# L-th test of the list, so that the tests of one
			# repetition run beside each other throughout.
			if [ -n "${KCM_PAIRED:-}" ] &&
			   [ $(((i - 1) % ntests % lanes)) -ne "$lane" ]; then
				continue
			fi
			mkdir "/tmp/claim.$i" 2>/dev/null || continue
			t=${j%@*}
			start=$(uptime_s)
			echo "$j $start" >"/tmp/run.$i"
			echo "kcm-init: running $j" >/dev/kmsg
			"./$t" >"/tmp/ks.$i" 2>&1 </dev/null
			rc=$?
			echo $(($(uptime_s) - start)) >"/tmp/ks.$i.time"
			echo "kcm-init: $j exited with $rc" >/dev/kmsg
			echo "$rc" >"/tmp/ks.$i.rc"
			rm -f "/tmp/run.$i"
		done
	) &
	lanepids="$lanepids $!"
	lane=$((lane + 1))
done
# shellcheck disable=SC2086
wait $lanepids
i=0
for j in $jobs; do
	i=$((i + 1))
	out "KCM-KSELFTEST $j"
	cat "/tmp/ks.$i" >&3
	out "KCM-EXIT $j $(cat "/tmp/ks.$i.rc" 2>/dev/null || echo missing)"
	out "KCM-TIME $j $(cat "/tmp/ks.$i.time" 2>/dev/null || echo missing)"
done
cd /

if [ -e /kcm/kvm-coco-mig-bench.ko ]; then
	step rmmod-kvm_coco_mig_bench rmmod kvm_coco_mig_bench
fi
step rmmod-kvm_coco_mig rmmod kvm_coco_mig
step no-dev-node-after-rmmod test ! -e /dev/kvm-coco-mig

# The debug kernel has kmemleak; its absence is a failure, not a pass.
# Objects younger than 5 s are never reported: scan, wait, scan again.
if step kmemleak-present test -w /sys/kernel/debug/kmemleak; then
	echo scan >/sys/kernel/debug/kmemleak
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak >/tmp/leaks
	step kmemleak test ! -s /tmp/leaks
	sed 's/^/# /' /tmp/leaks >&3
fi

watchdog_stop
out "KCM-SUCCESS"
sync
reboot -f
