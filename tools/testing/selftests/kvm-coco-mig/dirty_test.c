// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig dirty tracking of guest_memfd private memory, sw backend.
 *
 * live_precopy: a guest whose two vCPUs never stop writing private
 * memory, while vCPU 0 also converts a range shared<->private now and
 * then, is migrated live: a full pass, pre-copy rounds of GET_DIRTY with
 * the vCPUs running (also during the last round), then a pause, the last
 * dirty set and FINISH. The pages stop being written class by class, one
 * class per round, so that every round, the final one included, is the
 * last chance of some pages' last version: a write any round missed is
 * repaired by no later one. The guest publishes the version it last wrote
 * to each page; it resumes on the target and checks, page by page, that
 * each holds exactly that version, and that the converted range has the
 * attribute it last asked for.
 *
 * no_lost_write: a write the guest makes right after a GET_DIRTY returned
 * is reported by the next GET_DIRTY, every time, with the vCPU running.
 *
 * The rest: exact errnos for every misuse.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm_coco_mig.h>

#include "kvm_util.h"
#include "processor.h"
#include "kselftest_harness.h"
#include "coco_mig_util.h"

#define DATA_GPA	BIT_ULL(32)
#define DATA_GFN	(DATA_GPA / PAGE_SIZE)
#define DATA_SLOT	10
#define NPAGES		1024		/* 4 MiB of private memory */
#define WRITE_PAGES	960		/* written by the vCPUs, alternately: */
#define REWRITE_PAGES	64		/* with the same bytes every time, then */
					/* with a new version, class by class */
#define TOGGLE_FIRST	960		/* converted by vCPU 0 ... */
#define TOGGLE_PAGES	32		/* ... shared<->private */
#define STATIC_FIRST	992		/* written once */
#define NR_VCPUS	2
#define TOGGLE_EVERY	2		/* sweeps of vCPU 0 between conversions */
#define ROUNDS		4		/* pre-copy rounds before the pause */
/*
 * Class c of the versioned pages is written until the host starts round
 * c + 1; the last class, until the pause.
 */
#define NCLASSES	(ROUNDS + 1)
/* The version of the pages rewritten with the same bytes; never a sweep's. */
#define REWRITE_SEQ	BIT_ULL(40)

/*
 * Guest globals, in shared memory: the host sets @verify on the target and
 * @phase on the source (versioned pages of a class below it are no longer
 * written); the guest publishes its sweeps in @progress and in @version the
 * version it last wrote to each page.
 */
static uint64_t verify;
static uint64_t phase;
static uint64_t progress[NR_VCPUS];
static uint64_t version[NPAGES];
/* no_lost_write: the last value written, also to the private page. */
static uint64_t last_written;

static uint64_t kcm_pattern(uint64_t page, uint64_t seq)
{
	return ((page << 32) ^ seq) * 0x9e3779b97f4a7c15ull;
}

/* The class of versioned page @i; each vCPU has pages of every class. */
static uint64_t kcm_class(uint64_t i)
{
	return (i / NR_VCPUS) % NCLASSES;
}

static uint64_t *guest_page(uint64_t i)
{
	return (uint64_t *)(DATA_GPA + i * PAGE_SIZE);
}

static void guest_page_check(uint64_t i, uint64_t seq)
{
	uint64_t *p = guest_page(i);

	__GUEST_ASSERT(p[0] == seq && p[1] == (seq ? kcm_pattern(i, seq) : 0),
		       "page %lu holds version %lu (%#lx), the guest last wrote %lu (%#lx)",
		       i, p[0], p[1], seq, seq ? kcm_pattern(i, seq) : 0);
}

static void guest_page_write(uint64_t i, uint64_t seq)
{
	guest_page(i)[1] = kcm_pattern(i, seq);
	guest_page(i)[0] = seq;
}

/* Convert the toggle range and stamp it, in the view now mapped. */
static void guest_toggle(bool to_shared, uint64_t stamp)
{
	uint64_t i, flags = KVM_MAP_GPA_RANGE_PAGE_SZ_4K;

	if (!to_shared)
		flags |= KVM_MAP_GPA_RANGE_ENCRYPTED;
	kvm_hypercall_map_gpa_range(DATA_GPA + TOGGLE_FIRST * PAGE_SIZE,
				    TOGGLE_PAGES * PAGE_SIZE, flags);
	for (i = 0; i < TOGGLE_PAGES; i++)
		WRITE_ONCE(guest_page(TOGGLE_FIRST + i)[0], stamp);
}

static void guest_live(uint64_t id)
{
	uint64_t seq, i = id, j, toggles = 0;
	bool shared = false;

	if (!id)
		for (j = STATIC_FIRST; j < NPAGES; j++)
			guest_page(j)[1] = kcm_pattern(j, 7);

	/* Never paused by the guest: only the host stops it. */
	for (seq = 1; ; seq++) {
		for (i = id; i < WRITE_PAGES; i += NR_VCPUS) {
			if (READ_ONCE(verify))
				goto check;
			if (i < REWRITE_PAGES) {
				/* A write that leaves the page as it was. */
				guest_page_write(i, REWRITE_SEQ);
			} else if (kcm_class(i) >= READ_ONCE(phase)) {
				guest_page_write(i, seq);
				WRITE_ONCE(version[i], seq);
			}
		}
		WRITE_ONCE(progress[id], seq);
		if (!id && !(seq % TOGGLE_EVERY)) {
			shared = !shared;
			guest_toggle(shared, ++toggles);
		}
	}

check:
	/*
	 * A write the source paused in the middle of was completed here,
	 * @version[i] with it, before the loop saw @verify.
	 */
	for (j = id; j < WRITE_PAGES; j += NR_VCPUS)
		guest_page_check(j, j < REWRITE_PAGES ? REWRITE_SEQ : READ_ONCE(version[j]));
	if (!id) {
		/* The view now mapped is the one stamped last. */
		for (j = 0; j < TOGGLE_PAGES; j++)
			GUEST_ASSERT_EQ(guest_page(TOGGLE_FIRST + j)[0], toggles);
		for (j = STATIC_FIRST; j < NPAGES; j++)
			GUEST_ASSERT_EQ(guest_page(j)[1], kcm_pattern(j, 7));
	}
	GUEST_DONE();
}

/* no_lost_write: one private page, written over and over. */
static void guest_writer(void)
{
	uint64_t n;

	for (n = 1; ; n++) {
		WRITE_ONCE(guest_page(0)[0], n);
		WRITE_ONCE(last_written, n);
	}
}

/*
 * A VMM: a source and a target VM with the same layout, vCPU threads for
 * the source, and the VMM's record of which gfns are private. Conversions
 * are applied to both VMs at once (the ordinary way attributes travel
 * here) under @attr_lock, which a migration batch also holds: a batch
 * never sees a gfn change attribute between GET_DIRTY, PACKAGE and RECEIVE.
 */
struct kcm_live {
	struct kvm_vm *src, *tgt;
	struct kvm_vcpu *svcpu[NR_VCPUS], *tvcpu[NR_VCPUS];
	struct kcm_runner threads[NR_VCPUS];
	pthread_mutex_t attr_lock;
	bool private[NPAGES];
	uint64_t conversions;
	/* The target as the VMM saw it: gfns it received, packets it had before. */
	bool installed[NPAGES];
	uint64_t resent;
};

static void kcm_vm_pair(struct kcm_live *l, void *guest_code, int nr_vcpus)
{
	struct kvm_vm **vms[2] = { &l->src, &l->tgt };
	struct kvm_vcpu **vcpus[2] = { l->svcpu, l->tvcpu };
	int v, k;

	for (v = 0; v < 2; v++) {
		struct kvm_vm *vm;

		vm = kcm_private_vm(nr_vcpus, guest_code, vcpus[v], DATA_GPA, DATA_SLOT,
				    NPAGES);
		*vms[v] = vm;
		vm_enable_cap(vm, KVM_CAP_EXIT_HYPERCALL, BIT_ULL(KVM_HC_MAP_GPA_RANGE));
		for (k = 0; k < nr_vcpus; k++)
			vcpu_args_set(vcpus[v][k], 1, k);
	}
	for (k = 0; k < NPAGES; k++)
		l->private[k] = true;
	pthread_mutex_init(&l->attr_lock, NULL);
}

/* KVM_HC_MAP_GPA_RANGE: convert on both VMs, as the guest asked. */
static void kcm_convert(struct kcm_live *l, struct kvm_vcpu *vcpu, bool both)
{
	struct kvm_run *run = vcpu->run;
	uint64_t gpa = run->hypercall.args[0];
	uint64_t npages = run->hypercall.args[1], i;
	bool priv = run->hypercall.args[2] & KVM_MAP_GPA_RANGE_ENCRYPTED;

	TEST_ASSERT_EQ(run->hypercall.nr, KVM_HC_MAP_GPA_RANGE);
	TEST_ASSERT(gpa >= DATA_GPA && gpa / PAGE_SIZE + npages <= DATA_GFN + NPAGES,
		    "conversion of %#lx + %lu pages", gpa, npages);
	pthread_mutex_lock(&l->attr_lock);
	if (both)
		vm_set_memory_attributes(l->src, gpa, npages * PAGE_SIZE,
					 priv ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0);
	vm_set_memory_attributes(l->tgt, gpa, npages * PAGE_SIZE,
				 priv ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0);
	for (i = 0; i < npages; i++)
		l->private[gpa / PAGE_SIZE - DATA_GFN + i] = priv;
	l->conversions++;
	pthread_mutex_unlock(&l->attr_lock);
	run->hypercall.ret = 0;
}

/* A source vCPU's exit other than KVM_RUN's EINTR: a conversion. */
static void kcm_live_exit(struct kvm_vcpu *vcpu, void *arg)
{
	struct ucall uc;

	if (vcpu->run->exit_reason == KVM_EXIT_HYPERCALL) {
		kcm_convert(arg, vcpu, true);
		return;
	}
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_FAIL("unexpected ucall %lu", uc.cmd);
}

static void kcm_start_vcpus(struct kcm_live *l, int nr_vcpus)
{
	int k;

	for (k = 0; k < nr_vcpus; k++)
		kcm_runner_start(&l->threads[k], l->svcpu[k], kcm_live_exit, l);
}

static void kcm_pause_vcpus(struct kcm_live *l, int nr_vcpus)
{
	int k;

	for (k = 0; k < nr_vcpus; k++)
		kcm_runner_stop(&l->threads[k]);
}

static uint64_t kcm_progress(struct kcm_live *l)
{
	uint64_t sum = 0;
	int k;

	sync_global_from_guest(l->src, progress);
	for (k = 0; k < NR_VCPUS; k++)
		sum += progress[k];
	return sum;
}

/*
 * Wait until every vCPU finished @sweeps more sweeps (however long that
 * takes: a guest that stopped writing is ended by the test's timeout).
 */
static void kcm_wait_sweeps(struct kcm_live *l, uint64_t sweeps)
{
	uint64_t want[NR_VCPUS];
	int k;

	sync_global_from_guest(l->src, progress);
	for (k = 0; k < NR_VCPUS; k++)
		want[k] = progress[k] + sweeps;
	for (;;) {
		sync_global_from_guest(l->src, progress);
		for (k = 0; k < NR_VCPUS && progress[k] >= want[k]; k++)
			;
		if (k == NR_VCPUS)
			return;
		usleep(10000);
	}
}

/*
 * One round under the attribute lock: everything private, or the dirty set
 * (then in @got, a flag per page, if not NULL).
 */
static uint64_t kcm_round(struct kcm_live *l, int ssess, int tsess, bool all, bool *got)
{
	uint64_t bitmap[NPAGES / 64], gfns[NPAGES], nr_dirty = 0;
	uint32_t n = 0, i;
	int r;

	pthread_mutex_lock(&l->attr_lock);
	if (!all) {
		r = __kcm_get_dirty(ssess, DATA_GFN, NPAGES, bitmap, &nr_dirty);
		TEST_ASSERT(!r, "GET_DIRTY: %s", strerror(-r));
	}
	for (i = 0; i < NPAGES; i++) {
		bool want = all ? l->private[i] : bitmap[i / 64] & BIT_ULL(i % 64);

		if (got)
			got[i] = want;
		if (want) {
			/* The module reports private gfns only. */
			TEST_ASSERT(l->private[i], "gfn %u reported, but it is shared", i);
			gfns[n++] = DATA_GFN + i;
			l->resent += l->installed[i];
			l->installed[i] = true;
		}
	}
	TEST_ASSERT(all || n == nr_dirty, "%u bits set, nr_dirty %lu", n, nr_dirty);
	kcm_xfer(ssess, tsess, gfns, n);
	pthread_mutex_unlock(&l->attr_lock);
	return n;
}

/* Run a target vCPU until the guest is done verifying. */
static void kcm_run_target(struct kcm_live *l, struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	for (;;) {
		vcpu_run(vcpu);
		if (vcpu->run->exit_reason == KVM_EXIT_HYPERCALL) {
			kcm_convert(l, vcpu, false);
			continue;
		}
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_DONE:
			return;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
	}
}

/* Tests that set up their own VMs. */
FIXTURE(dirty) {
};

FIXTURE_SETUP(dirty)
{
}

FIXTURE_TEARDOWN(dirty)
{
}

/* What a harvest reported, against what the guest did before it. */
struct kcm_round_check {
	uint64_t missing, first_missing;	/* written since, not reported */
	uint64_t extra, first_extra;		/* untouched since, reported */
	uint64_t changed;			/* reported with a new version */
};

/*
 * Harvest @k (1 to ROUNDS + 1) reported @got. The wait before it let every
 * vCPU begin a sweep after harvest k - 1 (the full pass for k = 1)
 * returned, with @phase at k - 1: each page rewritten with the same bytes
 * and each versioned page of class k - 1 or above was written since, and
 * must be reported; the versioned ones now hold a version newer than any
 * packet of theirs so far. Class c stops at phase c + 1, set before
 * harvest c + 1, and the sweeps of the wait before harvest c + 2 end after
 * any write a vCPU had begun then: a versioned page of a class below
 * k - 2 was not accessed since it was last reported, and a static page
 * not since TRACK_START, so neither is reported (the tracker reports
 * accesses; see "Dirty tracking" in the documentation).
 */
static struct kcm_round_check kcm_check_round(int k, const bool *got)
{
	struct kcm_round_check c = {};
	uint64_t i;
	bool want, never;

	for (i = 0; i < NPAGES; i++) {
		if (i >= TOGGLE_FIRST && i < STATIC_FIRST)
			continue;	/* reported when they turn private */
		want = i < REWRITE_PAGES || (i < WRITE_PAGES && kcm_class(i) + 1 >= k);
		never = i >= STATIC_FIRST || (i >= REWRITE_PAGES && i < WRITE_PAGES &&
					      kcm_class(i) + 2 < k);
		if (want && !got[i] && !c.missing++)
			c.first_missing = i;
		if (never && got[i] && !c.extra++)
			c.first_extra = i;
		if (want && got[i] && i >= REWRITE_PAGES)
			c.changed++;
	}
	return c;
}

/*
 * Quiet: at most 20 s (it passed within the harness's default 30 s in
 * quiet runs; it timed out at 30 s once under load, after four rounds).
 */
TEST_F_TIMEOUT(dirty, live_precopy, 240)
{
	struct kvm_coco_mig_track tr = {};
	struct kvm_coco_mig_status st, tst;
	uint64_t sent, before, last_round = 0, reported = 0, changed = 0;
	struct kcm_round_check c;
	uint32_t slen, flen, olen;
	void *state, *fin, *out;
	struct kcm_live l = {};
	int dev, ssess, tsess, r, k, round;
	bool got[NPAGES];

	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	dev = kcm_dev();
	kcm_vm_pair(&l, guest_live, NR_VCPUS);
	ssess = kcm_session(dev, l.src, KVM_COCO_MIG_ROLE_SOURCE);
	tsess = kcm_session(dev, l.tgt, KVM_COCO_MIG_ROLE_TARGET);

	phase = 0;
	sync_global_to_guest(l.src, phase);
	kcm_start_vcpus(&l, NR_VCPUS);
	/* Every page is written once before tracking starts (at START). */
	kcm_wait_sweeps(&l, 1);

	kcm_handshake(ssess, tsess);
	ASSERT_EQ(0, __kcm_track_start(ssess, &tr));
	EXPECT_EQ(1, tr.nr_slots);
	EXPECT_EQ(NPAGES, tr.nr_gfns);
	EXPECT_EQ(NPAGES, kcm_status(ssess).tracked);

	/* Everything once, then the dirty set, round after round. */
	sent = kcm_round(&l, ssess, tsess, true, NULL);
	ksft_print_msg("full pass: %lu pages\n", sent);
	for (round = 1; round <= ROUNDS + 1; round++) {
		/*
		 * Two sweeps: the second began after the last harvest
		 * returned, however fast the guest runs.
		 */
		kcm_wait_sweeps(&l, 2);
		if (round <= ROUNDS) {
			/* Class round - 1 is no longer written, from now on. */
			phase = round;
			sync_global_to_guest(l.src, phase);
		} else {
			/* Stop-and-copy: pause, then the last dirty set. */
			kcm_pause_vcpus(&l, NR_VCPUS);
		}
		/* Before the pause, the guest keeps writing during the round. */
		before = kcm_progress(&l);
		last_round = kcm_round(&l, ssess, tsess, false, got);
		reported += last_round;
		ksft_print_msg("round %d: %lu dirty pages (%.1f%%), %lu sweeps during it\n",
			       round, last_round, 100.0 * last_round / NPAGES,
			       kcm_progress(&l) - before);
		c = kcm_check_round(round, got);
		EXPECT_EQ(0, c.missing)
			TH_LOG("round %d: %lu written pages not reported, the first %lu",
			       round, c.missing, c.first_missing);
		EXPECT_EQ(0, c.extra)
			TH_LOG("round %d: %lu untouched pages reported, the first %lu",
			       round, c.extra, c.first_extra);
		changed += c.changed;
	}
	ksft_print_msg("%lu conversions\n", l.conversions);
	/*
	 * vCPU 0 converts after every 2nd sweep and has done at least 11
	 * sweeps (1, then 2 per round, the final one's included): the
	 * conversions after sweeps 2 to 10.
	 */
	EXPECT_GE(l.conversions, 5);
	kcm_copy_shared(l.src, l.tgt);
	memcpy(memslot2region(l.tgt, DATA_SLOT)->host_mem,
	       memslot2region(l.src, DATA_SLOT)->host_mem, NPAGES * PAGE_SIZE);

	st = kcm_status(ssess);
	EXPECT_EQ(ROUNDS + 1, st.rounds);
	EXPECT_EQ(reported, st.reported);

	for (k = 0; k < NR_VCPUS; k++)
		kcm_move_vcpu(ssess, tsess, l.svcpu[k], l.tvcpu[k]);
	EXPECT_EQ(NR_VCPUS, kcm_status(ssess).vcpus);
	EXPECT_EQ(NR_VCPUS, kcm_status(tsess).vcpus);
	state = strdup("the VM-wide state");
	slen = strlen(state) + 1;
	fin = kcm_blob_out(ssess, KVM_COCO_MIG_FINISH, state, slen, &flen);
	EXPECT_EQ(0, kcm_status(ssess).tracked);	/* FINISH ends tracking */
	olen = slen;
	out = malloc(olen);
	r = __kcm_blob(tsess, KVM_COCO_MIG_FINISH, fin, flen, out, &olen);
	ASSERT_EQ(0, r);
	EXPECT_EQ(0, memcmp(out, state, slen));

	/* The source is dead: no clone of the guest can run on. */
	EXPECT_NE(0, __vcpu_run(l.svcpu[0]));
	EXPECT_EQ(EIO, errno);

	tst = kcm_status(tsess);
	ksft_print_msg("target: %lu packets, %lu resent, %lu of them unchanged\n",
		       (unsigned long)tst.pages, (unsigned long)tst.resent,
		       (unsigned long)tst.unchanged);
	/* Every packet the VMM sent, and of those for a gfn sent before. */
	EXPECT_EQ(sent + reported, tst.pages);
	EXPECT_EQ(l.resent, tst.resent);
	/*
	 * Every round re-sent each page rewritten with the same bytes, as it
	 * was; and no packet of a versioned page that got a new version since
	 * its last packet is unchanged.
	 */
	EXPECT_GE(tst.unchanged, REWRITE_PAGES * (ROUNDS + 1));
	EXPECT_LE(tst.unchanged + changed, tst.resent);

	/* Resume on the target and let the guest check its memory. */
	verify = 1;
	sync_global_to_guest(l.tgt, verify);
	for (k = 0; k < NR_VCPUS; k++)
		kcm_run_target(&l, l.tvcpu[k]);

	free(out);
	free(fin);
	free(state);
	close(ssess);
	close(tsess);
	kcm_vm_free(l.src);
	kvm_vm_free(l.tgt);
	close(dev);
}

/* Quiet: at most 10 s (two VMs of 4 MiB, 100 GET_DIRTY). */
TEST_F_TIMEOUT(dirty, no_lost_write, 120)
{
	uint64_t *hlast;
	struct kvm_coco_mig_track tr = {};
	uint64_t bitmap[NPAGES / 64], nr, seen;
	struct kcm_live l = {};
	int dev, ssess, tsess, i;

	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	dev = kcm_dev();
	kcm_vm_pair(&l, guest_writer, 1);
	ssess = kcm_session(dev, l.src, KVM_COCO_MIG_ROLE_SOURCE);
	tsess = kcm_session(dev, l.tgt, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(ssess, tsess);
	hlast = addr_gva2hva(l.src, (vm_vaddr_t)&last_written);

	ASSERT_EQ(0, __kcm_track_start(ssess, &tr));
	kcm_start_vcpus(&l, 1);
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, __kcm_get_dirty(ssess, DATA_GFN, NPAGES, bitmap, &nr));
		/* Only page 0 is ever touched; it may not have been yet. */
		EXPECT_LE(nr, 1);
		EXPECT_EQ(nr, bitmap[0]);
		/* A write after GET_DIRTY returned (we wait for it) ... */
		seen = READ_ONCE(*hlast);
		while (READ_ONCE(*hlast) < seen + 2)
			usleep(1000);
		/* ... is in the next report. */
		ASSERT_EQ(0, __kcm_get_dirty(ssess, DATA_GFN, NPAGES, bitmap, &nr));
		ASSERT_EQ(1, nr);
		ASSERT_EQ(1, bitmap[0]);
	}
	kcm_pause_vcpus(&l, 1);
	close(ssess);
	close(tsess);
	kvm_vm_free(l.src);
	kcm_vm_free(l.tgt);	/* closed before FINISH: dead */
	close(dev);
}

/*
 * A source guest that wrote its pages and stopped, tracking not yet on.
 * Each test, quiet: at most 10 s (two VMs of 4 MiB, each page written
 * twice, up to 8 MiB sealed and opened).
 */
#define TRACK_TIMEOUT	120

FIXTURE(track) {
	int dev, ssess, tsess;
	struct kcm_live l;
};

static void guest_once(uint64_t id)
{
	uint64_t i;

	for (i = 0; i < NPAGES; i++)
		guest_page(i)[0] = i + 1;
	GUEST_SYNC(1);
	for (i = 0; i < NPAGES; i++)
		guest_page(i)[0] = i + 2;
	GUEST_SYNC(2);
	GUEST_DONE();
}

FIXTURE_SETUP(track)
{
	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	self->dev = kcm_dev();
	kcm_vm_pair(&self->l, guest_once, 1);
	kcm_run_sync(self->l.svcpu[0]);
	self->ssess = kcm_session(self->dev, self->l.src, KVM_COCO_MIG_ROLE_SOURCE);
	self->tsess = kcm_session(self->dev, self->l.tgt, KVM_COCO_MIG_ROLE_TARGET);
}

FIXTURE_TEARDOWN(track)
{
	if (!self->dev)
		return;
	close(self->ssess);
	close(self->tsess);
	kcm_vm_free(self->l.src);
	kcm_vm_free(self->l.tgt);
	close(self->dev);
}

TEST_F_TIMEOUT(track, wrong_role_and_state, TRACK_TIMEOUT)
{
	struct kvm_coco_mig_track tr = {};
	uint64_t bitmap[NPAGES / 64];

	/* Before START there are no keys to package with. */
	EXPECT_EQ(-EBADFD, __kcm_track_start(self->ssess, &tr));
	EXPECT_EQ(-EBADFD, __kcm_get_dirty(self->ssess, DATA_GFN, NPAGES, bitmap, NULL));
	kcm_handshake(self->ssess, self->tsess);
	/* The target has nothing to track. */
	EXPECT_EQ(-EINVAL, __kcm_track_start(self->tsess, &tr));
	EXPECT_EQ(-EINVAL, __kcm_get_dirty(self->tsess, DATA_GFN, NPAGES, bitmap, NULL));
	EXPECT_EQ(-EINVAL, ioctl(self->tsess, KVM_COCO_MIG_TRACK_STOP, 0) ? -errno : 0);
	/* Not tracking yet. */
	EXPECT_EQ(-EBADFD, __kcm_get_dirty(self->ssess, DATA_GFN, NPAGES, bitmap, NULL));
	EXPECT_EQ(-EBADFD, ioctl(self->ssess, KVM_COCO_MIG_TRACK_STOP, 0) ? -errno : 0);
	EXPECT_EQ(-EINVAL, ioctl(self->ssess, KVM_COCO_MIG_TRACK_STOP, 1) ? -errno : 0);
	/* Once on, not twice; off, then on again. */
	EXPECT_EQ(0, __kcm_track_start(self->ssess, &tr));
	EXPECT_EQ(-EBUSY, __kcm_track_start(self->ssess, &tr));
	EXPECT_EQ(0, ioctl(self->ssess, KVM_COCO_MIG_TRACK_STOP, 0));
	/* TRACK_STOP ends the reports; tracking itself runs from START on. */
	EXPECT_EQ(-EBADFD, __kcm_get_dirty(self->ssess, DATA_GFN, NPAGES, bitmap, NULL));
	EXPECT_EQ(NPAGES, kcm_status(self->ssess).tracked);
	EXPECT_EQ(0, __kcm_track_start(self->ssess, &tr));
	/* After CANCEL: tracking is over with the session. */
	EXPECT_EQ(0, ioctl(self->ssess, KVM_COCO_MIG_CANCEL, 0));
	EXPECT_EQ(0, kcm_status(self->ssess).tracked);
	EXPECT_EQ(-EBADFD, __kcm_get_dirty(self->ssess, DATA_GFN, NPAGES, bitmap, NULL));
	EXPECT_EQ(-EBADFD, __kcm_track_start(self->ssess, &tr));
}

TEST_F_TIMEOUT(track, reserved_fields, TRACK_TIMEOUT)
{
	struct kvm_coco_mig_track tr;
	struct kvm_coco_mig_dirty d;
	uint64_t bitmap[NPAGES / 64];
	int i, bit;

	kcm_handshake(self->ssess, self->tsess);
	for (bit = 0; bit < 32; bit++) {
		memset(&tr, 0, sizeof(tr));
		tr.flags = 1u << bit;
		EXPECT_EQ(-EINVAL, __kcm_track_start(self->ssess, &tr));
	}
	for (i = 0; i < 6; i++) {
		for (bit = 0; bit < 64; bit++) {
			memset(&tr, 0, sizeof(tr));
			tr.reserved[i] = BIT_ULL(bit);
			EXPECT_EQ(-EINVAL, __kcm_track_start(self->ssess, &tr));
		}
	}
	/* Tracked since START; a refused TRACK_START changed nothing. */
	EXPECT_EQ(NPAGES, kcm_status(self->ssess).tracked);
	EXPECT_EQ(-EBADFD, __kcm_get_dirty(self->ssess, DATA_GFN, NPAGES, bitmap, NULL));
	memset(&tr, 0, sizeof(tr));
	ASSERT_EQ(0, __kcm_track_start(self->ssess, &tr));

	for (bit = 0; bit < 32; bit++) {
		memset(&d, 0, sizeof(d));
		d.first_gfn = DATA_GFN;
		d.nr_gfns = NPAGES;
		d.bitmap_uaddr = (uintptr_t)bitmap;
		d.flags = 1u << bit;
		/* Bit 0 is F_SHARED: shared_dirty_test's. */
		if (d.flags != KVM_COCO_MIG_DIRTY_F_SHARED) {
			EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_GET_DIRTY, &d));
			EXPECT_EQ(EINVAL, errno);
		}
		d.flags = 0;
		d.pad = 1u << bit;
		EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_GET_DIRTY, &d));
		EXPECT_EQ(EINVAL, errno);
	}
	for (i = 0; i < 3; i++) {
		for (bit = 0; bit < 64; bit++) {
			memset(&d, 0, sizeof(d));
			d.first_gfn = DATA_GFN;
			d.nr_gfns = NPAGES;
			d.bitmap_uaddr = (uintptr_t)bitmap;
			d.reserved[i] = BIT_ULL(bit);
			EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_GET_DIRTY, &d));
			EXPECT_EQ(EINVAL, errno);
		}
	}
	/* None of that was a round. */
	EXPECT_EQ(0, kcm_status(self->ssess).rounds);
}

TEST_F_TIMEOUT(track, ranges, TRACK_TIMEOUT)
{
	struct kvm_coco_mig_track tr = {};
	struct kvm_coco_mig_dirty d = {};
	uint64_t bitmap[NPAGES / 64 + 1], nr;

	kcm_handshake(self->ssess, self->tsess);
	ASSERT_EQ(0, __kcm_track_start(self->ssess, &tr));

	/* Queries: the memslot that holds a gfn, or the next one. */
	EXPECT_EQ(0, ioctl(self->ssess, KVM_COCO_MIG_GET_DIRTY, &d));
	EXPECT_EQ(DATA_GFN, d.first_gfn);
	EXPECT_EQ(NPAGES, d.nr_gfns);
	d.first_gfn = DATA_GFN + 100;
	d.nr_gfns = 0;
	EXPECT_EQ(0, ioctl(self->ssess, KVM_COCO_MIG_GET_DIRTY, &d));
	EXPECT_EQ(DATA_GFN, d.first_gfn);
	d.first_gfn = DATA_GFN + NPAGES;
	d.nr_gfns = 0;
	EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_GET_DIRTY, &d));
	EXPECT_EQ(ENOENT, errno);

	/* Not tracked: below, above, in the memslot without guest_memfd. */
	EXPECT_EQ(-ENOENT, __kcm_get_dirty(self->ssess, DATA_GFN - 64, 64, bitmap, NULL));
	EXPECT_EQ(-ENOENT, __kcm_get_dirty(self->ssess, DATA_GFN + NPAGES, 64, bitmap, NULL));
	EXPECT_EQ(-ENOENT, __kcm_get_dirty(self->ssess, 0, 64, bitmap, NULL));
	/* Misaligned, too long, a ragged end short of the memslot's. */
	EXPECT_EQ(-EINVAL, __kcm_get_dirty(self->ssess, DATA_GFN + 1, 64, bitmap, NULL));
	EXPECT_EQ(-EINVAL, __kcm_get_dirty(self->ssess, DATA_GFN + 32, 64, bitmap, NULL));
	EXPECT_EQ(-EINVAL, __kcm_get_dirty(self->ssess, DATA_GFN, NPAGES + 64, bitmap, NULL));
	EXPECT_EQ(-EINVAL, __kcm_get_dirty(self->ssess, DATA_GFN + 64, NPAGES, bitmap, NULL));
	EXPECT_EQ(-EINVAL, __kcm_get_dirty(self->ssess, DATA_GFN, 100, bitmap, NULL));
	EXPECT_EQ(-EINVAL, __kcm_get_dirty(self->ssess, DATA_GFN, ~0ull, bitmap, NULL));
	EXPECT_EQ(0, kcm_status(self->ssess).rounds);

	/* Good: a 64-gfn range, and the rest to the memslot's end. */
	EXPECT_EQ(0, __kcm_get_dirty(self->ssess, DATA_GFN + 128, 64, bitmap, &nr));
	EXPECT_EQ(0, nr);
	EXPECT_EQ(0, __kcm_get_dirty(self->ssess, DATA_GFN + 192, NPAGES - 192, bitmap, &nr));
	EXPECT_EQ(2, kcm_status(self->ssess).rounds);
}

TEST_F_TIMEOUT(track, fault_in_bitmap_keeps_bits, TRACK_TIMEOUT)
{
	struct kvm_coco_mig_track tr = {};
	uint64_t bitmap[NPAGES / 64], nr;
	int i;

	kcm_handshake(self->ssess, self->tsess);
	ASSERT_EQ(0, __kcm_track_start(self->ssess, &tr));
	kcm_run_sync(self->l.svcpu[0]);		/* writes every page */
	EXPECT_EQ(-EFAULT, __kcm_get_dirty(self->ssess, DATA_GFN, NPAGES, (void *)8, NULL));
	EXPECT_EQ(0, kcm_status(self->ssess).rounds);
	/* Nothing was lost. */
	ASSERT_EQ(0, __kcm_get_dirty(self->ssess, DATA_GFN, NPAGES, bitmap, &nr));
	EXPECT_EQ(NPAGES, nr);
	for (i = 0; i < NPAGES / 64; i++)
		EXPECT_EQ(~0ull, bitmap[i]);
	/* Harvested: the next report is empty. */
	ASSERT_EQ(0, __kcm_get_dirty(self->ssess, DATA_GFN, NPAGES, bitmap, &nr));
	EXPECT_EQ(0, nr);
}

TEST_F_TIMEOUT(track, finish_refuses_unmigrated, TRACK_TIMEOUT)
{
	struct kvm_coco_mig_track tr = {};
	uint64_t bitmap[NPAGES / 64], gfns[NPAGES], nr;
	uint8_t state[8] = "VM st", back[8];
	uint32_t len = 1 << 16, olen;
	void *out = malloc(len), *fin;
	int i;

	kcm_handshake(self->ssess, self->tsess);
	ASSERT_EQ(0, __kcm_track_start(self->ssess, &tr));
	/* Every private page is unsent until packaged. */
	EXPECT_EQ(-ENODATA, __kcm_blob(self->ssess, KVM_COCO_MIG_FINISH, state, sizeof(state),
				       out, &len));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->ssess).state);
	for (i = 0; i < NPAGES; i++)
		gfns[i] = DATA_GFN + i;
	kcm_xfer(self->ssess, self->tsess, gfns, NPAGES);

	/* Written since, not collected: -EBUSY, and the source lives. */
	kcm_run_sync(self->l.svcpu[0]);
	len = 1 << 16;
	EXPECT_EQ(-EBUSY, __kcm_blob(self->ssess, KVM_COCO_MIG_FINISH, state, sizeof(state),
				     out, &len));
	/* Collected, not packaged: -ENODATA. */
	ASSERT_EQ(0, __kcm_get_dirty(self->ssess, DATA_GFN, NPAGES, bitmap, &nr));
	EXPECT_EQ(NPAGES, nr);
	len = 1 << 16;
	EXPECT_EQ(-ENODATA, __kcm_blob(self->ssess, KVM_COCO_MIG_FINISH, state, sizeof(state),
				       out, &len));
	free(out);
	kcm_xfer(self->ssess, self->tsess, gfns, NPAGES);
	EXPECT_EQ(NPAGES, kcm_status(self->tsess).resent);
	EXPECT_EQ(0, kcm_status(self->tsess).unchanged);	/* each page changed */

	/* Complete now: FINISH, and the target checks it. */
	kcm_pass_vcpus(self->ssess, self->tsess, 1);
	fin = kcm_blob_out(self->ssess, KVM_COCO_MIG_FINISH, state, sizeof(state), &len);
	olen = sizeof(back);
	EXPECT_EQ(0, __kcm_blob(self->tsess, KVM_COCO_MIG_FINISH, fin, len, back, &olen));
	EXPECT_EQ(0, memcmp(back, state, sizeof(state)));
	free(fin);
}

/* A private gfn on the source that is shared on the target fails FINISH. */
TEST_F_TIMEOUT(track, attribute_mismatch_fails_target, TRACK_TIMEOUT)
{
	uint8_t state[8] = "VM st", back[8];
	uint64_t gfns[NPAGES];
	uint32_t len, olen = sizeof(back);
	void *fin;
	int i;

	kcm_handshake(self->ssess, self->tsess);
	for (i = 0; i < NPAGES; i++)
		gfns[i] = DATA_GFN + i;
	kcm_xfer(self->ssess, self->tsess, gfns, NPAGES);
	vm_set_memory_attributes(self->l.tgt, DATA_GPA + 5 * PAGE_SIZE, PAGE_SIZE, 0);
	kcm_pass_vcpus(self->ssess, self->tsess, 1);
	fin = kcm_blob_out(self->ssess, KVM_COCO_MIG_FINISH, state, sizeof(state), &len);
	EXPECT_EQ(-ENODATA, __kcm_blob(self->tsess, KVM_COCO_MIG_FINISH, fin, len, back, &olen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_FAILED, kcm_status(self->tsess).state);
	EXPECT_EQ(KVM_COCO_MIG_VM_DEAD, kcm_status(self->tsess).vm);
	free(fin);
}

/*
 * A VM without guest_memfd has no private memory to track. Quiet: at most
 * 5 s (two VMs without memory).
 */
TEST_F_TIMEOUT(dirty, no_guest_memfd, 60)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_coco_mig_track tr = {};
	struct kvm_vm *src, *tgt;
	int dev, ssess, tsess;

	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	dev = kcm_dev();
	src = ____vm_create(shape);
	tgt = ____vm_create(shape);
	ssess = kcm_session(dev, src, KVM_COCO_MIG_ROLE_SOURCE);
	tsess = kcm_session(dev, tgt, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(ssess, tsess);
	EXPECT_EQ(-ENOENT, __kcm_track_start(ssess, &tr));
	EXPECT_EQ(0, kcm_status(ssess).tracked);
	close(ssess);
	close(tsess);
	kvm_vm_free(src);
	kvm_vm_free(tgt);
	close(dev);
}

TEST_HARNESS_MAIN
