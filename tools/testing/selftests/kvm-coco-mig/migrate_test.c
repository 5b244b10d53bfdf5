// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig end to end, sw backend: a SW-protected guest with private
 * memory migrated to a target VM in the same process, and the target's
 * refusals (tampering, replay, another session, a moved packet, an
 * incomplete stream).
 *
 * The guest fills its private memory with a pattern derived from each gfn
 * and a seed, keeps a counter in private memory and a token in a local
 * variable, and stops at GUEST_SYNC(1). The host migrates it there: shared
 * memory (code, stack, page tables) and vCPU registers the ordinary way,
 * private pages through the module. The guest then resumes, wherever it
 * runs, and verifies every page, the counter and the token itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bearssl.h>

#include <linux/kvm_coco_mig.h>

#include "kvm_util.h"
#include "processor.h"
#include "kselftest_harness.h"
#include "coco_mig_util.h"

#define DATA_GPA	BIT_ULL(32)
#define DATA_SLOT	10
#define SEED		0x5eed0c0c0a1ull
#define SMALL_PAGES	64
#define BIG_PAGES	((64ull << 20) / PAGE_SIZE)	/* 64 MiB */
#define BATCH		512

static uint64_t kcm_pattern(uint64_t gfn, uint64_t word, uint64_t seed)
{
	return (seed ^ (gfn << 24) ^ word) * 0x9e3779b97f4a7c15ull;
}

static void guest_code(uint64_t gpa, uint64_t npages, uint64_t seed)
{
	uint64_t *counter = (uint64_t *)gpa;
	uint64_t token = seed * 3 + 1;
	uint64_t i, j;

	WRITE_ONCE(*counter, 0);
	for (i = 0; i < npages; i++) {
		uint64_t *page = (uint64_t *)(gpa + i * PAGE_SIZE);

		/* Word 0 of page 0 is the counter. */
		for (j = i ? 0 : 1; j < PAGE_SIZE / 8; j++)
			page[j] = kcm_pattern(gpa / PAGE_SIZE + i, j, seed);
		WRITE_ONCE(*counter, READ_ONCE(*counter) + 1);
	}
	GUEST_SYNC(1);

	/* Migrated (or not): everything is still there. */
	GUEST_ASSERT_EQ(READ_ONCE(*counter), npages);
	GUEST_ASSERT_EQ(token, seed * 3 + 1);
	for (i = 0; i < npages; i++) {
		uint64_t *page = (uint64_t *)(gpa + i * PAGE_SIZE);

		for (j = i ? 0 : 1; j < PAGE_SIZE / 8; j++)
			GUEST_ASSERT_EQ(page[j], kcm_pattern(gpa / PAGE_SIZE + i, j, seed));
	}
	GUEST_DONE();
}

struct kcm_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	uint64_t npages;
};

static void kcm_vm_create(struct kcm_vm *v, uint64_t npages)
{
	v->npages = npages;
	v->vm = kcm_private_vm(1, guest_code, &v->vcpu, DATA_GPA, DATA_SLOT, npages);
	vcpu_args_set(v->vcpu, 3, DATA_GPA, npages, SEED);
}

static void kcm_run_expect(struct kvm_vcpu *vcpu, uint64_t want)
{
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		TEST_ASSERT(want == UCALL_SYNC, "unexpected GUEST_SYNC(%lu)", uc.args[1]);
		break;
	case UCALL_DONE:
		TEST_ASSERT(want == UCALL_DONE, "unexpected GUEST_DONE");
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
}

/* The ordinary half of a migration: shared memory and vCPU state. */
static void kcm_move_ordinary(struct kcm_vm *src, struct kcm_vm *tgt)
{
	struct kvm_x86_state *state;

	kcm_copy_shared(src->vm, tgt->vm);
	state = vcpu_save_state(src->vcpu);
	vcpu_load_state(tgt->vcpu, state);
	kvm_x86_state_cleanup(state);
}

/* Package gfns [first, first + n) into @buf. */
static void kcm_package(int ssess, uint64_t first, uint32_t n, void *buf)
{
	uint64_t *gfns = calloc(n, sizeof(*gfns));
	uint64_t len = n * kcm_packet_size();
	uint32_t i, done;
	int r;

	for (i = 0; i < n; i++)
		gfns[i] = DATA_GPA / PAGE_SIZE + first + i;
	r = __kcm_pages(ssess, KVM_COCO_MIG_PACKAGE_PAGES, gfns, n, buf, &len, &done);
	TEST_ASSERT(!r, "PACKAGE_PAGES: %s", strerror(-r));
	TEST_ASSERT_EQ(done, n);
	TEST_ASSERT_EQ(len, kcm_pkt_at(buf, n) - (uint8_t *)buf);
	free(gfns);
}

/* CREATE_SESSION: the session fd, or -errno. */
static int kcm_try_session(int dev, struct kvm_vm *vm, uint32_t role)
{
	struct kvm_coco_mig_create c = { .vm_fd = vm->fd, .role = role };
	int fd = ioctl(dev, KVM_COCO_MIG_CREATE_SESSION, &c);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return -errno;
}

static int kcm_receive(int tsess, uint32_t n, void *buf, uint32_t *done)
{
	uint64_t len = n * kcm_packet_size();

	return __kcm_pages(tsess, KVM_COCO_MIG_RECEIVE_PAGES, NULL, n, buf, &len, done);
}

/* Every private page from source to target, in batches. */
static void kcm_transfer_all(int ssess, int tsess, uint64_t npages)
{
	void *buf = malloc(BATCH * kcm_packet_size());
	uint64_t first;
	uint32_t n, done;
	int r;

	for (first = 0; first < npages; first += n) {
		n = npages - first < BATCH ? npages - first : BATCH;
		kcm_package(ssess, first, n, buf);
		r = kcm_receive(tsess, n, buf, &done);
		TEST_ASSERT(!r, "RECEIVE_PAGES: %s", strerror(-r));
		TEST_ASSERT_EQ(done, n);
	}
	free(buf);
}

/* A stand-in for the VMM's VM-wide state, which FINISH carries. */
static uint8_t kcm_dummy_state[16] = "vm state 012345";

/* Source FINISH; -errno, or 0 with the final record in @fin, @fin_len. */
static int kcm_source_finish(int ssess, void *state, uint32_t state_len,
			     void **fin, uint32_t *fin_len)
{
	int r;

	*fin_len = 0;
	r = __kcm_blob(ssess, KVM_COCO_MIG_FINISH, state, state_len, NULL, fin_len);
	if (r)
		return r;
	*fin = calloc(1, *fin_len);
	r = __kcm_blob(ssess, KVM_COCO_MIG_FINISH, state, state_len, *fin, fin_len);
	if (r) {
		free(*fin);
		*fin = NULL;
	}
	return r;
}

/* Target FINISH with the record @fin; the VM-wide state is checked, dropped. */
static int kcm_target_finish(int tsess, void *fin, uint32_t fin_len)
{
	uint8_t out[sizeof(kcm_dummy_state)];
	uint32_t olen = sizeof(out);
	int r;

	r = __kcm_blob(tsess, KVM_COCO_MIG_FINISH, fin, fin_len, out, &olen);
	TEST_ASSERT(r || (olen == sizeof(out) && !memcmp(out, kcm_dummy_state, olen)),
		    "VM state changed in transit");
	return r;
}

/*
 * The end of a migration the way a VMM does it: each vCPU's KVM_GET_*
 * state through PACKAGE_VCPU and RECEIVE_VCPU into the target's vCPU, then
 * FINISH with the VM-wide state, which the target returns once the final
 * record verified.
 */
static int kcm_finish_with_state(int ssess, int tsess, struct kcm_vm *src,
				 struct kcm_vm *tgt)
{
	uint32_t flen, olen;
	void *fin;
	int r;

	kcm_move_vcpu(ssess, tsess, src->vcpu, tgt->vcpu);
	r = kcm_source_finish(ssess, kcm_dummy_state, sizeof(kcm_dummy_state), &fin,
			      &flen);
	TEST_ASSERT(!r, "source FINISH: %s", strerror(-r));
	olen = 0;
	r = __kcm_blob(tsess, KVM_COCO_MIG_FINISH, fin, flen, NULL, &olen);
	TEST_ASSERT(!r && olen == sizeof(kcm_dummy_state),
		    "target FINISH size query: %d, %u", r, olen);
	TEST_ASSERT_EQ(kcm_status(tsess).state, KVM_COCO_MIG_STATE_STREAMING);
	r = kcm_target_finish(tsess, fin, flen);
	free(fin);
	return r;
}

static int kcm_finish(int ssess, int tsess)
{
	uint32_t len;
	void *fin;
	int r;

	kcm_pass_vcpus(ssess, tsess, 1);
	r = kcm_source_finish(ssess, kcm_dummy_state, sizeof(kcm_dummy_state), &fin,
			      &len);
	TEST_ASSERT(!r, "source FINISH: %s", strerror(-r));
	r = kcm_target_finish(tsess, fin, len);
	free(fin);
	return r;
}

/*
 * A source guest at GUEST_SYNC(1), an empty target, keyed sessions. Each
 * test, quiet: at most 15 s (two VMs of 64 pages; tampered_header_fields
 * makes four more).
 */
#define PAIR_TIMEOUT	180

FIXTURE(pair) {
	int dev;
	struct kcm_vm src, tgt;
	int ssess, tsess;
	void *buf;
};

FIXTURE_SETUP(pair)
{
	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	self->dev = kcm_dev();
	kcm_vm_create(&self->src, SMALL_PAGES);
	kcm_vm_create(&self->tgt, SMALL_PAGES);
	kcm_run_expect(self->src.vcpu, UCALL_SYNC);
	self->ssess = kcm_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_SOURCE);
	self->tsess = kcm_session(self->dev, self->tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(self->ssess, self->tsess);
	self->buf = malloc(SMALL_PAGES * kcm_packet_size());
}

FIXTURE_TEARDOWN(pair)
{
	free(self->buf);
	close(self->ssess);
	close(self->tsess);
	if (self->src.vm)
		kcm_vm_free(self->src.vm);
	if (self->tgt.vm)
		kcm_vm_free(self->tgt.vm);
}

TEST_F_TIMEOUT(pair, migrate_small, PAIR_TIMEOUT)
{
	struct kvm_coco_mig_status st;

	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	kcm_copy_shared(self->src.vm, self->tgt.vm);
	ASSERT_EQ(0, kcm_finish_with_state(self->ssess, self->tsess, &self->src,
					   &self->tgt));

	st = kcm_status(self->ssess);
	EXPECT_EQ(KVM_COCO_MIG_STATE_FINISHED, st.state);
	EXPECT_EQ(SMALL_PAGES, st.pages);
	EXPECT_EQ(SMALL_PAGES * kcm_packet_size(), st.bytes);
	/* GET_CAPS reports the packet size PACKAGE writes. */
	EXPECT_EQ(kcm_packet_size(), kcm_sw_caps(self->dev).max_packet);
	st = kcm_status(self->tsess);
	EXPECT_EQ(KVM_COCO_MIG_STATE_FINISHED, st.state);
	EXPECT_EQ(SMALL_PAGES, st.pages);
	EXPECT_EQ(0, st.refused);

	kcm_run_expect(self->tgt.vcpu, UCALL_DONE);
	/* The source can never run again. */
	EXPECT_EQ(-1, __vcpu_run(self->src.vcpu));
	EXPECT_EQ(EIO, errno);
}

TEST_F_TIMEOUT(pair, tampered_packet_refused_memory_unchanged, PAIR_TIMEOUT)
{
	struct kvm_coco_mig_status st;
	uint8_t *pkt = self->buf;
	uint32_t done = 0;

	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	/* A newer version of page 5, with one ciphertext bit flipped. */
	kcm_package(self->ssess, 5, 1, pkt);
	pkt[KCM_PAYLOAD + 100] ^= 0x01;
	EXPECT_EQ(-EBADMSG, kcm_receive(self->tsess, 1, pkt, &done));
	EXPECT_EQ(0, done);

	/* The session is poisoned; the keys are gone; the target is dead. */
	st = kcm_status(self->tsess);
	EXPECT_EQ(KVM_COCO_MIG_STATE_FAILED, st.state);
	EXPECT_EQ(KVM_COCO_MIG_VM_DEAD, st.vm);
	EXPECT_EQ(1, st.refused);
	pkt[KCM_PAYLOAD + 100] ^= 0x01;
	EXPECT_EQ(-EIO, kcm_receive(self->tsess, 1, pkt, &done));
	EXPECT_EQ(-EIO, __kcm_blob(self->tsess, KVM_COCO_MIG_FINISH, pkt, 80, NULL, NULL));
	EXPECT_EQ(-1, __vcpu_run(self->tgt.vcpu));
	EXPECT_EQ(EIO, errno);

	/* The source is untouched: its guest checks all of its memory. */
	kcm_run_expect(self->src.vcpu, UCALL_DONE);
}

TEST_F_TIMEOUT(pair, tampered_header_fields, PAIR_TIMEOUT)
{
	static const struct { unsigned int off; uint8_t xor; int err; } cases[] = {
		{ 0, 0x01, -EPROTONOSUPPORT },	/* version */
		{ 1, 0x03, -EBADMSG },		/* type */
		{ 8, 0x01, -EBADMSG },		/* gfn: moved to the next page */
		{ 15, 0x40, -EBADMSG },		/* gfn: outside every memslot */
		{ 16, 0x40, -EBADMSG },		/* seq: renumbered up */
		{ 16, 0x01, -EBADMSG },		/* seq: renumbered down (1 -> 0) */
		{ 2, 0x01, -EBADMSG },		/* flags */
		{ 4, 0x01, -EBADMSG },		/* len */
		{ KCM_PAYLOAD + PAGE_SIZE + 3, 0x80, -EBADMSG },	/* tag */
		{ 24, 0x01, -EBADMSG },		/* gen: another version */
		{ 31, 0x10, -EBADMSG },		/* gen: far in the future */
		{ 32, 0x01, -EBADMSG },		/* stream */
		{ 36, 0x01, -EBADMSG },		/* reserved */
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct kcm_vm tgt;
		int tsess, ssess;
		uint32_t done;
		uint8_t *pkt = self->buf;

		/* Fresh sessions each time: a refusal poisons the target. */
		kcm_vm_create(&tgt, SMALL_PAGES);
		close(self->ssess);
		ssess = kcm_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_SOURCE);
		tsess = kcm_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
		kcm_handshake(ssess, tsess);
		kcm_package(ssess, 0, 1, pkt);
		pkt[cases[i].off] ^= cases[i].xor;
		EXPECT_EQ(cases[i].err, kcm_receive(tsess, 1, pkt, &done))
			TH_LOG("header byte %u", cases[i].off);
		EXPECT_EQ(KVM_COCO_MIG_STATE_FAILED, kcm_status(tsess).state);
		close(tsess);
		kcm_vm_free(tgt.vm);
		self->ssess = ssess;
	}
}

TEST_F_TIMEOUT(pair, replay_and_older_version_refused, PAIR_TIMEOUT)
{
	uint8_t *v1 = malloc(kcm_packet_size()), *v2 = malloc(kcm_packet_size());
	uint32_t done;

	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	kcm_package(self->ssess, 7, 1, v1);
	kcm_package(self->ssess, 7, 1, v2);
	ASSERT_EQ(0, kcm_receive(self->tsess, 1, v2, &done));
	EXPECT_EQ(-ESTALE, kcm_receive(self->tsess, 1, v2, &done));	/* replay */
	EXPECT_EQ(-ESTALE, kcm_receive(self->tsess, 1, v1, &done));	/* older */
	EXPECT_EQ(2, kcm_status(self->tsess).refused);
	/* Not poisoned: the migration completes. */
	kcm_move_ordinary(&self->src, &self->tgt);
	EXPECT_EQ(0, kcm_finish(self->ssess, self->tsess));
	kcm_run_expect(self->tgt.vcpu, UCALL_DONE);
	free(v1);
	free(v2);
}

TEST_F_TIMEOUT(pair, packet_of_another_session_refused, PAIR_TIMEOUT)
{
	struct kcm_vm tgt2;
	uint32_t done;
	int tsess2;

	/* A second target, keyed by a second START: a different session. */
	kcm_vm_create(&tgt2, SMALL_PAGES);
	close(self->ssess);
	self->ssess = kcm_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_SOURCE);
	tsess2 = kcm_session(self->dev, tgt2.vm, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(self->ssess, tsess2);
	kcm_package(self->ssess, 0, 1, self->buf);
	EXPECT_EQ(-EBADMSG, kcm_receive(self->tsess, 1, self->buf, &done));
	EXPECT_EQ(0, kcm_receive(tsess2, 1, self->buf, &done));
	close(tsess2);
	kcm_vm_free(tgt2.vm);
}

TEST_F_TIMEOUT(pair, missing_page_fails_finish_and_kills_target, PAIR_TIMEOUT)
{
	uint32_t done;

	kcm_package(self->ssess, 0, SMALL_PAGES, self->buf);
	ASSERT_EQ(0, kcm_receive(self->tsess, SMALL_PAGES - 1, self->buf, &done));
	kcm_move_ordinary(&self->src, &self->tgt);
	EXPECT_EQ(-ENODATA, kcm_finish(self->ssess, self->tsess));
	EXPECT_EQ(KVM_COCO_MIG_STATE_FAILED, kcm_status(self->tsess).state);
	EXPECT_EQ(-1, __vcpu_run(self->tgt.vcpu));
	EXPECT_EQ(EIO, errno);
}

TEST_F_TIMEOUT(pair, outdated_page_fails_finish, PAIR_TIMEOUT)
{
	uint32_t done;

	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	/* A newer version of page 3 is packaged but never delivered. */
	kcm_package(self->ssess, 3, 1, self->buf);
	kcm_move_ordinary(&self->src, &self->tgt);
	EXPECT_EQ(-ENODATA, kcm_finish(self->ssess, self->tsess));
	EXPECT_EQ(-1, __vcpu_run(self->tgt.vcpu));
	EXPECT_EQ(EIO, errno);
	(void)done;
}

TEST_F_TIMEOUT(pair, cancel_keeps_source_running, PAIR_TIMEOUT)
{
	uint64_t gfn = DATA_GPA / PAGE_SIZE, len = kcm_packet_size();
	uint32_t done;

	kcm_package(self->ssess, 0, 4, self->buf);
	ASSERT_EQ(0, ioctl(self->ssess, KVM_COCO_MIG_CANCEL, 0));
	EXPECT_EQ(KVM_COCO_MIG_STATE_CANCELLED, kcm_status(self->ssess).state);
	EXPECT_EQ(-EBADFD, __kcm_pages(self->ssess, KVM_COCO_MIG_PACKAGE_PAGES, &gfn, 1,
				       self->buf, &len, &done));
	EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_CANCEL, 0));
	EXPECT_EQ(EBADFD, errno);
	/* The guest keeps running and finds its memory intact. */
	kcm_run_expect(self->src.vcpu, UCALL_DONE);
	/* A new session may follow once the old one is closed. */
	close(self->ssess);
	self->ssess = kcm_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_SOURCE);
}

TEST_F_TIMEOUT(pair, batch_limits_and_gfn_checks, PAIR_TIMEOUT)
{
	uint64_t *gfns = calloc(KVM_COCO_MIG_MAX_BATCH + 1, sizeof(*gfns));
	uint64_t len;
	uint32_t done;
	int i;

	for (i = 0; i <= KVM_COCO_MIG_MAX_BATCH; i++)
		gfns[i] = DATA_GPA / PAGE_SIZE + (i % SMALL_PAGES);
	len = 0;
	EXPECT_EQ(0, __kcm_pages(self->ssess, KVM_COCO_MIG_PACKAGE_PAGES, gfns, 3,
				 NULL, &len, &done));
	EXPECT_EQ(3 * kcm_packet_size(), len);		/* size query */
	len = 2 * kcm_packet_size();
	EXPECT_EQ(-ENOSPC, __kcm_pages(self->ssess, KVM_COCO_MIG_PACKAGE_PAGES, gfns, 3,
				       self->buf, &len, &done));
	EXPECT_EQ(3 * kcm_packet_size(), len);
	len = ~0ull;
	EXPECT_EQ(-E2BIG, __kcm_pages(self->ssess, KVM_COCO_MIG_PACKAGE_PAGES, gfns,
				      KVM_COCO_MIG_MAX_BATCH + 1, self->buf, &len, &done));
	len = ~0ull;
	EXPECT_EQ(-EINVAL, __kcm_pages(self->ssess, KVM_COCO_MIG_PACKAGE_PAGES, gfns, 0,
				       self->buf, &len, &done));

	/* A shared gfn, and one outside any guest_memfd memslot. */
	vm_mem_set_shared(self->src.vm, DATA_GPA + PAGE_SIZE, PAGE_SIZE);
	len = kcm_packet_size();
	gfns[0] = DATA_GPA / PAGE_SIZE + 1;
	EXPECT_EQ(-EINVAL, __kcm_pages(self->ssess, KVM_COCO_MIG_PACKAGE_PAGES, gfns, 1,
				       self->buf, &len, &done));
	/* A refused batch reports zero bytes written: reset the room. */
	EXPECT_EQ(0, len);
	len = kcm_packet_size();
	gfns[0] = 1ull << 40;
	EXPECT_EQ(-ENOENT, __kcm_pages(self->ssess, KVM_COCO_MIG_PACKAGE_PAGES, gfns, 1,
				       self->buf, &len, &done));
	len = kcm_packet_size();
	gfns[0] = 0;	/* memslot 0: no guest_memfd */
	EXPECT_EQ(-ENOENT, __kcm_pages(self->ssess, KVM_COCO_MIG_PACKAGE_PAGES, gfns, 1,
				       self->buf, &len, &done));
	EXPECT_EQ(0, kcm_status(self->ssess).pages);	/* nothing was produced */

	/* Bad pointers. */
	len = kcm_packet_size();
	EXPECT_EQ(-EFAULT, __kcm_pages(self->ssess, KVM_COCO_MIG_PACKAGE_PAGES, (void *)8, 1,
				       self->buf, &len, &done));
	gfns[0] = DATA_GPA / PAGE_SIZE;
	len = kcm_packet_size();
	EXPECT_EQ(-EFAULT, __kcm_pages(self->ssess, KVM_COCO_MIG_PACKAGE_PAGES, gfns, 1,
				       (void *)8, &len, &done));
	EXPECT_EQ(-EFAULT, kcm_receive(self->tsess, 1, (void *)8, &done));
	free(gfns);
}

TEST_F_TIMEOUT(pair, wrong_role_and_state, PAIR_TIMEOUT)
{
	uint64_t gfn = DATA_GPA / PAGE_SIZE, len = kcm_packet_size();
	uint32_t done, olen = 0;

	/* Operations of the other role. */
	EXPECT_EQ(-EINVAL, __kcm_pages(self->tsess, KVM_COCO_MIG_PACKAGE_PAGES, &gfn, 1,
				       self->buf, &len, &done));
	EXPECT_EQ(-EINVAL, kcm_receive(self->ssess, 1, self->buf, &done));
	EXPECT_EQ(-EINVAL, __kcm_blob(self->ssess, KVM_COCO_MIG_GET_MIGRATION_DATA,
				      NULL, 0, NULL, &olen));
	EXPECT_EQ(-1, ioctl(self->tsess, KVM_COCO_MIG_CANCEL, 0));
	EXPECT_EQ(EINVAL, errno);
	/* Too late: the keys are agreed. */
	EXPECT_EQ(-EBADFD, __kcm_blob(self->tsess, KVM_COCO_MIG_GET_MIGRATION_DATA,
				      NULL, 0, NULL, &olen));
	EXPECT_EQ(-EBADFD, __kcm_blob(self->ssess, KVM_COCO_MIG_START, self->buf, 8,
				      NULL, &olen));
	EXPECT_EQ(-EBADFD, __kcm_blob(self->tsess, KVM_COCO_MIG_ACCEPT, self->buf, 8,
				      NULL, NULL));
}

TEST_F_TIMEOUT(pair, blob_reserved_fields, PAIR_TIMEOUT)
{
	struct kvm_coco_mig_blob b;
	int i, bit;

	for (i = 0; i < 4; i++) {
		for (bit = 0; bit < 64; bit += 7) {
			memset(&b, 0, sizeof(b));
			b.reserved[i] = 1ull << bit;
			EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_FINISH, &b));
			EXPECT_EQ(EINVAL, errno);
		}
	}
	for (bit = 0; bit < 32; bit++) {
		memset(&b, 0, sizeof(b));
		b.flags = 1u << bit;
		EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_FINISH, &b));
		EXPECT_EQ(EINVAL, errno);
		memset(&b, 0, sizeof(b));
		b.pad = 1u << bit;
		EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_FINISH, &b));
		EXPECT_EQ(EINVAL, errno);
	}
	/* Input rules: START needs one, at most KVM_COCO_MIG_MAX_BLOB long. */
	memset(&b, 0, sizeof(b));
	EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_START, &b));
	EXPECT_EQ(EINVAL, errno);
	b.in_len = KVM_COCO_MIG_MAX_BLOB + 1;
	b.in_uaddr = (uintptr_t)self->buf;
	EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_FINISH, &b));
	EXPECT_EQ(EINVAL, errno);
	/* ACCEPT writes nothing, so it takes no output buffer. */
	memset(&b, 0, sizeof(b));
	b.in_len = 8;
	b.in_uaddr = (uintptr_t)self->buf;
	b.out_len = 8;
	EXPECT_EQ(-1, ioctl(self->tsess, KVM_COCO_MIG_ACCEPT, &b));
	EXPECT_EQ(EINVAL, errno);
	/* GET_MIGRATION_DATA takes no input. */
	memset(&b, 0, sizeof(b));
	b.in_len = 8;
	b.in_uaddr = (uintptr_t)self->buf;
	EXPECT_EQ(-1, ioctl(self->tsess, KVM_COCO_MIG_GET_MIGRATION_DATA, &b));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->ssess).state);
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->tsess).state);
}

struct kcm_packager {
	int sess;
	uint64_t first;
	void *buf;
	int err;
};

static void *kcm_packager_thread(void *arg)
{
	struct kcm_packager *p = arg;
	uint64_t gfns[SMALL_PAGES / 2], len = sizeof(gfns) / 8 * kcm_packet_size();
	uint32_t i, done;

	for (i = 0; i < SMALL_PAGES / 2; i++)
		gfns[i] = DATA_GPA / PAGE_SIZE + p->first + i;
	p->err = __kcm_pages(p->sess, KVM_COCO_MIG_PACKAGE_PAGES, gfns, SMALL_PAGES / 2,
			     p->buf, &len, &done);
	if (!p->err && done != SMALL_PAGES / 2)
		p->err = -ERANGE;
	return NULL;
}

/* Two threads driving one session: serialised, every packet distinct. */
TEST_F_TIMEOUT(pair, two_threads_one_session, PAIR_TIMEOUT)
{
	size_t half = SMALL_PAGES / 2 * kcm_packet_size();
	struct kcm_packager p[2] = {
		{ .sess = self->ssess, .first = 0, .buf = self->buf },
		{ .sess = self->ssess, .first = SMALL_PAGES / 2,
		  .buf = (uint8_t *)self->buf + half },
	};
	pthread_t t[2];
	uint32_t done;
	int i;

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, kcm_packager_thread, &p[i]));
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, p[i].err);
	}
	/* No sequence number, so no nonce, was used twice: 1..64, each once. */
	{
		uint8_t seen[SMALL_PAGES + 1] = {};
		uint64_t seq;

		for (i = 0; i < SMALL_PAGES; i++) {
			memcpy(&seq, (uint8_t *)self->buf + i * kcm_packet_size() + 16, 8);
			ASSERT_TRUE(seq >= 1 && seq <= SMALL_PAGES)
				TH_LOG("seq %lu", (unsigned long)seq);
			EXPECT_EQ(0, seen[seq]++) TH_LOG("seq %lu used twice", (unsigned long)seq);
		}
	}
	/*
	 * One stream: the target takes its packets in the order they were
	 * made, whichever thread got the stream first.
	 */
	{
		uint8_t *lo = self->buf, *hi = (uint8_t *)self->buf + half;

		if (kcm_pkt_hdr(lo)->seq != 1) {
			hi = self->buf;
			lo = (uint8_t *)self->buf + half;
		}
		EXPECT_EQ(0, kcm_receive(self->tsess, SMALL_PAGES / 2, lo, &done));
		EXPECT_EQ(SMALL_PAGES / 2, done);
		EXPECT_EQ(0, kcm_receive(self->tsess, SMALL_PAGES / 2, hi, &done));
		EXPECT_EQ(SMALL_PAGES / 2, done);
	}
	kcm_move_ordinary(&self->src, &self->tgt);
	EXPECT_EQ(0, kcm_finish(self->ssess, self->tsess));
	kcm_run_expect(self->tgt.vcpu, UCALL_DONE);
}

/* Every ioctl in every state it does not belong to, with its errno. */
TEST_F_TIMEOUT(pair, calls_in_wrong_states, PAIR_TIMEOUT)
{
	uint64_t gfn = DATA_GPA / PAGE_SIZE, len;
	uint32_t done, olen;
	struct kcm_vm v;
	int s, t;

	/* A fresh pair: CREATED. */
	kcm_vm_create(&v, 1);
	close(self->ssess);
	s = kcm_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_SOURCE);
	t = kcm_session(self->dev, v.vm, KVM_COCO_MIG_ROLE_TARGET);
	len = kcm_packet_size();
	EXPECT_EQ(-EBADFD, __kcm_pages(s, KVM_COCO_MIG_PACKAGE_PAGES, &gfn, 1,
				       self->buf, &len, &done));
	EXPECT_EQ(-EBADFD, kcm_receive(t, 1, self->buf, &done));
	olen = 0;
	EXPECT_EQ(-EBADFD, __kcm_blob(s, KVM_COCO_MIG_FINISH, kcm_dummy_state,
				      sizeof(kcm_dummy_state), NULL, &olen));
	EXPECT_EQ(-EBADFD, __kcm_blob(t, KVM_COCO_MIG_FINISH, self->buf, 80, NULL, NULL));
	EXPECT_EQ(-EBADFD, __kcm_blob(t, KVM_COCO_MIG_ACCEPT, self->buf, 136, NULL, NULL));
	/* KEY_PENDING: only GET_MIGRATION_DATA again, or ACCEPT. */
	olen = 0;
	EXPECT_EQ(0, __kcm_blob(t, KVM_COCO_MIG_GET_MIGRATION_DATA, NULL, 0, NULL, &olen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_CREATED, kcm_status(t).state);	/* a query */
	free(kcm_blob_out(t, KVM_COCO_MIG_GET_MIGRATION_DATA, NULL, 0, &olen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_KEY_PENDING, kcm_status(t).state);
	EXPECT_EQ(-EBADFD, kcm_receive(t, 1, self->buf, &done));
	EXPECT_EQ(-EBADFD, __kcm_blob(t, KVM_COCO_MIG_FINISH, self->buf, 80, NULL, NULL));
	/* A malformed transport blob is refused without poisoning. */
	memset(self->buf, 0, 136);
	EXPECT_EQ(-EINVAL, __kcm_blob(t, KVM_COCO_MIG_ACCEPT, self->buf, 136, NULL, NULL));
	EXPECT_EQ(KVM_COCO_MIG_STATE_KEY_PENDING, kcm_status(t).state);
	/* After CANCEL nothing but STATUS and close. */
	ASSERT_EQ(0, ioctl(s, KVM_COCO_MIG_CANCEL, 0));
	olen = 4096;
	EXPECT_EQ(-EBADFD, __kcm_blob(s, KVM_COCO_MIG_START, self->buf, 120,
				      (uint8_t *)self->buf + 4096, &olen));
	olen = 0;
	EXPECT_EQ(-EBADFD, __kcm_blob(s, KVM_COCO_MIG_FINISH, kcm_dummy_state,
				      sizeof(kcm_dummy_state), NULL, &olen));
	close(s);
	close(t);
	kcm_vm_free(v.vm);
	self->ssess = kcm_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_SOURCE);
}

/* What STATUS says of the session's VM. */
static uint32_t kcm_vm_state(int sess)
{
	return kcm_status(sess).vm;
}

/* KVM_RUN on @vcpu fails with @err without entering the guest. */
static void kcm_expect_no_entry(struct kvm_vcpu *vcpu, int err)
{
	int r = __vcpu_run(vcpu);

	TEST_ASSERT(r == -1 && errno == err, "KVM_RUN: %d, errno %d (%s), not %s",
		    r, errno, strerror(errno), strerror(err));
}

/*
 * Item 3: from CREATE_SESSION(target) until FINISH succeeds the target's
 * vCPUs never enter the guest; a successful FINISH lets them run.
 */
TEST_F_TIMEOUT(pair, target_fenced_until_finish, PAIR_TIMEOUT)
{
	EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(self->tsess));
	kcm_expect_no_entry(self->tgt.vcpu, EIO);
	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	kcm_expect_no_entry(self->tgt.vcpu, EIO);
	kcm_copy_shared(self->src.vm, self->tgt.vm);
	ASSERT_EQ(0, kcm_finish_with_state(self->ssess, self->tsess, &self->src,
					   &self->tgt));
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(self->tsess));
	EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(self->ssess));
	kcm_expect_no_entry(self->src.vcpu, EIO);
	/* The refused KVM_RUNs left nothing behind: the guest resumes. */
	kcm_run_expect(self->tgt.vcpu, UCALL_DONE);
}

/* Item 3: a poisoned target never runs again, even after close. */
TEST_F_TIMEOUT(pair, failed_target_is_dead, PAIR_TIMEOUT)
{
	uint8_t *pkt = self->buf;
	uint32_t done;

	kcm_package(self->ssess, 0, 1, pkt);
	pkt[KCM_PAYLOAD + 9] ^= 1;
	EXPECT_EQ(-EBADMSG, kcm_receive(self->tsess, 1, pkt, &done));
	EXPECT_EQ(KVM_COCO_MIG_STATE_FAILED, kcm_status(self->tsess).state);
	EXPECT_EQ(KVM_COCO_MIG_VM_DEAD, kcm_vm_state(self->tsess));
	kcm_expect_no_entry(self->tgt.vcpu, EIO);
	close(self->tsess);
	self->tsess = -1;
	kcm_expect_no_entry(self->tgt.vcpu, EIO);
	/* And it cannot be made a target (or a source) again. */
	EXPECT_EQ(-EIO, kcm_try_session(self->dev, self->tgt.vm, KVM_COCO_MIG_ROLE_TARGET));
	EXPECT_EQ(-EIO, kcm_try_session(self->dev, self->tgt.vm, KVM_COCO_MIG_ROLE_SOURCE));
}

/* Item 3: a target closed before FINISH, at each stage, is dead. */
TEST_F_TIMEOUT(pair, target_closed_before_finish_is_dead, PAIR_TIMEOUT)
{
	int stage;

	/* A CANCEL on the source side does not make its target runnable. */
	kcm_package(self->ssess, 0, SMALL_PAGES, self->buf);
	ASSERT_EQ(0, kcm_receive(self->tsess, SMALL_PAGES, self->buf, NULL));
	ASSERT_EQ(0, ioctl(self->ssess, KVM_COCO_MIG_CANCEL, 0));
	kcm_expect_no_entry(self->tgt.vcpu, EIO);
	EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(self->tsess));

	for (stage = 0; stage < 3; stage++) {
		struct kcm_vm tgt;
		uint32_t len;
		int t;

		kcm_vm_create(&tgt, 2);
		t = kcm_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
		if (stage >= 1)
			free(kcm_blob_out(t, KVM_COCO_MIG_GET_MIGRATION_DATA, NULL, 0, &len));
		if (stage >= 2) {
			close(self->ssess);
			self->ssess = kcm_session(self->dev, self->src.vm,
						  KVM_COCO_MIG_ROLE_SOURCE);
			kcm_handshake(self->ssess, t);
		}
		kcm_expect_no_entry(tgt.vcpu, EIO);
		close(t);
		kcm_expect_no_entry(tgt.vcpu, EIO);
		EXPECT_EQ(-EIO, kcm_try_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET));
		kcm_vm_free(tgt.vm);
	}
}

/* Item 3: a VM whose vCPUs have run cannot become a target. */
TEST_F_TIMEOUT(pair, target_that_ran_refused, PAIR_TIMEOUT)
{
	/* The source's vCPU has run: refused as a target, nothing left bound. */
	close(self->ssess);
	self->ssess = -1;
	EXPECT_EQ(-EBUSY, kcm_try_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_TARGET));
	self->ssess = kcm_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_SOURCE);
	/* ...and its guest still runs. */
	kcm_run_expect(self->src.vcpu, UCALL_DONE);
}

/* Item 4: a source that finished cannot be migrated again: no clones. */
TEST_F_TIMEOUT(pair, dead_source_refuses_new_session, PAIR_TIMEOUT)
{
	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	kcm_copy_shared(self->src.vm, self->tgt.vm);
	ASSERT_EQ(0, kcm_finish_with_state(self->ssess, self->tsess, &self->src,
					   &self->tgt));
	close(self->ssess);
	self->ssess = -1;
	EXPECT_EQ(-EIO, kcm_try_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_SOURCE));
	EXPECT_EQ(-EIO, kcm_try_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_TARGET));
}

/*
 * Item 5: without TRACK_START, a source FINISH that did not package every
 * private gfn is refused (ENODATA) and the guest lives on.
 */
TEST_F_TIMEOUT(pair, finish_needs_every_private_page, PAIR_TIMEOUT)
{
	uint32_t len;
	void *fin;

	/* Nothing packaged. */
	EXPECT_EQ(-ENODATA, kcm_source_finish(self->ssess, kcm_dummy_state,
					      sizeof(kcm_dummy_state), &fin, &len));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->ssess).state);
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(self->ssess));
	/* All but one. */
	kcm_package(self->ssess, 0, SMALL_PAGES - 1, self->buf);
	ASSERT_EQ(0, kcm_receive(self->tsess, SMALL_PAGES - 1, self->buf, NULL));
	EXPECT_EQ(-ENODATA, kcm_source_finish(self->ssess, kcm_dummy_state,
					      sizeof(kcm_dummy_state), &fin, &len));
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(self->ssess));
	/* The last one: complete. */
	kcm_package(self->ssess, SMALL_PAGES - 1, 1, self->buf);
	ASSERT_EQ(0, kcm_receive(self->tsess, 1, self->buf, NULL));
	kcm_copy_shared(self->src.vm, self->tgt.vm);
	ASSERT_EQ(0, kcm_finish_with_state(self->ssess, self->tsess, &self->src,
					   &self->tgt));
	kcm_run_expect(self->tgt.vcpu, UCALL_DONE);
}

/* A guest that rewrites its first @npages private pages at each GUEST_SYNC. */
static void guest_writer(uint64_t gpa, uint64_t npages)
{
	uint64_t round, i;

	for (round = 1;; round++) {
		for (i = 0; i < npages; i++)
			WRITE_ONCE(*(uint64_t *)(gpa + i * PAGE_SIZE), round);
		GUEST_SYNC(round);
	}
}

/*
 * Item 5: a page the guest wrote since it was packaged fails the source
 * FINISH (EBUSY: GET_DIRTY it, package it again), without TRACK_START,
 * and the guest lives on; once resent, FINISH succeeds.
 */
TEST_F_TIMEOUT(pair, finish_refuses_page_changed_since_packaged, PAIR_TIMEOUT)
{
	uint64_t bitmap[1], nr_dirty, *gfns = calloc(4, sizeof(*gfns));
	struct kvm_coco_mig_track tr = {};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct kcm_vm tgt;
	uint32_t len;
	void *fin;
	int s, t, i;

	vm = kcm_private_vm(1, guest_writer, &vcpu, DATA_GPA, DATA_SLOT, 4);
	vcpu_args_set(vcpu, 2, DATA_GPA, 4);
	kcm_run_expect(vcpu, UCALL_SYNC);
	kcm_vm_create(&tgt, 4);
	s = kcm_session(self->dev, vm, KVM_COCO_MIG_ROLE_SOURCE);
	t = kcm_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(s, t);
	for (i = 0; i < 4; i++)
		gfns[i] = DATA_GPA / PAGE_SIZE + i;
	kcm_xfer(s, t, gfns, 4);
	/* The guest writes every page again. */
	kcm_run_expect(vcpu, UCALL_SYNC);
	EXPECT_EQ(-EBUSY, kcm_source_finish(s, kcm_dummy_state, sizeof(kcm_dummy_state),
					    &fin, &len));
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(s));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(s).state);
	/* Collected but not sent again: ENODATA. */
	ASSERT_EQ(0, __kcm_track_start(s, &tr));
	ASSERT_EQ(0, __kcm_get_dirty(s, DATA_GPA / PAGE_SIZE, 4, bitmap, &nr_dirty));
	EXPECT_EQ(4, nr_dirty);
	EXPECT_EQ(0xf, bitmap[0]);
	EXPECT_EQ(-ENODATA, kcm_source_finish(s, kcm_dummy_state, sizeof(kcm_dummy_state),
					      &fin, &len));
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(s));
	kcm_xfer(s, t, gfns, 4);
	kcm_pass_vcpus(s, t, 1);
	ASSERT_EQ(0, kcm_source_finish(s, kcm_dummy_state, sizeof(kcm_dummy_state),
				       &fin, &len));
	EXPECT_EQ(0, kcm_target_finish(t, fin, len));
	free(fin);
	free(gfns);
	close(s);
	close(t);
	kcm_vm_free(vm);
	kcm_vm_free(tgt.vm);
}

/*
 * Item 7: every error of a source FINISH leaves the guest alive, and says
 * so; an unwritable output fails before the source dies, and a retry
 * finishes.
 */
TEST_F_TIMEOUT(pair, source_finish_errors_leave_guest_alive, PAIR_TIMEOUT)
{
	uint32_t need = 0, olen;
	void *fin, *ro;

	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	ASSERT_EQ(0, __kcm_blob(self->ssess, KVM_COCO_MIG_FINISH, kcm_dummy_state,
				sizeof(kcm_dummy_state), NULL, &need));
	/* Too small. */
	olen = need - 1;
	EXPECT_EQ(-ENOSPC, __kcm_blob(self->ssess, KVM_COCO_MIG_FINISH, kcm_dummy_state,
				      sizeof(kcm_dummy_state), self->buf, &olen));
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(self->ssess));
	/* An output buffer the kernel cannot write. */
	ro = mmap(NULL, 4 * PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	olen = need;
	EXPECT_EQ(-EFAULT, __kcm_blob(self->ssess, KVM_COCO_MIG_FINISH, kcm_dummy_state,
				      sizeof(kcm_dummy_state), ro, &olen));
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(self->ssess));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->ssess).state);
	/* An unreadable VM-wide state. */
	olen = need;
	EXPECT_EQ(-EFAULT, __kcm_blob(self->ssess, KVM_COCO_MIG_FINISH, (void *)8,
				      sizeof(kcm_dummy_state), self->buf, &olen));
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(self->ssess));
	/* A zero-length VM-wide state is no state: refused. */
	olen = need;
	EXPECT_EQ(-EINVAL, __kcm_blob(self->ssess, KVM_COCO_MIG_FINISH, NULL, 0,
				      self->buf, &olen));
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(self->ssess));
	munmap(ro, 4 * PAGE_SIZE);

	/* The retry finishes; the source is paused for good from then on. */
	kcm_pass_vcpus(self->ssess, self->tsess, 1);
	ASSERT_EQ(0, kcm_source_finish(self->ssess, kcm_dummy_state,
				       sizeof(kcm_dummy_state), &fin, &olen));
	EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(self->ssess));
	kcm_expect_no_entry(self->src.vcpu, EIO);
	EXPECT_EQ(0, kcm_target_finish(self->tsess, fin, olen));
	free(fin);
}

/*
 * Item 8: a target FINISH whose output cannot be written changes nothing;
 * once a FINISH succeeded, every ioctl but STATUS is refused.
 */
TEST_F_TIMEOUT(pair, target_finish_unwritable_then_every_ioctl, PAIR_TIMEOUT)
{
	uint64_t gfn = DATA_GPA / PAGE_SIZE, len = kcm_packet_size();
	uint8_t out[sizeof(kcm_dummy_state)];
	uint32_t flen, olen;
	void *fin, *ro;

	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	kcm_pass_vcpus(self->ssess, self->tsess, 1);
	ASSERT_EQ(0, kcm_source_finish(self->ssess, kcm_dummy_state,
				       sizeof(kcm_dummy_state), &fin, &flen));
	ro = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	olen = sizeof(out);
	EXPECT_EQ(-EFAULT, __kcm_blob(self->tsess, KVM_COCO_MIG_FINISH, fin, flen, ro,
				      &olen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->tsess).state);
	EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(self->tsess));
	munmap(ro, PAGE_SIZE);
	olen = sizeof(out);
	ASSERT_EQ(0, __kcm_blob(self->tsess, KVM_COCO_MIG_FINISH, fin, flen, out, &olen));
	EXPECT_EQ(0, memcmp(out, kcm_dummy_state, sizeof(out)));
	/* The keys are gone: nothing may use them. */
	EXPECT_EQ(-EBADFD, kcm_receive(self->tsess, 1, self->buf, NULL));
	olen = sizeof(out);
	EXPECT_EQ(-EBADFD, __kcm_blob(self->tsess, KVM_COCO_MIG_FINISH, fin, flen, out,
				      &olen));
	EXPECT_EQ(-EBADFD, __kcm_blob(self->tsess, KVM_COCO_MIG_ACCEPT, fin, 8, NULL, NULL));
	olen = 0;
	EXPECT_EQ(-EBADFD, __kcm_blob(self->tsess, KVM_COCO_MIG_GET_MIGRATION_DATA, NULL, 0,
				      NULL, &olen));
	EXPECT_EQ(-EBADFD, __kcm_pages(self->ssess, KVM_COCO_MIG_PACKAGE_PAGES, &gfn, 1,
				       self->buf, &len, NULL));
	olen = 0;
	EXPECT_EQ(-EBADFD, __kcm_blob(self->ssess, KVM_COCO_MIG_FINISH, kcm_dummy_state,
				      sizeof(kcm_dummy_state), NULL, &olen));
	EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_CANCEL, 0));
	EXPECT_EQ(EBADFD, errno);
	olen = 0;
	EXPECT_EQ(-EBADFD, __kcm_vcpu(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0,
				      kcm_dummy_state, sizeof(kcm_dummy_state), NULL,
				      &olen));
	EXPECT_EQ(-EBADFD, __kcm_vcpu(self->tsess, KVM_COCO_MIG_RECEIVE_VCPU, 0, fin,
				      flen, NULL, &olen));
	free(fin);
}

/*
 * Item 12: the largest VM-wide state a source FINISH takes makes a final
 * record the target takes; out_len 0 at the target is a size query.
 */
TEST_F_TIMEOUT(pair, largest_vm_state_end_to_end, PAIR_TIMEOUT)
{
	uint8_t *state = malloc(KVM_COCO_MIG_MAX_BLOB), *out;
	uint32_t flen, olen;
	void *fin;
	int i;

	for (i = 0; i < KVM_COCO_MIG_MAX_BLOB; i++)
		state[i] = i * 7;
	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	flen = 0;
	EXPECT_EQ(-EINVAL, __kcm_blob(self->ssess, KVM_COCO_MIG_FINISH, state,
				      KVM_COCO_MIG_MAX_BLOB + 1, NULL, &flen));
	kcm_pass_vcpus(self->ssess, self->tsess, 1);
	ASSERT_EQ(0, kcm_source_finish(self->ssess, state, KVM_COCO_MIG_MAX_BLOB, &fin,
				       &flen));
	EXPECT_GT(flen, KVM_COCO_MIG_MAX_BLOB);
	/* The limit GET_CAPS reports is the record a full state makes. */
	EXPECT_EQ(kcm_sw_caps(self->dev).max_final, flen);
	olen = 0;
	ASSERT_EQ(0, __kcm_blob(self->tsess, KVM_COCO_MIG_FINISH, fin, flen, NULL, &olen));
	EXPECT_EQ(KVM_COCO_MIG_MAX_BLOB, olen);
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->tsess).state);
	out = malloc(olen);
	ASSERT_EQ(0, __kcm_blob(self->tsess, KVM_COCO_MIG_FINISH, fin, flen, out, &olen));
	EXPECT_EQ(0, memcmp(out, state, KVM_COCO_MIG_MAX_BLOB));
	free(out);
	free(fin);
	free(state);
}

/* Item 10: a final record tampered with, or another session's: refused. */
TEST_F_TIMEOUT(pair, final_record_forgeries_refused, PAIR_TIMEOUT)
{
	static const struct { unsigned int off; const char *what; } cases[] = {
		{ 0, "version" }, { 1, "type" }, { 16, "seq" }, { 40, "ciphertext" },
		{ ~0u, "tag" },
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct kcm_vm src, tgt;
		uint32_t flen, off;
		uint8_t *fin;
		int s, t;

		kcm_vm_create(&src, 2);
		kcm_vm_create(&tgt, 2);
		s = kcm_session(self->dev, src.vm, KVM_COCO_MIG_ROLE_SOURCE);
		t = kcm_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
		kcm_handshake(s, t);
		kcm_package(s, 0, 2, self->buf);
		ASSERT_EQ(0, kcm_receive(t, 2, self->buf, NULL));
		kcm_pass_vcpus(s, t, 1);
		ASSERT_EQ(0, kcm_source_finish(s, kcm_dummy_state, sizeof(kcm_dummy_state),
					       (void **)&fin, &flen));
		off = cases[i].off;
		if (off == ~0u)
			off = flen - 1;	/* the tag's last byte */
		fin[off] ^= 0x01;
		EXPECT_EQ(-EBADMSG, kcm_target_finish(t, fin, flen))
			TH_LOG("final record's %s", cases[i].what);
		EXPECT_EQ(KVM_COCO_MIG_STATE_FAILED, kcm_status(t).state);
		EXPECT_EQ(KVM_COCO_MIG_VM_DEAD, kcm_vm_state(t));
		kcm_expect_no_entry(tgt.vcpu, EIO);
		free(fin);
		close(s);
		close(t);
		kcm_vm_free(src.vm);
		kcm_vm_free(tgt.vm);
	}

	/* The final record of another session. */
	{
		struct kcm_vm src2;
		uint32_t flen;
		void *fin;
		int s2;

		kcm_vm_create(&src2, SMALL_PAGES);
		kcm_run_expect(src2.vcpu, UCALL_SYNC);
		s2 = kcm_session(self->dev, src2.vm, KVM_COCO_MIG_ROLE_SOURCE);
		{
			struct kcm_vm t2v;
			int t2;

			kcm_vm_create(&t2v, SMALL_PAGES);
			t2 = kcm_session(self->dev, t2v.vm, KVM_COCO_MIG_ROLE_TARGET);
			kcm_handshake(s2, t2);
			kcm_transfer_all(s2, t2, SMALL_PAGES);
			kcm_pass_vcpus(s2, t2, 1);
			ASSERT_EQ(0, kcm_source_finish(s2, kcm_dummy_state,
						       sizeof(kcm_dummy_state), &fin, &flen));
			close(t2);
			kcm_vm_free(t2v.vm);
		}
		kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
		kcm_pass_vcpus(self->ssess, self->tsess, 1);
		EXPECT_EQ(-EBADMSG, kcm_target_finish(self->tsess, fin, flen));
		EXPECT_EQ(KVM_COCO_MIG_VM_DEAD, kcm_vm_state(self->tsess));
		free(fin);
		close(s2);
		kcm_vm_free(src2.vm);
	}
}

/*
 * Item 2: a VMM thread that rewrites the PACKAGE output buffer while the
 * kernel seals into it. GCM (the AES-NI code too) writes a group of 8
 * ciphertext blocks, then reads them back to hash them while it encrypts
 * the next group: the rewriter waits for the packet being sealed (the
 * first whose tag still holds the fill pattern) to show group g written
 * and group g + 1 not yet, and flips a byte of group g's last block. With
 * the AEAD working in the VMM's buffer, a flip that lands before the
 * read-back yields a packet that authenticates with ciphertext the VMM
 * chose. Each round is a resend of pages the target already holds and the
 * source did not change: every packet the target accepts must install
 * exactly what it already had (STATUS counts it as unchanged); a packet
 * the flip hit after sealing is refused, and poisons that target.
 */
#define REWRITE_ROUNDS	12
#define REWRITE_FILL	0xa5
#define CT_BLOCK(pkt, b)	((pkt) + KCM_PAYLOAD + (b) * 16)

struct kcm_rewriter {
	uint8_t *buf;
	uint32_t nr;
	bool stop;
	uint64_t flips;
};

/* Whether the 4 bytes at @p still hold the fill (the kernel writes them). */
static bool kcm_filled(uint8_t *p)
{
	uint32_t v = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);

	return v == REWRITE_FILL * 0x01010101u;
}

static void *kcm_rewriter_thread(void *arg)
{
	struct kcm_rewriter *rw = arg;
	size_t psz = kcm_packet_size();
	uint32_t k = 0, g;

	while (!__atomic_load_n(&rw->stop, __ATOMIC_ACQUIRE)) {
		uint8_t *pkt;

		/* The packet being sealed: the first without its tag. */
		while (k < rw->nr && !kcm_filled(rw->buf + k * psz + psz - 16))
			k++;
		if (k == rw->nr)
			continue;
		pkt = rw->buf + k * psz;
		for (g = 0; g + 1 < PAGE_SIZE / 128; g++) {
			if (!kcm_filled(CT_BLOCK(pkt, 8 * g + 7)) &&
			    kcm_filled(CT_BLOCK(pkt, 8 * g + 8))) {
				__atomic_fetch_xor(CT_BLOCK(pkt, 8 * g + 7) + 5, 0x5a,
						   __ATOMIC_RELAXED);
				rw->flips++;
				k++;	/* one flip per packet */
				break;
			}
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(pair, package_buffer_rewritten_while_sealing, 600)
{
	uint64_t accepted = 0, refused = 0, flips = 0;
	int round;

	for (round = 0; round < REWRITE_ROUNDS; round++) {
		struct kcm_rewriter rw = { .buf = self->buf, .nr = SMALL_PAGES };
		struct kvm_coco_mig_status st;
		struct kcm_vm tgt;
		pthread_t thr;
		uint32_t done = 0;
		int s, t, r;

		kcm_vm_create(&tgt, SMALL_PAGES);
		close(self->ssess);
		s = kcm_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_SOURCE);
		self->ssess = s;
		t = kcm_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
		kcm_handshake(s, t);
		kcm_transfer_all(s, t, SMALL_PAGES);

		memset(self->buf, REWRITE_FILL, SMALL_PAGES * kcm_packet_size());
		ASSERT_EQ(0, pthread_create(&thr, NULL, kcm_rewriter_thread, &rw));
		kcm_package(s, 0, SMALL_PAGES, self->buf);
		__atomic_store_n(&rw.stop, true, __ATOMIC_RELEASE);
		pthread_join(thr, NULL);
		flips += rw.flips;

		r = kcm_receive(t, SMALL_PAGES, self->buf, &done);
		EXPECT_TRUE(r == 0 || r == -EBADMSG)
			TH_LOG("RECEIVE: %s at packet %u (seq %llu)", strerror(-r), done,
			       (unsigned long long)kcm_pkt_hdr(kcm_pkt_at(self->buf, done))->seq);
		st = kcm_status(t);
		/* Every resent packet accepted held exactly the page. */
		EXPECT_EQ(done, st.resent);
		EXPECT_EQ(st.resent, st.unchanged)
			TH_LOG("round %d: %llu forged packets accepted", round,
			       (unsigned long long)(st.resent - st.unchanged));
		accepted += done;
		refused += r ? 1 : 0;
		close(t);
		kcm_vm_free(tgt.vm);
	}
	ksft_print_msg("%llu flips, %llu packets accepted, %llu rounds ended by a refused packet\n",
		       (unsigned long long)flips, (unsigned long long)accepted,
		       (unsigned long long)refused);
}

/* Item 10: an unwritable START output forgets the keys; a retry works. */
TEST_F_TIMEOUT(pair, start_unwritable_output, PAIR_TIMEOUT)
{
	struct kcm_vm tgt;
	uint32_t ev_len, olen = 4096;
	void *ev, *ro;
	int s, t;

	kcm_vm_create(&tgt, SMALL_PAGES);
	close(self->ssess);
	s = kcm_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_SOURCE);
	self->ssess = s;
	t = kcm_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
	ev = kcm_blob_out(t, KVM_COCO_MIG_GET_MIGRATION_DATA, NULL, 0, &ev_len);
	ro = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, __kcm_blob(s, KVM_COCO_MIG_START, ev, ev_len, ro, &olen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_CREATED, kcm_status(s).state);
	munmap(ro, PAGE_SIZE);
	free(ev);
	kcm_handshake(s, t);
	kcm_transfer_all(s, t, SMALL_PAGES);
	EXPECT_EQ(0, kcm_finish(s, t));
	close(t);
	kcm_vm_free(tgt.vm);
}

/* Item 11: a session refuses the ioctls of a process that is not the VM's. */
TEST_F_TIMEOUT(pair, other_process_refused, PAIR_TIMEOUT)
{
	pid_t pid = fork();
	int status;

	ASSERT_GE(pid, 0);
	if (!pid) {
		struct kvm_coco_mig_status st = {};

		_exit(ioctl(self->ssess, KVM_COCO_MIG_STATUS, &st) == -1 && errno == EIO ?
		      0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Item 11: a private page the guest never touched travels as a zero page
 * (header flag 1), and packaging it does not allocate it: packaged twice,
 * it is a zero page both times. Pages the guest wrote are not.
 */
TEST_F_TIMEOUT(pair, untouched_pages_travel_as_zero, PAIR_TIMEOUT)
{
	size_t psz = kcm_packet_size();
	struct kcm_vm src, tgt;
	uint16_t flags;
	int round, i, s, t;

	kcm_package(self->ssess, 0, 2, self->buf);
	for (i = 0; i < 2; i++) {
		flags = kcm_pkt_hdr(kcm_pkt_at(self->buf, i))->flags;
		EXPECT_EQ(0, flags);
		EXPECT_EQ(psz, kcm_pkt_hdr(kcm_pkt_at(self->buf, i))->len);
	}

	kcm_vm_create(&src, 4);		/* its guest never runs */
	kcm_vm_create(&tgt, 4);
	s = kcm_session(self->dev, src.vm, KVM_COCO_MIG_ROLE_SOURCE);
	t = kcm_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(s, t);
	for (round = 0; round < 2; round++) {
		kcm_package(s, 0, 4, self->buf);
		for (i = 0; i < 4; i++) {
			struct kvm_coco_mig_pkt_hdr *h = kcm_pkt_hdr(kcm_pkt_at(self->buf, i));

			/* Item 2 of the uAPI v2 issue: a header, a tag, no payload. */
			EXPECT_EQ(KVM_COCO_MIG_PKT_F_ZERO, h->flags)
				TH_LOG("round %d, page %d", round, i);
			EXPECT_EQ(kcm_zero_packet_size(), h->len);
			EXPECT_EQ(DATA_GPA / PAGE_SIZE + i, h->gfn);
		}
		EXPECT_EQ(0, kcm_receive(t, 4, self->buf, NULL));
	}
	EXPECT_EQ(0, kcm_finish(s, t));
	close(s);
	close(t);
	kcm_vm_free(src.vm);
	kcm_vm_free(tgt.vm);
}

/* Fresh, unkeyed sessions for the pair, with @n streams each. */
static void kcm_pair_reopen(struct _test_data_pair *self, uint32_t n)
{
	close(self->ssess);
	close(self->tsess);
	kcm_vm_free(self->tgt.vm);
	kcm_vm_create(&self->tgt, SMALL_PAGES);
	self->ssess = kcm_session_streams(self->dev, self->src.vm,
					  KVM_COCO_MIG_ROLE_SOURCE, n);
	self->tsess = kcm_session_streams(self->dev, self->tgt.vm,
					  KVM_COCO_MIG_ROLE_TARGET, n);
}

/*
 * Issue 12, item 1: the exchange as rounds of one ioctl. The sw exchange
 * is three messages: the target speaks first, the source once, the target
 * finishes; the session streams once a side is done. Then the pages
 * migrate and the target guest checks every one.
 */
TEST_F_TIMEOUT(pair, exchange_rounds, PAIR_TIMEOUT)
{
	struct kvm_coco_mig_exchange x;
	uint8_t ev[1024], tr[1024];
	uint32_t ev_len, tr_len;

	kcm_pair_reopen(self, 0);

	/* A size query changes nothing; a buffer too small neither. */
	memset(&x, 0, sizeof(x));
	x.flags = KVM_COCO_MIG_EXCHANGE_F_QUERY;
	ASSERT_EQ(0, __kcm_exchange(self->tsess, &x));
	ev_len = x.out_len;
	EXPECT_LT(0, ev_len);
	EXPECT_EQ(0, x.done);
	EXPECT_EQ(KVM_COCO_MIG_STATE_CREATED, kcm_status(self->tsess).state);
	memset(&x, 0, sizeof(x));
	EXPECT_EQ(-ENOSPC, __kcm_exchange(self->tsess, &x));	/* no room at all */
	EXPECT_EQ(ev_len, x.out_len);
	x.out_len = ev_len - 1;
	x.out_uaddr = (uintptr_t)ev;
	EXPECT_EQ(-ENOSPC, __kcm_exchange(self->tsess, &x));
	EXPECT_EQ(ev_len, x.out_len);
	EXPECT_EQ(KVM_COCO_MIG_STATE_CREATED, kcm_status(self->tsess).state);

	/* Target, round 1: the evidence; not done. */
	memset(&x, 0, sizeof(x));
	x.out_len = sizeof(ev);
	x.out_uaddr = (uintptr_t)ev;
	ASSERT_EQ(0, __kcm_exchange(self->tsess, &x));
	EXPECT_EQ(ev_len, x.out_len);
	EXPECT_EQ(0, x.done);
	EXPECT_EQ(1, x.round);
	EXPECT_EQ(KVM_COCO_MIG_STATE_KEY_PENDING, kcm_status(self->tsess).state);
	/* The transport blob cannot come before the evidence is taken in. */
	memset(&x, 0, sizeof(x));
	EXPECT_EQ(-EINVAL, __kcm_exchange(self->ssess, &x));	/* the source answers */
	EXPECT_EQ(KVM_COCO_MIG_STATE_CREATED, kcm_status(self->ssess).state);

	/* Source, its only round: the transport blob; done. */
	memset(&x, 0, sizeof(x));
	x.in_len = ev_len;
	x.in_uaddr = (uintptr_t)ev;
	x.out_len = sizeof(tr);
	x.out_uaddr = (uintptr_t)tr;
	ASSERT_EQ(0, __kcm_exchange(self->ssess, &x));
	tr_len = x.out_len;
	EXPECT_EQ(1, x.done);
	EXPECT_EQ(1, x.round);
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->ssess).state);
	EXPECT_EQ(-EBADFD, __kcm_exchange(self->ssess, &x));

	/* Target, round 2: a query says it sends nothing, and changes nothing. */
	memset(&x, 0, sizeof(x));
	x.flags = KVM_COCO_MIG_EXCHANGE_F_QUERY;
	x.in_len = tr_len;
	x.in_uaddr = (uintptr_t)tr;
	x.out_len = 99;
	ASSERT_EQ(0, __kcm_exchange(self->tsess, &x));
	EXPECT_EQ(0, x.out_len);
	EXPECT_EQ(KVM_COCO_MIG_STATE_KEY_PENDING, kcm_status(self->tsess).state);
	/* Then takes the blob, sends nothing; done. */
	memset(&x, 0, sizeof(x));
	x.in_len = tr_len;
	x.in_uaddr = (uintptr_t)tr;
	x.out_len = 7;		/* ignored: nothing to send */
	ASSERT_EQ(0, __kcm_exchange(self->tsess, &x));
	EXPECT_EQ(0, x.out_len);
	EXPECT_EQ(1, x.done);
	EXPECT_EQ(2, x.round);
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->tsess).state);

	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	kcm_move_ordinary(&self->src, &self->tgt);
	EXPECT_EQ(0, kcm_finish(self->ssess, self->tsess));
	kcm_run_expect(self->tgt.vcpu, UCALL_DONE);
}

/* Every bad argument of EXCHANGE: EINVAL, and the exchange where it was. */
TEST_F_TIMEOUT(pair, exchange_bad_arguments, PAIR_TIMEOUT)
{
	struct kvm_coco_mig_exchange x;
	uint8_t ev[1024];
	int i, bit;

	kcm_pair_reopen(self, 0);
	for (bit = 1; bit < 32; bit++) {	/* bit 0: F_QUERY */
		memset(&x, 0, sizeof(x));
		x.flags = 1u << bit;
		EXPECT_EQ(-EINVAL, __kcm_exchange(self->tsess, &x));
		memset(&x, 0, sizeof(x));
		x.pad = 1u << bit;
		EXPECT_EQ(-EINVAL, __kcm_exchange(self->tsess, &x));
	}
	for (i = 0; i < ARRAY_SIZE(x.reserved); i++) {
		for (bit = 0; bit < 64; bit++) {
			memset(&x, 0, sizeof(x));
			x.reserved[i] = 1ull << bit;
			EXPECT_EQ(-EINVAL, __kcm_exchange(self->tsess, &x));
		}
	}
	memset(&x, 0, sizeof(x));
	x.in_uaddr = (uintptr_t)ev;		/* an address without a length */
	EXPECT_EQ(-EINVAL, __kcm_exchange(self->tsess, &x));
	x.in_len = KVM_COCO_MIG_MAX_BLOB + 1;
	EXPECT_EQ(-EINVAL, __kcm_exchange(self->tsess, &x));
	/* A message before the target has spoken: out of turn. */
	memset(ev, 0, sizeof(ev));
	x.in_len = 100;
	EXPECT_EQ(-EBADFD, __kcm_exchange(self->tsess, &x));
	/* An unreadable message, an unwritable buffer. */
	x.in_uaddr = 8;
	EXPECT_EQ(-EFAULT, __kcm_exchange(self->ssess, &x));
	memset(&x, 0, sizeof(x));
	x.out_len = sizeof(ev);
	x.out_uaddr = 8;
	EXPECT_EQ(-EFAULT, __kcm_exchange(self->tsess, &x));
	EXPECT_EQ(KVM_COCO_MIG_STATE_CREATED, kcm_status(self->tsess).state);
	EXPECT_EQ(KVM_COCO_MIG_STATE_CREATED, kcm_status(self->ssess).state);
	/* Still usable: the named rounds and EXCHANGE are the same rounds. */
	kcm_handshake(self->ssess, self->tsess);
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->tsess).state);
}

/* Stream @stream's half of a parallel migration: its gfns, one batch. */
struct kcm_streamer {
	int sess;
	uint32_t stream;
	uint64_t *gfns;
	uint32_t n;
	uint8_t *buf;
	uint64_t len;
	int err;
};

static void *kcm_stream_package(void *arg)
{
	struct kcm_streamer *w = arg;
	uint32_t done;

	w->len = (uint64_t)w->n * kcm_packet_size();
	w->err = __kcm_pages_on(w->sess, KVM_COCO_MIG_PACKAGE_PAGES, w->stream, w->gfns,
				w->n, w->buf, &w->len, &done);
	if (!w->err && done != w->n)
		w->err = -ERANGE;
	return NULL;
}

static void *kcm_stream_receive(void *arg)
{
	struct kcm_streamer *w = arg;
	uint64_t len = w->len;
	uint32_t done;

	w->err = __kcm_pages_on(w->sess, KVM_COCO_MIG_RECEIVE_PAGES, w->stream, NULL,
				w->n, w->buf, &len, &done);
	if (!w->err && (done != w->n || len != w->len))
		w->err = -ERANGE;
	return NULL;
}

/* Run @fn for each of @n streamers, each in its own thread. */
static void kcm_streams_run(struct kcm_streamer *w, int n, void *(*fn)(void *))
{
	pthread_t t[KVM_COCO_MIG_MAX_STREAMS];
	int i;

	for (i = 0; i < n; i++)
		TEST_ASSERT(!pthread_create(&t[i], NULL, fn, &w[i]), "pthread_create");
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/*
 * Issue 12, item 4: two streams, each driven by its own threads on both
 * sides. Stream 0 carries the even pages, stream 1 the odd ones and, once
 * more, pages 0..7 (newer versions). The target takes stream 1 before
 * stream 0: stream 0's older versions of 0, 2, 4, 6 are superseded, not
 * installed, and FINISH (whose record binds the newest version of every
 * page) agrees. The target guest checks every page.
 */
TEST_F_TIMEOUT(pair, streams_migrate_in_parallel, PAIR_TIMEOUT)
{
	uint64_t g0[SMALL_PAGES / 2], g1[SMALL_PAGES / 2 + 8];
	struct kcm_streamer w[2] = {
		{ .stream = 0, .gfns = g0, .n = SMALL_PAGES / 2 },
		{ .stream = 1, .gfns = g1, .n = SMALL_PAGES / 2 + 8 },
	};
	struct kvm_coco_mig_status st;
	int i;

	kcm_pair_reopen(self, 2);
	kcm_handshake(self->ssess, self->tsess);
	EXPECT_EQ(2, kcm_status(self->ssess).nr_streams);
	for (i = 0; i < SMALL_PAGES / 2; i++) {
		g0[i] = DATA_GPA / PAGE_SIZE + 2 * i;
		g1[i] = DATA_GPA / PAGE_SIZE + 2 * i + 1;
	}
	for (i = 0; i < 8; i++)
		g1[SMALL_PAGES / 2 + i] = DATA_GPA / PAGE_SIZE + i;
	for (i = 0; i < 2; i++) {
		w[i].sess = self->ssess;
		w[i].buf = malloc(w[i].n * kcm_packet_size());
	}
	/* Stream 0 first, so that its versions of 0..7 are the older ones. */
	kcm_stream_package(&w[0]);
	kcm_streams_run(&w[1], 1, kcm_stream_package);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, w[i].err) TH_LOG("stream %d: %s", i, strerror(-w[i].err));
		EXPECT_EQ(w[i].stream, kcm_pkt_hdr(w[i].buf)->stream);
		EXPECT_EQ(1, kcm_pkt_hdr(w[i].buf)->seq);	/* each its own numbers */
	}

	/* A stream's packets on another stream, or on none: refused. */
	{
		uint64_t len = w[1].len;
		uint32_t done;

		EXPECT_EQ(-EINVAL, __kcm_pages_on(self->tsess, KVM_COCO_MIG_RECEIVE_PAGES,
						  0, NULL, 1, w[1].buf, &len, &done));
		len = w[1].len;
		EXPECT_EQ(-EINVAL, __kcm_pages_on(self->tsess, KVM_COCO_MIG_RECEIVE_PAGES,
						  2, NULL, 1, w[1].buf, &len, &done));
		EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->tsess).state);
	}

	for (i = 0; i < 2; i++)
		w[i].sess = self->tsess;
	kcm_streams_run(&w[1], 1, kcm_stream_receive);
	kcm_streams_run(w, 1, kcm_stream_receive);
	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, w[i].err);
	st = kcm_status(self->tsess);
	EXPECT_EQ(4, st.superseded);		/* stream 0's pages 0, 2, 4, 6 */
	EXPECT_EQ(SMALL_PAGES + 8, st.pages);
	EXPECT_EQ(1, st.refused);		/* the misrouted packet */

	kcm_move_ordinary(&self->src, &self->tgt);
	EXPECT_EQ(0, kcm_finish(self->ssess, self->tsess));
	kcm_run_expect(self->tgt.vcpu, UCALL_DONE);
	for (i = 0; i < 2; i++)
		free(w[i].buf);
}

/*
 * The same pages on four streams at once, over and over, all threads
 * running together on both sides: no nonce is used twice (every (stream,
 * seq) distinct), every version distinct, and the target ends with the
 * newest version of each page, whatever order the streams ran in.
 */
TEST_F_TIMEOUT(pair, streams_race_on_the_same_pages, PAIR_TIMEOUT)
{
	struct kcm_streamer w[4];
	uint64_t gfns[SMALL_PAGES];
	uint8_t seen_gen[4 * 4 * SMALL_PAGES + 1] = {};
	int i, k, round;

	kcm_pair_reopen(self, 4);
	kcm_handshake(self->ssess, self->tsess);
	for (i = 0; i < SMALL_PAGES; i++)
		gfns[i] = DATA_GPA / PAGE_SIZE + i;
	for (i = 0; i < 4; i++) {
		w[i] = (struct kcm_streamer){ .stream = i, .gfns = gfns, .n = SMALL_PAGES };
		w[i].buf = malloc(SMALL_PAGES * kcm_packet_size());
	}
	for (round = 0; round < 4; round++) {
		for (i = 0; i < 4; i++)
			w[i].sess = self->ssess;
		kcm_streams_run(w, 4, kcm_stream_package);
		for (i = 0; i < 4; i++) {
			ASSERT_EQ(0, w[i].err);
			for (k = 0; k < SMALL_PAGES; k++) {
				struct kvm_coco_mig_pkt_hdr *h;

				h = kcm_pkt_hdr(kcm_pkt_at(w[i].buf, k));

				EXPECT_EQ(i, h->stream);
				EXPECT_EQ(round * SMALL_PAGES + k + 1, h->seq);
				ASSERT_LT(h->gen, ARRAY_SIZE(seen_gen));
				EXPECT_EQ(0, seen_gen[h->gen]++);
			}
		}
		for (i = 0; i < 4; i++)
			w[i].sess = self->tsess;
		kcm_streams_run(w, 4, kcm_stream_receive);
		for (i = 0; i < 4; i++)
			EXPECT_EQ(0, w[i].err);
	}
	EXPECT_EQ(4 * 4 * SMALL_PAGES, kcm_status(self->tsess).pages);
	kcm_move_ordinary(&self->src, &self->tgt);
	EXPECT_EQ(0, kcm_finish(self->ssess, self->tsess));
	kcm_run_expect(self->tgt.vcpu, UCALL_DONE);
	for (i = 0; i < 4; i++)
		free(w[i].buf);
}

/* Sessions ask for streams within the backend's limit. */
TEST_F_TIMEOUT(pair, streams_limits, PAIR_TIMEOUT)
{
	struct kvm_coco_mig_create c = { .role = KVM_COCO_MIG_ROLE_SOURCE };
	struct kcm_vm v;
	int fd;

	kcm_vm_create(&v, 1);
	c.vm_fd = v.vm->fd;
	c.nr_streams = kcm_sw_caps(self->dev).max_streams + 1;
	EXPECT_EQ(-1, ioctl(self->dev, KVM_COCO_MIG_CREATE_SESSION, &c));
	EXPECT_EQ(EINVAL, errno);
	c.nr_streams = kcm_sw_caps(self->dev).max_streams;
	fd = ioctl(self->dev, KVM_COCO_MIG_CREATE_SESSION, &c);
	ASSERT_LE(0, fd);
	EXPECT_EQ(c.nr_streams, kcm_status(fd).nr_streams);
	close(fd);

	/*
	 * The stream count is part of the exchange: a source refuses the
	 * evidence of a target with another count (ECHRNG), and nothing
	 * changes on either side.
	 */
	{
		struct kcm_vm w;
		uint32_t ev_len, out_len = 4096;
		uint8_t *ev, *out = malloc(out_len);
		int s, t;

		kcm_vm_create(&w, 1);
		s = kcm_session_streams(self->dev, v.vm, KVM_COCO_MIG_ROLE_SOURCE, 2);
		t = kcm_session_streams(self->dev, w.vm, KVM_COCO_MIG_ROLE_TARGET, 1);
		ev = kcm_blob_out(t, KVM_COCO_MIG_GET_MIGRATION_DATA, NULL, 0, &ev_len);
		EXPECT_EQ(-ECHRNG, __kcm_blob(s, KVM_COCO_MIG_START, ev, ev_len, out,
					      &out_len));
		EXPECT_EQ(KVM_COCO_MIG_STATE_CREATED, kcm_status(s).state);
		EXPECT_EQ(KVM_COCO_MIG_STATE_KEY_PENDING, kcm_status(t).state);
		free(ev);
		free(out);
		close(s);
		close(t);
		kcm_vm_free(w.vm);
	}
	kcm_vm_free(v.vm);
}

/* The target's abort token: -errno, or 0 with it in @tok (@len bytes). */
static int kcm_abort_token(int tsess, uint8_t *tok, uint32_t *len)
{
	uint32_t need = 0;
	int r;

	r = __kcm_blob(tsess, KVM_COCO_MIG_ABORT, NULL, 0, NULL, &need);
	if (r)
		return r;
	*len = need;
	return __kcm_blob(tsess, KVM_COCO_MIG_ABORT, NULL, 0, tok, len);
}

static int kcm_abort_source(int ssess, uint8_t *tok, uint32_t len)
{
	return __kcm_blob(ssess, KVM_COCO_MIG_ABORT, tok, len, NULL, NULL);
}

/* A source between its FINISH and an abort token: alive, never entered. */
static void kcm_expect_paused(struct __test_metadata *_metadata, int ssess,
			      struct kcm_vm *src)
{
	EXPECT_EQ(KVM_COCO_MIG_STATE_FINISHED, kcm_status(ssess).state);
	EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(ssess));
	kcm_expect_no_entry(src->vcpu, EIO);
}

/* Source FINISH of the pair: the final record, in a buffer to free(). */
static uint8_t *kcm_pair_source_finish(struct _test_data_pair *self, uint32_t *len)
{
	uint8_t *fin;
	int r;

	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	kcm_pass_vcpus(self->ssess, self->tsess, 1);
	r = kcm_source_finish(self->ssess, kcm_dummy_state, sizeof(kcm_dummy_state),
			      (void **)&fin, len);
	TEST_ASSERT(!r, "source FINISH: %s", strerror(-r));
	return fin;
}

/*
 * Issue 12, item 5: a final record corrupted in transit. The target
 * refuses it and is dead; its abort token lets the paused source run
 * again, and the source guest finds all of its memory as it was.
 */
TEST_F_TIMEOUT(pair, corrupted_final_record_source_resumes, PAIR_TIMEOUT)
{
	uint8_t tok[256];
	uint32_t flen, tlen;
	uint8_t *fin = kcm_pair_source_finish(self, &flen);

	kcm_expect_paused(_metadata, self->ssess, &self->src);
	fin[flen / 2] ^= 0x10;
	EXPECT_EQ(-EBADMSG, kcm_target_finish(self->tsess, fin, flen));
	EXPECT_EQ(KVM_COCO_MIG_VM_DEAD, kcm_vm_state(self->tsess));
	kcm_expect_paused(_metadata, self->ssess, &self->src);

	ASSERT_EQ(0, kcm_abort_token(self->tsess, tok, &tlen));
	EXPECT_EQ(sizeof(struct kvm_coco_mig_pkt_hdr) + 8 + 16, tlen);
	EXPECT_EQ(KVM_COCO_MIG_PKT_ABORT, kcm_pkt_hdr(tok)->type);
	EXPECT_EQ(0, kcm_abort_source(self->ssess, tok, tlen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_CANCELLED, kcm_status(self->ssess).state);
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(self->ssess));
	/* Used once: the session is over. */
	EXPECT_EQ(-EBADFD, kcm_abort_source(self->ssess, tok, tlen));
	kcm_expect_no_entry(self->tgt.vcpu, EIO);
	kcm_run_expect(self->src.vcpu, UCALL_DONE);
	free(fin);
}

/*
 * Tokens that must not resume the source: garbage, the wrong length, one
 * bit off, another session's, one from before FINISH. Each is refused and
 * the source stays paused; the real token still works afterwards.
 */
TEST_F_TIMEOUT(pair, forged_and_foreign_tokens_refused, PAIR_TIMEOUT)
{
	uint8_t tok[256], other[256], junk[256];
	uint32_t flen, tlen, olen;
	struct kcm_vm v1, v2;
	uint8_t *fin;
	int s2, t2, i;

	/* Another pair's genuine token. */
	kcm_vm_create(&v1, 1);
	kcm_vm_create(&v2, 1);
	s2 = kcm_session(self->dev, v1.vm, KVM_COCO_MIG_ROLE_SOURCE);
	t2 = kcm_session(self->dev, v2.vm, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(s2, t2);
	ASSERT_EQ(0, kcm_abort_token(t2, other, &olen));
	EXPECT_EQ(-EBADFD, kcm_abort_source(s2, other, olen));	/* not FINISHED */

	/* Before FINISH no token is taken. */
	EXPECT_EQ(-EBADFD, kcm_abort_source(self->ssess, other, olen));
	fin = kcm_pair_source_finish(self, &flen);
	/* The target gives up: it dies, and this is its token. */
	ASSERT_EQ(0, kcm_abort_token(self->tsess, tok, &tlen));

	EXPECT_EQ(-EBADMSG, kcm_abort_source(self->ssess, other, olen));
	memset(junk, 0, sizeof(junk));
	memcpy(junk, tok, sizeof(struct kvm_coco_mig_pkt_hdr));	/* a real header */
	EXPECT_EQ(-EBADMSG, kcm_abort_source(self->ssess, junk, tlen));
	EXPECT_EQ(-EINVAL, kcm_abort_source(self->ssess, tok, tlen - 1));
	EXPECT_EQ(-EINVAL, kcm_abort_source(self->ssess, tok, tlen + 1));
	for (i = 0; i < tlen * 8; i += 7) {
		tok[i / 8] ^= 1 << (i % 8);
		EXPECT_NE(0, kcm_abort_source(self->ssess, tok, tlen)) TH_LOG("bit %d", i);
		tok[i / 8] ^= 1 << (i % 8);
	}
	kcm_expect_paused(_metadata, self->ssess, &self->src);

	/* The genuine token: the source runs; the target, killed, never will. */
	EXPECT_EQ(0, kcm_abort_source(self->ssess, tok, tlen));
	EXPECT_EQ(KVM_COCO_MIG_VM_DEAD, kcm_vm_state(self->tsess));
	EXPECT_EQ(-EIO, kcm_target_finish(self->tsess, fin, flen));
	kcm_run_expect(self->src.vcpu, UCALL_DONE);
	free(fin);
	close(s2);
	close(t2);
	kcm_vm_free(v1.vm);
	kcm_vm_free(v2.vm);
}

/*
 * A final record lost on the way: the target gives up (ABORT kills it,
 * then hands out the token) and the source resumes. The record, arriving
 * late, is refused by the dead target.
 */
TEST_F_TIMEOUT(pair, lost_final_record_target_aborts, PAIR_TIMEOUT)
{
	uint8_t tok[256];
	uint32_t flen, tlen = 1;
	uint8_t *fin = kcm_pair_source_finish(self, &flen);

	EXPECT_EQ(-ENOSPC, __kcm_blob(self->tsess, KVM_COCO_MIG_ABORT, NULL, 0, tok,
				      &tlen));
	EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(self->tsess));	/* unchanged */
	EXPECT_EQ(-EFAULT, __kcm_blob(self->tsess, KVM_COCO_MIG_ABORT, NULL, 0,
				      (void *)8, &tlen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->tsess).state);
	ASSERT_EQ(0, kcm_abort_token(self->tsess, tok, &tlen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_FAILED, kcm_status(self->tsess).state);
	EXPECT_EQ(KVM_COCO_MIG_VM_DEAD, kcm_vm_state(self->tsess));
	EXPECT_EQ(-EIO, kcm_target_finish(self->tsess, fin, flen));
	EXPECT_EQ(0, kcm_abort_source(self->ssess, tok, tlen));
	kcm_run_expect(self->src.vcpu, UCALL_DONE);
	free(fin);
}

/*
 * A target that crashed after the source's FINISH: no token can come. The
 * source stays paused; closing its session kills it (the VMM's choice).
 */
TEST_F_TIMEOUT(pair, target_crash_leaves_source_paused, PAIR_TIMEOUT)
{
	uint32_t flen;
	uint8_t *fin = kcm_pair_source_finish(self, &flen);

	close(self->tsess);
	self->tsess = -1;
	kcm_expect_paused(_metadata, self->ssess, &self->src);
	close(self->ssess);
	self->ssess = -1;
	kcm_expect_no_entry(self->src.vcpu, EIO);
	EXPECT_EQ(-EIO, kcm_try_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_SOURCE));
	free(fin);
}

/* A target that FINISHed runs: it never gives out a token. */
TEST_F_TIMEOUT(pair, no_token_from_a_running_target, PAIR_TIMEOUT)
{
	uint8_t tok[256];
	uint32_t tlen;

	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	kcm_move_ordinary(&self->src, &self->tgt);
	ASSERT_EQ(0, kcm_finish(self->ssess, self->tsess));
	EXPECT_EQ(-EBADFD, kcm_abort_token(self->tsess, tok, &tlen));
	kcm_run_expect(self->tgt.vcpu, UCALL_DONE);
	kcm_expect_paused(_metadata, self->ssess, &self->src);
}

/*
 * Closing fds at each stage of a migration, in both orders; kmemleak, run
 * after the suite, sees any key, buffer or VM left behind. Quiet: at most
 * 25 s (20 VMs).
 */
TEST_F_TIMEOUT(pair, close_at_each_stage, 300)
{
	static const uint32_t stage_state[] = {
		KVM_COCO_MIG_STATE_CREATED, KVM_COCO_MIG_STATE_CREATED,
		KVM_COCO_MIG_STATE_STREAMING, KVM_COCO_MIG_STATE_STREAMING,
		KVM_COCO_MIG_STATE_FINISHED,
	};
	int stage, vm_first;

	for (stage = 0; stage < 5; stage++) {
		for (vm_first = 0; vm_first < 2; vm_first++) {
			struct kcm_vm src, tgt;
			uint32_t len;
			int s, t;

			kcm_vm_create(&src, 2);
			kcm_vm_create(&tgt, 2);
			s = kcm_session(self->dev, src.vm, KVM_COCO_MIG_ROLE_SOURCE);
			t = kcm_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
			if (stage >= 1)
				free(kcm_blob_out(t, KVM_COCO_MIG_GET_MIGRATION_DATA,
						  NULL, 0, &len));
			if (stage >= 2)
				kcm_handshake(s, t);
			if (stage >= 3) {
				kcm_package(s, 0, 2, self->buf);
				ASSERT_EQ(0, kcm_receive(t, 1, self->buf, NULL));
			}
			if (stage >= 4)
				EXPECT_EQ(-ENODATA, kcm_finish(s, t));
			if (vm_first) {
				/* The sessions keep the VMs alive until closed. */
				kvm_vm_release(src.vm);
				kvm_vm_release(tgt.vm);
			}
			EXPECT_EQ(stage_state[stage], kcm_status(s).state);
			EXPECT_EQ(stage == 4 ? KVM_COCO_MIG_STATE_FAILED :
				  stage >= 2 ? KVM_COCO_MIG_STATE_STREAMING :
				  stage == 1 ? KVM_COCO_MIG_STATE_KEY_PENDING :
				  KVM_COCO_MIG_STATE_CREATED, kcm_status(t).state);
			close(s);
			close(t);
			if (!vm_first) {
				kcm_vm_free(src.vm);
				kcm_vm_free(tgt.vm);
			}
		}
	}
}

/*
 * Issue 12, item 3: per-vCPU state. Each vCPU's state travels as its own
 * record; FINISH refuses, on either side, while a vCPU has none (ENOMSG,
 * nothing changes). The source's first PACKAGE_VCPU pauses it; bad
 * arguments change nothing, neither state nor pause.
 */
TEST_F_TIMEOUT(pair, vcpu_records_complete_finish, PAIR_TIMEOUT)
{
	struct kvm_coco_mig_backend_caps caps = kcm_sw_caps(self->dev);
	struct kvm_coco_mig_vcpu v;
	uint32_t slen, rlen, olen, flen;
	uint8_t *state, *rec, *out;
	void *fin;
	int bit;

	EXPECT_EQ(0, kcm_status(self->ssess).vcpus);
	EXPECT_EQ(1, kcm_status(self->ssess).nr_vcpus);
	EXPECT_EQ(1, kcm_status(self->tsess).nr_vcpus);
	kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
	kcm_copy_shared(self->src.vm, self->tgt.vm);
	/* Pages complete, the vCPU not: refused, the guest still runs. */
	EXPECT_EQ(-ENOMSG, kcm_source_finish(self->ssess, kcm_dummy_state,
					     sizeof(kcm_dummy_state), &fin, &flen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->ssess).state);
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(self->ssess));

	state = kcm_state_flatten(self->src.vcpu, &slen);
	ASSERT_LE(slen, caps.max_vcpu_state);
	/* Bad arguments: each refused, the VM not paused. */
	for (bit = 0; bit < 32; bit++) {
		memset(&v, 0, sizeof(v));
		v.flags = 1u << bit;
		v.in_len = slen;
		v.in_uaddr = (uintptr_t)state;
		EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, &v));
		EXPECT_EQ(EINVAL, errno);
	}
	memset(&v, 0, sizeof(v));
	v.reserved[3] = 1;
	EXPECT_EQ(-1, ioctl(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, &v));
	EXPECT_EQ(EINVAL, errno);
	olen = 0;
	EXPECT_EQ(-ENOENT, __kcm_vcpu(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 5, state, slen,
				      NULL, &olen));
	EXPECT_EQ(-EINVAL, __kcm_vcpu(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0, NULL, 0,
				      NULL, &olen));	/* sw seals the VMM's state */
	EXPECT_EQ(-EINVAL, __kcm_vcpu(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0, state,
				      caps.max_vcpu_state + 1, NULL, &olen));
	EXPECT_EQ(-EFAULT, __kcm_vcpu(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0, (void *)8,
				      slen, NULL, &olen));
	EXPECT_EQ(-EINVAL, __kcm_vcpu(self->tsess, KVM_COCO_MIG_PACKAGE_VCPU, 0, state,
				      slen, NULL, &olen));	/* the source's */
	/* The size, then too small a buffer. */
	ASSERT_EQ(0, __kcm_vcpu(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0, state, slen,
				NULL, &olen));
	EXPECT_EQ(sizeof(struct kvm_coco_mig_pkt_hdr) + slen + 16, olen);
	rec = calloc(1, olen);
	rlen = olen - 1;
	EXPECT_EQ(-ENOSPC, __kcm_vcpu(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0, state, slen,
				      rec, &rlen));
	EXPECT_EQ(olen, rlen);
	EXPECT_EQ(-EFAULT, __kcm_vcpu(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0, state, slen,
				      (void *)8, &rlen));
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(self->ssess));
	EXPECT_EQ(0, kcm_status(self->ssess).vcpus);

	/* The record: the VM is paused from now on. */
	ASSERT_EQ(0, __kcm_vcpu(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0, state, slen,
				rec, &rlen));
	EXPECT_EQ(KVM_COCO_MIG_PKT_VCPU, kcm_pkt_hdr(rec)->type);
	EXPECT_EQ(0, kcm_pkt_hdr(rec)->gfn);		/* the vCPU id */
	EXPECT_EQ(KVM_COCO_MIG_CTL_STREAM, kcm_pkt_hdr(rec)->stream);
	EXPECT_EQ(rlen, kcm_pkt_hdr(rec)->len);
	EXPECT_EQ(1, kcm_status(self->ssess).vcpus);
	EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(self->ssess));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->ssess).state);
	kcm_expect_no_entry(self->src.vcpu, EIO);
	olen = rlen;
	EXPECT_EQ(-EEXIST, __kcm_vcpu(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0, state, slen,
				      rec, &olen));

	/* The target: FINISH without the record changes nothing. */
	ASSERT_EQ(0, kcm_source_finish(self->ssess, kcm_dummy_state, sizeof(kcm_dummy_state),
				       &fin, &flen));
	EXPECT_EQ(-ENOMSG, kcm_target_finish(self->tsess, fin, flen));
	/* The final record offered as a vCPU record: refused, harmless. */
	out = calloc(1, flen + rlen);
	olen = flen;
	EXPECT_EQ(-EINVAL, __kcm_vcpu(self->tsess, KVM_COCO_MIG_RECEIVE_VCPU, 0, fin, flen,
				      out, &olen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->tsess).state);
	free(out);
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->tsess).state);
	EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(self->tsess));
	olen = 0;
	EXPECT_EQ(-ENOENT, __kcm_vcpu(self->tsess, KVM_COCO_MIG_RECEIVE_VCPU, 1, rec, rlen,
				      NULL, &olen));
	EXPECT_EQ(-EINVAL, __kcm_vcpu(self->tsess, KVM_COCO_MIG_RECEIVE_VCPU, 0, rec,
				      rlen - 1, NULL, &olen));	/* framing */
	ASSERT_EQ(0, __kcm_vcpu(self->tsess, KVM_COCO_MIG_RECEIVE_VCPU, 0, rec, rlen,
				NULL, &olen));
	EXPECT_EQ(slen, olen);
	out = calloc(1, olen);
	ASSERT_EQ(0, __kcm_vcpu(self->tsess, KVM_COCO_MIG_RECEIVE_VCPU, 0, rec, rlen,
				out, &olen));
	EXPECT_EQ(0, memcmp(out, state, slen));
	EXPECT_EQ(1, kcm_status(self->tsess).vcpus);
	EXPECT_EQ(-EEXIST, __kcm_vcpu(self->tsess, KVM_COCO_MIG_RECEIVE_VCPU, 0, rec, rlen,
				      out, &olen));
	kcm_expect_no_entry(self->tgt.vcpu, EIO);	/* still fenced */
	kcm_state_load(self->tgt.vcpu, out, olen);
	/* A vCPU record offered as the final record: refused, harmless. */
	{
		uint32_t blen = rlen;
		void *b = calloc(1, blen);

		EXPECT_EQ(-EINVAL, __kcm_blob(self->tsess, KVM_COCO_MIG_FINISH, rec, rlen,
					      b, &blen));
		EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->tsess).state);
		free(b);
	}
	ASSERT_EQ(0, kcm_target_finish(self->tsess, fin, flen));
	kcm_run_expect(self->tgt.vcpu, UCALL_DONE);
	free(out);
	free(rec);
	free(state);
	free(fin);
}

/*
 * A guest whose vCPU @id keeps a token across the sync, then says again
 * which vCPU it is: resumed from another vCPU's state, it names that one.
 */
static void guest_vcpu_token(uint64_t id)
{
	uint64_t token = 0x70c0 + id * 0x1111;

	GUEST_SYNC(id);
	GUEST_ASSERT_EQ(token, 0x70c0 + id * 0x1111);
	GUEST_SYNC(id);
	GUEST_DONE();
}

#define MULTI_VCPUS	3

/*
 * Records bound to their vCPU and their place in the control stream: a
 * record offered for another vCPU (EINVAL), before the one the source
 * made earlier (ENOMSG), again (ESTALE, EEXIST) changes nothing. Each
 * vCPU gets the state its source vCPU had, and resumes from it.
 */
TEST_F_TIMEOUT(pair, vcpu_records_bound_to_vcpu_and_order, PAIR_TIMEOUT)
{
	struct kvm_vcpu *svcpu[MULTI_VCPUS], *tvcpu[MULTI_VCPUS];
	uint32_t rlen[MULTI_VCPUS], slen[MULTI_VCPUS], olen, flen;
	void *rec[MULTI_VCPUS], *state[MULTI_VCPUS], *out;
	struct kvm_vm *svm, *tvm;
	uint64_t gfn = DATA_GPA / PAGE_SIZE;
	int s, t, i;
	void *fin;

	svm = kcm_private_vm(MULTI_VCPUS, guest_vcpu_token, svcpu, DATA_GPA, DATA_SLOT, 1);
	tvm = kcm_private_vm(MULTI_VCPUS, guest_vcpu_token, tvcpu, DATA_GPA, DATA_SLOT, 1);
	for (i = 0; i < MULTI_VCPUS; i++) {
		vcpu_args_set(svcpu[i], 1, i);
		EXPECT_EQ(i, kcm_run_sync(svcpu[i]));
	}
	s = kcm_session(self->dev, svm, KVM_COCO_MIG_ROLE_SOURCE);
	t = kcm_session(self->dev, tvm, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(s, t);
	kcm_xfer(s, t, &gfn, 1);
	kcm_copy_shared(svm, tvm);
	/* Packaged in the order 2, 0, 1: records 1, 2, 3 of the stream. */
	for (i = 0; i < MULTI_VCPUS; i++) {
		int id = (i + 2) % MULTI_VCPUS;

		state[id] = kcm_state_flatten(svcpu[id], &slen[id]);
		rec[id] = kcm_vcpu_out(s, KVM_COCO_MIG_PACKAGE_VCPU, id, state[id],
				       slen[id], &rlen[id]);
		EXPECT_EQ(id, kcm_pkt_hdr(rec[id])->gfn);
		EXPECT_EQ(i + 1, kcm_pkt_hdr(rec[id])->seq);
	}
	ASSERT_EQ(0, kcm_source_finish(s, kcm_dummy_state, sizeof(kcm_dummy_state), &fin,
				       &flen));
	out = malloc(KVM_COCO_MIG_MAX_VCPU_STATE);
	/* Record 2 (vCPU 0) before record 1: one is missing. */
	olen = KVM_COCO_MIG_MAX_VCPU_STATE;
	EXPECT_EQ(-ENOMSG, __kcm_vcpu(t, KVM_COCO_MIG_RECEIVE_VCPU, 0, rec[0], rlen[0], out,
				      &olen));
	/* Record 1 is vCPU 2's: not vCPU 1's. */
	EXPECT_EQ(-EINVAL, __kcm_vcpu(t, KVM_COCO_MIG_RECEIVE_VCPU, 1, rec[2], rlen[2], out,
				      &olen));
	EXPECT_EQ(0, kcm_status(t).vcpus);
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(t).state);
	ASSERT_EQ(0, __kcm_vcpu(t, KVM_COCO_MIG_RECEIVE_VCPU, 2, rec[2], rlen[2], out, &olen));
	ASSERT_EQ(slen[2], olen);
	EXPECT_EQ(0, memcmp(out, state[2], olen));
	kcm_state_load(tvcpu[2], out, olen);
	/* A replay, offered for a vCPU that has none yet. */
	olen = KVM_COCO_MIG_MAX_VCPU_STATE;
	EXPECT_EQ(-ESTALE, __kcm_vcpu(t, KVM_COCO_MIG_RECEIVE_VCPU, 1, rec[2], rlen[2], out,
				      &olen));
	EXPECT_EQ(-EEXIST, __kcm_vcpu(t, KVM_COCO_MIG_RECEIVE_VCPU, 2, rec[2], rlen[2], out,
				      &olen));
	/* Two of three: FINISH refuses and nothing changes. */
	ASSERT_EQ(0, __kcm_vcpu(t, KVM_COCO_MIG_RECEIVE_VCPU, 0, rec[0], rlen[0], out, &olen));
	ASSERT_EQ(slen[0], olen);
	EXPECT_EQ(0, memcmp(out, state[0], olen));
	kcm_state_load(tvcpu[0], out, olen);
	EXPECT_EQ(-ENOMSG, kcm_target_finish(t, fin, flen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(t).state);
	EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(t));
	olen = KVM_COCO_MIG_MAX_VCPU_STATE;
	ASSERT_EQ(0, __kcm_vcpu(t, KVM_COCO_MIG_RECEIVE_VCPU, 1, rec[1], rlen[1], out, &olen));
	ASSERT_EQ(slen[1], olen);
	EXPECT_EQ(0, memcmp(out, state[1], olen));
	kcm_state_load(tvcpu[1], out, olen);
	EXPECT_EQ(MULTI_VCPUS, kcm_status(t).vcpus);
	ASSERT_EQ(0, kcm_target_finish(t, fin, flen));
	for (i = 0; i < MULTI_VCPUS; i++) {
		EXPECT_EQ(i, kcm_run_sync(tvcpu[i]));
		kcm_run_expect(tvcpu[i], UCALL_DONE);
	}
	for (i = 0; i < MULTI_VCPUS; i++) {
		free(rec[i]);
		free(state[i]);
	}
	free(out);
	free(fin);
	close(s);
	close(t);
	kcm_vm_free(svm);
	kcm_vm_free(tvm);
}

/*
 * A vCPU record changed in any authenticated byte, or another session's:
 * the target refuses it (EBADMSG), fails and is dead.
 */
TEST_F_TIMEOUT(pair, vcpu_record_forgeries_refused, PAIR_TIMEOUT)
{
	static const struct { unsigned int off; const char *what; } fields[] = {
		{ 0, "version" }, { 1, "type" }, { 8, "vcpu id" }, { 16, "seq" },
		{ 24, "gen" }, { 32, "stream" }, { 40, "ciphertext" }, { ~0u, "tag" },
	};
	uint8_t out[64];
	int i;

	for (i = 0; i <= ARRAY_SIZE(fields); i++) {
		struct kcm_vm src, tgt;
		uint32_t rlen, olen = sizeof(out), off;
		uint8_t *rec;
		int s, t;

		kcm_vm_create(&src, 1);
		kcm_vm_create(&tgt, 1);
		s = kcm_session(self->dev, src.vm, KVM_COCO_MIG_ROLE_SOURCE);
		t = kcm_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
		kcm_handshake(s, t);
		if (i < ARRAY_SIZE(fields)) {
			rec = kcm_vcpu_out(s, KVM_COCO_MIG_PACKAGE_VCPU, 0, KCM_DUMMY_VCPU_STATE,
					   sizeof(KCM_DUMMY_VCPU_STATE), &rlen);
			off = fields[i].off == ~0u ? rlen - 1 : fields[i].off;
			rec[off] ^= 0x01;
		} else {
			/* The pair's own source made this one, for its target. */
			rec = kcm_vcpu_out(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0,
					   KCM_DUMMY_VCPU_STATE,
					   sizeof(KCM_DUMMY_VCPU_STATE), &rlen);
		}
		EXPECT_EQ(-EBADMSG, __kcm_vcpu(t, KVM_COCO_MIG_RECEIVE_VCPU, 0, rec, rlen,
					       out, &olen))
			TH_LOG("vCPU record's %s",
			       i < ARRAY_SIZE(fields) ? fields[i].what : "session");
		EXPECT_EQ(KVM_COCO_MIG_STATE_FAILED, kcm_status(t).state);
		EXPECT_EQ(KVM_COCO_MIG_VM_DEAD, kcm_vm_state(t));
		EXPECT_EQ(0, kcm_status(t).vcpus);
		kcm_expect_no_entry(tgt.vcpu, EIO);
		free(rec);
		close(s);
		close(t);
		kcm_vm_free(src.vm);
		kcm_vm_free(tgt.vm);
	}
}

/*
 * The pause PACKAGE_VCPU makes is not yet for good: no final record has
 * left the source, so no target can run. CANCEL lets the guest run on, and
 * so does closing the session; a failed FINISH keeps the pause.
 */
TEST_F_TIMEOUT(pair, vcpu_pause_undone_by_cancel_or_close, PAIR_TIMEOUT)
{
	uint32_t rlen, flen;
	void *rec, *fin;
	int close_it;

	for (close_it = 0; close_it < 2; close_it++) {
		if (close_it) {
			/* A fresh source session on the same, running, guest. */
			self->ssess = kcm_session(self->dev, self->src.vm,
						  KVM_COCO_MIG_ROLE_SOURCE);
			close(self->tsess);
			kcm_vm_free(self->tgt.vm);
			kcm_vm_create(&self->tgt, SMALL_PAGES);
			self->tsess = kcm_session(self->dev, self->tgt.vm,
						  KVM_COCO_MIG_ROLE_TARGET);
			kcm_handshake(self->ssess, self->tsess);
		}
		rec = kcm_vcpu_out(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0,
				   KCM_DUMMY_VCPU_STATE, sizeof(KCM_DUMMY_VCPU_STATE), &rlen);
		EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(self->ssess));
		kcm_expect_no_entry(self->src.vcpu, EIO);
		/* A FINISH that fails (no page sent yet): still paused, STREAMING. */
		EXPECT_EQ(-ENODATA, kcm_source_finish(self->ssess, kcm_dummy_state,
						      sizeof(kcm_dummy_state), &fin, &flen));
		EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(self->ssess));
		EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(self->ssess).state);
		kcm_transfer_all(self->ssess, self->tsess, SMALL_PAGES);
		if (close_it) {
			close(self->ssess);
			self->ssess = -1;
		} else {
			ASSERT_EQ(0, ioctl(self->ssess, KVM_COCO_MIG_CANCEL, 0));
			EXPECT_EQ(KVM_COCO_MIG_STATE_CANCELLED, kcm_status(self->ssess).state);
			EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(self->ssess));
			close(self->ssess);
		}
		free(rec);
	}
	/* The guest runs on, its memory as it was. */
	kcm_run_expect(self->src.vcpu, UCALL_DONE);
}

static uint64_t kcm_spin_started, kcm_spin_go;

/* A vCPU that says it runs, then runs until told to stop. */
static void guest_spin(void)
{
	WRITE_ONCE(kcm_spin_started, 1);
	while (!READ_ONCE(kcm_spin_go))
		cpu_relax();
	GUEST_SYNC(1);
	GUEST_DONE();
}

static void *kcm_spin_thread(void *vcpu)
{
	return (void *)(uintptr_t)kcm_run_sync(vcpu);
}

/*
 * PACKAGE_VCPU and FINISH refuse (EBUSY) while a vCPU is inside KVM_RUN:
 * the VMM stops its vCPUs first, and nothing is paused meanwhile. A vCPU
 * added after the pause is fenced too, and FINISH waits for its record.
 */
TEST_F_TIMEOUT(pair, vcpu_busy_and_added_vcpu, PAIR_TIMEOUT)
{
	uint64_t *started, *go, gfn = DATA_GPA / PAGE_SIZE;
	struct kvm_vcpu *vcpu, *added;
	uint32_t rlen, flen;
	struct kvm_vm *vm;
	struct kcm_vm tgt;
	pthread_t thread;
	void *rec, *fin, *ret;
	int s, t;

	vm = kcm_private_vm(1, guest_spin, &vcpu, DATA_GPA, DATA_SLOT, 1);
	kcm_vm_create(&tgt, 1);
	s = kcm_session(self->dev, vm, KVM_COCO_MIG_ROLE_SOURCE);
	t = kcm_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(s, t);
	kcm_xfer(s, t, &gfn, 1);
	started = addr_gva2hva(vm, (vm_vaddr_t)&kcm_spin_started);
	go = addr_gva2hva(vm, (vm_vaddr_t)&kcm_spin_go);
	pthread_create(&thread, NULL, kcm_spin_thread, vcpu);
	/* In the guest, so inside KVM_RUN: however long that takes. */
	while (!READ_ONCE(*started))
		usleep(1000);
	rlen = 4096;
	rec = calloc(1, rlen);
	EXPECT_EQ(-EBUSY, __kcm_vcpu(s, KVM_COCO_MIG_PACKAGE_VCPU, 0, KCM_DUMMY_VCPU_STATE,
				     sizeof(KCM_DUMMY_VCPU_STATE), rec, &rlen));
	flen = 4096;
	fin = calloc(1, flen);
	EXPECT_EQ(-EBUSY, __kcm_blob(s, KVM_COCO_MIG_FINISH, kcm_dummy_state,
				     sizeof(kcm_dummy_state), fin, &flen));
	EXPECT_EQ(KVM_COCO_MIG_VM_RUNNABLE, kcm_vm_state(s));
	EXPECT_EQ(0, kcm_status(s).vcpus);
	WRITE_ONCE(*go, 1);
	pthread_join(thread, &ret);
	EXPECT_EQ(1, (uintptr_t)ret);

	/* Stopped: the record, and the pause. */
	rlen = 4096;
	ASSERT_EQ(0, __kcm_vcpu(s, KVM_COCO_MIG_PACKAGE_VCPU, 0, KCM_DUMMY_VCPU_STATE,
				sizeof(KCM_DUMMY_VCPU_STATE), rec, &rlen));
	/* A vCPU added now cannot run either, and has no record. */
	added = vm_vcpu_add(vm, 1, guest_spin);
	kcm_expect_no_entry(added, EIO);
	EXPECT_EQ(2, kcm_status(s).nr_vcpus);
	EXPECT_EQ(-ENOMSG, kcm_source_finish(s, kcm_dummy_state, sizeof(kcm_dummy_state),
					     &fin, &flen));
	EXPECT_EQ(KVM_COCO_MIG_VM_FENCED, kcm_vm_state(s));
	rlen = 4096;
	ASSERT_EQ(0, __kcm_vcpu(s, KVM_COCO_MIG_PACKAGE_VCPU, 1, KCM_DUMMY_VCPU_STATE,
				sizeof(KCM_DUMMY_VCPU_STATE), rec, &rlen));
	EXPECT_EQ(1, kcm_pkt_hdr(rec)->gfn);		/* the vCPU id */
	EXPECT_EQ(2, kcm_pkt_hdr(rec)->seq);
	free(fin);
	ASSERT_EQ(0, kcm_source_finish(s, kcm_dummy_state, sizeof(kcm_dummy_state), &fin,
				       &flen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_FINISHED, kcm_status(s).state);
	free(fin);
	free(rec);
	close(s);
	close(t);
	kcm_vm_free(vm);
	kcm_vm_free(tgt.vm);
}

/*
 * A target with fewer vCPUs than its source: the record of the vCPU it
 * lacks has nowhere to go (ENOENT), and the final record, which counts
 * the records made, fails its FINISH: the target is dead.
 */
TEST_F_TIMEOUT(pair, target_lacking_a_vcpu_is_refused, PAIR_TIMEOUT)
{
	struct kvm_vcpu *svcpu[2], *tvcpu;
	uint64_t gfn = DATA_GPA / PAGE_SIZE;
	uint32_t rlen[2], olen, flen;
	struct kvm_vm *svm, *tvm;
	void *rec[2], *out, *fin;
	int s, t, i;

	svm = kcm_private_vm(2, guest_vcpu_token, svcpu, DATA_GPA, DATA_SLOT, 1);
	tvm = kcm_private_vm(1, guest_vcpu_token, &tvcpu, DATA_GPA, DATA_SLOT, 1);
	s = kcm_session(self->dev, svm, KVM_COCO_MIG_ROLE_SOURCE);
	t = kcm_session(self->dev, tvm, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(s, t);
	kcm_xfer(s, t, &gfn, 1);
	for (i = 0; i < 2; i++)
		rec[i] = kcm_vcpu_out(s, KVM_COCO_MIG_PACKAGE_VCPU, i, KCM_DUMMY_VCPU_STATE,
				      sizeof(KCM_DUMMY_VCPU_STATE), &rlen[i]);
	ASSERT_EQ(0, kcm_source_finish(s, kcm_dummy_state, sizeof(kcm_dummy_state), &fin,
				       &flen));
	out = kcm_vcpu_out(t, KVM_COCO_MIG_RECEIVE_VCPU, 0, rec[0], rlen[0], &olen);
	olen = 0;
	EXPECT_EQ(-ENOENT, __kcm_vcpu(t, KVM_COCO_MIG_RECEIVE_VCPU, 1, rec[1], rlen[1], NULL,
				      &olen));
	EXPECT_EQ(1, kcm_status(t).vcpus);
	EXPECT_EQ(1, kcm_status(t).nr_vcpus);
	EXPECT_EQ(-ENODATA, kcm_target_finish(t, fin, flen));
	EXPECT_EQ(KVM_COCO_MIG_STATE_FAILED, kcm_status(t).state);
	EXPECT_EQ(KVM_COCO_MIG_VM_DEAD, kcm_vm_state(t));
	kcm_expect_no_entry(tvcpu, EIO);
	free(out);
	free(fin);
	free(rec[0]);
	free(rec[1]);
	close(s);
	close(t);
	kcm_vm_free(svm);
	kcm_vm_free(tvm);
}

/*
 * The largest vCPU state PACKAGE_VCPU takes makes the largest record
 * GET_CAPS reports, which RECEIVE_VCPU takes.
 */
TEST_F_TIMEOUT(pair, largest_vcpu_state_end_to_end, PAIR_TIMEOUT)
{
	struct kvm_coco_mig_backend_caps caps = kcm_sw_caps(self->dev);
	uint8_t *state = malloc(caps.max_vcpu_state), *rec, *out;
	uint32_t rlen, olen;
	int i;

	for (i = 0; i < caps.max_vcpu_state; i++)
		state[i] = i * 13;
	rlen = 0;
	EXPECT_EQ(-EINVAL, __kcm_vcpu(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0, state,
				      caps.max_vcpu_state + 1, NULL, &rlen));
	rec = kcm_vcpu_out(self->ssess, KVM_COCO_MIG_PACKAGE_VCPU, 0, state,
			   caps.max_vcpu_state, &rlen);
	EXPECT_EQ(caps.max_vcpu_record, rlen);
	out = kcm_vcpu_out(self->tsess, KVM_COCO_MIG_RECEIVE_VCPU, 0, rec, rlen, &olen);
	EXPECT_EQ(caps.max_vcpu_state, olen);
	EXPECT_EQ(0, memcmp(out, state, olen));
	free(out);
	free(rec);
	free(state);
}

FIXTURE(handshake) {
};

FIXTURE_SETUP(handshake)
{
}

FIXTURE_TEARDOWN(handshake)
{
}

/*
 * Evidence whose MAC does not verify is refused by the source's policy.
 * Quiet: at most 5 s (two VMs of one page).
 */
TEST_F_TIMEOUT(handshake, evidence_forgery_refused, 60)
{
	struct kcm_vm src, tgt;
	uint32_t ev_len, out_len;
	uint8_t *ev;
	int dev, ssess, tsess;

	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	dev = kcm_dev();
	kcm_vm_create(&src, 1);
	kcm_vm_create(&tgt, 1);
	ssess = kcm_session(dev, src.vm, KVM_COCO_MIG_ROLE_SOURCE);
	tsess = kcm_session(dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
	ev = kcm_blob_out(tsess, KVM_COCO_MIG_GET_MIGRATION_DATA, NULL, 0, &ev_len);
	out_len = 4096;
	ev[20] ^= 1;	/* the nonce */
	EXPECT_EQ(-EKEYREJECTED, __kcm_blob(ssess, KVM_COCO_MIG_START, ev, ev_len,
					    malloc(4096), &out_len));
	ev[20] ^= 1;
	EXPECT_EQ(-EINVAL, __kcm_blob(ssess, KVM_COCO_MIG_START, ev, ev_len - 1,
				      malloc(4096), &out_len));
	EXPECT_EQ(KVM_COCO_MIG_STATE_CREATED, kcm_status(ssess).state);
	close(ssess);
	close(tsess);
	kcm_vm_free(src.vm);
	kcm_vm_free(tgt.vm);
	close(dev);
}

/*
 * Item 1: a man in the middle who has seen the evidence (it crosses the
 * network) but holds no platform key. With the target's public key he can
 * wrap a transport key of his own choosing, exactly as the sw backend's
 * source does (ECDH P-256, HKDF-SHA256 over the target nonce and a session
 * id, AES-256-GCM under the KEK with a zero nonce, the additional data a
 * SHA-256 of the blob's header, session id and public key), with BearSSL.
 * Whatever follows in the blob (today: a MAC under the platform key) he
 * fills with random bytes. ACCEPT must refuse it with EKEYREJECTED and
 * change nothing: the genuine source's blob is accepted afterwards.
 */
#define EV_NONCE_OFF	8
#define EV_PUB_OFF	24
#define TR_SID_OFF	8
#define TR_PUB_OFF	24
#define TR_WRAP_OFF	88

struct kcm_rng {
	br_hmac_drbg_context drbg;
};

static void kcm_mitm_blob(const uint8_t *ev, uint8_t *tr, uint32_t tr_len)
{
	static const char info[] = "kvm-coco-mig v1 sw kek";
	const br_ec_impl *ec = br_ec_get_default();
	uint8_t seed[32], priv[32], pub[65], point[65], salt[32], kek[32];
	uint8_t tk[32], aad[32], nonce[12] = {}, *tag;
	br_ec_private_key sk;
	br_hmac_drbg_context drbg;
	br_hkdf_context hkdf;
	br_sha256_context sha;
	br_aes_ct_ctr_keys aes;
	br_gcm_context gcm;
	size_t xlen;
	const uint8_t *x;

	TEST_ASSERT_EQ(getrandom(seed, sizeof(seed), 0), sizeof(seed));
	br_hmac_drbg_init(&drbg, &br_sha256_vtable, seed, sizeof(seed));
	TEST_ASSERT(br_ec_keygen(&drbg.vtable, ec, &sk, priv, BR_EC_secp256r1) == 32,
		    "EC key generation");
	TEST_ASSERT(br_ec_compute_pub(ec, NULL, pub, &sk) == 65, "EC public key");

	getrandom(tr, tr_len, 0);		/* everything he cannot compute */
	tr[0] = 'K'; tr[1] = 'C'; tr[2] = 'M'; tr[3] = 'T';
	tr[4] = 1;
	memset(tr + 5, 0, 3);
	memcpy(tr + TR_PUB_OFF, pub + 1, 64);	/* his key: X || Y */

	/* The shared secret with the target's public key. */
	point[0] = 0x04;
	memcpy(point + 1, ev + EV_PUB_OFF, 64);
	TEST_ASSERT(ec->mul(point, sizeof(point), priv, sizeof(priv), BR_EC_secp256r1),
		    "ECDH");
	x = point + ec->xoff(BR_EC_secp256r1, &xlen);
	TEST_ASSERT_EQ(xlen, 32);

	memcpy(salt, ev + EV_NONCE_OFF, 16);
	memcpy(salt + 16, tr + TR_SID_OFF, 16);
	br_hkdf_init(&hkdf, &br_sha256_vtable, salt, sizeof(salt));
	br_hkdf_inject(&hkdf, x, 32);
	br_hkdf_flip(&hkdf);
	br_hkdf_produce(&hkdf, info, sizeof(info) - 1, kek, sizeof(kek));

	br_sha256_init(&sha);
	br_sha256_update(&sha, tr, TR_WRAP_OFF);
	br_sha256_out(&sha, aad);

	memset(tk, 0x42, sizeof(tk));		/* the key he will use */
	memcpy(tr + TR_WRAP_OFF, tk, 32);
	br_aes_ct_ctr_init(&aes, kek, sizeof(kek));
	br_gcm_init(&gcm, &aes.vtable, br_ghash_ctmul);
	br_gcm_reset(&gcm, nonce, sizeof(nonce));
	br_gcm_aad_inject(&gcm, aad, sizeof(aad));
	br_gcm_flip(&gcm);
	br_gcm_run(&gcm, 1, tr + TR_WRAP_OFF, 32);
	tag = tr + TR_WRAP_OFF + 32;
	br_gcm_get_tag(&gcm, tag);
}

/* A pair of one-page VMs with sessions, the target's evidence fetched. */
struct kcm_hs {
	int dev, ssess, tsess;
	struct kcm_vm src, tgt;
	uint8_t *ev, *tr;
	uint32_t ev_len, tr_len;
};

static void kcm_hs_setup(struct kcm_hs *h)
{
	h->dev = kcm_dev();
	kcm_vm_create(&h->src, 1);
	kcm_vm_create(&h->tgt, 1);
	h->ssess = kcm_session(h->dev, h->src.vm, KVM_COCO_MIG_ROLE_SOURCE);
	h->tsess = kcm_session(h->dev, h->tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
	h->ev = kcm_blob_out(h->tsess, KVM_COCO_MIG_GET_MIGRATION_DATA, NULL, 0,
			     &h->ev_len);
	h->tr = kcm_blob_out(h->ssess, KVM_COCO_MIG_START, h->ev, h->ev_len, &h->tr_len);
}

static void kcm_hs_teardown(struct kcm_hs *h)
{
	free(h->ev);
	free(h->tr);
	close(h->ssess);
	close(h->tsess);
	kcm_vm_free(h->src.vm);
	kcm_vm_free(h->tgt.vm);
	close(h->dev);
}

/* Quiet: at most 5 s (two VMs of one page, two handshakes). */
TEST_F_TIMEOUT(handshake, man_in_the_middle_refused, 60)
{
	struct kcm_hs h;
	uint8_t *mitm;

	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	kcm_hs_setup(&h);
	ASSERT_GE(h.tr_len, TR_WRAP_OFF + 48);
	mitm = malloc(h.tr_len);
	kcm_mitm_blob(h.ev, mitm, h.tr_len);
	EXPECT_EQ(-EKEYREJECTED, __kcm_blob(h.tsess, KVM_COCO_MIG_ACCEPT, mitm, h.tr_len,
					    NULL, NULL));
	EXPECT_EQ(KVM_COCO_MIG_STATE_KEY_PENDING, kcm_status(h.tsess).state);
	/* Nothing changed: the genuine blob is accepted. */
	EXPECT_EQ(0, __kcm_blob(h.tsess, KVM_COCO_MIG_ACCEPT, h.tr, h.tr_len, NULL, NULL));
	EXPECT_EQ(KVM_COCO_MIG_STATE_STREAMING, kcm_status(h.tsess).state);
	free(mitm);
	kcm_hs_teardown(&h);
}

/*
 * Item 1 and 10: a genuine blob altered on the way. A field the platform
 * key authenticates (header, session id, public key, MAC): EKEYREJECTED,
 * nothing changes. The wrapped key itself (authenticated by the key
 * wrapping's AEAD): EBADMSG, and the session is poisoned.
 */
TEST_F_TIMEOUT(handshake, tampered_transport_blob, 60)
{
	static const unsigned int rejected[] = { 4, TR_SID_OFF + 3, TR_PUB_OFF + 5, ~0u };
	struct kcm_hs h;
	int i;

	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	kcm_hs_setup(&h);
	for (i = 0; i < ARRAY_SIZE(rejected); i++) {
		unsigned int off = rejected[i] == ~0u ? h.tr_len - 1 : rejected[i];

		h.tr[off] ^= 0x10;
		EXPECT_EQ(-EKEYREJECTED, __kcm_blob(h.tsess, KVM_COCO_MIG_ACCEPT, h.tr,
						    h.tr_len, NULL, NULL))
			TH_LOG("byte %u", off);
		EXPECT_EQ(KVM_COCO_MIG_STATE_KEY_PENDING, kcm_status(h.tsess).state);
		h.tr[off] ^= 0x10;
	}
	h.tr[TR_WRAP_OFF + 7] ^= 0x10;
	EXPECT_EQ(-EBADMSG, __kcm_blob(h.tsess, KVM_COCO_MIG_ACCEPT, h.tr, h.tr_len,
				       NULL, NULL));
	EXPECT_EQ(KVM_COCO_MIG_STATE_FAILED, kcm_status(h.tsess).state);
	EXPECT_EQ(KVM_COCO_MIG_VM_DEAD, kcm_status(h.tsess).vm);
	kcm_hs_teardown(&h);
}

/* The whole flow on 64 MiB of private memory. */
FIXTURE(big) {
	int dev;
};

FIXTURE_SETUP(big)
{
	if (!kcm_sw_supported())
		SKIP(return, "KVM_X86_SW_PROTECTED_VM is not supported");
	self->dev = kcm_dev();
}

FIXTURE_TEARDOWN(big)
{
	if (self->dev > 0)
		close(self->dev);
}

/* Quiet: at most 75 s (64 MiB written, sealed, opened and checked). */
TEST_F_TIMEOUT(big, migrate_64mib, 900)
{
	struct kcm_vm src, tgt;
	int ssess, tsess;

	kcm_vm_create(&src, BIG_PAGES);
	kcm_vm_create(&tgt, BIG_PAGES);
	kcm_run_expect(src.vcpu, UCALL_SYNC);
	ssess = kcm_session(self->dev, src.vm, KVM_COCO_MIG_ROLE_SOURCE);
	tsess = kcm_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
	kcm_handshake(ssess, tsess);
	kcm_transfer_all(ssess, tsess, BIG_PAGES);
	kcm_copy_shared(src.vm, tgt.vm);
	ASSERT_EQ(0, kcm_finish_with_state(ssess, tsess, &src, &tgt));
	EXPECT_EQ(BIG_PAGES, kcm_status(tsess).pages);
	kcm_run_expect(tgt.vcpu, UCALL_DONE);
	EXPECT_EQ(-1, __vcpu_run(src.vcpu));
	EXPECT_EQ(EIO, errno);
	close(ssess);
	close(tsess);
	kcm_vm_free(src.vm);
	kcm_vm_free(tgt.vm);
}

TEST_HARNESS_MAIN
