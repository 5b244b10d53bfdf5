// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig: the shared view of GET_DIRTY (KVM_COCO_MIG_DIRTY_F_SHARED),
 * KVM's dirty log of a SW-protected VM's ordinary memslots, harvested by
 * the session as the log's only owner.
 *
 * A source VM has private memory (a guest_memfd memslot) and shared memory
 * in an ordinary memslot with KVM_MEM_LOG_DIRTY_PAGES; its guest writes
 * chosen shared pages on command.
 *
 * rounds_report_exactly_the_writes: over several rounds, each GET_DIRTY
 * (SHARED) reports exactly the pages written since the last one: the
 * writes made before START (the hand-over), a page written again after it
 * was reported (the re-arm), nothing for a round without writes.
 *
 * concurrent_writer_loses_nothing: with the vCPU running in a thread, the
 * pages stop being written class by class, one class per round, so that a
 * write a round missed is repaired by no later one; each report has every
 * page written since the last, and a copy of the memory made from the
 * reports alone equals the memory at the end.
 *
 * fault_keeps_bits_and_cancel_hands_them_back: an undelivered report is
 * reported again; what the session took and never reported goes back to
 * KVM's log at CANCEL, where KVM_GET_DIRTY_LOG finds it.
 *
 * stray_get_dirty_log: what the documented rule is about: a VMM that
 * calls KVM_GET_DIRTY_LOG meanwhile takes those bits from the session's
 * view, and every write after its call is still reported by the session.
 *
 * The rest: exact errnos for every misuse, the query form, the private
 * view as it was, a memslot that changes (ESTALE), a dirty ring (ENXIO), a
 * VM without dirty logging (ENOENT).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm_coco_mig.h>

#include "kvm_util.h"
#include "processor.h"
#include "kselftest_harness.h"
#include "coco_mig_util.h"

#define DATA_GPA	BIT_ULL(32)
#define DATA_GFN	(DATA_GPA / PAGE_SIZE)
#define DATA_SLOT	10
#define DATA_PAGES	64		/* private memory */
#define SHARED_GPA	(BIT_ULL(32) + BIT_ULL(30))
#define SHARED_GFN	(SHARED_GPA / PAGE_SIZE)
#define SHARED_SLOT	11
#define SHARED_PAGES	512		/* 2 MiB of shared, dirty-logged memory */
#define WORDS		(SHARED_PAGES / 64)
#define END		(~0ull)
#define NCLASSES	6		/* concurrent_writer_loses_nothing's rounds */

/* Quiet: a few seconds each (one small VM, a few dozen ioctls). */
#define SHARED_TIMEOUT	120

/* Guest globals, in memslot 0 (not dirty-logged): set by the host. */
static uint64_t wlist[SHARED_PAGES + 1];	/* pages to write, END-terminated */
static uint64_t wval;
static uint64_t phase;				/* concurrent: classes below stop */
static uint64_t progress;			/* concurrent: sweeps done */

static uint64_t *guest_shared(uint64_t i)
{
	return (uint64_t *)(SHARED_GPA + i * PAGE_SIZE);
}

/* Write the pages of @wlist, then report; forever. */
static void guest_cmd(void)
{
	uint64_t i;

	for (;;) {
		for (i = 0; READ_ONCE(wlist[i]) != END; i++)
			WRITE_ONCE(*guest_shared(READ_ONCE(wlist[i])), READ_ONCE(wval));
		GUEST_SYNC(0);
	}
}

/*
 * Sweep the pages whose class (i % NCLASSES) is at least @phase, each with
 * the sweep's number, until every class is stopped.
 */
static void guest_sweeper(void)
{
	uint64_t i, seq;

	for (seq = 1; READ_ONCE(phase) < NCLASSES; seq++) {
		for (i = 0; i < SHARED_PAGES; i++)
			if (i % NCLASSES >= READ_ONCE(phase))
				WRITE_ONCE(*guest_shared(i), seq);
		WRITE_ONCE(progress, seq);
	}
	GUEST_DONE();
}

struct kcm_shared_vm {
	struct kvm_vm *src, *tgt;
	struct kvm_vcpu *vcpu;
	int dev, ssess, tsess;
};

/* The source with both kinds of memory, a bare target, their sessions. */
static void kcm_shared_vm(struct kcm_shared_vm *v, void *guest_code)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};

	v->dev = kcm_dev();
	v->src = kcm_private_vm(1, guest_code, &v->vcpu, DATA_GPA, DATA_SLOT, DATA_PAGES);
	vm_userspace_mem_region_add(v->src, VM_MEM_SRC_ANONYMOUS, SHARED_GPA, SHARED_SLOT,
				    SHARED_PAGES, KVM_MEM_LOG_DIRTY_PAGES);
	virt_map(v->src, SHARED_GPA, SHARED_GPA, SHARED_PAGES);
	v->tgt = ____vm_create(shape);
	v->ssess = kcm_session(v->dev, v->src, KVM_COCO_MIG_ROLE_SOURCE);
	v->tsess = kcm_session(v->dev, v->tgt, KVM_COCO_MIG_ROLE_TARGET);
}

static void kcm_shared_vm_free(struct kcm_shared_vm *v)
{
	close(v->ssess);
	close(v->tsess);
	kvm_vm_free(v->src);
	kcm_vm_free(v->tgt);	/* closed before FINISH: dead */
	close(v->dev);
}

static int __kcm_get_dirty_view(int sess, uint32_t flags, uint64_t *first,
				uint64_t *nr, uint64_t *bitmap, uint64_t *nr_dirty)
{
	struct kvm_coco_mig_dirty d = {
		.flags = flags, .first_gfn = *first, .nr_gfns = *nr,
		.bitmap_uaddr = (uintptr_t)bitmap,
	};
	int r = ioctl(sess, KVM_COCO_MIG_GET_DIRTY, &d);

	*first = d.first_gfn;
	*nr = d.nr_gfns;
	if (nr_dirty)
		*nr_dirty = d.nr_dirty;
	return r ? -errno : 0;
}

/* GET_DIRTY(SHARED) of [@first, @first + @nr): -errno or 0. */
static int __kcm_get_shared(int sess, uint64_t first, uint64_t nr,
			    uint64_t *bitmap, uint64_t *nr_dirty)
{
	return __kcm_get_dirty_view(sess, KVM_COCO_MIG_DIRTY_F_SHARED, &first, &nr,
				    bitmap, nr_dirty);
}

/* The whole shared memslot, in two calls (two ranges of it). */
static void kcm_get_shared_all(int sess, uint64_t *bitmap, uint64_t *nr_dirty)
{
	uint64_t a, b;
	int r;

	r = __kcm_get_shared(sess, SHARED_GFN, 256, bitmap, &a);
	TEST_ASSERT(!r, "GET_DIRTY(SHARED), first half: %s", strerror(-r));
	r = __kcm_get_shared(sess, SHARED_GFN + 256, SHARED_PAGES - 256, bitmap + 4, &b);
	TEST_ASSERT(!r, "GET_DIRTY(SHARED), second half: %s", strerror(-r));
	*nr_dirty = a + b;
}

/* Have the guest write @n pages of @pages with @val, and stop. */
static void kcm_guest_writes(struct kcm_shared_vm *v, const uint64_t *pages, int n,
			     uint64_t val)
{
	int i;

	for (i = 0; i < n; i++)
		wlist[i] = pages[i];
	wlist[n] = END;
	wval = val;
	sync_global_to_guest(v->src, wlist);
	sync_global_to_guest(v->src, wval);
	kcm_run_sync(v->vcpu);
}

static uint64_t *host_shared(struct kvm_vm *vm, uint64_t i)
{
	return addr_gpa2hva(vm, SHARED_GPA + i * PAGE_SIZE);
}

/* The bitmap of @n pages of @pages. */
static void kcm_bits(uint64_t *bm, const uint64_t *pages, int n)
{
	int i;

	memset(bm, 0, WORDS * sizeof(*bm));
	for (i = 0; i < n; i++)
		bm[pages[i] / 64] |= 1ull << (pages[i] % 64);
}

FIXTURE(shared) {
	struct kcm_shared_vm v;
};

FIXTURE_SETUP(shared)
{
	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	kcm_shared_vm(&self->v, guest_cmd);
}

FIXTURE_TEARDOWN(shared)
{
	if (self->v.dev)
		kcm_shared_vm_free(&self->v);
}

/* The pages of each round; a round may write a page again, or nothing. */
static const uint64_t round0[] = { 0, 1, 2, 300 };		/* before START */
static const uint64_t round1[] = { 1, 63, 64, 255, 256, 511 };
static const uint64_t round2[] = { 1, 2 };			/* again: re-armed */
static const uint64_t round4[] = { 100, 101, 102, 103, 104, 105, 106, 107 };

static void kcm_expect_report(struct __test_metadata *_metadata, int sess,
			      const uint64_t *pages, int n)
{
	uint64_t got[WORDS], want[WORDS], nr;
	int w;

	kcm_get_shared_all(sess, got, &nr);
	kcm_bits(want, pages, n);
	EXPECT_EQ(n, nr);
	for (w = 0; w < WORDS; w++) {
		if (want[w] != got[w])
			TH_LOG("word %d of the shared view: %#lx, not %#lx", w, got[w], want[w]);
		EXPECT_EQ(want[w], got[w]);
	}
}

TEST_F_TIMEOUT(shared, rounds_report_exactly_the_writes, SHARED_TIMEOUT)
{
	struct kcm_shared_vm *v = &self->v;
	uint64_t all[SHARED_PAGES];
	int i;

	/* Written before START: KVM's log holds them, the session reports them. */
	kcm_guest_writes(v, round0, ARRAY_SIZE(round0), 1);
	kcm_handshake(v->ssess, v->tsess);
	kcm_expect_report(_metadata, v->ssess, round0, ARRAY_SIZE(round0));

	kcm_guest_writes(v, round1, ARRAY_SIZE(round1), 2);
	kcm_expect_report(_metadata, v->ssess, round1, ARRAY_SIZE(round1));
	/* Pages reported before, written again: reported again. */
	kcm_guest_writes(v, round2, ARRAY_SIZE(round2), 3);
	kcm_expect_report(_metadata, v->ssess, round2, ARRAY_SIZE(round2));
	/* No writes: nothing. */
	kcm_guest_writes(v, NULL, 0, 4);
	kcm_expect_report(_metadata, v->ssess, NULL, 0);
	kcm_guest_writes(v, round4, ARRAY_SIZE(round4), 5);
	kcm_expect_report(_metadata, v->ssess, round4, ARRAY_SIZE(round4));
	/* Every page, twice. */
	for (i = 0; i < SHARED_PAGES; i++)
		all[i] = i;
	for (i = 0; i < 2; i++) {
		kcm_guest_writes(v, all, SHARED_PAGES, 6 + i);
		kcm_expect_report(_metadata, v->ssess, all, SHARED_PAGES);
	}
	EXPECT_EQ(7, *host_shared(v->src, 511));
	/* The shared view's reports are not the private view's rounds. */
	EXPECT_EQ(0, kcm_status(v->ssess).rounds);
}

TEST_F_TIMEOUT(shared, errnos_and_queries, SHARED_TIMEOUT)
{
	struct kcm_shared_vm *v = &self->v;
	struct kvm_coco_mig_backend_caps caps = kcm_sw_caps(v->dev);
	struct kvm_coco_mig_track tr = {};
	struct kvm_coco_mig_dirty d;
	uint64_t bm[WORDS + 1], first, nr;
	int bit, i;

	EXPECT_TRUE(caps.features & KVM_COCO_MIG_F_SHARED_DIRTY);
	/* Before START the VMM still owns the log. */
	EXPECT_EQ(-EBADFD, __kcm_get_shared(v->ssess, SHARED_GFN, SHARED_PAGES, bm, NULL));
	kcm_handshake(v->ssess, v->tsess);
	/* The target has no log to harvest. */
	EXPECT_EQ(-EINVAL, __kcm_get_shared(v->tsess, SHARED_GFN, SHARED_PAGES, bm, NULL));

	/* Flags other than F_SHARED, pad, reserved: EINVAL, with and without it. */
	for (bit = 1; bit < 32; bit++) {
		memset(&d, 0, sizeof(d));
		d.first_gfn = SHARED_GFN;
		d.nr_gfns = SHARED_PAGES;
		d.bitmap_uaddr = (uintptr_t)bm;
		d.flags = (1u << bit) | KVM_COCO_MIG_DIRTY_F_SHARED;
		EXPECT_EQ(-1, ioctl(v->ssess, KVM_COCO_MIG_GET_DIRTY, &d));
		EXPECT_EQ(EINVAL, errno);
	}
	for (bit = 0; bit < 32; bit++) {
		memset(&d, 0, sizeof(d));
		d.first_gfn = SHARED_GFN;
		d.nr_gfns = SHARED_PAGES;
		d.bitmap_uaddr = (uintptr_t)bm;
		d.flags = KVM_COCO_MIG_DIRTY_F_SHARED;
		d.pad = 1u << bit;
		EXPECT_EQ(-1, ioctl(v->ssess, KVM_COCO_MIG_GET_DIRTY, &d));
		EXPECT_EQ(EINVAL, errno);
	}
	for (i = 0; i < 3; i++) {
		memset(&d, 0, sizeof(d));
		d.first_gfn = SHARED_GFN;
		d.nr_gfns = SHARED_PAGES;
		d.bitmap_uaddr = (uintptr_t)bm;
		d.flags = KVM_COCO_MIG_DIRTY_F_SHARED;
		d.reserved[i] = 1;
		EXPECT_EQ(-1, ioctl(v->ssess, KVM_COCO_MIG_GET_DIRTY, &d));
		EXPECT_EQ(EINVAL, errno);
	}

	/* Queries, per view: only the dirty-logging memslot is shared-tracked. */
	first = 0;
	nr = 0;
	EXPECT_EQ(0, __kcm_get_dirty_view(v->ssess, KVM_COCO_MIG_DIRTY_F_SHARED, &first,
					  &nr, NULL, NULL));
	EXPECT_EQ(SHARED_GFN, first);
	EXPECT_EQ(SHARED_PAGES, nr);
	first = SHARED_GFN + 100;
	nr = 0;
	EXPECT_EQ(0, __kcm_get_dirty_view(v->ssess, KVM_COCO_MIG_DIRTY_F_SHARED, &first,
					  &nr, NULL, NULL));
	EXPECT_EQ(SHARED_GFN, first);
	first = SHARED_GFN + SHARED_PAGES;
	nr = 0;
	EXPECT_EQ(-ENOENT, __kcm_get_dirty_view(v->ssess, KVM_COCO_MIG_DIRTY_F_SHARED,
						&first, &nr, NULL, NULL));

	/* Not in the view: memslot 0 (no logging), the guest_memfd memslot, above. */
	EXPECT_EQ(-ENOENT, __kcm_get_shared(v->ssess, 0, 64, bm, NULL));
	EXPECT_EQ(-ENOENT, __kcm_get_shared(v->ssess, DATA_GFN, DATA_PAGES, bm, NULL));
	EXPECT_EQ(-ENOENT, __kcm_get_shared(v->ssess, SHARED_GFN + SHARED_PAGES, 64, bm,
					    NULL));
	/* Misaligned, too long, a ragged end short of the memslot's. */
	EXPECT_EQ(-EINVAL, __kcm_get_shared(v->ssess, SHARED_GFN + 1, 64, bm, NULL));
	EXPECT_EQ(-EINVAL, __kcm_get_shared(v->ssess, SHARED_GFN + 32, 64, bm, NULL));
	EXPECT_EQ(-EINVAL, __kcm_get_shared(v->ssess, SHARED_GFN, SHARED_PAGES + 64, bm,
					    NULL));
	EXPECT_EQ(-EINVAL, __kcm_get_shared(v->ssess, SHARED_GFN, 100, bm, NULL));
	EXPECT_EQ(-EINVAL, __kcm_get_shared(v->ssess, SHARED_GFN, ~0ull, bm, NULL));

	/* The shared view needs no TRACK_START; the private view still does. */
	EXPECT_EQ(0, __kcm_get_shared(v->ssess, SHARED_GFN, SHARED_PAGES, bm, NULL));
	EXPECT_EQ(-EBADFD, __kcm_get_dirty(v->ssess, DATA_GFN, DATA_PAGES, bm, NULL));
	ASSERT_EQ(0, __kcm_track_start(v->ssess, &tr));
	EXPECT_EQ(1, tr.nr_slots);
	EXPECT_EQ(DATA_PAGES, tr.nr_gfns);
	EXPECT_EQ(DATA_PAGES, kcm_status(v->ssess).tracked);
	/* The private view as it was: its memslot, not the shared one. */
	first = 0;
	nr = 0;
	EXPECT_EQ(0, __kcm_get_dirty_view(v->ssess, 0, &first, &nr, NULL, NULL));
	EXPECT_EQ(DATA_GFN, first);
	EXPECT_EQ(DATA_PAGES, nr);
	EXPECT_EQ(-ENOENT, __kcm_get_dirty(v->ssess, SHARED_GFN, SHARED_PAGES, bm, NULL));
	EXPECT_EQ(0, __kcm_get_dirty(v->ssess, DATA_GFN, DATA_PAGES, bm, &nr));
	EXPECT_EQ(0, nr);
	EXPECT_EQ(1, kcm_status(v->ssess).rounds);
	/* TRACK_STOP ends the private view's reports, not the shared view's. */
	EXPECT_EQ(0, ioctl(v->ssess, KVM_COCO_MIG_TRACK_STOP, 0));
	EXPECT_EQ(0, __kcm_get_shared(v->ssess, SHARED_GFN, SHARED_PAGES, bm, NULL));

	/* After CANCEL the VMM owns the log again. */
	EXPECT_EQ(0, ioctl(v->ssess, KVM_COCO_MIG_CANCEL, 0));
	EXPECT_EQ(-EBADFD, __kcm_get_shared(v->ssess, SHARED_GFN, SHARED_PAGES, bm, NULL));
}

TEST_F_TIMEOUT(shared, fault_keeps_bits_and_cancel_hands_them_back, SHARED_TIMEOUT)
{
	static const uint64_t a[] = { 3, 64, 400 }, b[] = { 5, 6, 510 };
	struct kcm_shared_vm *v = &self->v;
	uint64_t log[WORDS], want[WORDS];
	int w;

	kcm_handshake(v->ssess, v->tsess);
	kcm_guest_writes(v, a, ARRAY_SIZE(a), 1);
	/* Not delivered: the next report has the same pages. */
	EXPECT_EQ(-EFAULT, __kcm_get_shared(v->ssess, SHARED_GFN, SHARED_PAGES, (void *)8,
					    NULL));
	kcm_expect_report(_metadata, v->ssess, a, ARRAY_SIZE(a));

	/* Taken and never delivered, then CANCEL: back in KVM's log. */
	kcm_guest_writes(v, b, ARRAY_SIZE(b), 2);
	EXPECT_EQ(-EFAULT, __kcm_get_shared(v->ssess, SHARED_GFN, SHARED_PAGES, (void *)8,
					    NULL));
	ASSERT_EQ(0, ioctl(v->ssess, KVM_COCO_MIG_CANCEL, 0));
	kvm_vm_get_dirty_log(v->src, SHARED_SLOT, log);
	kcm_bits(want, b, ARRAY_SIZE(b));
	for (w = 0; w < WORDS; w++) {
		if (want[w] != log[w])
			TH_LOG("word %d of KVM's log: %#lx, not %#lx", w, log[w], want[w]);
		EXPECT_EQ(want[w], log[w]);
	}
}

TEST_F_TIMEOUT(shared, stray_get_dirty_log, SHARED_TIMEOUT)
{
	static const uint64_t a[] = { 7, 8 }, b[] = { 8 };
	struct kcm_shared_vm *v = &self->v;
	uint64_t log[WORDS], want[WORDS];
	int w;

	kcm_handshake(v->ssess, v->tsess);
	kcm_guest_writes(v, a, ARRAY_SIZE(a), 1);
	/* The VMM breaks the rule: its KVM_GET_DIRTY_LOG takes the bits ... */
	kvm_vm_get_dirty_log(v->src, SHARED_SLOT, log);
	kcm_bits(want, a, ARRAY_SIZE(a));
	for (w = 0; w < WORDS; w++)
		EXPECT_EQ(want[w], log[w]);
	/* ... which the session's view then lacks ... */
	kcm_expect_report(_metadata, v->ssess, NULL, 0);
	/* ... but a write after its call is reported by the session. */
	kcm_guest_writes(v, b, ARRAY_SIZE(b), 2);
	kcm_expect_report(_metadata, v->ssess, b, ARRAY_SIZE(b));
}

TEST_F_TIMEOUT(shared, memslot_change_is_stale, SHARED_TIMEOUT)
{
	struct kcm_shared_vm *v = &self->v;
	struct kvm_coco_mig_track tr = {};
	uint64_t bm[WORDS], nr;

	kcm_handshake(v->ssess, v->tsess);
	ASSERT_EQ(0, __kcm_get_shared(v->ssess, SHARED_GFN, SHARED_PAGES, bm, NULL));
	/* Logging off and on again: KVM started a new bitmap, bits were lost. */
	vm_mem_region_set_flags(v->src, SHARED_SLOT, 0);
	EXPECT_EQ(-ESTALE, __kcm_get_shared(v->ssess, SHARED_GFN, SHARED_PAGES, bm, NULL));
	vm_mem_region_set_flags(v->src, SHARED_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
	EXPECT_EQ(-ESTALE, __kcm_get_shared(v->ssess, SHARED_GFN, SHARED_PAGES, bm, NULL));
	/* Queries too: for good. */
	EXPECT_EQ(-ESTALE, __kcm_get_shared(v->ssess, 0, 0, NULL, NULL));
	/* The private view does not depend on it. */
	ASSERT_EQ(0, __kcm_track_start(v->ssess, &tr));
	EXPECT_EQ(0, __kcm_get_dirty(v->ssess, DATA_GFN, DATA_PAGES, bm, &nr));
}

/* Tests that make their own VMs. */
FIXTURE(live) {
};

FIXTURE_SETUP(live)
{
}

FIXTURE_TEARDOWN(live)
{
}

/* Guest memory as the reports alone let the VMM copy it. */
struct kcm_sweep {
	struct kcm_shared_vm *v;
	uint64_t copy[SHARED_PAGES];
	uint64_t missing, first_missing, extra, first_extra;
};

/* Harvest, check against @want_from / @never_below, and copy what was reported. */
static void kcm_sweep_round(struct kcm_sweep *s, uint64_t want_from, uint64_t never_below)
{
	uint64_t bm[WORDS], nr, i;
	bool got;

	kcm_get_shared_all(s->v->ssess, bm, &nr);
	for (i = 0; i < SHARED_PAGES; i++) {
		got = bm[i / 64] & (1ull << (i % 64));
		if (got)
			s->copy[i] = READ_ONCE(*host_shared(s->v->src, i));
		if (!got && i % NCLASSES >= want_from && !s->missing++)
			s->first_missing = i;
		if (got && i % NCLASSES < never_below && !s->extra++)
			s->first_extra = i;
	}
}

static void *kcm_sweeper_run(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_ASSERT_EQ(uc.cmd, UCALL_DONE);
	return NULL;
}

/*
 * Round k (0 to NCLASSES - 1): @phase is k, then the host waits until a
 * whole sweep began after the last harvest returned, and harvests. That
 * sweep wrote every page of class k or above: each must be reported. A
 * page of class below k - 1 was last written before the wait of round
 * k - 1 ended (its class stopped before that wait began), so it was
 * reported by then and must not be again (the guest never reads these
 * pages: nothing else makes them dirty). After the last round the guest
 * stops; the last harvest then makes the copy whole.
 */
TEST_F_TIMEOUT(live, concurrent_writer_loses_nothing, SHARED_TIMEOUT)
{
	struct kcm_sweep *s = calloc(1, sizeof(*s));
	uint64_t *hphase, *hprogress, seen, k, i, mismatched = 0, first_bad = 0;
	struct kcm_shared_vm v = {};
	pthread_t thread;

	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	kcm_shared_vm(&v, guest_sweeper);
	s->v = &v;
	hphase = addr_gva2hva(v.src, (vm_vaddr_t)&phase);
	hprogress = addr_gva2hva(v.src, (vm_vaddr_t)&progress);
	kcm_handshake(v.ssess, v.tsess);
	/* Round "-1": the first report, whatever the guest did so far. */
	pthread_create(&thread, NULL, kcm_sweeper_run, v.vcpu);
	kcm_sweep_round(s, NCLASSES, 0);
	for (k = 0; k < NCLASSES; k++) {
		WRITE_ONCE(*hphase, k);
		seen = READ_ONCE(*hprogress);
		while (READ_ONCE(*hprogress) < seen + 2)
			usleep(1000);
		kcm_sweep_round(s, k, k ? k - 1 : 0);
	}
	WRITE_ONCE(*hphase, NCLASSES);
	pthread_join(thread, NULL);
	kcm_sweep_round(s, NCLASSES, NCLASSES - 1);

	EXPECT_EQ(0, s->missing)
		TH_LOG("a page written since a report is missing from the next (first: %lu)",
		       s->first_missing);
	EXPECT_EQ(0, s->extra)
		TH_LOG("a page not written since a report is in the next (first: %lu)",
		       s->first_extra);
	for (i = 0; i < SHARED_PAGES; i++)
		if (s->copy[i] != *host_shared(v.src, i) && !mismatched++)
			first_bad = i;
	EXPECT_EQ(0, mismatched)
		TH_LOG("the copy made from the reports is stale (first: page %lu, %lu vs %lu)",
		       first_bad, s->copy[first_bad], *host_shared(v.src, first_bad));
	/* Every page was written at least once. */
	for (i = 0; i < SHARED_PAGES; i++)
		EXPECT_NE(0, s->copy[i]);
	kcm_shared_vm_free(&v);
	free(s);
}

/* A VM without any dirty-logging memslot, and one with a dirty ring. */
TEST_F_TIMEOUT(live, no_log_and_dirty_ring, SHARED_TIMEOUT)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	uint64_t bm[WORDS];
	struct kvm_vm *src, *tgt;
	int dev, ssess, tsess;

	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	dev = kcm_dev();
	tgt = ____vm_create(shape);

	/* An ordinary memslot that does not log: not in the view. */
	src = ____vm_create(shape);
	vm_userspace_mem_region_add(src, VM_MEM_SRC_ANONYMOUS, SHARED_GPA, SHARED_SLOT,
				    SHARED_PAGES, 0);
	ssess = kcm_session(dev, src, KVM_COCO_MIG_ROLE_SOURCE);
	tsess = kcm_session(dev, tgt, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(ssess, tsess);
	EXPECT_EQ(-ENOENT, __kcm_get_shared(ssess, SHARED_GFN, SHARED_PAGES, bm, NULL));
	EXPECT_EQ(-ENOENT, __kcm_get_shared(ssess, 0, 0, NULL, NULL));
	close(ssess);
	close(tsess);
	kvm_vm_free(src);
	kcm_vm_free(tgt);

	if (!kvm_has_cap(KVM_CAP_DIRTY_LOG_RING) && !kvm_has_cap(KVM_CAP_DIRTY_LOG_RING_ACQ_REL)) {
		close(dev);
		SKIP(return, "no dirty ring: its ENXIO is not tested");
	}
	/* A dirty ring takes running vCPUs' writes off the bitmap: ENXIO. */
	tgt = ____vm_create(shape);
	src = ____vm_create(shape);
	vm_enable_dirty_ring(src, 4096 * sizeof(struct kvm_dirty_gfn));
	vm_userspace_mem_region_add(src, VM_MEM_SRC_ANONYMOUS, SHARED_GPA, SHARED_SLOT,
				    SHARED_PAGES, KVM_MEM_LOG_DIRTY_PAGES);
	ssess = kcm_session(dev, src, KVM_COCO_MIG_ROLE_SOURCE);
	tsess = kcm_session(dev, tgt, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(ssess, tsess);
	EXPECT_EQ(-ENXIO, __kcm_get_shared(ssess, SHARED_GFN, SHARED_PAGES, bm, NULL));
	EXPECT_EQ(-ENXIO, __kcm_get_shared(ssess, 0, 0, NULL, NULL));
	close(ssess);
	close(tsess);
	kvm_vm_free(src);
	kcm_vm_free(tgt);
	close(dev);
}

TEST_HARNESS_MAIN
