/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libcocomig: a small C library over the kvm-coco-mig uAPI
 * (include/uapi/linux/kvm_coco_mig.h), for VMMs. Every call returns 0 or
 * a negative errno; cm_strerror() says what an errno means for that call.
 * Buffers the library allocates are the caller's to free().
 */
#ifndef LIBCOCOMIG_H
#define LIBCOCOMIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm_coco_mig.h>

/* The calls, for cm_strerror(). */
enum cm_op {
	CM_OPEN, CM_CREATE, CM_STATUS, CM_GET_MIGRATION_DATA, CM_START,
	CM_ACCEPT, CM_PACKAGE, CM_RECEIVE, CM_FINISH, CM_CANCEL,
	CM_TRACK_START, CM_TRACK_STOP, CM_GET_DIRTY, CM_CAPS, CM_EXCHANGE,
	CM_ABORT, CM_PACKAGE_VCPU, CM_RECEIVE_VCPU,
};

int cm_open(void);

/*
 * What a backend (KVM_COCO_MIG_BACKEND_*) of this build can do, from
 * KVM_COCO_MIG_GET_CAPS (the largest packet, final record, vCPU state
 * and vCPU record, the streams); -EOPNOTSUPP if the build has no such
 * backend.
 */
int cm_caps(int dev, uint32_t backend, struct kvm_coco_mig_backend_caps *caps);

/*
 * A session with @nr_streams streams (1 up to the backend's max_streams;
 * both sides of a migration must have the same number); cm_session() has
 * one.
 */
int cm_session_streams(int dev, int vm_fd, uint32_t role, uint32_t nr_streams);
int cm_session(int dev, int vm_fd, uint32_t role);
int cm_status(int sess, struct kvm_coco_mig_status *st);

/*
 * The key exchange, one round of KVM_COCO_MIG_EXCHANGE: @in is the peer's
 * last message (@in_len 0: none yet); @out comes back as this side's next
 * message, to carry to the peer (NULL and @out_len 0: nothing to send this
 * round), and @done once this side's part is complete. Both sides call
 * again on each other's messages until both are done; who speaks first is
 * the backend's (sw: the target, with no input).
 */
int cm_exchange(int sess, const void *in, uint32_t in_len, void **out,
		uint32_t *out_len, bool *done);

/* The sw exchange's three rounds by their names: target, source, target. */
int cm_get_migration_data(int sess, void **ev, uint32_t *len);
int cm_start(int sess, const void *ev, uint32_t ev_len, void **blob, uint32_t *len);
int cm_accept(int sess, const void *blob, uint32_t len);

/*
 * Pages, as back-to-back packets of varying length (each starts with
 * struct kvm_coco_mig_pkt_hdr, whose @len frames it). cm_max_packet(): the
 * largest packet the backend of @sess makes, from GET_CAPS on @dev (0 if
 * it cannot be read).
 *
 * cm_package_on() packages @n gfns on @stream: @len is in: the room at
 * @buf (at least @n times cm_max_packet()), out: the bytes written.
 * cm_receive_on() takes @n packets in the @len bytes at @buf on @stream,
 * and returns the bytes used in @len. The target takes each stream's
 * packets in the order that stream made them, on the stream of the same
 * index; calls on different streams may run in parallel (one thread per
 * stream). cm_package() and cm_receive() are the same on stream 0;
 * cm_package() takes the room from the kernel (@n packets' worth).
 */
size_t cm_max_packet(int dev, int sess);
int cm_package_on(int sess, uint32_t stream, const uint64_t *gfns, uint32_t n,
		  void *buf, uint64_t *len, uint32_t *done);
int cm_receive_on(int sess, uint32_t stream, const void *buf, uint64_t *len,
		  uint32_t n, uint32_t *done);
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

/*
 * Each vCPU's state, one sealed record per vCPU, before FINISH.
 * cm_package_vcpu() (source) seals the @len bytes of @state of the vCPU
 * @vcpu_id (at most the backend's max_vcpu_state; sw: the VMM's KVM_GET_*
 * state) and returns the record in @rec. The first call pauses the source
 * VM: no vCPU enters the guest again until cm_cancel() (or closing the
 * session) before FINISH, or after FINISH only with the target's abort
 * token. Stop every vCPU thread first (-EBUSY: a vCPU is in an ioctl).
 * cm_receive_vcpu() (target) installs @rec into the vCPU @vcpu_id only,
 * and returns the state it carries in @state (sw: for KVM_SET_*). The
 * target takes the records in the order the source made them. Each vCPU
 * of the VM needs its record on both sides before FINISH.
 */
int cm_package_vcpu(int sess, uint32_t vcpu_id, const void *state, uint32_t len,
		    void **rec, uint32_t *rec_len);
int cm_receive_vcpu(int sess, uint32_t vcpu_id, const void *rec, uint32_t rec_len,
		    void **state, uint32_t *len);

/*
 * The end, once every vCPU has its record: source FINISH seals @state
 * (the VMM's VM-wide state: any non-empty bytes); target FINISH returns
 * it.
 */
int cm_finish_source(int sess, const void *state, uint32_t len, void **rec,
		     uint32_t *rec_len);
int cm_finish_target(int sess, const void *rec, uint32_t rec_len, void **state,
		     uint32_t *len);
int cm_cancel(int sess);

/*
 * After a source FINISH the source VM is paused for good. If the target
 * refused the final record, or never got it, cm_abort_token() on the
 * target kills its VM (if its FINISH did not already) and returns the
 * abort token; cm_abort() on the source takes that token and lets the
 * guest run again (the session is CANCELLED). A token that does not
 * verify changes nothing: the source stays paused.
 */
int cm_abort_token(int sess, void **tok, uint32_t *len);
int cm_abort(int sess, const void *tok, uint32_t len);

const char *cm_strerror(enum cm_op op, int err);

#endif /* LIBCOCOMIG_H */
