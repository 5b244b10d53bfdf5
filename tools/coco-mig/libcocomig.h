/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libcocomig: a small C library over the kvm-coco-mig uAPI
 * (include/uapi/linux/kvm_coco_mig.h), for VMMs. Every call returns 0 or
 * a negative errno; cm_strerror() says what an errno means for that call.
 * Buffers the library allocates are the caller's to free().
 */
#ifndef LIBCOCOMIG_H
#define LIBCOCOMIG_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm_coco_mig.h>

/* The calls, for cm_strerror(). */
enum cm_op {
	CM_OPEN, CM_CREATE, CM_STATUS, CM_GET_MIGRATION_DATA, CM_START,
	CM_ACCEPT, CM_PACKAGE, CM_RECEIVE, CM_FINISH, CM_CANCEL,
	CM_TRACK_START, CM_TRACK_STOP, CM_GET_DIRTY,
};

int cm_open(void);
int cm_session(int dev, int vm_fd, uint32_t role);
int cm_status(int sess, struct kvm_coco_mig_status *st);

/* The key exchange: target, source, target. */
int cm_get_migration_data(int sess, void **ev, uint32_t *len);
int cm_start(int sess, const void *ev, uint32_t ev_len, void **blob, uint32_t *len);
int cm_accept(int sess, const void *blob, uint32_t len);

/*
 * Pages, as back-to-back packets of varying length (each starts with
 * struct kvm_coco_mig_pkt_hdr, whose @len frames it). cm_max_packet(): the
 * largest packet the session's backend makes. cm_package() needs room for
 * @n of them at @buf and returns the bytes written in @len; cm_receive()
 * takes @n packets in the @len bytes at @buf, and returns the bytes used.
 */
size_t cm_max_packet(int sess);
int cm_package(int sess, const uint64_t *gfns, uint32_t n, void *buf,
	       uint64_t *len, uint32_t *done);
int cm_receive(int sess, const void *buf, uint64_t *len, uint32_t n,
	       uint32_t *done);

/* Pre-copy. */
int cm_track_start(int sess, uint32_t *nr_slots, uint64_t *nr_gfns);
int cm_track_stop(int sess);
int cm_tracked_slot(int sess, uint64_t from_gfn, uint64_t *first, uint64_t *nr);
int cm_get_dirty(int sess, uint64_t first, uint64_t nr, uint64_t *bitmap,
		 uint64_t *nr_dirty);

/* The end: source FINISH seals @state; target FINISH returns it. */
int cm_finish_source(int sess, const void *state, uint32_t len, void **rec,
		     uint32_t *rec_len);
int cm_finish_target(int sess, const void *rec, uint32_t rec_len, void **state,
		     uint32_t *len);
int cm_cancel(int sess);

const char *cm_strerror(enum cm_op op, int err);

#endif /* LIBCOCOMIG_H */
