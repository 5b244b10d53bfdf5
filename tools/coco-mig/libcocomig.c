// SPDX-License-Identifier: GPL-2.0
/*
 * libcocomig: see libcocomig.h and Documentation/virt/kvm/coco-migration.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "libcocomig.h"

/* More backends than any build has: GET_CAPS reports how many there are. */
#define CM_MAX_BACKENDS		8

static int cm_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

int cm_open(void)
{
	int fd = open("/dev/kvm-coco-mig", O_RDWR | O_CLOEXEC);
	long v;

	struct kvm_coco_mig_caps c = {};

	if (fd < 0)
		return -errno;
	/* What the module can do decides, not its version. */
	if (!ioctl(fd, KVM_COCO_MIG_GET_CAPS, &c)) {
		if (c.nr_backends)
			return fd;
		close(fd);
		return -EOPNOTSUPP;
	}
	/* A module from before GET_CAPS: only version 1 is known. */
	v = errno == ENOTTY ? ioctl(fd, KVM_COCO_MIG_GET_API_VERSION, 0) : -1;
	if (v != 1) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

int cm_caps(int dev, uint32_t backend, struct kvm_coco_mig_backend_caps *caps)
{
	struct kvm_coco_mig_backend_caps e[CM_MAX_BACKENDS] = {};
	struct kvm_coco_mig_caps c = {
		.nr_backends = CM_MAX_BACKENDS, .entry_size = sizeof(e[0]),
		.backends_uaddr = (uintptr_t)e,
	};
	uint32_t i;
	int r = cm_ioctl(dev, KVM_COCO_MIG_GET_CAPS, &c);

	if (r)
		return r;
	for (i = 0; i < c.nr_backends && i < CM_MAX_BACKENDS; i++) {
		if (e[i].backend == backend) {
			*caps = e[i];
			return 0;
		}
	}
	return -EOPNOTSUPP;
}

int cm_session_streams(int dev, int vm_fd, uint32_t role, uint32_t nr_streams)
{
	struct kvm_coco_mig_create c = {
		.vm_fd = vm_fd, .role = role, .nr_streams = nr_streams,
	};
	int fd = ioctl(dev, KVM_COCO_MIG_CREATE_SESSION, &c);

	return fd < 0 ? -errno : fd;
}

int cm_session(int dev, int vm_fd, uint32_t role)
{
	return cm_session_streams(dev, vm_fd, role, 1);
}

int cm_status(int sess, struct kvm_coco_mig_status *st)
{
	memset(st, 0, sizeof(*st));
	return cm_ioctl(sess, KVM_COCO_MIG_STATUS, st);
}

/* A blob ioctl the VMM's way: ask the size, then fetch. */
static int cm_blob(int sess, unsigned long req, const void *in, uint32_t in_len,
		   void **out, uint32_t *out_len)
{
	struct kvm_coco_mig_blob b = {
		.in_len = in_len, .in_uaddr = in_len ? (uintptr_t)in : 0,
	};
	int r;

	if (!out)
		return cm_ioctl(sess, req, &b);
	r = cm_ioctl(sess, req, &b);
	if (r)
		return r;
	*out = malloc(b.out_len ? b.out_len : 1);
	if (!*out)
		return -ENOMEM;
	b.out_uaddr = (uintptr_t)*out;
	r = cm_ioctl(sess, req, &b);
	if (r) {
		free(*out);
		*out = NULL;
		return r;
	}
	*out_len = b.out_len;
	return 0;
}

int cm_exchange(int sess, const void *in, uint32_t in_len, void **out,
		uint32_t *out_len, bool *done)
{
	struct kvm_coco_mig_exchange x = {
		.in_len = in_len, .in_uaddr = in_len ? (uintptr_t)in : 0,
	};
	int r;

	*out = NULL;
	*out_len = 0;
	*done = false;
	/* The size of the next message first; the query changes nothing. */
	x.flags = KVM_COCO_MIG_EXCHANGE_F_QUERY;
	r = cm_ioctl(sess, KVM_COCO_MIG_EXCHANGE, &x);
	if (r)
		return r;
	x.flags = 0;
	if (x.out_len) {
		*out = malloc(x.out_len);
		if (!*out)
			return -ENOMEM;
		x.out_uaddr = (uintptr_t)*out;
	}
	r = cm_ioctl(sess, KVM_COCO_MIG_EXCHANGE, &x);
	if (r) {
		free(*out);
		*out = NULL;
		return r;
	}
	*out_len = x.out_len;
	*done = x.done;
	return 0;
}

int cm_get_migration_data(int sess, void **ev, uint32_t *len)
{
	return cm_blob(sess, KVM_COCO_MIG_GET_MIGRATION_DATA, NULL, 0, ev, len);
}

int cm_start(int sess, const void *ev, uint32_t ev_len, void **blob, uint32_t *len)
{
	return cm_blob(sess, KVM_COCO_MIG_START, ev, ev_len, blob, len);
}

int cm_accept(int sess, const void *blob, uint32_t len)
{
	return cm_blob(sess, KVM_COCO_MIG_ACCEPT, blob, len, NULL, NULL);
}

size_t cm_max_packet(int dev, int sess)
{
	struct kvm_coco_mig_backend_caps caps;
	struct kvm_coco_mig_status st;

	if (cm_status(sess, &st) || cm_caps(dev, st.backend, &caps))
		return 0;
	return caps.max_packet;
}

int cm_package_on(int sess, uint32_t stream, const uint64_t *gfns, uint32_t n,
		  void *buf, uint64_t *len, uint32_t *done)
{
	struct kvm_coco_mig_pages p = {
		.nr_pages = n, .gfns_uaddr = (uintptr_t)gfns,
		.buf_uaddr = (uintptr_t)buf, .buf_len = *len, .stream = stream,
	};
	int r;

	/* A zero buf_len would be a query: nothing packaged, no error. */
	if (!p.buf_len)
		return -ENOSPC;
	r = cm_ioctl(sess, KVM_COCO_MIG_PACKAGE_PAGES, &p);
	*done = p.done;
	*len = p.buf_len;
	return r;
}

int cm_receive_on(int sess, uint32_t stream, const void *buf, uint64_t *len,
		  uint32_t n, uint32_t *done)
{
	struct kvm_coco_mig_pages p = {
		.nr_pages = n, .buf_uaddr = (uintptr_t)buf, .buf_len = *len,
		.stream = stream,
	};
	int r = cm_ioctl(sess, KVM_COCO_MIG_RECEIVE_PAGES, &p);

	*done = p.done;
	*len = p.buf_len;
	return r;
}

int cm_package(int sess, const uint64_t *gfns, uint32_t n, void *buf,
	       uint64_t *len, uint32_t *done)
{
	struct kvm_coco_mig_pages p = {
		.nr_pages = n, .gfns_uaddr = (uintptr_t)gfns,
	};
	int r;

	/* The caller has room for @n packets: the kernel says how many bytes. */
	*done = 0;
	r = cm_ioctl(sess, KVM_COCO_MIG_PACKAGE_PAGES, &p);
	if (r)
		return r;
	*len = p.buf_len;
	return cm_package_on(sess, 0, gfns, n, buf, len, done);
}

int cm_receive(int sess, const void *buf, uint64_t *len, uint32_t n,
	       uint32_t *done)
{
	return cm_receive_on(sess, 0, buf, len, n, done);
}

int cm_track_start(int sess, uint32_t *nr_slots, uint64_t *nr_gfns)
{
	struct kvm_coco_mig_track t = {};
	int r = cm_ioctl(sess, KVM_COCO_MIG_TRACK_START, &t);

	if (nr_slots)
		*nr_slots = t.nr_slots;
	if (nr_gfns)
		*nr_gfns = t.nr_gfns;
	return r;
}

int cm_track_stop(int sess)
{
	return ioctl(sess, KVM_COCO_MIG_TRACK_STOP, 0) ? -errno : 0;
}

int cm_tracked_slot(int sess, uint64_t from_gfn, uint64_t *first, uint64_t *nr)
{
	struct kvm_coco_mig_dirty d = { .first_gfn = from_gfn };
	int r = cm_ioctl(sess, KVM_COCO_MIG_GET_DIRTY, &d);

	*first = d.first_gfn;
	*nr = d.nr_gfns;
	return r;
}

int cm_get_dirty(int sess, uint64_t first, uint64_t nr, uint64_t *bitmap,
		 uint64_t *nr_dirty)
{
	struct kvm_coco_mig_dirty d = {
		.first_gfn = first, .nr_gfns = nr, .bitmap_uaddr = (uintptr_t)bitmap,
	};
	int r = cm_ioctl(sess, KVM_COCO_MIG_GET_DIRTY, &d);

	*nr_dirty = d.nr_dirty;
	return r;
}

/*
 * PACKAGE_VCPU or RECEIVE_VCPU the VMM's way: ask the size, then call. A
 * query only asks while the output needs room: one that needs none is
 * the call itself, which must not be made twice (EEXIST).
 */
static int cm_vcpu(int sess, unsigned long req, uint32_t vcpu_id, const void *in,
		   uint32_t in_len, void **out, uint32_t *out_len)
{
	struct kvm_coco_mig_vcpu v = {
		.vcpu_id = vcpu_id, .in_len = in_len,
		.in_uaddr = in_len ? (uintptr_t)in : 0,
	};
	int r;

	*out = NULL;
	*out_len = 0;
	r = cm_ioctl(sess, req, &v);
	if (r || !v.out_len)
		return r;
	*out = malloc(v.out_len);
	if (!*out)
		return -ENOMEM;
	v.out_uaddr = (uintptr_t)*out;
	r = cm_ioctl(sess, req, &v);
	if (r) {
		free(*out);
		*out = NULL;
		return r;
	}
	*out_len = v.out_len;
	return 0;
}

int cm_package_vcpu(int sess, uint32_t vcpu_id, const void *state, uint32_t len,
		    void **rec, uint32_t *rec_len)
{
	return cm_vcpu(sess, KVM_COCO_MIG_PACKAGE_VCPU, vcpu_id, state, len, rec,
		       rec_len);
}

int cm_receive_vcpu(int sess, uint32_t vcpu_id, const void *rec, uint32_t rec_len,
		    void **state, uint32_t *len)
{
	return cm_vcpu(sess, KVM_COCO_MIG_RECEIVE_VCPU, vcpu_id, rec, rec_len, state,
		       len);
}

int cm_finish_source(int sess, const void *state, uint32_t len, void **rec,
		     uint32_t *rec_len)
{
	return cm_blob(sess, KVM_COCO_MIG_FINISH, state, len, rec, rec_len);
}

int cm_finish_target(int sess, const void *rec, uint32_t rec_len, void **state,
		     uint32_t *len)
{
	return cm_blob(sess, KVM_COCO_MIG_FINISH, rec, rec_len, state, len);
}

int cm_cancel(int sess)
{
	return ioctl(sess, KVM_COCO_MIG_CANCEL, 0) ? -errno : 0;
}

int cm_abort_token(int sess, void **tok, uint32_t *len)
{
	return cm_blob(sess, KVM_COCO_MIG_ABORT, NULL, 0, tok, len);
}

int cm_abort(int sess, const void *tok, uint32_t len)
{
	return cm_blob(sess, KVM_COCO_MIG_ABORT, tok, len, NULL, NULL);
}

/* What an errno of PACKAGE_VCPU or RECEIVE_VCPU means; NULL: as for any call. */
static const char *cm_vcpu_strerror(enum cm_op op, int err)
{
	bool src = op == CM_PACKAGE_VCPU;

	switch (-err) {
	case ENOENT:
		return "the VM has no vCPU with this id";
	case EEXIST:
		return "this vCPU already has its record: one per vCPU and session";
	case EINVAL:
		if (src)
			return "a state larger than GET_CAPS' max_vcpu_state, or invalid arguments";
		return "a record for another vCPU than the one named, or a malformed record";
	case ESTALE:
		return "a replayed record, one this session has had (nothing changed)";
	case ENOMSG:
		return "a record the source made before this one never came (nothing changed)";
	case EBADMSG:
		return "the record failed authentication: the session is poisoned";
	case EBUSY:
		return "a vCPU is in an ioctl (KVM_RUN?): stop every vCPU thread first";
	case ENOKEY:
		return "the session has no keys yet: the key exchange comes first";
	case EBADFD:
		if (src)
			return "not before the key exchange is done, nor after FINISH or CANCEL";
		return "not before the key exchange is done, nor after FINISH";
	case ENOSPC:
		return "the output buffer is too small for the record or the state";
	default:
		return NULL;
	}
}

/* What an errno means for a call, as the documentation says. */
const char *cm_strerror(enum cm_op op, int err)
{
	const char *s;

	if (op == CM_PACKAGE_VCPU || op == CM_RECEIVE_VCPU) {
		s = cm_vcpu_strerror(op, err);
		if (s)
			return s;
	}
	switch (-err) {
	case ENOMSG:
		if (op == CM_FINISH)
			return "a vCPU has no record yet, or a vCPU record never came";
		return "a record is missing";
	case ENOENT:
		if (op == CM_OPEN)
			return "no /dev/kvm-coco-mig: is the kvm_coco_mig module loaded?";
		if (op == CM_PACKAGE || op == CM_RECEIVE)
			return "a gfn is not in a guest_memfd memslot";
		return "no guest_memfd memory to track, or no tracked memslot there";
	case EACCES:
	case EPERM:
		return "not permitted: opening /dev/kvm-coco-mig needs root (or its group)";
	case EPROTO:
		return "the kvm_coco_mig module has no GET_CAPS and speaks another API version";
	case EBADF:
		return "not a KVM VM file descriptor";
	case EBUSY:
		if (op == CM_FINISH)
			return "written since the last GET_DIRTY, or a vCPU in KVM_RUN: pause";
		if (op == CM_CREATE)
			return "the VM already has a session, or (target) its vCPUs have run";
		return "the VM already has a migration session";
	case EOPNOTSUPP:
		if (op == CM_OPEN)
			return "the kvm_coco_mig module has no backend in this build";
		return "no backend for this VM type in this build";
	case EBADFD:
		if (op == CM_EXCHANGE)
			return "the key exchange is over, or a message came out of turn";
		if (op == CM_ABORT)
			return "no abort: a source not FINISHed (or resumed), or a target that ran";
		if (op == CM_CANCEL)
			return "after FINISH only the target's abort token resumes the source";
		return "the session is not in a state that allows this call";
	case EIO:
		if (op == CM_CREATE)
			return "the VM is dead (migrated away, a failed target) or not ours";
		return "the session failed (tampering, a failed FINISH), or not our VM";
	case EBADMSG:
		if (op == CM_ABORT)
			return "the abort token does not authenticate: the source stays paused";
		if (op == CM_EXCHANGE)
			return "an authentic message whose key did not unwrap: session poisoned";
		return "a packet or blob failed authentication: the session is poisoned";
	case ENOKEY:
		return "the session never agreed keys: there is no abort token";
	case ECHRNG:
		return "the peer's session has another number of streams (--streams must match)";
	case EKEYREJECTED:
		if (op == CM_EXCHANGE)
			return "the peer's exchange message did not verify (another platform key?)";
		if (op == CM_ACCEPT)
			return "the transport blob is not from a host with our platform key";
		return "the target's evidence did not verify (different platform key?)";
	case ESTALE:
		if (op == CM_FINISH || op == CM_GET_DIRTY)
			return "a guest_memfd memslot changed since START: cancel, start over";
		return "a replayed, older or out-of-order (in its stream) packet was refused";
	case ENODATA:
		return "incomplete: a page, attribute or vCPU record missing or out of date";
	case EINVAL:
		if (op == CM_PACKAGE)
			return "invalid request, or a shared gfn (shared pages go another way)";
		if (op == CM_RECEIVE)
			return "invalid request, or a packet on another stream than its own";
		if (op == CM_CREATE)
			return "not a confidential VM (or not initialised), or too many streams";
		if (op == CM_EXCHANGE)
			return "a malformed or too long message, or none where one is needed";
		if (op == CM_ABORT)
			return "an abort token of the wrong length, or the other role's call";
		return "invalid argument, or the other role's call";
	case ENOSPC:
		return "the output buffer is too small";
	case E2BIG:
		return "too many pages in one call";
	case EFAULT:
		return "a buffer is not accessible";
	case ENOTTY:
		return "the kvm_coco_mig module has no GET_CAPS (an older API version)";
	case EINTR:
		return "interrupted";
	case ENOMEM:
		return "out of memory";
	default:
		return strerror(-err);
	}
}
