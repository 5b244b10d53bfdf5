// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig: dirty tracking of guest_memfd private memory cannot be
 * bypassed (sw backend).
 *
 * bypass.prefault_*: KVM_PRE_FAULT_MEMORY maps private memory without a
 * guest page fault; a guest write through that mapping is still reported,
 * and FINISH refuses until it is packaged.
 *
 * bypass.slot_*: a guest_memfd memslot added, deleted, moved or bound to
 * another file or offset after tracking began refuses GET_DIRTY and
 * FINISH with ESTALE, the guest alive; other memslot changes, and a
 * guest_memfd memslot created again exactly as it was, do not (but a
 * write through the file bound elsewhere meanwhile costs a full resend).
 *
 * nested.*: a write by a nested (L2) guest, with and without nested paging
 * in L1, is reported like any other, and FINISH succeeds once it is sent.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm_coco_mig.h>

#include "kvm_util.h"
#include "processor.h"
#include "svm_util.h"
#include "kselftest_harness.h"
#include "coco_mig_util.h"

#define DATA_GPA	BIT_ULL(32)
#define DATA_GFN	(DATA_GPA / PAGE_SIZE)
#define DATA_SLOT	10
#define EXTRA_SLOT	11
#define PLAIN_SLOT	12
#define NPAGES		256		/* 1 MiB of private memory */
#define MEMFD_PAGES	(2 * NPAGES)	/* room to bind at another offset */
#define OTHER_GPA	(DATA_GPA + BIT_ULL(30))
#define NO_PAGE		(~0ull)
#define L2_PAGE		42

/*
 * Each test, quiet: at most 10 s (two VMs of 1 MiB, every page sealed and
 * opened once or twice). Timeout: 3x for a busy host, x4 (coco_mig_util.h).
 */
#define BYPASS_TIMEOUT	120

/* Guest globals, in shared memory. */
static uint64_t which = NO_PAGE;
static uint64_t stamp;

static uint64_t *guest_page(uint64_t i)
{
	return (uint64_t *)(DATA_GPA + i * PAGE_SIZE);
}

/*
 * After each sync, write page @which (if any) with @stamp; a @which of
 * NPAGES or more (but not NO_PAGE) is the gpa to write instead.
 */
static void guest_writer(void)
{
	for (;;) {
		uint64_t w;

		GUEST_SYNC(0);
		w = READ_ONCE(which);
		if (w < NPAGES)
			WRITE_ONCE(guest_page(w)[0], READ_ONCE(stamp));
		else if (w != NO_PAGE)
			WRITE_ONCE(*(uint64_t *)w, READ_ONCE(stamp));
	}
}

static void kcm_run_to(struct kvm_vcpu *vcpu, uint64_t want)
{
	TEST_ASSERT_EQ(kcm_run_sync(vcpu), want);
}

/*
 * A SW-protected VM with NPAGES of private memory at DATA_GPA in DATA_SLOT,
 * backed by the first NPAGES of @memfd (MEMFD_PAGES long), which the
 * caller keeps to bind again.
 */
static struct kvm_vm *kcm_gmem_vm(void *guest_code, struct kvm_vcpu **vcpu,
				  int *memfd)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_vm *vm;

	vm = __vm_create_with_vcpus(shape, 1, 64 + MEMFD_PAGES / 256, guest_code, vcpu);
	*memfd = vm_create_guest_memfd(vm, MEMFD_PAGES * PAGE_SIZE, 0);
	vm_mem_add(vm, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT, NPAGES,
		   KVM_MEM_GUEST_MEMFD, *memfd, 0);
	virt_map(vm, DATA_GPA, DATA_GPA, NPAGES);
	vm_mem_set_private(vm, DATA_GPA, NPAGES * PAGE_SIZE);
	return vm;
}

/* A source and a target, sessions keyed, tracking on, everything sent. */
struct kcm_pair {
	int dev, ssess, tsess, smemfd, tmemfd;
	struct kvm_vm *src, *tgt;
	struct kvm_vcpu *svcpu, *tvcpu;
};

static void kcm_pair_start(struct kcm_pair *p)
{
	struct kvm_coco_mig_track tr = {};
	uint64_t gfns[NPAGES], bitmap[NPAGES / 64], nr;
	int i, r;

	p->dev = kcm_dev();
	p->ssess = kcm_session(p->dev, p->src, KVM_COCO_MIG_ROLE_SOURCE);
	p->tsess = kcm_session(p->dev, p->tgt, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(p->ssess, p->tsess);
	r = __kcm_track_start(p->ssess, &tr);
	TEST_ASSERT(!r, "TRACK_START: %s", strerror(-r));
	TEST_ASSERT_EQ(tr.nr_gfns, NPAGES);
	for (i = 0; i < NPAGES; i++)
		gfns[i] = DATA_GFN + i;
	kcm_xfer(p->ssess, p->tsess, gfns, NPAGES);
	/* The guest wrote nothing private since: an empty report. */
	r = __kcm_get_dirty(p->ssess, DATA_GFN, NPAGES, bitmap, &nr);
	TEST_ASSERT(!r && !nr, "GET_DIRTY: %s, %lu dirty", strerror(-r), nr);
}

static void kcm_pair_end(struct kcm_pair *p)
{
	close(p->ssess);
	close(p->tsess);
	kcm_vm_free(p->src);
	kcm_vm_free(p->tgt);
	close(p->smemfd);
	close(p->tmemfd);
	close(p->dev);
}

/* Package the gfns set in @bitmap (of the data slot) and receive them. */
static uint32_t kcm_send_bitmap(struct kcm_pair *p, const uint64_t *bitmap)
{
	uint64_t gfns[NPAGES];
	uint32_t n = 0, i;

	for (i = 0; i < NPAGES; i++)
		if (bitmap[i / 64] & BIT_ULL(i % 64))
			gfns[n++] = DATA_GFN + i;
	if (n)
		kcm_xfer(p->ssess, p->tsess, gfns, n);
	return n;
}

/* The VMM's VM-wide state, as far as these tests care. */
static uint8_t vm_state[64] = "bypass_test VM state";

/* The vCPU records, source FINISH, then the target's, all succeeding. */
static void kcm_finish_both(struct kcm_pair *p)
{
	uint8_t back[sizeof(vm_state)];
	uint32_t len, blen = sizeof(back);
	void *fin;
	int r;

	kcm_pass_vcpus(p->ssess, p->tsess, 1);
	fin = kcm_blob_out(p->ssess, KVM_COCO_MIG_FINISH, vm_state,
			   sizeof(vm_state), &len);
	r = __kcm_blob(p->tsess, KVM_COCO_MIG_FINISH, fin, len, back, &blen);
	TEST_ASSERT(!r, "target FINISH: %s", strerror(-r));
	TEST_ASSERT_EQ(blen, sizeof(vm_state));
	TEST_ASSERT(!memcmp(back, vm_state, blen), "VM state changed");
	free(fin);
}

/* A source FINISH that is meant to fail: the errno. */
static int kcm_try_finish(int sess)
{
	uint32_t len = 1 << 16;
	void *out = malloc(len);
	int r = __kcm_blob(sess, KVM_COCO_MIG_FINISH, vm_state,
			   sizeof(vm_state), out, &len);

	free(out);
	return r;
}

FIXTURE(bypass) {
	struct kcm_pair p;
};

FIXTURE_SETUP(bypass)
{
	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	self->p.src = kcm_gmem_vm(guest_writer, &self->p.svcpu, &self->p.smemfd);
	self->p.tgt = kcm_gmem_vm(guest_writer, &self->p.tvcpu, &self->p.tmemfd);
	kcm_run_to(self->p.svcpu, 0);		/* at its first sync */
	kcm_pair_start(&self->p);
}

FIXTURE_TEARDOWN(bypass)
{
	if (self->p.dev)
		kcm_pair_end(&self->p);
}

/* The guest writes private page @page (or nothing: NO_PAGE). */
static void kcm_guest_write(struct kcm_pair *p, uint64_t page)
{
	which = page;
	stamp++;
	sync_global_to_guest(p->src, which);
	sync_global_to_guest(p->src, stamp);
	kcm_run_to(p->svcpu, 0);
}

static void kcm_prefault(struct kvm_vcpu *vcpu, uint64_t gpa, uint64_t size)
{
	struct kvm_pre_fault_memory range = { .gpa = gpa, .size = size };

	while (range.size) {
		TEST_ASSERT(!__vcpu_ioctl(vcpu, KVM_PRE_FAULT_MEMORY, &range),
			    "KVM_PRE_FAULT_MEMORY: %s", strerror(errno));
	}
}

/* Mapped by KVM_PRE_FAULT_MEMORY, then written: the write is reported. */
TEST_F_TIMEOUT(bypass, prefault_one, BYPASS_TIMEOUT)
{
	uint64_t bitmap[NPAGES / 64], nr;
	int i;

	if (!kvm_has_cap(KVM_CAP_PRE_FAULT_MEMORY))
		SKIP(return, "KVM_PRE_FAULT_MEMORY is not supported");
	kcm_prefault(self->p.svcpu, DATA_GPA + 7 * PAGE_SIZE, PAGE_SIZE);
	kcm_guest_write(&self->p, 7);

	/* Written since the last report: FINISH refuses, the source lives. */
	ASSERT_EQ(-EBUSY, kcm_try_finish(self->p.ssess));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->p.ssess).state);

	ASSERT_EQ(0, __kcm_get_dirty(self->p.ssess, DATA_GFN, NPAGES, bitmap, &nr));
	EXPECT_EQ(1, nr);
	for (i = 0; i < NPAGES / 64; i++)
		EXPECT_EQ(i ? 0 : BIT_ULL(7), bitmap[i]);
	EXPECT_EQ(-ENODATA, kcm_try_finish(self->p.ssess));
	kcm_send_bitmap(&self->p, bitmap);
	kcm_finish_both(&self->p);
}

/*
 * The whole memslot pre-faulted, then written: the write is in the next
 * report (with whatever else was mapped), and a write after that report
 * is in the one after, alone.
 */
TEST_F_TIMEOUT(bypass, prefault_all, BYPASS_TIMEOUT)
{
	uint64_t bitmap[NPAGES / 64], nr;
	int i;

	if (!kvm_has_cap(KVM_CAP_PRE_FAULT_MEMORY))
		SKIP(return, "KVM_PRE_FAULT_MEMORY is not supported");
	kcm_prefault(self->p.svcpu, DATA_GPA, NPAGES * PAGE_SIZE);
	kcm_guest_write(&self->p, 3);
	ASSERT_EQ(0, __kcm_get_dirty(self->p.ssess, DATA_GFN, NPAGES, bitmap, &nr));
	ksft_print_msg("after pre-faulting %d pages and writing one: %lu reported\n",
		       NPAGES, nr);
	EXPECT_TRUE(bitmap[0] & BIT_ULL(3));
	kcm_send_bitmap(&self->p, bitmap);

	kcm_guest_write(&self->p, 200);
	ASSERT_EQ(0, __kcm_get_dirty(self->p.ssess, DATA_GFN, NPAGES, bitmap, &nr));
	EXPECT_EQ(1, nr);
	for (i = 0; i < NPAGES / 64; i++)
		EXPECT_EQ(i == 200 / 64 ? BIT_ULL(200 % 64) : 0, bitmap[i]);
	kcm_send_bitmap(&self->p, bitmap);
	kcm_finish_both(&self->p);
}

/*
 * A guest_memfd memslot changed: GET_DIRTY (also a query) and FINISH
 * refuse with ESTALE, for good; the guest runs on and CANCEL works.
 */
static void kcm_expect_stale(struct __test_metadata *_metadata, struct kcm_pair *p)
{
	struct kvm_coco_mig_dirty q = {};
	uint64_t bitmap[NPAGES / 64];

	EXPECT_EQ(-ESTALE, __kcm_get_dirty(p->ssess, DATA_GFN, NPAGES, bitmap, NULL));
	EXPECT_EQ(-1, ioctl(p->ssess, KVM_COCO_MIG_GET_DIRTY, &q));
	EXPECT_EQ(ESTALE, errno);
	EXPECT_EQ(-ESTALE, kcm_try_finish(p->ssess));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(p->ssess).state);
	kcm_guest_write(p, NO_PAGE);		/* alive */
	EXPECT_EQ(-ESTALE, __kcm_get_dirty(p->ssess, DATA_GFN, NPAGES, bitmap, NULL));
	EXPECT_EQ(-ESTALE, kcm_try_finish(p->ssess));
	EXPECT_EQ(0, ioctl(p->ssess, KVM_COCO_MIG_CANCEL, 0));
	kcm_guest_write(p, NO_PAGE);
}

TEST_F_TIMEOUT(bypass, slot_deleted, BYPASS_TIMEOUT)
{
	vm_mem_region_delete(self->p.src, DATA_SLOT);
	kcm_expect_stale(_metadata, &self->p);
}

TEST_F_TIMEOUT(bypass, slot_added, BYPASS_TIMEOUT)
{
	/* The second half of the same guest_memfd, at other gfns. */
	vm_mem_add(self->p.src, VM_MEM_SRC_ANONYMOUS, OTHER_GPA, EXTRA_SLOT, NPAGES,
		   KVM_MEM_GUEST_MEMFD, self->p.smemfd, NPAGES * PAGE_SIZE);
	kcm_expect_stale(_metadata, &self->p);
}

TEST_F_TIMEOUT(bypass, slot_moved, BYPASS_TIMEOUT)
{
	vm_mem_region_delete(self->p.src, DATA_SLOT);
	vm_mem_add(self->p.src, VM_MEM_SRC_ANONYMOUS, OTHER_GPA, DATA_SLOT, NPAGES,
		   KVM_MEM_GUEST_MEMFD, self->p.smemfd, 0);
	kcm_expect_stale(_metadata, &self->p);
}

TEST_F_TIMEOUT(bypass, slot_rebound_offset, BYPASS_TIMEOUT)
{
	vm_mem_region_delete(self->p.src, DATA_SLOT);
	vm_mem_add(self->p.src, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT, NPAGES,
		   KVM_MEM_GUEST_MEMFD, self->p.smemfd, NPAGES * PAGE_SIZE);
	kcm_expect_stale(_metadata, &self->p);
}

TEST_F_TIMEOUT(bypass, slot_rebound_file, BYPASS_TIMEOUT)
{
	int memfd = vm_create_guest_memfd(self->p.src, NPAGES * PAGE_SIZE, 0);

	vm_mem_region_delete(self->p.src, DATA_SLOT);
	vm_mem_add(self->p.src, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT, NPAGES,
		   KVM_MEM_GUEST_MEMFD, memfd, 0);
	close(memfd);
	kcm_expect_stale(_metadata, &self->p);
}

/*
 * The tracked memslot's file bound at other gfns for a while, written
 * there, and the memslot created again as it was before any check: the
 * memslots match again, but the file's pages changed behind the tracked
 * gfns. The next report is a full resend, which carries the write.
 */
TEST_F_TIMEOUT(bypass, slot_rebound_in_between, BYPASS_TIMEOUT)
{
	uint64_t bitmap[NPAGES / 64], nr;

	vm_mem_region_delete(self->p.src, DATA_SLOT);
	vm_mem_add(self->p.src, VM_MEM_SRC_ANONYMOUS, OTHER_GPA, EXTRA_SLOT, NPAGES,
		   KVM_MEM_GUEST_MEMFD, self->p.smemfd, 0);
	vm_mem_set_private(self->p.src, OTHER_GPA, NPAGES * PAGE_SIZE);
	virt_map(self->p.src, OTHER_GPA, OTHER_GPA, NPAGES);
	/* File page 5, which the tracker knows as DATA_GFN + 5. */
	kcm_guest_write(&self->p, OTHER_GPA + 5 * PAGE_SIZE);
	vm_mem_region_delete(self->p.src, EXTRA_SLOT);
	/* Private on the source only, those gfns would fail the target. */
	vm_mem_set_shared(self->p.src, OTHER_GPA, NPAGES * PAGE_SIZE);
	vm_mem_add(self->p.src, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT, NPAGES,
		   KVM_MEM_GUEST_MEMFD, self->p.smemfd, 0);

	EXPECT_EQ(-EBUSY, kcm_try_finish(self->p.ssess));
	ASSERT_EQ(0, __kcm_get_dirty(self->p.ssess, DATA_GFN, NPAGES, bitmap, &nr));
	EXPECT_EQ(NPAGES, nr);
	EXPECT_TRUE(bitmap[0] & BIT_ULL(5));
	kcm_send_bitmap(&self->p, bitmap);
	ASSERT_EQ(0, __kcm_get_dirty(self->p.ssess, DATA_GFN, NPAGES, bitmap, &nr));
	EXPECT_EQ(0, nr);
	kcm_finish_both(&self->p);
}

/*
 * Not changes of the tracked memory: a memslot without guest_memfd added
 * and deleted, dirty logging turned on for one, and the guest_memfd
 * memslot deleted and created again as it was (same gfns, file, offset:
 * same contents). The migration goes on, and a write made through the new
 * memslot is reported.
 */
TEST_F_TIMEOUT(bypass, other_changes_are_not_stale, BYPASS_TIMEOUT)
{
	uint64_t bitmap[NPAGES / 64], nr;

	vm_userspace_mem_region_add(self->p.src, VM_MEM_SRC_ANONYMOUS, OTHER_GPA,
				    PLAIN_SLOT, 16, 0);
	EXPECT_EQ(0, __kcm_get_dirty(self->p.ssess, DATA_GFN, NPAGES, bitmap, &nr));
	vm_mem_region_set_flags(self->p.src, 0, KVM_MEM_LOG_DIRTY_PAGES);
	vm_mem_region_delete(self->p.src, PLAIN_SLOT);
	EXPECT_EQ(0, __kcm_get_dirty(self->p.ssess, DATA_GFN, NPAGES, bitmap, &nr));
	EXPECT_EQ(0, nr);

	vm_mem_region_delete(self->p.src, DATA_SLOT);
	vm_mem_add(self->p.src, VM_MEM_SRC_ANONYMOUS, DATA_GPA, DATA_SLOT, NPAGES,
		   KVM_MEM_GUEST_MEMFD, self->p.smemfd, 0);
	ASSERT_EQ(0, __kcm_get_dirty(self->p.ssess, DATA_GFN, NPAGES, bitmap, &nr));
	EXPECT_EQ(0, nr);
	kcm_guest_write(&self->p, 9);
	ASSERT_EQ(0, __kcm_get_dirty(self->p.ssess, DATA_GFN, NPAGES, bitmap, &nr));
	EXPECT_EQ(1, nr);
	EXPECT_EQ(BIT_ULL(9), bitmap[0]);
	kcm_send_bitmap(&self->p, bitmap);
	kcm_finish_both(&self->p);
}

/* Nested: L1 runs L2, which writes one private page and exits. */
#define L2_STACK_WORDS	256

static void l2_code(void)
{
	WRITE_ONCE(guest_page(L2_PAGE)[0], 0xf00d);
	vmmcall();
}

static void l1_code(struct svm_test_data *svm, uint64_t ncr3)
{
	unsigned long l2_stack[L2_STACK_WORDS];

	GUEST_SYNC(1);
	generic_svm_setup(svm, l2_code, &l2_stack[L2_STACK_WORDS]);
	if (ncr3) {
		svm->vmcb->control.nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
		svm->vmcb->control.nested_cr3 = ncr3;
	}
	run_guest(svm->vmcb, svm->vmcb_gpa);
	GUEST_ASSERT_EQ(svm->vmcb->control.exit_code, SVM_EXIT_VMMCALL);
	GUEST_SYNC(2);
	GUEST_DONE();
}

/*
 * Nested page tables for L2: identity over the first 8 GiB of L1's
 * physical memory, 2 MiB pages, in L1's (shared) memory. Returns the gpa
 * of the top table.
 */
static uint64_t kcm_identity_npt(struct kvm_vm *vm)
{
	const uint64_t rwx_user = 0x7, large = BIT_ULL(7);
	vm_vaddr_t pml4 = vm_vaddr_alloc_page(vm), pdpt = vm_vaddr_alloc_page(vm);
	uint64_t *hpml4 = addr_gva2hva(vm, pml4), *hpdpt = addr_gva2hva(vm, pdpt);
	int i, j;

	memset(hpml4, 0, PAGE_SIZE);
	memset(hpdpt, 0, PAGE_SIZE);
	hpml4[0] = addr_gva2gpa(vm, pdpt) | rwx_user;
	for (i = 0; i < 8; i++) {
		vm_vaddr_t pd = vm_vaddr_alloc_page(vm);
		uint64_t *hpd = addr_gva2hva(vm, pd);

		hpdpt[i] = addr_gva2gpa(vm, pd) | rwx_user;
		for (j = 0; j < 512; j++)
			hpd[j] = ((uint64_t)i << 30) + ((uint64_t)j << 21) + (rwx_user | large);
	}
	return addr_gva2gpa(vm, pml4);
}

FIXTURE(nested) {
	struct kcm_pair p;
};

FIXTURE_VARIANT(nested) {
	bool npt;	/* L1 gives L2 nested page tables (L0: shadow MMU) */
};

FIXTURE_VARIANT_ADD(nested, no_npt) {
	.npt = false,
};

FIXTURE_VARIANT_ADD(nested, npt) {
	.npt = true,
};

FIXTURE_SETUP(nested)
{
	vm_vaddr_t svm_gva;
	uint64_t ncr3 = 0;

	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	if (!kvm_cpu_has(X86_FEATURE_SVM))
		SKIP(return, "nested SVM is not supported");
	if (variant->npt && !kvm_cpu_has(X86_FEATURE_NPT))
		SKIP(return, "nested NPT is not supported");
	self->p.src = kcm_gmem_vm(l1_code, &self->p.svcpu, &self->p.smemfd);
	self->p.tgt = kcm_gmem_vm(l1_code, &self->p.tvcpu, &self->p.tmemfd);
	vcpu_alloc_svm(self->p.src, &svm_gva);
	if (variant->npt)
		ncr3 = kcm_identity_npt(self->p.src);
	vcpu_args_set(self->p.svcpu, 2, svm_gva, ncr3);
	kcm_run_to(self->p.svcpu, 1);
	kcm_pair_start(&self->p);
}

FIXTURE_TEARDOWN(nested)
{
	if (self->p.dev)
		kcm_pair_end(&self->p);
}

/*
 * L2's write is reported. Without nested paging, L2 runs on L1's physical
 * addresses, through the TDP MMU: exactly that page. With it, L2's
 * mappings are the shadow MMU's, which the tracker cannot attribute: the
 * report is every private gfn (a full resend). Either way, FINISH succeeds
 * once the report is sent. (Before, any L2 fault made every report
 * everything and every later FINISH fail with EBUSY.)
 */
TEST_F_TIMEOUT(nested, l2_write_reported, BYPASS_TIMEOUT)
{
	uint64_t bitmap[NPAGES / 64], nr;

	kcm_run_to(self->p.svcpu, 2);
	ASSERT_EQ(0, __kcm_get_dirty(self->p.ssess, DATA_GFN, NPAGES, bitmap, &nr));
	ksft_print_msg("after L2 wrote one page: %lu reported\n", nr);
	EXPECT_TRUE(bitmap[L2_PAGE / 64] & BIT_ULL(L2_PAGE % 64));
	EXPECT_EQ(variant->npt ? NPAGES : 1, nr);
	EXPECT_EQ(-ENODATA, kcm_try_finish(self->p.ssess));
	kcm_send_bitmap(&self->p, bitmap);
	ASSERT_EQ(0, __kcm_get_dirty(self->p.ssess, DATA_GFN, NPAGES, bitmap, &nr));
	EXPECT_EQ(0, nr);
	kcm_finish_both(&self->p);
}

TEST_HARNESS_MAIN
