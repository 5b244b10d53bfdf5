/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kvm-coco-mig kselftests and the bench: thin
 * wrappers over the uAPI that return -errno (__kcm_*()) or assert success.
 */
#ifndef SELFTEST_KVM_COCO_MIG_UTIL_H
#define SELFTEST_KVM_COCO_MIG_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm_coco_mig.h>

#include "kvm_util.h"
#include "processor.h"

/*
 * Per-test timeouts (TEST_F_TIMEOUT), in seconds. The tests run on the
 * debug kernel (KASAN, lockdep, kmemleak) under QEMU TCG, beside another
 * test in the other lane, on a host that may be busy: a test's worst case
 * is taken as 3x its quiet time, its timeout as 4x that. Quiet times are
 * upper estimates: only whole runs have been timed (every kselftest, the
 * kernel's own included, in the 250-380 s of a quiet make check's QEMU
 * step). No test has a deadline of its own: a wait for the guest waits,
 * and a guest that stopped is ended by the timeout.
 */

/*
 * A KVM_X86_SW_PROTECTED_VM with @nr_vcpus vCPUs (in @vcpus) running
 * @guest_code, and @npages of guest_memfd memory at @gpa in memslot @slot,
 * mapped at the same guest virtual address and private.
 */
static inline struct kvm_vm *kcm_private_vm(uint32_t nr_vcpus, void *guest_code,
					    struct kvm_vcpu **vcpus, uint64_t gpa,
					    uint32_t slot, uint64_t npages)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_vm *vm;
	int memfd;

	vm = __vm_create_with_vcpus(shape, nr_vcpus, 64 + npages / 256, guest_code,
				    vcpus);
	memfd = vm_create_guest_memfd(vm, npages * PAGE_SIZE, 0);
	vm_mem_add(vm, VM_MEM_SRC_ANONYMOUS, gpa, slot, npages, KVM_MEM_GUEST_MEMFD,
		   memfd, 0);
	close(memfd);
	virt_map(vm, gpa, gpa, npages);
	vm_mem_set_private(vm, gpa, npages * PAGE_SIZE);
	return vm;
}

/* Wire bytes of a page packet: 40-byte header, page, 16-byte tag. */
static inline size_t kcm_packet_size(void)
{
	return sizeof(struct kvm_coco_mig_pkt_hdr) + PAGE_SIZE + 16;
}

/* Wire bytes of a zero page's packet: header and tag. */
static inline size_t kcm_zero_packet_size(void)
{
	return sizeof(struct kvm_coco_mig_pkt_hdr) + 16;
}

/* Offset of the payload (the ciphertext) in a packet. */
#define KCM_PAYLOAD	sizeof(struct kvm_coco_mig_pkt_hdr)

static inline struct kvm_coco_mig_pkt_hdr *kcm_pkt_hdr(void *pkt)
{
	return pkt;
}

/* The packet after @pkt in a buffer of back-to-back packets. */
static inline uint8_t *kcm_pkt_next(void *pkt)
{
	return (uint8_t *)pkt + kcm_pkt_hdr(pkt)->len;
}

/* The @i-th packet of a buffer of back-to-back packets. */
static inline uint8_t *kcm_pkt_at(void *buf, uint32_t i)
{
	uint8_t *p = buf;

	while (i--)
		p = kcm_pkt_next(p);
	return p;
}

/* The sw backend's entry of KVM_COCO_MIG_GET_CAPS. */
static inline struct kvm_coco_mig_backend_caps kcm_sw_caps(int dev)
{
	struct kvm_coco_mig_backend_caps e[8] = {};
	struct kvm_coco_mig_caps c = {
		.nr_backends = 8, .entry_size = sizeof(e[0]),
		.backends_uaddr = (uintptr_t)e,
	};
	uint32_t i;

	TEST_ASSERT(!ioctl(dev, KVM_COCO_MIG_GET_CAPS, &c), "GET_CAPS: %s",
		    strerror(errno));
	for (i = 0; i < c.nr_backends && i < 8; i++)
		if (e[i].backend == KVM_COCO_MIG_BACKEND_SW)
			return e[i];
	TEST_FAIL("GET_CAPS: no sw backend");
	return e[0];
}

static inline int kcm_session_streams(int dev, struct kvm_vm *vm, uint32_t role,
				      uint32_t nr_streams)
{
	struct kvm_coco_mig_create c = {
		.vm_fd = vm->fd, .role = role, .nr_streams = nr_streams,
	};
	int fd = ioctl(dev, KVM_COCO_MIG_CREATE_SESSION, &c);

	TEST_ASSERT(fd >= 0, "CREATE_SESSION: %s", strerror(errno));
	return fd;
}

static inline int kcm_session(int dev, struct kvm_vm *vm, uint32_t role)
{
	return kcm_session_streams(dev, vm, role, 0);
}

/*
 * One KVM_COCO_MIG_EXCHANGE round: -errno, or 0 with @x's outputs (out_len,
 * done, round) filled in.
 */
static inline int __kcm_exchange(int sess, struct kvm_coco_mig_exchange *x)
{
	return ioctl(sess, KVM_COCO_MIG_EXCHANGE, x) ? -errno : 0;
}

static inline int __kcm_blob(int sess, unsigned long ioc, void *in,
			     uint32_t in_len, void *out, uint32_t *out_len)
{
	struct kvm_coco_mig_blob b = {
		.in_len = in_len, .in_uaddr = (uintptr_t)in,
		.out_len = out_len ? *out_len : 0, .out_uaddr = (uintptr_t)out,
	};
	int r = ioctl(sess, ioc, &b);

	if (out_len)
		*out_len = b.out_len;
	return r ? -errno : 0;
}

/* Query the size, then fetch: the VMM's two-step. */
static inline void *kcm_blob_out(int sess, unsigned long ioc, void *in,
				 uint32_t in_len, uint32_t *len)
{
	void *out;
	int r;

	*len = 0;
	r = __kcm_blob(sess, ioc, in, in_len, NULL, len);
	TEST_ASSERT(!r && *len, "size query: %s", strerror(-r));
	out = calloc(1, *len);
	r = __kcm_blob(sess, ioc, in, in_len, out, len);
	TEST_ASSERT(!r, "blob ioctl %#lx: %s", ioc, strerror(-r));
	return out;
}

/* PACKAGE_VCPU or RECEIVE_VCPU: -errno, or 0 with @out_len filled in. */
static inline int __kcm_vcpu(int sess, unsigned long ioc, uint32_t vcpu_id,
			     const void *in, uint32_t in_len, void *out,
			     uint32_t *out_len)
{
	struct kvm_coco_mig_vcpu v = {
		.vcpu_id = vcpu_id, .in_len = in_len, .in_uaddr = (uintptr_t)in,
		.out_len = out_len ? *out_len : 0, .out_uaddr = (uintptr_t)out,
	};
	int r = ioctl(sess, ioc, &v);

	if (out_len)
		*out_len = v.out_len;
	return r ? -errno : 0;
}

/* The size query, then the call: the output in a buffer to free(). */
static inline void *kcm_vcpu_out(int sess, unsigned long ioc, uint32_t vcpu_id,
				 const void *in, uint32_t in_len, uint32_t *len)
{
	void *out;
	int r;

	*len = 0;
	r = __kcm_vcpu(sess, ioc, vcpu_id, in, in_len, NULL, len);
	TEST_ASSERT(!r && *len, "vCPU %u size query: %s", vcpu_id, strerror(-r));
	out = calloc(1, *len);
	r = __kcm_vcpu(sess, ioc, vcpu_id, in, in_len, out, len);
	TEST_ASSERT(!r, "vCPU %u ioctl %#lx: %s", vcpu_id, ioc, strerror(-r));
	return out;
}

/* A stand-in for a vCPU's state, where a test does not resume the vCPU. */
#define KCM_DUMMY_VCPU_STATE	"vcpu state of a test"

/*
 * vCPU records for vCPUs 0 to @nr - 1 with a stand-in state, from source
 * to target, each checked to arrive as it left.
 */
static inline void kcm_pass_vcpus(int ssess, int tsess, uint32_t nr)
{
	uint32_t id, rlen, slen;
	void *rec, *state;

	for (id = 0; id < nr; id++) {
		rec = kcm_vcpu_out(ssess, KVM_COCO_MIG_PACKAGE_VCPU, id,
				   KCM_DUMMY_VCPU_STATE, sizeof(KCM_DUMMY_VCPU_STATE),
				   &rlen);
		state = kcm_vcpu_out(tsess, KVM_COCO_MIG_RECEIVE_VCPU, id, rec, rlen,
				     &slen);
		TEST_ASSERT(slen == sizeof(KCM_DUMMY_VCPU_STATE) &&
			    !memcmp(state, KCM_DUMMY_VCPU_STATE, slen),
			    "vCPU %u state changed in transit", id);
		free(state);
		free(rec);
	}
}

static inline void kcm_handshake(int ssess, int tsess)
{
	uint32_t ev_len, tr_len;
	void *ev, *tr;
	int r;

	ev = kcm_blob_out(tsess, KVM_COCO_MIG_GET_MIGRATION_DATA, NULL, 0, &ev_len);
	tr = kcm_blob_out(ssess, KVM_COCO_MIG_START, ev, ev_len, &tr_len);
	r = __kcm_blob(tsess, KVM_COCO_MIG_ACCEPT, tr, tr_len, NULL, NULL);
	TEST_ASSERT(!r, "ACCEPT: %s", strerror(-r));
	free(ev);
	free(tr);
}

static inline int __kcm_pages_on(int sess, unsigned long ioc, uint32_t stream,
				 uint64_t *gfns, uint32_t n, void *buf,
				 uint64_t *len, uint32_t *done)
{
	struct kvm_coco_mig_pages p = {
		.nr_pages = n, .gfns_uaddr = (uintptr_t)gfns,
		.buf_uaddr = (uintptr_t)buf, .buf_len = *len, .stream = stream,
	};
	int r = ioctl(sess, ioc, &p);

	*len = p.buf_len;
	if (done)
		*done = p.done;
	return r ? -errno : 0;
}

static inline int __kcm_pages(int sess, unsigned long ioc, uint64_t *gfns,
			      uint32_t n, void *buf, uint64_t *len, uint32_t *done)
{
	return __kcm_pages_on(sess, ioc, 0, gfns, n, buf, len, done);
}

/* Run @vcpu to its next GUEST_SYNC; returns the sync's value. */
static inline uint64_t kcm_run_sync(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_ASSERT_EQ(uc.cmd, UCALL_SYNC);
	return uc.args[1];
}

/* A VM that the module made dead refuses the library's cleanup ioctls. */
static inline void kcm_vm_free(struct kvm_vm *vm)
{
	if (__vm_ioctl(vm, KVM_CHECK_EXTENSION, (void *)KVM_CAP_USER_MEMORY) < 0 &&
	    errno == EIO)
		kvm_vm_release(vm);
	else
		kvm_vm_free(vm);
}

/*
 * The VMM's vCPU state, flattened for FINISH: the xsave area's size and
 * bytes, then struct kvm_x86_state with its MSR entries (its xsave pointer
 * is rewritten on load).
 */
static inline void *kcm_state_flatten(struct kvm_vcpu *vcpu, uint32_t *len)
{
	struct kvm_x86_state *state = vcpu_save_state(vcpu);
	uint32_t xlen = kvm_check_cap(KVM_CAP_XSAVE2) ?: sizeof(struct kvm_xsave);
	uint32_t slen = sizeof(*state) + state->msrs.nmsrs * sizeof(state->msrs.entries[0]);
	uint8_t *buf;

	*len = 8 + xlen + slen;
	buf = malloc(*len);
	memcpy(buf, &xlen, 4);
	memcpy(buf + 4, &slen, 4);
	memcpy(buf + 8, state->xsave, xlen);
	memcpy(buf + 8 + xlen, state, slen);
	kvm_x86_state_cleanup(state);
	return buf;
}

static inline void kcm_state_load(struct kvm_vcpu *vcpu, const uint8_t *buf, uint32_t len)
{
	struct kvm_x86_state *state;
	uint32_t xlen, slen;

	TEST_ASSERT(len >= 8, "vCPU state of %u bytes", len);
	memcpy(&xlen, buf, 4);
	memcpy(&slen, buf + 4, 4);
	TEST_ASSERT_EQ(len, 8 + xlen + slen);
	state = malloc(slen);
	memcpy(state, buf + 8 + xlen, slen);
	state->xsave = malloc(xlen);
	memcpy(state->xsave, buf + 8, xlen);
	vcpu_load_state(vcpu, state);
	kvm_x86_state_cleanup(state);
}

/*
 * One vCPU's state the way a VMM moves it: KVM_GET_* state on the source,
 * sealed by PACKAGE_VCPU, opened by RECEIVE_VCPU, KVM_SET_* on the target.
 */
static inline void kcm_move_vcpu(int ssess, int tsess, struct kvm_vcpu *src,
				 struct kvm_vcpu *tgt)
{
	uint32_t slen, rlen, olen;
	void *state = kcm_state_flatten(src, &slen);
	void *rec = kcm_vcpu_out(ssess, KVM_COCO_MIG_PACKAGE_VCPU, src->id, state,
				 slen, &rlen);
	void *out = kcm_vcpu_out(tsess, KVM_COCO_MIG_RECEIVE_VCPU, tgt->id, rec, rlen,
				 &olen);

	TEST_ASSERT(olen == slen && !memcmp(out, state, slen),
		    "vCPU %u state changed in transit", src->id);
	kcm_state_load(tgt, out, olen);
	free(out);
	free(rec);
	free(state);
}

/* Shared memory travels the ordinary way. */
static inline void kcm_copy_shared(struct kvm_vm *src, struct kvm_vm *tgt)
{
	struct userspace_mem_region *s0 = memslot2region(src, 0);
	struct userspace_mem_region *t0 = memslot2region(tgt, 0);
	uint64_t size = s0->region.memory_size, i, w, *snap, *t;

	TEST_ASSERT_EQ(size, t0->region.memory_size);
	/*
	 * The selftest library stores host addresses in guest memory (the
	 * ucall pool's hva fields). Words that hold a source host address
	 * where the target held the matching target address are relocated.
	 */
	snap = malloc(size);
	memcpy(snap, t0->host_mem, size);
	memcpy(t0->host_mem, s0->host_mem, size);
	t = t0->host_mem;
	for (i = 0; i < size / 8; i++) {
		w = t[i] - (uint64_t)s0->host_mem;
		if (w < size && snap[i] == w + (uint64_t)t0->host_mem)
			t[i] = snap[i];
	}
	free(snap);
}

static inline struct kvm_coco_mig_status kcm_status(int sess)
{
	struct kvm_coco_mig_status st = {};

	TEST_ASSERT(!ioctl(sess, KVM_COCO_MIG_STATUS, &st), "STATUS: %s", strerror(errno));
	return st;
}

static inline bool kcm_sw_supported(void)
{
	return kvm_has_cap(KVM_CAP_VM_TYPES) &&
	       (kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
}

static inline int kcm_dev(void)
{
	int dev = open("/dev/kvm-coco-mig", O_RDWR);

	TEST_ASSERT(dev >= 0, "open /dev/kvm-coco-mig: %s", strerror(errno));
	return dev;
}

/* Pages per PACKAGE_PAGES / RECEIVE_PAGES call of kcm_xfer(). */
#define KCM_XFER_BATCH	512

static inline int __kcm_track_start(int sess, struct kvm_coco_mig_track *tr)
{
	return ioctl(sess, KVM_COCO_MIG_TRACK_START, tr) ? -errno : 0;
}

static inline int __kcm_get_dirty(int sess, uint64_t first, uint64_t nr,
				  uint64_t *bitmap, uint64_t *nr_dirty)
{
	struct kvm_coco_mig_dirty d = {
		.first_gfn = first, .nr_gfns = nr, .bitmap_uaddr = (uintptr_t)bitmap,
	};
	int r = ioctl(sess, KVM_COCO_MIG_GET_DIRTY, &d);

	if (nr_dirty)
		*nr_dirty = d.nr_dirty;
	return r ? -errno : 0;
}

/* Package @n gfns and receive them on the target, in batches. */
static inline void kcm_xfer(int ssess, int tsess, uint64_t *gfns, uint32_t n)
{
	uint8_t *buf = malloc(KCM_XFER_BATCH * kcm_packet_size());
	uint32_t off, b, done;
	uint64_t len;
	int r;

	for (off = 0; off < n; off += b) {
		b = n - off < KCM_XFER_BATCH ? n - off : KCM_XFER_BATCH;
		len = b * kcm_packet_size();
		r = __kcm_pages(ssess, KVM_COCO_MIG_PACKAGE_PAGES, gfns + off, b,
				buf, &len, &done);
		TEST_ASSERT(!r && done == b, "PACKAGE_PAGES: %s, %u of %u", strerror(-r),
			    done, b);
		r = __kcm_pages(tsess, KVM_COCO_MIG_RECEIVE_PAGES, NULL, b, buf, &len,
				&done);
		TEST_ASSERT(!r && done == b, "RECEIVE_PAGES: %s, %u of %u", strerror(-r),
			    done, b);
	}
	free(buf);
}

/*
 * A vCPU run by a thread until stopped, the way a VMM runs one: exits
 * other than a signal's EINTR go to @exit_fn.
 */
struct kcm_runner {
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	void (*exit_fn)(struct kvm_vcpu *vcpu, void *arg);
	void *arg;
	bool stop, stopped;
};

static inline void kcm_sigusr1(int sig)
{
}

static inline void *kcm_runner_loop(void *data)
{
	struct kcm_runner *r = data;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		if (__vcpu_run(r->vcpu)) {
			TEST_ASSERT(errno == EINTR, "KVM_RUN: %s", strerror(errno));
			continue;
		}
		r->exit_fn(r->vcpu, r->arg);
	}
	__atomic_store_n(&r->stopped, true, __ATOMIC_RELEASE);
	return NULL;
}

static inline void kcm_runner_start(struct kcm_runner *r, struct kvm_vcpu *vcpu,
				    void (*exit_fn)(struct kvm_vcpu *, void *),
				    void *arg)
{
	/* No SA_RESTART: the signal makes KVM_RUN return EINTR. */
	struct sigaction sa = { .sa_handler = kcm_sigusr1 };

	sigaction(SIGUSR1, &sa, NULL);
	r->vcpu = vcpu;
	r->exit_fn = exit_fn;
	r->arg = arg;
	r->stop = false;
	r->stopped = false;
	pthread_create(&r->thread, NULL, kcm_runner_loop, r);
}

/*
 * Pause the vCPU: a flag, then a signal until the thread has left KVM_RUN;
 * then one KVM_RUN with immediate_exit, so that an exit the VMM handled is
 * completed in the vCPU's registers before anyone saves them.
 */
static inline void kcm_runner_stop(struct kcm_runner *r)
{
	__atomic_store_n(&r->stop, true, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&r->stopped, __ATOMIC_ACQUIRE)) {
		pthread_kill(r->thread, SIGUSR1);
		usleep(1000);
	}
	pthread_join(r->thread, NULL);
	vcpu_run_complete_io(r->vcpu);
}

#endif /* SELFTEST_KVM_COCO_MIG_UTIL_H */
