/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvm-coco-mig: live migration of confidential KVM guests.
 *
 * The device /dev/kvm-coco-mig creates migration sessions. A session is an
 * anonymous-inode file descriptor bound to one KVM VM; the migration of that
 * VM's private memory and state is driven through ioctls on the session fd.
 * The backend that does the work follows the VM's type (sw for
 * KVM_X86_SW_PROTECTED_VM guests; sev and svsm for SEV/SEV-ES and SEV-SNP).
 *
 * Device ioctls (on /dev/kvm-coco-mig):
 *
 * KVM_COCO_MIG_GET_API_VERSION
 *   Returns KVM_COCO_MIG_API_VERSION, the revision of this header the
 *   module implements. A VMM decides what it can use with GET_CAPS, not by
 *   matching the version.
 *
 * KVM_COCO_MIG_GET_CAPS (struct kvm_coco_mig_caps, in/out)
 *   Reports the backends this build has and, for each, what it can do and
 *   its limits, as an array of struct kvm_coco_mig_backend_caps entries of
 *   @entry_size bytes each (the caller's size of the struct: the kernel
 *   writes the fields it knows and zeroes the rest, so a zero field means
 *   "not supported"). At most @nr_backends entries are written;
 *   @nr_backends comes back as the number this build has (a larger one
 *   means there were more), @entry_size as the kernel's size of the struct.
 *   @nr_backends 0 is a query: nothing is written but the header.
 *   Errors: EFAULT, EINVAL (non-zero @flags or reserved field; @entry_size
 *   below 8 or above 4096 with @nr_backends non-zero).
 *
 * KVM_COCO_MIG_CREATE_SESSION (struct kvm_coco_mig_create, in/out)
 *   Binds a new session to the VM referred to by @vm_fd in the given @role
 *   and returns the session fd (O_RDWR | O_CLOEXEC). The session holds a
 *   reference on the VM: the VM fd may be closed before the session fd.
 *   At most one session exists per VM at a time. A target's vCPUs cannot
 *   enter the guest until its FINISH succeeds; a target whose session
 *   fails or is closed before that is dead. A source's vCPUs cannot enter
 *   the guest from its first PACKAGE_VCPU on: before its FINISH, CANCEL or
 *   closing the session lets them run again; after it, only ABORT with
 *   its target's token does, and a source closed after FINISH is dead.
 *   Errors: EFAULT (argument not readable or writable), EINVAL (non-zero
 *   @flags or reserved field, unknown @role, a VM that is not a
 *   confidential VM, or a SEV VM not yet initialised), EBADF (@vm_fd is not
 *   an open KVM VM fd), EOPNOTSUPP (no backend for this VM type in this
 *   build), EIO (a dead VM, or another process's), EBUSY (the VM already
 *   has a session; a target whose vCPUs have run), ENOMEM, EMFILE.
 *
 * Session ioctls (on the fd returned by KVM_COCO_MIG_CREATE_SESSION):
 *
 * KVM_COCO_MIG_STATUS (struct kvm_coco_mig_status, in/out)
 *   Reports the session's state, role, backend and counters. Takes no
 *   lock: it returns at once, also while another ioctl waits for the
 *   backend. Errors: EFAULT, EINVAL (non-zero @flags).
 *
 * KVM_COCO_MIG_EXCHANGE (both) (struct kvm_coco_mig_exchange)
 *   The key exchange, in as many rounds as the backend needs.
 *
 * KVM_COCO_MIG_GET_MIGRATION_DATA (target), _START (source), _ACCEPT
 * (target), _FINISH (both) (struct kvm_coco_mig_blob)
 *   The sw exchange's three rounds by name, and the final record; see
 *   struct kvm_coco_mig_blob. The source's FINISH input is the VMM's
 *   VM-wide state, which the target's FINISH gives back.
 *
 * KVM_COCO_MIG_PACKAGE_VCPU (source), _RECEIVE_VCPU (target)
 * (struct kvm_coco_mig_vcpu)
 *   One vCPU's state as a sealed record; every vCPU needs one before
 *   FINISH. The source's first PACKAGE_VCPU pauses its VM.
 *
 * KVM_COCO_MIG_PACKAGE_PAGES (source), _RECEIVE_PAGES (target)
 * (struct kvm_coco_mig_pages)
 *   Private pages as packets of the versioned wire format, at most
 *   KVM_COCO_MIG_MAX_BATCH per call.
 *
 * KVM_COCO_MIG_CANCEL (source): destroy the keys; the guest keeps running.
 *   An EXCHANGE, PACKAGE_PAGES, PACKAGE_VCPU or FINISH waiting for the
 *   backend fails first, with ECANCELED.
 *
 * KVM_COCO_MIG_ABORT (struct kvm_coco_mig_blob)
 *   The way back from a FINISH that did not complete. From its FINISH on,
 *   a source VM is paused for good (PACKAGE_VCPU paused it): no vCPU
 *   enters the guest, and closing the session kills it. Target: interrupt
 *   a RECEIVE_PAGES, RECEIVE_VCPU or FINISH waiting for the backend
 *   (ECANCELED), kill the VM if it is not dead yet (a final record that
 *   never came) and write out the abort token, which proves to the source
 *   that this target will never run; refused (EBADFD) once the target's
 *   FINISH succeeded. Source: check the token (@in) and, if it is this
 *   session's target's, let the guest run again (state CANCELLED). A
 *   token that does not verify changes nothing (EBADMSG, EINVAL for a
 *   wrong length): the source stays paused.
 *
 * KVM_COCO_MIG_TRACK_START, _TRACK_STOP, _GET_DIRTY (source)
 *   Dirty tracking of the VM's guest_memfd private memory for pre-copy:
 *   see struct kvm_coco_mig_track and struct kvm_coco_mig_dirty.
 *   GET_DIRTY with KVM_COCO_MIG_DIRTY_F_SHARED reports the shared view:
 *   from START on, the session owns KVM's dirty log of the VM's memslots
 *   that have KVM_MEM_LOG_DIRTY_PAGES, and the VMM takes their dirty bits
 *   from it instead of KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG.
 *
 * Common errors: EINVAL (reserved fields, the other role's ioctl), EBADFD
 * (wrong state), EIO (the session failed after tampering or a failed
 * FINISH), EFAULT, EINTR; per-ioctl errnos in the documentation. An ioctl
 * whose backend waits for work done elsewhere (an agent, a firmware
 * command: EXCHANGE, PACKAGE_PAGES, RECEIVE_PAGES, PACKAGE_VCPU,
 * RECEIVE_VCPU, FINISH, ABORT) may also fail with ETIMEDOUT (the work
 * outlived the backend's bound: the session failed) or ECANCELED (a
 * CANCEL, or a target's ABORT, interrupted it).
 *
 * All structures contain only fixed-size fields with explicit padding.
 * Every flags and reserved field must be zero, else the ioctl fails with
 * EINVAL; a later revision gives them meaning only behind a new flag bit.
 *
 * Full documentation: Documentation/virt/kvm/coco-migration.rst.
 */
#ifndef _UAPI_LINUX_KVM_COCO_MIG_H
#define _UAPI_LINUX_KVM_COCO_MIG_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KVM_COCO_MIG_API_VERSION	3

/*
 * Not registered: 0xBC is free in Linux 6.12's ioctl-number.rst and no
 * 6.12 uapi header uses it as an ioctl type (checked with grep over
 * include/uapi; DRM's DRM_IOCTL_MODE_ATOMIC uses 0xBC as a number, not a
 * type). Going upstream, this becomes a line in that table.
 */
#define KVM_COCO_MIG_IO			0xBC

/* Session roles. */
#define KVM_COCO_MIG_ROLE_SOURCE	1
#define KVM_COCO_MIG_ROLE_TARGET	2

/* Backends, reported by KVM_COCO_MIG_CREATE_SESSION and _STATUS. */
#define KVM_COCO_MIG_BACKEND_SW		1	/* KVM_X86_SW_PROTECTED_VM */
#define KVM_COCO_MIG_BACKEND_SEV	2	/* SEV, SEV-ES: PSP commands */
#define KVM_COCO_MIG_BACKEND_SVSM	3	/* SEV-SNP: SVSM migration agent */

/* Session states, reported by KVM_COCO_MIG_STATUS. */
#define KVM_COCO_MIG_STATE_CREATED	1	/* bound to a VM, no keys yet */
#define KVM_COCO_MIG_STATE_KEY_PENDING	2	/* in the key exchange, not done */
#define KVM_COCO_MIG_STATE_STREAMING	3	/* keys agreed: pages flow */
#define KVM_COCO_MIG_STATE_FINISHED	4	/* done; the source VM is paused for good */
#define KVM_COCO_MIG_STATE_CANCELLED	5	/* source: keys gone, guest runs */
#define KVM_COCO_MIG_STATE_FAILED	6	/* poisoned; a target VM is dead */

/* The session's VM, reported by KVM_COCO_MIG_STATUS. */
#define KVM_COCO_MIG_VM_RUNNABLE	1	/* its vCPUs may run */
#define KVM_COCO_MIG_VM_FENCED		2	/* target before FINISH: no vCPU enters */
#define KVM_COCO_MIG_VM_DEAD		3	/* never runs again (kvm_vm_dead()) */

struct kvm_coco_mig_create {
	__u32 vm_fd;		/* in: a KVM VM fd */
	__u32 role;		/* in: KVM_COCO_MIG_ROLE_* */
	__u32 flags;		/* in: must be zero */
	__u32 backend;		/* out: KVM_COCO_MIG_BACKEND_* */
	__u32 nr_streams;	/* in: streams, 1..max_streams; 0 means 1 */
	__u32 pad;		/* in: must be zero */
	__u64 reserved[5];	/* in: must be zero */
};

struct kvm_coco_mig_status {
	__u32 flags;		/* in: must be zero */
	__u32 state;		/* out: KVM_COCO_MIG_STATE_* */
	__u32 role;		/* out: KVM_COCO_MIG_ROLE_* */
	__u32 backend;		/* out: KVM_COCO_MIG_BACKEND_* */
	__u64 pages;		/* out: pages packaged (source), installed (target) */
	__u64 bytes;		/* out: packet bytes produced or consumed */
	__u64 refused;		/* out: packets refused (target) */
	__u64 tracked;		/* out: gfns under dirty tracking (source), 0 if off */
	__u64 rounds;		/* out: GET_DIRTY calls that reported (source) */
	__u64 reported;		/* out: gfns GET_DIRTY reported (source) */
	__u64 resent;		/* out: packets for a gfn installed before (target) */
	__u64 unchanged;	/* out: of those, identical to what was installed */
	__u32 vm;		/* out: KVM_COCO_MIG_VM_* */
	__u32 nr_streams;	/* out: the session's streams */
	__u64 superseded;	/* out: authentic packets older than the gfn's (target) */
	__u32 vcpus;		/* out: vCPU records made (source), installed (target) */
	__u32 nr_vcpus;		/* out: the VM's vCPUs, each of which FINISH needs */
	__u32 fw_cmd;		/* out: the last firmware command that failed (sev) */
	__u32 fw_status;	/* out: the firmware's status for it, 0 if none */
	__u64 reserved[2];	/* out: zero */
};

/*
 * Opaque blobs exchanged by the VMMs: the target's migration data, the
 * wrapped transport key, the final record. A zero @out_len asks for the
 * size needed (returned in @out_len, nothing else happens); a non-zero one
 * that is too small fails with ENOSPC and the size needed in @out_len.
 */
struct kvm_coco_mig_blob {
	__u32 flags;		/* in: must be zero */
	__u32 in_len;		/* in: bytes at @in_uaddr (0 if unused) */
	__u64 in_uaddr;		/* in: input blob */
	__u32 out_len;		/* in: room at @out_uaddr; out: bytes written/needed */
	__u32 pad;		/* in: must be zero */
	__u64 out_uaddr;	/* in: output buffer */
	__u64 reserved[4];	/* in: must be zero */
};

/*
 * KVM_COCO_MIG_EXCHANGE: one round of the key exchange. Each side passes
 * in the peer's last message (@in_len 0: none) and gets out its next
 * message (@out_len 0: none to send) and whether its part is @done; the
 * VMMs carry the messages and keep calling until both sides are done. The
 * session is STREAMING from a side's last round on. How many rounds, and
 * what the messages hold, is the backend's: see "The key exchange" in the
 * documentation. With KVM_COCO_MIG_EXCHANGE_F_QUERY only the size of the
 * next message is returned in @out_len (0: nothing to send), and nothing
 * else happens; without it, an @out_len too small for the message fails
 * with ENOSPC and the size in @out_len.
 * GET_MIGRATION_DATA, START and ACCEPT are the three rounds of the sw
 * exchange under their version 1 names.
 */
#define KVM_COCO_MIG_EXCHANGE_F_QUERY	(1U << 0)	/* only size the next message */

struct kvm_coco_mig_exchange {
	__u32 flags;		/* in: KVM_COCO_MIG_EXCHANGE_F_*; others zero */
	__u32 in_len;		/* in: bytes at @in_uaddr, the peer's message */
	__u64 in_uaddr;		/* in */
	__u32 out_len;		/* in: room at @out_uaddr; out: bytes written/needed */
	__u32 done;		/* out: 1 once this side's part is complete */
	__u64 out_uaddr;	/* in: this side's next message */
	__u32 round;		/* out: rounds this side has completed */
	__u32 pad;		/* in: must be zero */
	__u64 reserved[3];	/* in: must be zero */
};

/* Largest input blob: the source's FINISH carries the VMM's VM-wide state. */
#define KVM_COCO_MIG_MAX_BLOB		(256 * 1024)

/* Largest vCPU state of one PACKAGE_VCPU call, for any backend. */
#define KVM_COCO_MIG_MAX_VCPU_STATE	(64 * 1024)

/* Largest batch of one PACKAGE_PAGES or RECEIVE_PAGES call. */
#define KVM_COCO_MIG_MAX_BATCH		1024

/* Most streams a session may have; a backend may allow fewer. */
#define KVM_COCO_MIG_MAX_STREAMS	16

/* Features of a backend, in struct kvm_coco_mig_backend_caps. */
#define KVM_COCO_MIG_F_DIRTY_TRACKING	(1ULL << 0)	/* TRACK_*, GET_DIRTY */
#define KVM_COCO_MIG_F_ZERO_PAGES	(1ULL << 1)	/* untouched pages as a flag */
#define KVM_COCO_MIG_F_MUTUAL_AUTH	(1ULL << 2)	/* ACCEPT authenticates the source */
#define KVM_COCO_MIG_F_SHARED_DIRTY	(1ULL << 3)	/* GET_DIRTY's F_SHARED */
#define KVM_COCO_MIG_F_VCPU_RECORDS	(1ULL << 4)	/* PACKAGE_VCPU, RECEIVE_VCPU */

struct kvm_coco_mig_backend_caps {
	__u32 backend;		/* KVM_COCO_MIG_BACKEND_* */
	__u32 vm_type;		/* the KVM_X86_*_VM type it migrates */
	__u64 features;		/* KVM_COCO_MIG_F_* */
	__u32 max_packet;	/* bytes of the largest packet PACKAGE_PAGES makes */
	__u32 max_batch;	/* pages per PACKAGE_PAGES / RECEIVE_PAGES */
	__u32 max_blob;		/* bytes of the largest blob input */
	__u32 max_final;	/* bytes of the largest final record */
	__u32 max_streams;	/* streams per session */
	__u32 pad;		/* zero */
	__u32 max_vcpu_state;	/* bytes of the largest vCPU state PACKAGE_VCPU takes */
	__u32 max_vcpu_record;	/* bytes of the largest vCPU record it makes */
	__u64 reserved[2];	/* zero */
};

struct kvm_coco_mig_caps {
	__u32 flags;		/* in: must be zero */
	__u32 api_version;	/* out: KVM_COCO_MIG_API_VERSION */
	__u32 nr_backends;	/* in: entries at @backends_uaddr; out: the number */
	__u32 entry_size;	/* in: bytes per entry; out: the kernel's size */
	__u64 backends_uaddr;	/* in: the entries */
	__u64 reserved[5];	/* in: must be zero */
};

/*
 * PACKAGE_PAGES and RECEIVE_PAGES work on one stream each; calls on
 * different streams of a session run in parallel. PACKAGE writes one
 * packet per gfn, back to back; @buf_len must have room for @nr_pages
 * packets of max_packet bytes (a zero @buf_len asks for that size, a
 * smaller one fails with ENOSPC and the size), and comes back as the bytes
 * written. RECEIVE takes @nr_pages packets, back to back, in the first
 * @buf_len bytes at @buf_uaddr, and returns in @buf_len the bytes of the
 * packets it installed or skipped.
 */
struct kvm_coco_mig_pages {
	__u32 flags;		/* in: must be zero */
	__u32 nr_pages;		/* in: gfns to package / packets to receive */
	__u64 gfns_uaddr;	/* in: PACKAGE: __u64 gfn[nr_pages]; RECEIVE: 0 */
	__u64 buf_uaddr;	/* PACKAGE: out: packets; RECEIVE: in: packets */
	__u64 buf_len;		/* in: room / bytes; out: bytes written / used */
	__u32 done;		/* out: packets made / taken */
	__u32 stream;		/* in: the stream, below the session's nr_streams */
	__u64 reserved[3];	/* in: must be zero */
};

/*
 * KVM_COCO_MIG_PACKAGE_VCPU (source), KVM_COCO_MIG_RECEIVE_VCPU (target):
 * one vCPU's state as a record sealed on the control stream, bound to the
 * session, the vCPU and its place before the final record. The source's
 * first PACKAGE_VCPU pauses the VM: no vCPU enters the guest until CANCEL
 * (before FINISH), or ever again after FINISH but for an abort token.
 * Each vCPU has one record; FINISH fails on either side while a vCPU of
 * the VM has none. Source: @in is the state the backend seals (sw: the
 * VMM's KVM_GET_* state; a firmware or agent backend takes none), @out
 * receives the record. Target: @in is the record, which is installed only
 * into the vCPU @vcpu_id (its header's gfn field names it), and @out
 * receives the state it carries (sw: for KVM_SET_*). A zero @out_len asks
 * for the size needed; a smaller non-zero one fails with ENOSPC and the
 * size.
 */
struct kvm_coco_mig_vcpu {
	__u32 flags;		/* in: must be zero */
	__u32 vcpu_id;		/* in: the vCPU */
	__u32 in_len;		/* in: bytes at @in_uaddr */
	__u32 out_len;		/* in: room at @out_uaddr; out: bytes written/needed */
	__u64 in_uaddr;		/* in: the state (source), the record (target) */
	__u64 out_uaddr;	/* in: the record (source), the state (target) */
	__u64 reserved[4];	/* in: must be zero */
};

/*
 * The wire format. Every packet starts with this header, little endian;
 * what follows it is the backend's (for sw: the AES-256-GCM ciphertext of
 * the payload, then the 16-byte tag). @len frames the packet: a VMM that
 * forwards packets reads it, nothing else. Every field is authenticated by
 * the backend, and a packet any byte of which was changed is refused.
 */
#define KVM_COCO_MIG_WIRE_VERSION	3

#define KVM_COCO_MIG_PKT_PAGE		1	/* a private page */
#define KVM_COCO_MIG_PKT_FINAL		2	/* the source's final record */
#define KVM_COCO_MIG_PKT_ABORT		3	/* a dead target's abort token */
#define KVM_COCO_MIG_PKT_VCPU		4	/* one vCPU's state */

/* A page the guest never wrote: no payload, the page reads as zeros. */
#define KVM_COCO_MIG_PKT_F_ZERO		0x0001

/* The stream of the records FINISH and ABORT make. */
#define KVM_COCO_MIG_CTL_STREAM		0xffff

struct kvm_coco_mig_pkt_hdr {
	__u8 version;		/* KVM_COCO_MIG_WIRE_VERSION */
	__u8 type;		/* KVM_COCO_MIG_PKT_* */
	__u16 flags;		/* KVM_COCO_MIG_PKT_F_* */
	__u32 len;		/* bytes of the packet, this header included */
	__u64 gfn;		/* PAGE: the gfn; VCPU: the vcpu_id; else 0 */
	__u64 seq;		/* its number in its stream, from 1 */
	__u64 gen;		/* PAGE: the page's version: newer is larger */
	__u16 stream;		/* the stream that made it */
	__u16 reserved[3];	/* zero */
};

/*
 * KVM_COCO_MIG_TRACK_START: turn on GET_DIRTY's reports. Writes to the
 * private memory of every guest_memfd memslot the VM had at START are
 * tracked from START to FINISH, CANCEL or the session's end, reports on or
 * off: each private gfn counts as unsent until packaged, and a source
 * FINISH fails while one is dirty (EBUSY) or unsent (ENODATA), or once a
 * guest_memfd memslot has changed (ESTALE). TRACK_STOP turns the reports
 * off again.
 */
struct kvm_coco_mig_track {
	__u32 flags;		/* in: must be zero */
	__u32 nr_slots;		/* out: memslots tracked */
	__u64 nr_gfns;		/* out: gfns tracked */
	__u64 reserved[6];	/* in: must be zero */
};

/*
 * KVM_COCO_MIG_GET_DIRTY: report, and re-arm, the private gfns of
 * [@first_gfn, @first_gfn + @nr_gfns) that may have been written (or that
 * became private) since they were last reported. The range lies in one
 * tracked memslot, starts a multiple of 64 gfns into it and is a multiple
 * of 64 long or ends with the memslot. The bitmap has a bit per gfn, bit i
 * of __u64 word w standing for gfn @first_gfn + 64 * w + i. A zero
 * @nr_gfns queries: @first_gfn and @nr_gfns come back as the first tracked
 * memslot that holds @first_gfn or lies above it.
 *
 * With KVM_COCO_MIG_DIRTY_F_SHARED, the same for the shared view, from
 * START on (no TRACK_START needed): the gfns KVM's dirty log recorded as
 * written, in the memslots of address space 0 that had
 * KVM_MEM_LOG_DIRTY_PAGES at START (the tracked memslots of this view).
 * The session is the log's only harvester: the VMM must not call
 * KVM_GET_DIRTY_LOG or KVM_CLEAR_DIRTY_LOG on those memslots until FINISH
 * or CANCEL, which hand back to KVM's log whatever the session took and
 * did not report. Bits the VMM takes meanwhile are missing from this view
 * (it has them itself). ENXIO: the VM uses a dirty ring; ESTALE: a tracked
 * memslot was deleted, moved or stopped logging.
 */
#define KVM_COCO_MIG_DIRTY_F_SHARED	(1U << 0)	/* the shared view */

struct kvm_coco_mig_dirty {
	__u32 flags;		/* in: KVM_COCO_MIG_DIRTY_F_*; others zero */
	__u32 pad;		/* in: must be zero */
	__u64 first_gfn;	/* in/out (query) */
	__u64 nr_gfns;		/* in/out (query) */
	__u64 bitmap_uaddr;	/* in: __u64 words, (nr_gfns + 63) / 64 of them */
	__u64 nr_dirty;		/* out: bits set */
	__u64 reserved[3];	/* in: must be zero */
};

/* Device ioctls. */
#define KVM_COCO_MIG_GET_API_VERSION	_IO(KVM_COCO_MIG_IO, 0x00)
#define KVM_COCO_MIG_CREATE_SESSION	_IOWR(KVM_COCO_MIG_IO, 0x01, \
					      struct kvm_coco_mig_create)
#define KVM_COCO_MIG_GET_CAPS		_IOWR(KVM_COCO_MIG_IO, 0x02, \
					      struct kvm_coco_mig_caps)

/* Session ioctls. */
#define KVM_COCO_MIG_STATUS		_IOWR(KVM_COCO_MIG_IO, 0x10, \
					      struct kvm_coco_mig_status)
#define KVM_COCO_MIG_GET_MIGRATION_DATA	_IOWR(KVM_COCO_MIG_IO, 0x11, \
					      struct kvm_coco_mig_blob)
#define KVM_COCO_MIG_START		_IOWR(KVM_COCO_MIG_IO, 0x12, \
					      struct kvm_coco_mig_blob)
#define KVM_COCO_MIG_ACCEPT		_IOWR(KVM_COCO_MIG_IO, 0x13, \
					      struct kvm_coco_mig_blob)
#define KVM_COCO_MIG_PACKAGE_PAGES	_IOWR(KVM_COCO_MIG_IO, 0x14, \
					      struct kvm_coco_mig_pages)
#define KVM_COCO_MIG_RECEIVE_PAGES	_IOWR(KVM_COCO_MIG_IO, 0x15, \
					      struct kvm_coco_mig_pages)
#define KVM_COCO_MIG_FINISH		_IOWR(KVM_COCO_MIG_IO, 0x16, \
					      struct kvm_coco_mig_blob)
#define KVM_COCO_MIG_CANCEL		_IO(KVM_COCO_MIG_IO, 0x17)
#define KVM_COCO_MIG_TRACK_START	_IOWR(KVM_COCO_MIG_IO, 0x18, \
					      struct kvm_coco_mig_track)
#define KVM_COCO_MIG_TRACK_STOP		_IO(KVM_COCO_MIG_IO, 0x19)
#define KVM_COCO_MIG_GET_DIRTY		_IOWR(KVM_COCO_MIG_IO, 0x1a, \
					      struct kvm_coco_mig_dirty)
#define KVM_COCO_MIG_EXCHANGE		_IOWR(KVM_COCO_MIG_IO, 0x1b, \
					      struct kvm_coco_mig_exchange)
#define KVM_COCO_MIG_ABORT		_IOWR(KVM_COCO_MIG_IO, 0x1c, \
					      struct kvm_coco_mig_blob)
#define KVM_COCO_MIG_PACKAGE_VCPU	_IOWR(KVM_COCO_MIG_IO, 0x1d, \
					      struct kvm_coco_mig_vcpu)
#define KVM_COCO_MIG_RECEIVE_VCPU	_IOWR(KVM_COCO_MIG_IO, 0x1e, \
					      struct kvm_coco_mig_vcpu)

#endif /* _UAPI_LINUX_KVM_COCO_MIG_H */
