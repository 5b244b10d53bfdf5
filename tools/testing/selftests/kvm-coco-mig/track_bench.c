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
 * 100 ms (as pre-copy does), alternating, 2 s each, three times; the ratio
 * of the medians. For scale, the same for the same guest in an ordinary VM
 * under KVM's own dirty logging (KVM_GET_DIRTY_LOG every 100 ms, which
 * write-protects: reads do not fault): what write tracking by faults costs
 * on this (emulated) CPU at all.
 *
 * convergence, for hot sets of 16, 256 and 1024 pages (0.4, 6 and 25 % of
 * memory), with the read set: a new session pair, a full pass, then up to 8
 * pre-copy rounds
 * with the guest running, stopping early when a round's dirty set is at
 * most 1 % of memory; per round the pages sent, and at the end the pages
 * the last dirty set would leave for the pause (as a share of memory) and
 * the over-reporting the target measured (resent pages that had not
 * changed). The source session is cancelled, not finished: the guest goes
 * on into the next measurement.
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

#define DATA_GPA	BIT_ULL(32)
#define DATA_GFN	(DATA_GPA / PAGE_SIZE)
#define DATA_SLOT	10
#define NPAGES		4096		/* 16 MiB */
#define READ_FIRST	(NPAGES - 64)	/* the read set */
#define READ_PAGES	64
#define OVERHEAD_HOT	256
#define OVERHEAD_MS	2000
#define REARM_MS	100
#define OVERHEAD_REPS	3
#define MAX_ROUNDS	8
#define TARGET_OVERHEAD	0.10

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

static uint64_t kcm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
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
 * Guest writes per second over @ms, re-arming every REARM_MS: @ssess's
 * tracker if >= 0, or KVM's dirty log of the data memslot if @kvm_log.
 */
static double kcm_write_rate(struct kvm_vm *vm, int ssess, bool kvm_log, uint64_t ms)
{
	uint64_t bitmap[NPAGES / 64], w0, w1, t0, t, next;

	sync_global_from_guest(vm, writes);
	w0 = writes;
	t0 = kcm_now_ms();
	for (t = t0, next = t0 + REARM_MS; t < t0 + ms; t = kcm_now_ms()) {
		if (t >= next && ssess >= 0)
			TEST_ASSERT(!__kcm_get_dirty(ssess, DATA_GFN, NPAGES, bitmap, NULL),
				    "GET_DIRTY: %s", strerror(errno));
		if (t >= next && kvm_log)
			kvm_vm_get_dirty_log(vm, DATA_SLOT, bitmap);
		if (t >= next)
			next += REARM_MS;
		usleep(5000);
	}
	sync_global_from_guest(vm, writes);
	w1 = writes;
	return (w1 - w0) * 1000.0 / (kcm_now_ms() - t0);
}

static double kcm_median3(double *v)
{
	double a = v[0], b = v[1], c = v[2];

	if ((a <= b && b <= c) || (c <= b && b <= a))
		return b;
	if ((b <= a && a <= c) || (c <= a && a <= b))
		return a;
	return c;
}

struct kcm_conv {
	uint32_t hot, rounds;
	uint64_t sent[MAX_ROUNDS + 1];
	double ms[MAX_ROUNDS + 1];
	uint64_t final, resent, unchanged;
};

static void kcm_sessions(int dev, struct kvm_vm *src, struct kvm_vm *tgt,
			 int *ssess, int *tsess)
{
	*ssess = kcm_session(dev, src, KVM_COCO_MIG_ROLE_SOURCE);
	*tsess = kcm_session(dev, tgt, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(*ssess, *tsess);
}

/* A pre-copy of the running guest with a hot set of @c->hot pages. */
static void kcm_converge(int dev, struct kvm_vm *src, struct kvm_vm *tgt,
			 struct kcm_conv *c)
{
	uint64_t bitmap[NPAGES / 64], gfns[NPAGES], nr, t0;
	struct kvm_coco_mig_track tr = {};
	struct kvm_coco_mig_status st;
	int ssess, tsess, r;
	uint32_t i, n;

	hot = c->hot;
	sync_global_to_guest(src, hot);
	usleep(200000);
	kcm_sessions(dev, src, tgt, &ssess, &tsess);
	TEST_ASSERT(!__kcm_track_start(ssess, &tr), "TRACK_START: %s", strerror(errno));

	for (i = 0; i < NPAGES; i++)
		gfns[i] = DATA_GFN + i;
	t0 = kcm_now_ms();
	kcm_xfer(ssess, tsess, gfns, NPAGES);
	c->sent[0] = NPAGES;
	c->ms[0] = kcm_now_ms() - t0;
	for (r = 1; r <= MAX_ROUNDS; r++) {
		t0 = kcm_now_ms();
		TEST_ASSERT(!__kcm_get_dirty(ssess, DATA_GFN, NPAGES, bitmap, &nr),
			    "GET_DIRTY: %s", strerror(errno));
		for (i = 0, n = 0; i < NPAGES; i++)
			if (bitmap[i / 64] & BIT_ULL(i % 64))
				gfns[n++] = DATA_GFN + i;
		TEST_ASSERT_EQ(n, nr);
		kcm_xfer(ssess, tsess, gfns, n);
		c->sent[r] = n;
		c->ms[r] = kcm_now_ms() - t0;
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
	close(ssess);
	close(tsess);
}

/* One overhead row: the write loop with @reads pages read per sweep. */
struct kcm_overhead {
	uint64_t reads;
	double off[OVERHEAD_REPS], on[OVERHEAD_REPS];
	double koff[OVERHEAD_REPS], kon[OVERHEAD_REPS];
};

static const uint64_t kcm_read_sets[] = { 0, READ_PAGES };
#define NMODES		ARRAY_SIZE(kcm_read_sets)

static void kcm_set_reads(struct kvm_vm *vm, uint64_t n)
{
	reads = n;
	sync_global_to_guest(vm, reads);
	usleep(200000);
}

/* Our tracker: off and on alternate, so that drift hits both. */
static void kcm_overhead_tracker(int dev, struct kvm_vm *src, struct kvm_vm *tgt,
				 struct kcm_overhead *o)
{
	struct kvm_coco_mig_track tr = {};
	int ssess, tsess, i;

	kcm_set_reads(src, o->reads);
	kcm_sessions(dev, src, tgt, &ssess, &tsess);
	for (i = 0; i < OVERHEAD_REPS; i++) {
		o->off[i] = kcm_write_rate(src, -1, false, OVERHEAD_MS);
		TEST_ASSERT(!__kcm_track_start(ssess, &tr), "TRACK_START: %s", strerror(errno));
		o->on[i] = kcm_write_rate(src, ssess, false, OVERHEAD_MS);
		TEST_ASSERT(!ioctl(ssess, KVM_COCO_MIG_TRACK_STOP, 0), "TRACK_STOP: %s",
			    strerror(errno));
		ksft_print_msg("%lu pages read: overhead rep %d: %.0f writes/s off, %.0f on\n",
			       o->reads, i + 1, o->off[i], o->on[i]);
	}
	TEST_ASSERT(!ioctl(ssess, KVM_COCO_MIG_CANCEL, 0), "CANCEL: %s", strerror(errno));
	close(ssess);
	close(tsess);
}

/* KVM's own dirty logging of the plain VM's data memslot, the same way. */
static void kcm_overhead_kvm(struct kvm_vm *plain, struct kcm_overhead *o)
{
	int i;

	kcm_set_reads(plain, o->reads);
	for (i = 0; i < OVERHEAD_REPS; i++) {
		o->koff[i] = kcm_write_rate(plain, -1, false, OVERHEAD_MS);
		vm_mem_region_set_flags(plain, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
		o->kon[i] = kcm_write_rate(plain, -1, true, OVERHEAD_MS);
		vm_mem_region_set_flags(plain, DATA_SLOT, 0);
		ksft_print_msg("%lu pages read: KVM dirty log rep %d: %.0f writes/s off, %.0f on\n",
			       o->reads, i + 1, o->koff[i], o->kon[i]);
	}
}

static void kcm_print_overhead(struct kcm_overhead *o)
{
	double r_off = kcm_median3(o->off), r_on = kcm_median3(o->on);
	double rk_off = kcm_median3(o->koff), rk_on = kcm_median3(o->kon);

	printf("{\"hot_pages\": %u, \"read_pages\": %lu, ", OVERHEAD_HOT, o->reads);
	printf("\"writes_per_s_off\": %.0f, \"writes_per_s_on\": %.0f, ", r_off, r_on);
	printf("\"slowdown\": %.4f, \"target\": %.2f, \"met\": %s, ", 1 - r_on / r_off,
	       TARGET_OVERHEAD, 1 - r_on / r_off <= TARGET_OVERHEAD ? "true" : "false");
	printf("\"samples_off\": [%.0f, %.0f, %.0f], ", o->off[0], o->off[1], o->off[2]);
	printf("\"samples_on\": [%.0f, %.0f, %.0f], ", o->on[0], o->on[1], o->on[2]);
	printf("\"kvm_dirty_log_writes_per_s_off\": %.0f, ", rk_off);
	printf("\"kvm_dirty_log_writes_per_s_on\": %.0f, ", rk_on);
	printf("\"kvm_dirty_log_slowdown\": %.4f}", 1 - rk_on / rk_off);
}

int main(int argc, char **argv)
{
	static struct kcm_overhead ov[NMODES];
	static struct kcm_conv conv[NRATES];
	struct kvm_vcpu *svcpu, *tvcpu, *pvcpu;
	struct kcm_runner runner;
	struct kvm_vm *src, *tgt, *plain;
	int dev, i, r;

	ksft_print_header();
	if (!kcm_sw_supported())
		ksft_exit_skip("KVM_X86_SW_PROTECTED_VM is not supported\n");
	ksft_set_plan(2);
	dev = kcm_dev();
	src = kcm_vm(&svcpu);
	tgt = kcm_vm(&tvcpu);
	kcm_runner_start(&runner, svcpu, kcm_guest_exit, NULL);
	usleep(500000);

	for (i = 0; i < NMODES; i++) {
		ov[i].reads = kcm_read_sets[i];
		kcm_overhead_tracker(dev, src, tgt, &ov[i]);
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
		kcm_converge(dev, src, tgt, &conv[i]);
		ksft_print_msg("hot set %u: %u rounds, final %lu pages\n", conv[i].hot,
			       conv[i].rounds, conv[i].final);
	}
	ksft_test_result_pass("convergence\n");
	kcm_runner_stop(&runner);

	printf("KCM-TRACK-JSON {\"pages\": %u, \"read_set\": %u, \"rearm_ms\": %u, ",
	       NPAGES, READ_PAGES, REARM_MS);
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
	kvm_vm_free(tgt);
	close(dev);
	ksft_finished();
}
