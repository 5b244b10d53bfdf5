// SPDX-License-Identifier: GPL-2.0
/*
 * make bench, dirty tracking: what tracking costs a running guest, and how
 * pre-copy converges, in one boot.
 *
 * A SW-protected guest with 16 MiB of private memory writes one word into
 * each page of a hot set, sweep after sweep, counting its writes in shared
 * memory, and may read a fixed set of 64 other pages each sweep (reads
 * fault after a re-arm as writes do: they are what the tracker
 * over-reports).
 *
 * overhead, twice: for the write loop alone (256 hot pages), and for the
 * write loop that also reads its 64 pages. The guest's write rate with
 * tracking off and with tracking on and re-armed by a GET_DIRTY every
 * 100 ms (as pre-copy does), in many short samples that alternate: 8 pairs
 * of 500 ms with tracking off then 500 ms with it on, each window after
 * 100 ms untimed in the same state (so that what is measured is the steady
 * state, not the switch). The figure is the median of the pairs' ratios
 * (on over off): whatever changes the emulator's speed for longer than a
 * pair changes both sides alike. For scale, the same for the same guest in
 * an ordinary VM under KVM's own dirty logging (KVM_GET_DIRTY_LOG every
 * 100 ms, which write-protects: reads do not fault): what write tracking
 * by faults costs on this (emulated) CPU at all. Between re-arms the
 * measuring thread sleeps, so that it takes as little as it can from the
 * guest's vCPU: where the two share one CPU (make bench's -icount boot has
 * one vCPU), the re-arms' own time is taken from the guest, so the CPU
 * time the thread took, as a share of the window, is reported beside the
 * ratio.
 *
 * convergence, for hot sets of 16, 256 and 1024 pages (0.4, 6 and 25 % of
 * memory), with the read set: a new session pair, a full pass, then up to 8
 * pre-copy rounds with the guest running, stopping early when a round's
 * dirty set is at most 1 % of memory. Every round lasts at least 20 ms (the
 * thread sleeps out the rest), so that the guest runs in every round even
 * where it shares one CPU with this thread (make bench's -icount boot has
 * one vCPU), as it would beside a pre-copy that waits on the network.
 * Per round the pages sent, and at the end the pages the last dirty set
 * would leave for the pause (as a share of memory) and the over-reporting
 * the target measured (resent pages that had not changed). The source
 * session is cancelled, not finished: the guest goes on into the next
 * measurement.
 *
 * Output: one line "KCM-TRACK-JSON " and a JSON object, for scripts/bench.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm_coco_mig.h>

#include "kvm_util.h"
#include "processor.h"
#include "kselftest.h"
#include "coco_mig_util.h"
#include "bench_util.h"

#define DATA_GPA	BIT_ULL(32)
#define DATA_GFN	(DATA_GPA / PAGE_SIZE)
#define DATA_SLOT	10
#define NPAGES		4096		/* 16 MiB */
#define READ_FIRST	(NPAGES - 64)	/* the read set */
#define READ_PAGES	64
#define OVERHEAD_HOT	256
#define OVERHEAD_MS	500
#define SETTLE_MS	100
#define REARM_MS	100
#define OVERHEAD_PAIRS	8
#define MAX_ROUNDS	8
#define ROUND_MIN_MS	20
#define TARGET_OVERHEAD	0.10
#define KCM_PAIR_FMT	"%lu pages read: %s pair %d: %.0f writes/s off, %.0f on (%.4f)\n"
#define KCM_STATISTIC	"median over alternating pairs of windows, off then on, " \
			"of the ratio of their write rates"

static const uint32_t kcm_hot_sets[] = { 16, 256, 1024 };
#define NRATES		ARRAY_SIZE(kcm_hot_sets)

/* Guest globals, shared memory. */
static uint64_t hot = OVERHEAD_HOT;
static uint64_t reads = READ_PAGES;
static uint64_t writes;

static void guest_code(void)
{
	uint64_t n = 0, i, h, r, sum = 0;

	for (;;) {
		h = READ_ONCE(hot);
		r = READ_ONCE(reads);
		for (i = 0; i < h; i++)
			WRITE_ONCE(*(uint64_t *)(DATA_GPA + i * PAGE_SIZE), ++n);
		for (i = 0; i < r; i++)
			sum += READ_ONCE(*(uint64_t *)(DATA_GPA + (READ_FIRST + i) * PAGE_SIZE));
		WRITE_ONCE(writes, n + (sum & 0));
	}
}

/* This thread's CPU time, nanoseconds. */
static uint64_t kcm_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Sleep until CLOCK_MONOTONIC reads @ns. */
static void kcm_sleep_until(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = ns / 1000000000,
		.tv_nsec = ns % 1000000000,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static struct kvm_vm *kcm_vm(struct kvm_vcpu **vcpu)
{
	return kcm_private_vm(1, guest_code, vcpu, DATA_GPA, DATA_SLOT, NPAGES);
}

/*
 * The baseline: the same guest in an ordinary VM whose data memslot KVM
 * itself dirty-logs (write protection, KVM_GET_DIRTY_LOG re-protects),
 * measured the same way: what any write tracking costs under this CPU.
 */
static struct kvm_vm *kcm_plain_vm(struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm;

	vm = vm_create_with_one_vcpu(vcpu, guest_code);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT,
				    NPAGES, 0);
	virt_map(vm, DATA_GPA, DATA_GPA, NPAGES);
	return vm;
}

static void kcm_guest_exit(struct kvm_vcpu *vcpu, void *arg)
{
	struct ucall uc;

	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_FAIL("unexpected ucall %lu", uc.cmd);
}

/*
 * Re-arm every REARM_MS for @ms, then guest writes per second over the
 * next @ms2, re-arming on: @ssess's tracker if >= 0, or KVM's dirty log of
 * the data memslot if @kvm_log. The thread sleeps between. The CPU time
 * this thread took in the timed part, as a share of it, goes to @busy.
 */
static double kcm_write_rate(struct kvm_vm *vm, int ssess, bool kvm_log, uint64_t ms,
			     uint64_t ms2, double *busy)
{
	uint64_t bitmap[NPAGES / 64], w0 = 0, t0, t1 = 0, c1 = 0, end, next, now;
	const uint64_t period = REARM_MS * 1000000ull;

	t0 = kcm_now_ns();
	end = t0 + ms * 1000000ull;
	for (next = t0 + period;; next += period) {
		if (!t1 && next >= end) {
			kcm_sleep_until(end);
			/* The timed part begins; its re-arms keep the period. */
			sync_global_from_guest(vm, writes);
			w0 = writes;
			c1 = kcm_cpu_ns();
			t1 = kcm_now_ns();
			end = t1 + ms2 * 1000000ull;
		}
		if (t1 && next >= end)
			break;
		kcm_sleep_until(next);
		if (ssess >= 0)
			TEST_ASSERT(!__kcm_get_dirty(ssess, DATA_GFN, NPAGES, bitmap, NULL),
				    "GET_DIRTY: %s", strerror(errno));
		if (kvm_log)
			kvm_vm_get_dirty_log(vm, DATA_SLOT, bitmap);
	}
	kcm_sleep_until(end);
	sync_global_from_guest(vm, writes);
	now = kcm_now_ns();
	*busy = (double)(kcm_cpu_ns() - c1) / (now - t1);
	return (writes - w0) * 1e9 / (now - t1);
}

struct kcm_conv {
	uint32_t hot, rounds;
	uint64_t sent[MAX_ROUNDS + 1];
	double ms[MAX_ROUNDS + 1];
	uint64_t final, resent, unchanged;
};

/*
 * A source session in STREAMING, and a fresh target VM with its session.
 * Tracking runs from START; a target closed before its FINISH is dead, so
 * each use takes a new one (kcm_sessions_end() frees it).
 */
static struct kvm_vm *kcm_sessions(int dev, struct kvm_vm *src, int *ssess, int *tsess)
{
	struct kvm_vcpu *tvcpu;
	struct kvm_vm *tgt = kcm_vm(&tvcpu);

	*ssess = kcm_session(dev, src, KVM_COCO_MIG_ROLE_SOURCE);
	*tsess = kcm_session(dev, tgt, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(*ssess, *tsess);
	return tgt;
}

static void kcm_sessions_end(int ssess, int tsess, struct kvm_vm *tgt)
{
	close(ssess);
	close(tsess);
	kcm_vm_free(tgt);
}

/* A pre-copy of the running guest with a hot set of @c->hot pages. */
static void kcm_converge(int dev, struct kvm_vm *src, struct kcm_conv *c)
{
	struct kvm_vm *tgt;
	uint64_t bitmap[NPAGES / 64], gfns[NPAGES], nr, t0;
	struct kvm_coco_mig_track tr = {};
	struct kvm_coco_mig_status st;
	int ssess, tsess, r;
	uint32_t i, n;

	hot = c->hot;
	sync_global_to_guest(src, hot);
	usleep(200000);
	tgt = kcm_sessions(dev, src, &ssess, &tsess);
	TEST_ASSERT(!__kcm_track_start(ssess, &tr), "TRACK_START: %s", strerror(errno));

	for (i = 0; i < NPAGES; i++)
		gfns[i] = DATA_GFN + i;
	t0 = kcm_now_ns();
	kcm_xfer(ssess, tsess, gfns, NPAGES);
	c->sent[0] = NPAGES;
	kcm_sleep_until(t0 + ROUND_MIN_MS * 1000000ull);
	c->ms[0] = (kcm_now_ns() - t0) / 1e6;
	for (r = 1; r <= MAX_ROUNDS; r++) {
		t0 = kcm_now_ns();
		TEST_ASSERT(!__kcm_get_dirty(ssess, DATA_GFN, NPAGES, bitmap, &nr),
			    "GET_DIRTY: %s", strerror(errno));
		for (i = 0, n = 0; i < NPAGES; i++)
			if (bitmap[i / 64] & BIT_ULL(i % 64))
				gfns[n++] = DATA_GFN + i;
		TEST_ASSERT_EQ(n, nr);
		kcm_xfer(ssess, tsess, gfns, n);
		c->sent[r] = n;
		kcm_sleep_until(t0 + ROUND_MIN_MS * 1000000ull);
		c->ms[r] = (kcm_now_ns() - t0) / 1e6;
		c->rounds = r;
		if (n * 100 <= NPAGES)
			break;
	}
	/* What the pause would leave: the dirty set since the last round. */
	TEST_ASSERT(!__kcm_get_dirty(ssess, DATA_GFN, NPAGES, bitmap, &nr),
		    "GET_DIRTY: %s", strerror(errno));
	c->final = nr;
	st = kcm_status(tsess);
	c->resent = st.resent;
	c->unchanged = st.unchanged;
	TEST_ASSERT(!ioctl(ssess, KVM_COCO_MIG_CANCEL, 0), "CANCEL: %s", strerror(errno));
	kcm_sessions_end(ssess, tsess, tgt);
}

/*
 * One overhead row: the write loop with @reads pages read per sweep; per
 * pair, the write rates off and on, for our tracker and for KVM's own.
 */
struct kcm_overhead {
	uint64_t reads;
	double off[OVERHEAD_PAIRS], on[OVERHEAD_PAIRS], ratio[OVERHEAD_PAIRS];
	double koff[OVERHEAD_PAIRS], kon[OVERHEAD_PAIRS], kratio[OVERHEAD_PAIRS];
	double busy[OVERHEAD_PAIRS], kbusy[OVERHEAD_PAIRS];
};

static const uint64_t kcm_read_sets[] = { 0, READ_PAGES };
#define NMODES		ARRAY_SIZE(kcm_read_sets)

static void kcm_set_reads(struct kvm_vm *vm, uint64_t n)
{
	reads = n;
	sync_global_to_guest(vm, reads);
	usleep(200000);
}

/*
 * Our tracker: off and on alternate, so that drift hits both. Tracking
 * runs from START to the session's end, so "off" is a guest with no
 * session and "on" one with a source session in STREAMING, reporting.
 */
static void kcm_overhead_tracker(int dev, struct kvm_vm *src, struct kcm_overhead *o)
{
	struct kvm_coco_mig_track tr = {};
	int ssess, tsess, i;
	struct kvm_vm *tgt;
	double idle;

	kcm_set_reads(src, o->reads);
	for (i = 0; i < OVERHEAD_PAIRS; i++) {
		o->off[i] = kcm_write_rate(src, -1, false, SETTLE_MS, OVERHEAD_MS, &idle);
		tgt = kcm_sessions(dev, src, &ssess, &tsess);
		TEST_ASSERT(!__kcm_track_start(ssess, &tr), "TRACK_START: %s", strerror(errno));
		o->on[i] = kcm_write_rate(src, ssess, false, SETTLE_MS, OVERHEAD_MS,
					  &o->busy[i]);
		TEST_ASSERT(!ioctl(ssess, KVM_COCO_MIG_CANCEL, 0), "CANCEL: %s", strerror(errno));
		kcm_sessions_end(ssess, tsess, tgt);
		o->ratio[i] = o->on[i] / o->off[i];
		ksft_print_msg(KCM_PAIR_FMT, o->reads, "overhead", i + 1, o->off[i], o->on[i],
			       o->ratio[i]);
	}
}

/* KVM's own dirty logging of the plain VM's data memslot, the same way. */
static void kcm_overhead_kvm(struct kvm_vm *plain, struct kcm_overhead *o)
{
	double idle;
	int i;

	kcm_set_reads(plain, o->reads);
	for (i = 0; i < OVERHEAD_PAIRS; i++) {
		o->koff[i] = kcm_write_rate(plain, -1, false, SETTLE_MS, OVERHEAD_MS, &idle);
		vm_mem_region_set_flags(plain, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
		o->kon[i] = kcm_write_rate(plain, -1, true, SETTLE_MS, OVERHEAD_MS,
					   &o->kbusy[i]);
		vm_mem_region_set_flags(plain, DATA_SLOT, 0);
		o->kratio[i] = o->kon[i] / o->koff[i];
		ksft_print_msg(KCM_PAIR_FMT, o->reads, "KVM dirty log", i + 1, o->koff[i],
			       o->kon[i], o->kratio[i]);
	}
}

/* "name": [v[0], ...], with @prec decimals. */
static void kcm_json_array(const char *name, const double *v, unsigned int n, int prec)
{
	unsigned int i;

	printf("\"%s\": [", name);
	for (i = 0; i < n; i++)
		printf("%s%.*f", i ? ", " : "", prec, v[i]);
	printf("], ");
}

static void kcm_print_overhead(struct kcm_overhead *o)
{
	double ratio = kcm_median(o->ratio, OVERHEAD_PAIRS);
	double kratio = kcm_median(o->kratio, OVERHEAD_PAIRS);

	printf("{\"hot_pages\": %u, \"read_pages\": %lu, \"pairs\": %u, \"window_ms\": %u, ",
	       OVERHEAD_HOT, o->reads, OVERHEAD_PAIRS, OVERHEAD_MS);
	printf("\"writes_per_s_off\": %.0f, \"writes_per_s_on\": %.0f, ",
	       kcm_median(o->off, OVERHEAD_PAIRS), kcm_median(o->on, OVERHEAD_PAIRS));
	printf("\"ratio_on_off\": %.4f, \"slowdown\": %.4f, \"target\": %.2f, \"met\": %s, ",
	       ratio, 1 - ratio, TARGET_OVERHEAD,
	       1 - ratio <= TARGET_OVERHEAD ? "true" : "false");
	kcm_json_array("samples_off", o->off, OVERHEAD_PAIRS, 0);
	kcm_json_array("samples_on", o->on, OVERHEAD_PAIRS, 0);
	kcm_json_array("ratio_samples", o->ratio, OVERHEAD_PAIRS, 4);
	printf("\"rearm_share\": %.4f, ", kcm_median(o->busy, OVERHEAD_PAIRS));
	printf("\"kvm_dirty_log_writes_per_s_off\": %.0f, ",
	       kcm_median(o->koff, OVERHEAD_PAIRS));
	printf("\"kvm_dirty_log_writes_per_s_on\": %.0f, ",
	       kcm_median(o->kon, OVERHEAD_PAIRS));
	kcm_json_array("kvm_dirty_log_ratio_samples", o->kratio, OVERHEAD_PAIRS, 4);
	printf("\"kvm_dirty_log_ratio_on_off\": %.4f, ", kratio);
	printf("\"kvm_dirty_log_rearm_share\": %.4f, ", kcm_median(o->kbusy, OVERHEAD_PAIRS));
	printf("\"kvm_dirty_log_slowdown\": %.4f}", 1 - kratio);
}

int main(int argc, char **argv)
{
	static struct kcm_overhead ov[NMODES];
	static struct kcm_conv conv[NRATES];
	struct kvm_vcpu *svcpu, *pvcpu;
	struct kcm_runner runner;
	struct kvm_vm *src, *plain;
	int dev, i, r;

	ksft_print_header();
	if (!kcm_sw_supported())
		ksft_exit_skip("KVM_X86_SW_PROTECTED_VM is not supported\n");
	ksft_set_plan(2);
	dev = kcm_dev();
	src = kcm_vm(&svcpu);
	kcm_runner_start(&runner, svcpu, kcm_guest_exit, NULL);
	usleep(500000);

	for (i = 0; i < NMODES; i++) {
		ov[i].reads = kcm_read_sets[i];
		kcm_overhead_tracker(dev, src, &ov[i]);
	}

	/* The baseline, with the source guest paused so as not to compete. */
	kcm_runner_stop(&runner);
	plain = kcm_plain_vm(&pvcpu);
	kcm_runner_start(&runner, pvcpu, kcm_guest_exit, NULL);
	usleep(500000);
	for (i = 0; i < NMODES; i++)
		kcm_overhead_kvm(plain, &ov[i]);
	kcm_runner_stop(&runner);
	kvm_vm_free(plain);
	kcm_runner_start(&runner, svcpu, kcm_guest_exit, NULL);
	kcm_set_reads(src, READ_PAGES);
	ksft_test_result_pass("overhead\n");

	for (i = 0; i < NRATES; i++) {
		conv[i].hot = kcm_hot_sets[i];
		kcm_converge(dev, src, &conv[i]);
		ksft_print_msg("hot set %u: %u rounds, final %lu pages\n", conv[i].hot,
			       conv[i].rounds, conv[i].final);
	}
	ksft_test_result_pass("convergence\n");
	kcm_runner_stop(&runner);

	printf("KCM-TRACK-JSON {\"pages\": %u, \"read_set\": %u, \"rearm_ms\": %u, ",
	       NPAGES, READ_PAGES, REARM_MS);
	printf("\"statistic\": \"%s\", ", KCM_STATISTIC);
	printf("\"overhead\": [");
	for (i = 0; i < NMODES; i++) {
		printf("%s", i ? ", " : "");
		kcm_print_overhead(&ov[i]);
	}
	printf("], \"convergence\": [");
	for (i = 0; i < NRATES; i++) {
		struct kcm_conv *c = &conv[i];
		uint64_t resent_pages = 0;

		for (r = 1; r <= c->rounds; r++)
			resent_pages += c->sent[r];
		printf("%s{\"hot_pages\": %u, \"rounds\": %u, \"sent_per_round\": [", i ? ", " : "",
		       c->hot, c->rounds);
		for (r = 0; r <= c->rounds; r++)
			printf("%s%lu", r ? ", " : "", c->sent[r]);
		printf("], \"ms_per_round\": [");
		for (r = 0; r <= c->rounds; r++)
			printf("%s%.0f", r ? ", " : "", c->ms[r]);
		printf("], \"resent_pages\": %lu, \"final_pages\": %lu, ", resent_pages,
		       c->final);
		printf("\"final_share\": %.4f, \"resent_unchanged\": %lu, ",
		       (double)c->final / NPAGES, c->unchanged);
		printf("\"over_reporting\": %.4f}",
		       c->resent ? (double)c->unchanged / c->resent : 0.0);
	}
	printf("]}\n");
	fflush(stdout);

	kvm_vm_free(src);
	close(dev);
	ksft_finished();
}
