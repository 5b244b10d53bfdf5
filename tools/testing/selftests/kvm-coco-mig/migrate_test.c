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
#include <unistd.h>

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
	TEST_ASSERT_EQ(len, n * kcm_packet_size());
	free(gfns);
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

/*
 * FINISH the way a VMM does: the source seals the vCPU state into the
 * final record; the target returns it once the record verified.
 */
static int kcm_finish_with_state(int ssess, int tsess, struct kcm_vm *src,
				 struct kcm_vm *tgt)
{
	uint32_t slen, flen, olen;
	void *state = kcm_state_flatten(src->vcpu, &slen);
	void *fin = kcm_blob_out(ssess, KVM_COCO_MIG_FINISH, state, slen, &flen);
	void *out;
	int r;

	olen = 0;
	r = __kcm_blob(tsess, KVM_COCO_MIG_FINISH, fin, flen, NULL, &olen);
	TEST_ASSERT(!r && olen == slen, "target FINISH size query: %d, %u", r, olen);
	{
		struct kvm_coco_mig_status st = {};

		ioctl(tsess, KVM_COCO_MIG_STATUS, &st);
		TEST_ASSERT_EQ(st.state, KVM_COCO_MIG_STATE_STREAMING);
	}
	out = malloc(olen);
	r = __kcm_blob(tsess, KVM_COCO_MIG_FINISH, fin, flen, out, &olen);
	if (!r) {
		TEST_ASSERT(!memcmp(out, state, slen), "vCPU state changed in transit");
		kcm_state_load(tgt->vcpu, out, olen);
	}
	free(out);
	free(fin);
	free(state);
	return r;
}

static int kcm_finish(int ssess, int tsess)
{
	uint32_t len;
	void *fin = kcm_blob_out(ssess, KVM_COCO_MIG_FINISH, NULL, 0, &len);
	int r = __kcm_blob(tsess, KVM_COCO_MIG_FINISH, fin, len, NULL, NULL);

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
	pkt[24 + 100] ^= 0x01;
	EXPECT_EQ(-EBADMSG, kcm_receive(self->tsess, 1, pkt, &done));
	EXPECT_EQ(0, done);

	/* The session is poisoned; the keys are gone. */
	st = kcm_status(self->tsess);
	EXPECT_EQ(KVM_COCO_MIG_STATE_FAILED, st.state);
	EXPECT_EQ(1, st.refused);
	pkt[24 + 100] ^= 0x01;
	EXPECT_EQ(-EIO, kcm_receive(self->tsess, 1, pkt, &done));
	EXPECT_EQ(-EIO, __kcm_blob(self->tsess, KVM_COCO_MIG_FINISH, pkt, 80, NULL, NULL));

	/* Guest memory holds what authenticated: the guest checks all of it. */
	kcm_move_ordinary(&self->src, &self->tgt);
	kcm_run_expect(self->tgt.vcpu, UCALL_DONE);
}

TEST_F_TIMEOUT(pair, tampered_header_fields, PAIR_TIMEOUT)
{
	static const struct { unsigned int off; uint8_t xor; int err; } cases[] = {
		{ 8, 0x01, -EBADMSG },		/* gfn: moved to the next page */
		{ 16, 0x40, -EBADMSG },		/* seq: renumbered */
		{ 2, 0x01, -EBADMSG },		/* flags */
		{ 24 + PAGE_SIZE + 3, 0x80, -EBADMSG },	/* tag */
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
	/* Each packet opens exactly once: no sequence number was reused. */
	EXPECT_EQ(0, kcm_receive(self->tsess, SMALL_PAGES, self->buf, &done));
	EXPECT_EQ(SMALL_PAGES, done);
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
	EXPECT_EQ(-EBADFD, __kcm_blob(s, KVM_COCO_MIG_FINISH, NULL, 0, NULL, &olen));
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
	EXPECT_EQ(-EBADFD, __kcm_blob(s, KVM_COCO_MIG_FINISH, NULL, 0, NULL, &olen));
	close(s);
	close(t);
	kcm_vm_free(v.vm);
	self->ssess = kcm_session(self->dev, self->src.vm, KVM_COCO_MIG_ROLE_SOURCE);
}

/*
 * Closing fds at each stage of a migration, in both orders; kmemleak, run
 * after the suite, sees any key, buffer or VM left behind. Quiet: at most
 * 25 s (20 VMs).
 */
TEST_F_TIMEOUT(pair, close_at_each_stage, 300)
{
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
			if (stage >= 2) {
				close(s);
				s = kcm_session(self->dev, src.vm, KVM_COCO_MIG_ROLE_SOURCE);
				close(t);
				t = kcm_session(self->dev, tgt.vm, KVM_COCO_MIG_ROLE_TARGET);
				kcm_handshake(s, t);
			}
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
				EXPECT_NE(0, kcm_status(s).state);
			}
			close(s);
			close(t);
			if (!vm_first) {
				kcm_vm_free(src.vm);
				kcm_vm_free(tgt.vm);
			}
		}
	}
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
