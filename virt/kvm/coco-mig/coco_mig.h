/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-coco-mig internal interfaces.
 *
 * Object model: a session (struct kcm_session) is the private data of an
 * anonymous-inode file. It pins the VM it migrates by holding a reference on
 * the VM's file, which in turn holds the struct kvm and the vendor module
 * (kvm_amd) that owns the VM's file operations. The work that depends on
 * the VM type is done by a backend (struct kcm_backend), chosen once at
 * session creation by the architecture code.
 */
#ifndef __KVM_COCO_MIG_H
#define __KVM_COCO_MIG_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/kvm_coco_mig.h>

#include "state.h"

struct kcm_session;

/**
 * struct kcm_batch - what one PACKAGE_PAGES or RECEIVE_PAGES call did
 * @done: packets made (source) or taken (target), also on error
 * @bytes: their bytes on the wire
 * @refused: target: packets refused
 * @resent: target: packets installed for a gfn installed before
 * @unchanged: target: of those, packets whose page was already up to date
 * @superseded: target: authentic packets skipped, older than the version
 *	of their gfn another stream installed
 */
struct kcm_batch {
	u32 done;
	u64 bytes;
	u64 refused;
	u64 resent;
	u64 unchanged;
	u64 superseded;
};

/**
 * enum kcm_view - which memory a dirty report is about
 * @KCM_VIEW_PRIVATE: the private memory the session packages (GET_DIRTY)
 * @KCM_VIEW_SHARED: the memory the VMM migrates the ordinary way, from
 *	KVM's dirty log (GET_DIRTY with KVM_COCO_MIG_DIRTY_F_SHARED)
 * @KCM_NR_VIEWS: the number of views
 */
enum kcm_view {
	KCM_VIEW_PRIVATE,
	KCM_VIEW_SHARED,
	KCM_NR_VIEWS,
};

/**
 * struct kcm_track - one tracker of a session, as the core holds it
 * @ops: its operations
 * @views: BIT(KCM_VIEW_*) of the views it reports
 *
 * Embedded in the tracker's own state (container_of()).
 */
struct kcm_track {
	const struct kcm_track_ops *ops;
	u32 views;
};

/**
 * struct kcm_track_ops - completeness and dirty tracking, as a backend
 *	chooses it (struct kcm_backend.track)
 * @begin: source, at the end of the key exchange: track the VM's memory
 *	from now on, every gfn of the private view unsent. Returns the
 *	tracker, ERR_PTR(-ENOENT) if there is nothing to track (not an
 *	error: FINISH then checks that there still is none), ERR_PTR(-ENXIO)
 *	if the VM's dirty log cannot be owned (a dirty ring), or another
 *	ERR_PTR, which fails the round. On return every write of the guest
 *	is either counted or made before the first re-arm.
 * @stop: stop tracking and free the tracker; hands back to KVM whatever it
 *	took from KVM's state and did not report (the VMM can go on with it)
 * @info: the private view's memslots and gfns (TRACK_START, STATUS)
 * @range: check the range of a GET_DIRTY of view @v: 0; -ENOENT, no
 *	tracked memslot holds *@first; -EINVAL, misaligned or past the
 *	memslot's end; -ESTALE, a tracked memslot changed (for good). *@nr 0
 *	is a query: *@first and *@nr become the first tracked memslot that
 *	holds *@first or lies above it.
 * @harvest: write to @out a bit per gfn of a checked range of view @v that
 *	may have been written since it was last reported, *@count the bits
 *	set; re-arm them, so that a write after this returns is reported by
 *	the next harvest of @v. Private view: the reported gfns are unsent.
 *	@out has room for @nr bits and may be used as scratch.
 * @restore: give a report back that could not be delivered: the next
 *	harvest of @v reports it again
 * @sent: a stream packaged @gfns (@nr of them): they are no longer unsent.
 *	Called with the session's data_sem held for reading (streams run at
 *	once), not the session's lock.
 * @complete: the source FINISH's check, every vCPU stopped: 0; -EBUSY, a
 *	gfn of the private view was written since the last harvest; else
 *	-ENODATA, one was reported (or was private at @begin) and not
 *	packaged since; -ESTALE, a tracked memslot changed; -EINTR.
 *
 * Every operation but @sent is called with the session's lock and its
 * data_sem held for writing, and may sleep. @range, @harvest and @restore
 * are only called for a view in struct kcm_track.views; @info, @sent and
 * @complete only for a tracker of the private view.
 */
struct kcm_track_ops {
	struct kcm_track *(*begin)(struct kcm_session *s);
	void (*stop)(struct kcm_track *t);
	void (*info)(struct kcm_track *t, u32 *nr_slots, u64 *nr_gfns);
	int (*range)(struct kcm_track *t, enum kcm_view v, u64 *first, u64 *nr);
	int (*harvest)(struct kcm_track *t, enum kcm_view v, u64 first, u64 nr,
		       unsigned long *out, u64 *count);
	void (*restore)(struct kcm_track *t, enum kcm_view v, u64 first, u64 nr,
			const unsigned long *out);
	void (*sent)(struct kcm_track *t, const u64 *gfns, u32 nr);
	int (*complete)(struct kcm_track *t);
};

/* The guest_memfd tracker (gmem_track.c), and KVM's dirty log (kvmlog.c). */
extern const struct kcm_track_ops kcm_gmem_track_ops;
extern const struct kcm_track_ops kcm_log_shared_track_ops;
extern const struct kcm_track_ops kcm_log_track_ops;
extern const struct kcm_track_ops kcm_log_all_track_ops;

/* Whether a blob ioctl takes an input blob. */
enum kcm_blob_in {
	KCM_IN_NONE,
	KCM_IN_REQUIRED,
	KCM_IN_OPTIONAL,
};

/**
 * struct kcm_backend - the VM-type-specific half of a migration session
 * @name: short name, as in the documentation ("sw", "sev", "svsm")
 * @id: KVM_COCO_MIG_BACKEND_* reported to userspace
 * @max_packet: wire bytes of the largest page packet
 * @max_streams: streams a session may have, at most KVM_COCO_MIG_MAX_STREAMS
 * @max_in_len: the largest message of the exchange, and input of the
 *	source's FINISH (the VMM's VM-wide state)
 * @max_record_len: the largest final record, the target FINISH's input: one
 *	made from a VM-wide state of @max_in_len bytes
 * @max_vcpu_state: the largest vCPU state a source's PACKAGE_VCPU takes
 * @max_vcpu_record: the largest vCPU record, a target's RECEIVE_VCPU input
 * @features: KVM_COCO_MIG_F_*, reported by KVM_COCO_MIG_GET_CAPS
 * @track: the tracker of the private view (sw: guest_memfd); if it does
 *	not report the shared view too, the core tracks that with
 *	kcm_log_shared_track_ops (the VM's dirty-logging memslots)
 * @session_init: set up backend state for a new session. Called before the
 *	session is visible to userspace; a failure fails the creation.
 * @session_destroy: undo @session_init, destroying every key. Called once,
 *	when the last reference to the session file goes away.
 * @out_size: bytes of the output of @op given its input @in (the next
 *	message of KCM_OP_EXCHANGE, the output of KCM_OP_FINISH), or a
 *	negative errno for an input it cannot size. No side effects.
 * @exchange: one round of the key exchange: take the peer's last message
 *	@in (@in_len 0: none), write this side's next message to @out (the
 *	@out_size bytes), set @done once this side's part is complete (the
 *	keys are agreed; the session streams from then on). A message that
 *	does not authenticate poisons the session (kcm_session_fail()); any
 *	other error leaves the exchange where it was.
 * @package: source, stream @stream: write one packet per gfn of @gfns to
 *	@ubuf, which has room for @nr packets of @max_packet bytes
 * @receive: target, stream @stream: verify and install @nr packets from the
 *	@len bytes at @ubuf
 * @finish: source: write the final record, which seals the VMM's VM-wide
 *	state @in and closes the control stream, to @out (kernel memory).
 *	Called with every vCPU stopped and recorded; the core pauses the VM
 *	for good only once this succeeded, so it may fail. Target:
 *	authenticate the final record @in, check it against what the session
 *	installed (pages and vCPU records) and write the VM-wide state it
 *	carries to @out; a record that fails poisons the session.
 * @vcpu: the state of @vcpu, which has no record yet; its mutex and every
 *	other vCPU's are held, and the VM is paused. Source: seal the state
 *	(@in: the VMM's, for a backend that takes one) into the record @out
 *	(the @out_size bytes for KCM_OP_PACKAGE_VCPU). Target: authenticate
 *	the record @in, refuse it unless it is @vcpu's and the next record
 *	of the control stream, and write the state it carries to @out (the
 *	@out_size bytes for KCM_OP_RECEIVE_VCPU). The core counts the vCPU
 *	as done when this returns 0. A record that does not authenticate
 *	poisons the session.
 * @cancel: destroy every key. Source: CANCEL (the VM keeps running), or
 *	a verified abort token.
 * @end_streams: destroy every key but what @abort needs: the data path
 *	is over (a source's FINISH succeeded, or the session failed)
 * @abort: target (@in NULL): write the abort token (@out_size bytes for
 *	KCM_OP_ABORT) to @out, kernel memory; the core kills the VM right
 *	after a success, before the token leaves, so this may fail and
 *	leave the VM alive. Source: check the token @in; 0 only for a token
 *	this session's target made.
 *
 * Every operation but @package and @receive is called with the session's
 * @lock held and @data_sem held for writing, in a state the state machine
 * allows. @package and @receive are called with @data_sem held for
 * reading and their stream's lock: calls on different streams run at
 * once. They report in @b what they did, also on error. An operation that
 * detects tampering calls kcm_session_fail(); the core then calls @cancel
 * with every stream excluded. An operation whose work is done elsewhere
 * (an agent vCPU, a firmware command) waits for it with
 * kcm_session_wait(), never otherwise.
 */
struct kcm_backend {
	const char *name;
	u32 id;
	size_t max_packet;
	u32 max_streams;
	u32 max_in_len;
	u32 max_record_len;
	u32 max_vcpu_state;
	u32 max_vcpu_record;
	u64 features;
	const struct kcm_track_ops *track;
	int (*session_init)(struct kcm_session *s);
	void (*session_destroy)(struct kcm_session *s);
	long (*out_size)(struct kcm_session *s, enum kcm_op op, const void *in,
			 u32 in_len);
	int (*exchange)(struct kcm_session *s, const void *in, u32 in_len,
			void *out, bool *done);
	int (*package)(struct kcm_session *s, u32 stream, const u64 *gfns,
		       u32 nr, u8 __user *ubuf, struct kcm_batch *b);
	int (*receive)(struct kcm_session *s, u32 stream, const u8 __user *ubuf,
		       u64 len, u32 nr, struct kcm_batch *b);
	int (*finish)(struct kcm_session *s, const void *in, u32 in_len,
		      void *out);
	int (*vcpu)(struct kcm_session *s, struct kvm_vcpu *vcpu, const void *in,
		    u32 in_len, void *out);
	void (*cancel)(struct kcm_session *s);
	void (*end_streams)(struct kcm_session *s);
	int (*abort)(struct kcm_session *s, const void *in, u32 in_len,
		     void *out);
};

/**
 * struct kcm_stream - the core's half of one stream of a session
 * @lock: one PACKAGE_PAGES or RECEIVE_PAGES at a time on the stream; held
 *	with @data_sem read, and protects the backend's state of the stream
 */
struct kcm_stream {
	struct mutex lock;	/* one call at a time on the stream */
};

/**
 * struct kcm_session - one migration session, bound to one VM
 * @kvm: the VM; valid for the whole life of the session
 * @vm_file: the reference that keeps @kvm and its vendor module alive
 * @backend: the backend chosen for @kvm's type
 * @role: KVM_COCO_MIG_ROLE_SOURCE or KVM_COCO_MIG_ROLE_TARGET
 * @nr_streams: entries of @streams, fixed at creation
 * @node: entry in the table of VMs that have a session (kcm_vm_lock)
 * @lock: serialises the session's ioctls but PACKAGE_PAGES and
 *	RECEIVE_PAGES; protects what follows it unless said otherwise
 * @data_sem: the data path's lock: PACKAGE_PAGES and RECEIVE_PAGES hold
 *	it for reading, every ioctl that changes what they depend on (the
 *	state, the keys, the tracker's bitmaps) for writing, inside @lock.
 * @state: KVM_COCO_MIG_STATE_*; written with @lock and @data_sem held for
 *	writing, or by kcm_session_fail(); read under either lock
 * @reaped: a failed session's keys and tracker are gone
 * @pages, @bytes, @refused, @resent, @unchanged, @superseded: counters
 *	for STATUS, added to once per call
 * @fenced: the VM's vCPUs are kept out of the guest: a target's until
 *	FINISH; a source's from its first PACKAGE_VCPU (or FINISH) until
 *	CANCEL, a verified abort token, or for good
 * @sealed: source: FINISH made the final record; closing the session
 *	kills the paused VM
 * @vcpu_done: the vCPUs (by index) that have their record
 * @vcpus: how many, for STATUS
 * @track: source: the private view's tracker from START on (the
 *	backend's @track), or NULL (before START, or nothing to track). Set
 *	and cleared with @data_sem held for writing.
 * @shared: source: the shared view's tracker from START on: @track if it
 *	reports both views, or one over KVM's dirty log; else NULL, and
 *	@shared_err says why (-ENOENT, -ENXIO). Like @track.
 * @shared_err: why there is no @shared
 * @reporting: source: GET_DIRTY reports (TRACK_START to TRACK_STOP)
 * @rounds: source: GET_DIRTY calls that reported
 * @reported: source: gfns GET_DIRTY reported
 * @rounds_done: exchange rounds this side completed
 * @wq: the backend's waits for work done elsewhere (kcm_session_wait())
 * @interrupts: CANCELs and target ABORTs on their way to @lock: every
 *	kcm_session_wait() returns -ECANCELED while it is not zero
 * @tracked: source: gfns under tracking, for STATUS; 0 without @track
 * @fw_cmd: the last firmware command that failed, for STATUS (sev)
 * @fw_status: the firmware's status for it
 * @priv: the backend's state
 * @streams: per-stream locks
 *
 * Lock order: @lock, @data_sem, a stream's lock, then KVM's locks
 * (kvm->lock, the vCPUs' mutexes, kvm->slots_lock, kvm->srcu).
 *
 * STATUS takes no lock: what it reports is an atomic or read with
 * READ_ONCE() (@state, @fenced, @tracked, @rounds, @reported, @fw_cmd,
 * @fw_status, the counters), so a backend operation that waits never holds it up. Their
 * writers use WRITE_ONCE() (or atomics).
 */
struct kcm_session {
	struct kvm *kvm;
	struct file *vm_file;
	const struct kcm_backend *backend;
	u32 role;
	u32 nr_streams;
	struct hlist_node node;

	struct mutex lock;	/* see above */
	struct rw_semaphore data_sem;
	u32 state;
	bool reaped;
	atomic64_t pages;
	atomic64_t bytes;
	atomic64_t refused;
	atomic64_t resent;
	atomic64_t unchanged;
	atomic64_t superseded;
	bool fenced;
	bool sealed;
	unsigned long *vcpu_done;
	atomic_t vcpus;
	struct kcm_track *track;
	struct kcm_track *shared;
	int shared_err;
	bool reporting;
	u64 rounds;
	u64 reported;
	u32 rounds_done;
	wait_queue_head_t wq;
	atomic_t interrupts;
	u64 tracked;
	u32 fw_cmd;
	u32 fw_status;
	void *priv;
	struct kcm_stream streams[] __counted_by(nr_streams);
};

void kcm_session_fail(struct kcm_session *s);

/*
 * The bound of kcm_session_wait() for a backend that has none of its own
 * (a firmware command with a documented timeout passes that instead).
 */
#define KCM_WAIT_DEFAULT	(30 * HZ)

static inline bool kcm_session_failed(struct kcm_session *s)
{
	return READ_ONCE(s->state) == KVM_COCO_MIG_STATE_FAILED;
}

/* Whether a wait must end: see kcm_session_wait(). */
static inline bool kcm_session_interrupted(struct kcm_session *s,
					   bool was_failed)
{
	return atomic_read(&s->interrupts) ||
	       (!was_failed && kcm_session_failed(s));
}

int kcm_session_wait_end(struct kcm_session *s, long t, bool done,
			 bool was_failed);

/**
 * kcm_session_wait - wait, killably and bounded, for work done elsewhere
 * @s: the session, in an operation of its backend
 * @cond: true once the work is done; checked first, and again at each
 *	kcm_session_wake(). It may not sleep and has no side effects.
 * @timeout: the bound, in jiffies: the backend's own (a firmware
 *	command's documented timeout) or KCM_WAIT_DEFAULT
 *
 * For a backend operation whose work another context does: a migration
 * agent on a vCPU the VMM runs from another thread, a firmware command.
 * Whoever completes the work makes @cond true, then calls
 * kcm_session_wake(). Called from any operation of struct kcm_backend,
 * with the locks the core holds for it (and around @vcpu and @finish the
 * VM's kvm->lock, vCPU mutexes or slots_lock): the work must need none
 * of them. STATUS takes no lock, and CANCEL (source) and ABORT (target)
 * interrupt the wait before they take any, so a waiting operation holds
 * up neither. Closing the session cannot interrupt it: the file is
 * released only once no ioctl is in it.
 *
 * Return: 0 once @cond holds (also if it did before the call); or, with
 * the work not done and perhaps still in flight, so that the backend must
 * make its late completion harmless: -ECANCELED if a source's CANCEL or a
 * target's ABORT interrupted the wait (it then cancels, or kills the VM);
 * -EIO if the session failed meanwhile (another stream saw tampering; not
 * if it had failed before the wait, as when a failed target's ABORT makes
 * its token); -EINTR on a fatal signal (the process, the only one that
 * may use the session, is exiting); -ETIMEDOUT once @timeout passed, and
 * the session is then poisoned (kcm_session_fail(): a target VM is dead,
 * a source's guest is left running or paused), because what the work
 * will still do is unknown.
 */
#define kcm_session_wait(s, cond, timeout)				\
({									\
	struct kcm_session *__kw_s = (s);				\
	bool __kw_failed = kcm_session_failed(__kw_s);			\
	bool __kw_done = false;						\
	long __kw_t;							\
									\
	__kw_t = wait_event_killable_timeout(__kw_s->wq,		\
			(__kw_done = (cond)) ||				\
			kcm_session_interrupted(__kw_s, __kw_failed),	\
			(timeout));					\
	kcm_session_wait_end(__kw_s, __kw_t, __kw_done, __kw_failed);	\
})

/**
 * kcm_session_wake - the work a kcm_session_wait() waits for is done
 * @s: the session; the backend makes sure it is alive (its
 *	@session_destroy stops whoever calls this)
 *
 * Call after making the wait's condition true. Any context but NMI.
 */
static inline void kcm_session_wake(struct kcm_session *s)
{
	wake_up_all(&s->wq);
}

extern const struct kcm_backend kcm_sw_backend;

struct kcm_tracker;

/* arch: KVM's dirty log (x86: coco_mig_kvmlog.c). */
void kcm_arch_log_sync(struct kvm *kvm);
void kcm_arch_log_rearm(struct kvm *kvm, u64 first, const unsigned long *bits,
			u64 nbits);

/* arch: dirty tracking of private memory (x86: coco_mig_track.c). */
int kcm_arch_track_init(void);
void kcm_arch_track_exit(void);
int kcm_arch_track_register(struct kcm_tracker *t);
void kcm_arch_track_unregister(struct kcm_tracker *t);
void kcm_arch_track_rearm(struct kvm *kvm, u64 first, const unsigned long *bits,
			  u64 nbits);

/* arch: fencing a target's vCPUs, and stopping a source's (x86: coco_mig_fence.c). */
int kcm_arch_fence_init(void);
void kcm_arch_fence_exit(void);
int kcm_arch_fence(struct kvm *kvm);
void kcm_arch_unfence(struct kvm *kvm);
int kcm_arch_vcpus_have_run(struct kvm *kvm);
int kcm_arch_lock_vcpus(struct kvm *kvm);
void kcm_arch_unlock_vcpus(struct kvm *kvm);

/* arch: the backend for a VM, or an ERR_PTR with the errno to report. */
const struct kcm_backend *kcm_arch_select_backend(struct kvm *kvm);
/* arch: the @i-th backend this build has and its VM type, or NULL. */
const struct kcm_backend *kcm_arch_backend(u32 i, u32 *vm_type);

struct tracepoint;
struct tracepoint *kcm_kvm_tracepoint(const char *name);

long kcm_session_create(struct kvm_coco_mig_create __user *uarg);

#if IS_ENABLED(CONFIG_KUNIT)
/* Pure helpers, static unless KUnit tests reach them. */
const struct kcm_backend *kcm_backend_for_vm_type(unsigned long vm_type);
int kcm_create_args_check(const struct kvm_coco_mig_create *args);
int kcm_status_args_check(const struct kvm_coco_mig_status *args);
int kcm_blob_args_check(const struct kvm_coco_mig_blob *b, enum kcm_blob_in in,
			bool has_out, u32 max_in);
int kcm_pages_args_check(const struct kvm_coco_mig_pages *p, bool package,
			 u32 nr_streams);
int kcm_track_args_check(const struct kvm_coco_mig_track *t);
int kcm_dirty_args_check(const struct kvm_coco_mig_dirty *d);
int kcm_exchange_args_check(const struct kvm_coco_mig_exchange *x, u32 max_in);
int kcm_vcpu_args_check(const struct kvm_coco_mig_vcpu *v, u32 max_in);
/* A session without a VM file, and the ioctls' cores, for wait_test.c. */
struct kcm_session *kcm_session_alloc(u32 nr_streams);
void kcm_session_free(struct kcm_session *s);
void kcm_status_fill(struct kcm_session *s, struct kvm_coco_mig_status *st);
int kcm_cancel(struct kcm_session *s);
int kcm_ioctl_exchange(struct kcm_session *s,
		       struct kvm_coco_mig_exchange __user *uarg);
int kcm_ioctl_abort(struct kcm_session *s,
		    struct kvm_coco_mig_blob __user *uarg);
int kcm_pages_ioctl(struct kcm_session *s, enum kcm_op op,
		    struct kvm_coco_mig_pages __user *uarg);
#endif

#endif /* __KVM_COCO_MIG_H */
