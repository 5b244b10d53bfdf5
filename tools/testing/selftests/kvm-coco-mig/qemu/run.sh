#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the test kernel under QEMU (TCG, -cpu max: nested SVM with NPT) with
# an initramfs holding kvm_amd, kvm_coco_mig and the tests, and judge the run.
#
#   run.sh KBUILD MODDIR TESTDIR OUTDIR
#
# KBUILD   the test kernel build (scripts/kernel.sh), with its staged modules
# MODDIR   where kvm-coco-mig.ko (and kvm-coco-mig-test.ko, and for make
#          bench kvm-coco-mig-bench.ko) were built
# TESTDIR  the kselftest binaries and tests.conf (the list to run)
# OUTDIR   gets console.log, results.log and the initramfs
#
# Fails closed: see results.py for what a passing run is.
set -euo pipefail

kbuild=$1 moddir=$2 testdir=$3 outdir=$4
here=$(cd "$(dirname "$0")" && pwd)
timeout=${KCM_QEMU_TIMEOUT:-1500}
mem=${KCM_QEMU_MEM:-2G}
smp=${KCM_QEMU_SMP:-2}
cpu=${KCM_QEMU_CPU:-max}
# make bench may run the guest on virtual time: KCM_QEMU_ACCEL="tcg,..." and
# extra options such as "-icount shift=...,sleep=off" in KCM_QEMU_OPTS.
accel=${KCM_QEMU_ACCEL:-tcg,thread=multi}
# Another QEMU build than Debian's, to compare them (scripts/repeat.sh).
qemu=${KCM_QEMU:-qemu-system-x86_64}
read -r -a qopts <<<"${KCM_QEMU_OPTS:-}"

kver=$(cat "$kbuild/include/config/kernel.release")
root=$outdir/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,kcm/tests,lib/modules}

cp /bin/busybox "$root/bin/busybox"
install -m 0755 "$here/init.sh" "$root/init"
install -m 0644 "$here/watchdog.sh" "$root/kcm/watchdog.sh"
cp -a "$kbuild/staging/lib/modules/$kver" "$root/lib/modules/"
cp "$moddir/kvm-coco-mig.ko" "$root/kcm/"
[ -e "$moddir/kvm-coco-mig-test.ko" ] && cp "$moddir/kvm-coco-mig-test.ko" "$root/kcm/"
[ -e "$moddir/kvm-coco-mig-bench.ko" ] && cp "$moddir/kvm-coco-mig-bench.ko" "$root/kcm/"
cp "$testdir/tests.conf" "$root/kcm/"
# The guest's watchdog dumps its state and ends the run 120 s before the
# timeout below would kill QEMU (see watchdog.sh): a run gets the timeout
# less 120 s.
[[ "$timeout" =~ ^[0-9]+$ ]] && [ "$timeout" -gt 240 ] ||
	{ echo "run.sh: KCM_QEMU_TIMEOUT must be more than 240 s, not '$timeout'" >&2; exit 2; }
echo "KCM_DEADLINE=$((timeout - 120))" >>"$root/kcm/tests.conf"
# shellcheck source=/dev/null
. "$testdir/tests.conf"
for t in $KCM_KSELFTESTS ${KCM_SUPPORT:-}; do
	install -D -m 0755 "$testdir/$t" "$root/kcm/tests/$t"
done

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$outdir/initramfs.cpio.gz"

rm -f "$outdir/console.log" "$outdir/results.log" "$outdir/trace.log"
cmdline="console=ttyS0 panic_on_warn=1 oops=panic panic=-1 softlockup_panic=1"
# A blocked task is reported, not a panic: the guest's watchdog then dumps
# the state of the VM (watchdog.sh); the report itself fails the run.
cmdline+=" hung_task_panic=0 nmi_watchdog=0 printk.devkmsg=on kvm_amd.npt=1"
cmdline+=" kmemleak=on kasan.fault=panic loglevel=6"
# Experiments (make stress KERNEL_ARGS=...) add kernel parameters here.
cmdline+="${KCM_KERNEL_ARGS:+ $KCM_KERNEL_ARGS}"

set +e
timeout --foreground "$timeout" "$qemu" \
	-nodefaults -nographic -no-reboot \
	-machine q35 -accel "$accel" -cpu "$cpu" -smp "$smp" -m "$mem" \
	-kernel "$kbuild/arch/x86/boot/bzImage" \
	-initrd "$outdir/initramfs.cpio.gz" \
	-append "$cmdline" \
	-serial "file:$outdir/console.log" \
	-serial "file:$outdir/results.log" \
	-serial "file:$outdir/trace.log" \
	-monitor none "${qopts[@]}" </dev/null
rc=$?
set -e
[ "$rc" = 124 ] && echo "KCM-ABORT QEMU timed out after ${timeout}s" >>"$outdir/results.log"

exec python3 "$here/results.py" "$outdir/results.log" "$outdir/console.log"
