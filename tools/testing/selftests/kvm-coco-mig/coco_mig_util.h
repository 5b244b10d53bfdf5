/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kvm-coco-mig kselftests and the bench: thin
 * wrappers over the uAPI that return -errno (__kcm_*()) or assert success.
 */
#ifndef SELFTEST_KVM_COCO_MIG_UTIL_H
#define SELFTEST_KVM_COCO_MIG_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm_coco_mig.h>

#include "kvm_util.h"
#include "processor.h"

/* Wire bytes of a page packet: 24-byte header, page, 16-byte tag. */
static inline size_t kcm_packet_size(void)
{
	return 24 + PAGE_SIZE + 16;
}

static inline int kcm_session(int dev, struct kvm_vm *vm, uint32_t role)
{
	struct kvm_coco_mig_create c = { .vm_fd = vm->fd, .role = role };
	int fd = ioctl(dev, KVM_COCO_MIG_CREATE_SESSION, &c);

	TEST_ASSERT(fd >= 0, "CREATE_SESSION: %s", strerror(errno));
	return fd;
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

static inline int __kcm_pages(int sess, unsigned long ioc, uint64_t *gfns,
			      uint32_t n, void *buf, uint64_t *len, uint32_t *done)
{
	struct kvm_coco_mig_pages p = {
		.nr_pages = n, .gfns_uaddr = (uintptr_t)gfns,
		.buf_uaddr = (uintptr_t)buf, .buf_len = *len,
	};
	int r = ioctl(sess, ioc, &p);

	*len = p.buf_len;
	if (done)
		*done = p.done;
	return r ? -errno : 0;
}

#endif /* SELFTEST_KVM_COCO_MIG_UTIL_H */
