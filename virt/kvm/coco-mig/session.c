// SPDX-License-Identifier: GPL-2.0
/*
 * Migration sessions: creation, binding to a VM, lifetime and ioctls.
 *
 * A session file holds a reference on its VM's file (not only on the struct
 * kvm): that keeps both the VM and the vendor module that owns it loaded, so
 * userspace may close the VM fd and the session fd in either order.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/hashtable.h>
#include <linux/kvm_host.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <kunit/visibility.h>

#include "coco_mig.h"

/*
 * kcm_vm_lock protects kcm_vm_table, the set of VMs that currently have a
 * session, keyed by struct kvm pointer. It makes "at most one session per
 * VM" atomic with respect to concurrent KVM_COCO_MIG_CREATE_SESSION calls.
 * Because a session pins its VM, a struct kvm in the table cannot be freed
 * and its address reused while its entry exists.
 */
static DEFINE_MUTEX(kcm_vm_lock);
static DEFINE_HASHTABLE(kcm_vm_table, 6);

VISIBLE_IF_KUNIT int kcm_create_args_check(const struct kvm_coco_mig_create *args)
{
	if (args->flags || args->pad ||
	    memchr_inv(args->reserved, 0, sizeof(args->reserved)))
		return -EINVAL;
	if (args->role != KVM_COCO_MIG_ROLE_SOURCE &&
	    args->role != KVM_COCO_MIG_ROLE_TARGET)
		return -EINVAL;
	if (args->nr_streams > KVM_COCO_MIG_MAX_STREAMS)
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_create_args_check);

VISIBLE_IF_KUNIT int kcm_status_args_check(const struct kvm_coco_mig_status *args)
{
	return args->flags ? -EINVAL : 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_status_args_check);

static int kcm_vm_bind(struct kcm_session *s)
{
	struct kcm_session *other;
	int ret = 0;

	mutex_lock(&kcm_vm_lock);
	hash_for_each_possible(kcm_vm_table, other, node, (unsigned long)s->kvm) {
		if (other->kvm == s->kvm) {
			ret = -EBUSY;
			goto out_unlock;
		}
	}
	hash_add(kcm_vm_table, &s->node, (unsigned long)s->kvm);
out_unlock:
	mutex_unlock(&kcm_vm_lock);
	return ret;
}

static void kcm_vm_unbind(struct kcm_session *s)
{
	mutex_lock(&kcm_vm_lock);
	hash_del(&s->node);
	mutex_unlock(&kcm_vm_lock);
}

/*
 * STATUS without a lock, so that it never waits behind a backend operation
 * that waits: each field is one value it had during the call, not all
 * necessarily from the same instant while another ioctl runs.
 */
VISIBLE_IF_KUNIT void kcm_status_fill(struct kcm_session *s,
				      struct kvm_coco_mig_status *st)
{
	memset(st, 0, sizeof(*st));
	st->state = READ_ONCE(s->state);
	st->pages = atomic64_read(&s->pages);
	st->bytes = atomic64_read(&s->bytes);
	st->refused = atomic64_read(&s->refused);
	st->tracked = READ_ONCE(s->tracked);
	st->rounds = READ_ONCE(s->rounds);
	st->reported = READ_ONCE(s->reported);
	st->resent = atomic64_read(&s->resent);
	st->unchanged = atomic64_read(&s->unchanged);
	st->superseded = atomic64_read(&s->superseded);
	st->vcpus = atomic_read(&s->vcpus);
	st->nr_vcpus = atomic_read(&s->kvm->online_vcpus);
	st->fw_cmd = READ_ONCE(s->fw_cmd);
	st->fw_status = READ_ONCE(s->fw_status);
	if (READ_ONCE(s->kvm->vm_dead))
		st->vm = KVM_COCO_MIG_VM_DEAD;
	else if (READ_ONCE(s->fenced))
		st->vm = KVM_COCO_MIG_VM_FENCED;
	else
		st->vm = KVM_COCO_MIG_VM_RUNNABLE;
	st->role = s->role;
	st->backend = s->backend->id;
	st->nr_streams = s->nr_streams;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_status_fill);

static int kcm_status(struct kcm_session *s,
		      struct kvm_coco_mig_status __user *uarg)
{
	struct kvm_coco_mig_status st;
	int ret;

	if (copy_from_user(&st, uarg, sizeof(st)))
		return -EFAULT;
	ret = kcm_status_args_check(&st);
	if (ret)
		return ret;
	kcm_status_fill(s, &st);
	if (copy_to_user(uarg, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}

/* Stop dirty tracking, if it is on: both views' trackers are gone on return. */
static void kcm_track_stop_locked(struct kcm_session *s)
{
	lockdep_assert_held(&s->lock);
	lockdep_assert_held_write(&s->data_sem);
	s->reporting = false;
	if (s->shared && s->shared != s->track)
		s->shared->ops->stop(s->shared);
	s->shared = NULL;
	if (s->track)
		s->track->ops->stop(s->track);
	s->track = NULL;
	WRITE_ONCE(s->tracked, 0);
}

/**
 * kcm_session_fail - poison a session after tampering or a failed FINISH
 * @s: the session, in an operation of its backend (any of the locks)
 *
 * Only STATUS and close remain: every other ioctl fails with EIO from now
 * on, and a stream in the middle of a batch stops at its next packet. A
 * source VM is left as it is: a refused packet never touched its memory,
 * and the guest runs on. A target VM is dead from now on: it may hold part
 * of a stream that failed, and must never run. The keys and the tracker go
 * as soon as no stream uses them (kcm_session_reap_locked()).
 */
void kcm_session_fail(struct kcm_session *s)
{
	if (s->role == KVM_COCO_MIG_ROLE_TARGET)
		kvm_vm_dead(s->kvm);
	WRITE_ONCE(s->state, KVM_COCO_MIG_STATE_FAILED);
	/* A wait on another stream ends (-EIO). */
	kcm_session_wake(s);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_session_fail);

/**
 * kcm_session_wait_end - kcm_session_wait()'s result
 * @s: the session
 * @t: what wait_event_killable_timeout() returned
 * @done: the wait's condition, as last seen
 * @was_failed: the session had failed before the wait
 *
 * Return: see kcm_session_wait(); a timeout poisons the session.
 */
int kcm_session_wait_end(struct kcm_session *s, long t, bool done,
			 bool was_failed)
{
	if (done)
		return 0;
	if (t < 0)
		return -EINTR;
	if (atomic_read(&s->interrupts))
		return -ECANCELED;
	if (!was_failed && kcm_session_failed(s))
		return -EIO;
	/* Woken by an interrupter that then gave up (a fatal signal). */
	if (t > 0)
		return -ECANCELED;
	/* The work may still complete: nothing it leaves can be trusted. */
	kcm_session_fail(s);
	return -ETIMEDOUT;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_session_wait_end);

/* A failed session: destroy the keys, stop tracking. */
static void kcm_session_reap_locked(struct kcm_session *s)
{
	lockdep_assert_held(&s->lock);
	lockdep_assert_held_write(&s->data_sem);
	if (s->state != KVM_COCO_MIG_STATE_FAILED || s->reaped)
		return;
	kcm_track_stop_locked(s);
	s->backend->end_streams(s);
	WRITE_ONCE(s->reaped, true);
}

/*
 * The lock of every ioctl that changes the session: @lock, and @data_sem
 * for writing, so that no stream is in the middle of a batch.
 */
static int kcm_ctl_lock(struct kcm_session *s)
{
	if (mutex_lock_killable(&s->lock))
		return -EINTR;
	if (down_write_killable(&s->data_sem)) {
		mutex_unlock(&s->lock);
		return -EINTR;
	}
	return 0;
}

static void kcm_ctl_unlock(struct kcm_session *s)
{
	kcm_session_reap_locked(s);
	up_write(&s->data_sem);
	mutex_unlock(&s->lock);
}

/*
 * kcm_ctl_lock() for CANCEL (source) and ABORT (target), which end a
 * backend operation that waits (kcm_session_wait(): -ECANCELED) rather
 * than wait behind it. Only if the state allows @op as far as a look
 * without the locks tells: a call that will be refused interrupts
 * nothing. The interruption lasts until the locks are held, when no
 * operation is left in a wait; what the caller then runs may wait itself.
 */
static int kcm_ctl_lock_interrupt(struct kcm_session *s, enum kcm_op op)
{
	int ret;

	if (kcm_state_check(s->role, READ_ONCE(s->state), op))
		return kcm_ctl_lock(s);
	atomic_inc(&s->interrupts);
	kcm_session_wake(s);
	ret = kcm_ctl_lock(s);
	atomic_dec(&s->interrupts);
	return ret;
}

VISIBLE_IF_KUNIT int kcm_track_args_check(const struct kvm_coco_mig_track *t)
{
	if (t->flags || memchr_inv(t->reserved, 0, sizeof(t->reserved)))
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_track_args_check);

VISIBLE_IF_KUNIT int kcm_dirty_args_check(const struct kvm_coco_mig_dirty *d)
{
	if ((d->flags & ~KVM_COCO_MIG_DIRTY_F_SHARED) || d->pad ||
	    memchr_inv(d->reserved, 0, sizeof(d->reserved)))
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_dirty_args_check);

/*
 * Dirty tracking runs from START to the end of the session (or FINISH, or
 * CANCEL): FINISH needs it to know that every private gfn was packaged
 * since it was last written. TRACK_START and TRACK_STOP only switch
 * GET_DIRTY's reports on and off.
 */
/*
 * START: the backend's tracker takes the private view (every private gfn
 * unsent), and the shared view comes from it or from KVM's dirty log.
 * Nothing to track in a view is not an error; GET_DIRTY says so.
 */
static int kcm_track_begin(struct kcm_session *s)
{
	struct kcm_track *t, *sh;

	lockdep_assert_held(&s->lock);
	lockdep_assert_held_write(&s->data_sem);
	t = s->backend->track->begin(s);
	if (IS_ERR(t) && PTR_ERR(t) != -ENOENT)
		return PTR_ERR(t);
	t = IS_ERR(t) ? NULL : t;
	if (t && (t->views & BIT(KCM_VIEW_SHARED))) {
		sh = t;
	} else {
		sh = kcm_log_shared_track_ops.begin(s);
		if (IS_ERR(sh) && PTR_ERR(sh) != -ENOENT && PTR_ERR(sh) != -ENXIO) {
			if (t)
				t->ops->stop(t);
			return PTR_ERR(sh);
		}
	}
	s->track = t;
	s->shared = IS_ERR(sh) ? NULL : sh;
	s->shared_err = IS_ERR(sh) ? PTR_ERR(sh) : 0;
	if (t) {
		u32 nr_slots;
		u64 nr_gfns;

		t->ops->info(t, &nr_slots, &nr_gfns);
		WRITE_ONCE(s->tracked, nr_gfns);
	}
	return 0;
}

static int kcm_track_start(struct kcm_session *s,
			   struct kvm_coco_mig_track __user *uarg)
{
	struct kvm_coco_mig_track tr;
	int ret;

	if (copy_from_user(&tr, uarg, sizeof(tr)))
		return -EFAULT;
	ret = kcm_track_args_check(&tr);
	if (ret)
		return ret;

	if (mutex_lock_killable(&s->lock))
		return -EINTR;
	ret = kcm_state_check(s->role, s->state, KCM_OP_TRACK);
	if (ret)
		goto out_unlock;
	if (!s->track) {
		ret = -ENOENT;	/* no guest_memfd memory */
		goto out_unlock;
	}
	if (s->reporting) {
		ret = -EBUSY;
		goto out_unlock;
	}
	s->track->ops->info(s->track, &tr.nr_slots, &tr.nr_gfns);
	if (copy_to_user(uarg, &tr, sizeof(tr))) {
		ret = -EFAULT;
		goto out_unlock;
	}
	s->reporting = true;
out_unlock:
	mutex_unlock(&s->lock);
	return ret;
}

static int kcm_track_stop(struct kcm_session *s)
{
	int ret;

	if (mutex_lock_killable(&s->lock))
		return -EINTR;
	ret = kcm_state_check(s->role, s->state, KCM_OP_TRACK);
	if (!ret && !s->reporting)
		ret = -EBADFD;
	if (!ret)
		s->reporting = false;
	mutex_unlock(&s->lock);
	return ret;
}

/*
 * GET_DIRTY. The private view reports between TRACK_START and TRACK_STOP;
 * the shared view (KVM_COCO_MIG_DIRTY_F_SHARED) from START on: the session
 * owns the VM's dirty log from then, and is its only harvester.
 */
static int kcm_get_dirty(struct kcm_session *s,
			 struct kvm_coco_mig_dirty __user *uarg)
{
	struct kvm_coco_mig_dirty d;
	enum kcm_view view;
	struct kcm_track *t;
	unsigned long *out;
	u64 first, nr, words;
	int ret;

	if (copy_from_user(&d, uarg, sizeof(d)))
		return -EFAULT;
	ret = kcm_dirty_args_check(&d);
	if (ret)
		return ret;

	/* Exclusive: a batch is packaged wholly before or after the harvest. */
	ret = kcm_ctl_lock(s);
	if (ret)
		return ret;
	view = d.flags & KVM_COCO_MIG_DIRTY_F_SHARED ? KCM_VIEW_SHARED :
						      KCM_VIEW_PRIVATE;
	ret = kcm_state_check(s->role, s->state, KCM_OP_GET_DIRTY);
	if (!ret && view == KCM_VIEW_PRIVATE && !s->reporting)
		ret = -EBADFD;
	if (ret)
		goto out_unlock;
	t = view == KCM_VIEW_SHARED ? s->shared : s->track;
	if (!t) {
		/* Private: reporting is on only with a tracker. */
		ret = view == KCM_VIEW_SHARED ? s->shared_err : -EBADFD;
		goto out_unlock;
	}

	first = d.first_gfn;
	nr = d.nr_gfns;
	ret = t->ops->range(t, view, &first, &nr);
	if (ret)
		goto out_unlock;
	if (!d.nr_gfns) {
		/* A query: which tracked memslot, how big. */
		d.first_gfn = first;
		d.nr_gfns = nr;
		if (copy_to_user(uarg, &d, sizeof(d)))
			ret = -EFAULT;
		goto out_unlock;
	}

	words = BITS_TO_LONGS(nr);
	/* One bit per gfn of the range: the harvest works in place. */
	out = kvcalloc(words, sizeof(*out), GFP_KERNEL_ACCOUNT);
	if (!out) {
		ret = -ENOMEM;
		goto out_unlock;
	}

	ret = t->ops->harvest(t, view, first, nr, out, &d.nr_dirty);
	if (ret)
		goto e_free_bitmap;

	if (copy_to_user(u64_to_user_ptr(d.bitmap_uaddr), out,
			 words * sizeof(*out)) ||
	    copy_to_user(&uarg->nr_dirty, &d.nr_dirty, sizeof(d.nr_dirty))) {
		/* Not delivered: the next GET_DIRTY reports these again. */
		t->ops->restore(t, view, first, nr, out);
		ret = -EFAULT;
		goto e_free_bitmap;
	}
	if (view == KCM_VIEW_PRIVATE) {
		WRITE_ONCE(s->rounds, s->rounds + 1);
		WRITE_ONCE(s->reported, s->reported + d.nr_dirty);
	}

e_free_bitmap:
	kvfree(out);
out_unlock:
	kcm_ctl_unlock(s);
	return ret;
}

VISIBLE_IF_KUNIT int kcm_blob_args_check(const struct kvm_coco_mig_blob *b,
					 enum kcm_blob_in in, bool has_out,
					 u32 max_in)
{
	if (b->flags || b->pad || memchr_inv(b->reserved, 0, sizeof(b->reserved)))
		return -EINVAL;
	if (in == KCM_IN_NONE && (b->in_len || b->in_uaddr))
		return -EINVAL;
	if (in == KCM_IN_REQUIRED && !b->in_len)
		return -EINVAL;
	if (b->in_len > max_in)
		return -EINVAL;
	if (!has_out && (b->out_len || b->out_uaddr))
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_blob_args_check);

/*
 * An output buffer pinned before an irreversible step, so that what
 * follows the step cannot fail: FINISH writes its result through it.
 */
struct kcm_uout {
	struct page **pages;
	unsigned int nr;
	unsigned long uaddr;
	size_t len;
};

static void kcm_uout_unpin(struct kcm_uout *o, bool written)
{
	if (!o->pages)
		return;
	unpin_user_pages_dirty_lock(o->pages, o->nr, written);
	kvfree(o->pages);
	o->pages = NULL;
}

/*
 * Pin @len bytes at @uaddr for writing and report @len in @len_uaddr:
 * once this succeeds, delivering the output cannot fail.
 */
static int kcm_uout_pin(struct kcm_uout *o, u64 uaddr, u32 len,
			__u32 __user *len_uaddr)
{
	unsigned long first = uaddr & PAGE_MASK;
	int ret;

	o->uaddr = uaddr;
	o->len = len;
	o->nr = DIV_ROUND_UP(uaddr - first + len, PAGE_SIZE);
	o->pages = kvmalloc_array(o->nr, sizeof(*o->pages), GFP_KERNEL_ACCOUNT);
	if (!o->pages)
		return -ENOMEM;
	ret = pin_user_pages_fast(first, o->nr, FOLL_WRITE, o->pages);
	if (ret == o->nr) {
		if (!put_user(len, len_uaddr))
			return 0;
		kcm_uout_unpin(o, false);
		return -EFAULT;
	}
	if (ret > 0)
		unpin_user_pages(o->pages, ret);
	kvfree(o->pages);
	o->pages = NULL;
	return ret < 0 && ret != -EFAULT ? ret : -EFAULT;
}

static void kcm_uout_write(struct kcm_uout *o, const void *src)
{
	size_t off = offset_in_page(o->uaddr), done = 0, n;
	unsigned int i;

	for (i = 0; done < o->len; i++, off = 0) {
		n = min_t(size_t, PAGE_SIZE - off, o->len - done);
		memcpy_to_page(o->pages[i], off, src + done, n);
		done += n;
	}
}

/*
 * kcm_session_vcpus_complete - whether every vCPU of the VM has its record
 * @s: the session, in FINISH
 *
 * Context: @s->lock and kvm->lock held (no vCPU is added meanwhile).
 * Return: 0, or -ENOMSG if a vCPU has none.
 */
static int kcm_session_vcpus_complete(struct kcm_session *s)
{
	lockdep_assert_held(&s->lock);
	lockdep_assert_held(&s->kvm->lock);
	/* Only vCPUs of the VM are counted, each once. */
	if (atomic_read(&s->vcpus) != atomic_read(&s->kvm->online_vcpus))
		return -ENOMSG;
	return 0;
}

/*
 * Source FINISH with tracking: 0 if every private gfn is migrated and
 * clean; -EBUSY if one was written (or turned private) since the last
 * GET_DIRTY, -ENODATA if one was not packaged since it was reported (or
 * since START); -ESTALE if a guest_memfd memslot appeared since START.
 */
static int kcm_source_complete(struct kcm_session *s)
{
	struct kvm_memory_slot *slot;
	int bkt, idx, ret = 0;

	lockdep_assert_held(&s->lock);
	lockdep_assert_held(&s->kvm->slots_lock);
	if (s->track)
		return s->track->ops->complete(s->track);
	idx = srcu_read_lock(&s->kvm->srcu);
	kvm_for_each_memslot(slot, bkt, kvm_memslots(s->kvm))
		if (kvm_slot_can_be_private(slot))
			ret = -ESTALE;
	srcu_read_unlock(&s->kvm->srcu, idx);
	return ret;
}

/*
 * Source FINISH. Everything that can fail comes first, with the guest
 * alive: the output is pinned and its length reported, the vCPUs are
 * stopped (their mutexes held, so no vCPU ioctl runs; kvm->lock, so none is
 * added; slots_lock, so no memslot or memory attribute changes), the
 * completeness checks (pages, then vCPU records) are exact, and the final
 * record is sealed in kernel memory. Only then is the pause made for good
 * (until its target's abort token, or death when the session closes), and
 * the record is written through the pinned pages, which cannot fail. So
 * every error of a source FINISH leaves the guest as it was (running, or
 * paused by PACKAGE_VCPU, which CANCEL undoes), and success leaves it
 * paused for good.
 */
static int kcm_finish_source(struct kcm_session *s, struct kvm_coco_mig_blob *b,
			     struct kvm_coco_mig_blob __user *uarg, const void *in,
			     void *out, u32 need)
{
	struct kvm *kvm = s->kvm;
	bool paused = false;
	struct kcm_uout o;
	int ret;

	ret = kcm_uout_pin(&o, b->out_uaddr, need, &uarg->out_len);
	if (ret)
		return ret;
	if (mutex_lock_killable(&kvm->lock)) {
		ret = -EINTR;
		goto out_unpin;
	}
	ret = kcm_arch_lock_vcpus(kvm);
	if (ret)
		goto out_unlock_kvm;
	if (mutex_lock_killable(&kvm->slots_lock)) {
		ret = -EINTR;
		goto out_unlock_vcpus;
	}

	ret = kcm_source_complete(s);
	if (!ret)
		ret = kcm_session_vcpus_complete(s);
	if (!ret && !s->fenced) {
		/* A VM without vCPUs: nothing paused it yet. */
		ret = kcm_arch_fence(kvm);
		WRITE_ONCE(s->fenced, !ret);
		paused = !ret;
	}
	if (!ret)
		ret = s->backend->finish(s, in, b->in_len, out);
	/*
	 * The irreversible step, once nothing else can fail: the VM is
	 * paused for good. Only its target's abort token lets it run again;
	 * closing the session kills it.
	 */
	if (!ret)
		s->sealed = true;

	mutex_unlock(&kvm->slots_lock);
out_unlock_vcpus:
	kcm_arch_unlock_vcpus(kvm);
out_unlock_kvm:
	mutex_unlock(&kvm->lock);
	if (ret && paused) {
		kcm_arch_unfence(kvm);
		WRITE_ONCE(s->fenced, false);
	}
	if (!ret) {
		kcm_uout_write(&o, out);
		kcm_track_stop_locked(s);
		s->backend->end_streams(s);
	}
out_unpin:
	kcm_uout_unpin(&o, !ret);
	return ret;
}

/*
 * Target FINISH. The output is pinned first (an unwritable one changes
 * nothing), and every vCPU must have its record (-ENOMSG changes nothing);
 * then the backend checks the final record, and poisons the session (the
 * VM dies) if it fails. On success the VM-wide state is written through
 * the pinned pages and the fence is lifted.
 */
static int kcm_finish_target(struct kcm_session *s, struct kvm_coco_mig_blob *b,
			     struct kvm_coco_mig_blob __user *uarg, const void *in,
			     void *out, u32 need)
{
	struct kcm_uout o;
	int ret;

	lockdep_assert_held(&s->lock);
	lockdep_assert_held_write(&s->data_sem);
	ret = kcm_uout_pin(&o, b->out_uaddr, need, &uarg->out_len);
	if (ret)
		return ret;
	/*
	 * kvm->lock: no vCPU is added while the records are counted;
	 * slots_lock: no memslot or memory attribute changes while the
	 * record is checked against them.
	 */
	if (mutex_lock_killable(&s->kvm->lock)) {
		ret = -EINTR;
		goto out_unpin;
	}
	if (mutex_lock_killable(&s->kvm->slots_lock)) {
		ret = -EINTR;
		goto out_unlock_kvm;
	}
	/* A vCPU without its record: the VMM may still deliver it. */
	ret = kcm_session_vcpus_complete(s);
	if (!ret)
		ret = s->backend->finish(s, in, b->in_len, out);
	mutex_unlock(&s->kvm->slots_lock);
out_unlock_kvm:
	mutex_unlock(&s->kvm->lock);
	if (!ret) {
		/* Verified: the VM runs, with what the record carries. */
		kcm_uout_write(&o, out);
		kcm_arch_unfence(s->kvm);
		WRITE_ONCE(s->fenced, false);
	}
out_unpin:
	kcm_uout_unpin(&o, !ret);
	return ret;
}

VISIBLE_IF_KUNIT int kcm_exchange_args_check(const struct kvm_coco_mig_exchange *x,
					     u32 max_in)
{
	if ((x->flags & ~KVM_COCO_MIG_EXCHANGE_F_QUERY) || x->pad ||
	    memchr_inv(x->reserved, 0, sizeof(x->reserved)))
		return -EINVAL;
	if (!x->in_len && x->in_uaddr)
		return -EINVAL;
	if (x->in_len > max_in)
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_exchange_args_check);

/* A copy of @len bytes of user memory at @uaddr, or NULL for none. */
static void *kcm_copy_in(u64 uaddr, u32 len)
{
	void *in;

	if (!len)
		return NULL;
	/* Linear: the AEAD may work on it in place. */
	in = kmalloc(len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!in)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(in, u64_to_user_ptr(uaddr), len)) {
		kfree(in);
		return ERR_PTR(-EFAULT);
	}
	return in;
}

/**
 * struct kcm_xchg - one round of the key exchange, as the ioctls pass it
 * @op: the ioctl: KCM_OP_EXCHANGE or one of the sw round's names
 * @in_uaddr: the peer's message
 * @in_len: its length; 0 for none
 * @out_uaddr: room for this side's next message
 * @out_room: bytes at @out_uaddr
 * @out_len: where the message's length goes (the ioctl's own field)
 * @query: only report the next message's size (EXCHANGE's F_QUERY; the
 *	named rounds' zero @out_room where a message is due)
 * @done: out: this side's part is complete
 * @round: out: the rounds this side has completed
 */
struct kcm_xchg {
	enum kcm_op op;
	bool query;
	u32 round;
	u64 in_uaddr;
	u32 in_len;
	u64 out_uaddr;
	u32 out_room;
	__u32 __user *out_len;
	bool done;
};

/*
 * One round of the key exchange. The output is pinned before the backend
 * runs, so that a round that happened is always delivered. A source that
 * completes its part starts tracking; if that fails, the keys go again.
 * The state changes only when the whole round succeeded.
 */
static int kcm_exchange_round(struct kcm_session *s, struct kcm_xchg *x)
{
	const struct kcm_backend *be = s->backend;
	struct kcm_uout o = {};
	void *in, *out = NULL;
	long need;
	int ret;

	ret = kcm_ctl_lock(s);
	if (ret)
		return ret;
	ret = kcm_state_check(s->role, s->state, x->op);
	if (!ret && x->op != KCM_OP_EXCHANGE)
		ret = kcm_state_check(s->role, s->state, KCM_OP_EXCHANGE);
	if (ret)
		goto out_unlock;

	in = kcm_copy_in(x->in_uaddr, x->in_len);
	if (IS_ERR(in)) {
		ret = PTR_ERR(in);
		goto out_unlock;
	}
	need = be->out_size(s, KCM_OP_EXCHANGE, in, x->in_len);
	if (need < 0) {
		ret = need;
		goto out_free_in;
	}
	/* ACCEPT's round sends nothing: a backend that does needs EXCHANGE. */
	if (x->op == KCM_OP_ACCEPT && need) {
		ret = -EINVAL;
		goto out_free_in;
	}
	if (x->query || x->out_room < need) {
		ret = x->query ? 0 : -ENOSPC;
		if (x->out_len && put_user((u32)need, x->out_len))
			ret = -EFAULT;
		goto out_free_in;
	}
	if (need) {
		out = kzalloc(need, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!out) {
			ret = -ENOMEM;
			goto out_free_in;
		}
		ret = kcm_uout_pin(&o, x->out_uaddr, need, x->out_len);
	} else if (x->out_len) {
		ret = put_user(0, x->out_len) ? -EFAULT : 0;
	}
	if (ret)
		goto out_free_out;

	ret = be->exchange(s, in, x->in_len, out, &x->done);
	if (!ret && x->done && s->role == KVM_COCO_MIG_ROLE_SOURCE) {
		ret = kcm_track_begin(s);
		if (ret)
			be->cancel(s);
	}
	if (!ret) {
		if (need)
			kcm_uout_write(&o, out);
		x->round = ++s->rounds_done;
		WRITE_ONCE(s->state, x->done ? KVM_COCO_MIG_STATE_STREAMING :
					       KVM_COCO_MIG_STATE_KEY_PENDING);
	}
	kcm_uout_unpin(&o, !ret);
out_free_out:
	kfree_sensitive(out);
out_free_in:
	kfree_sensitive(in);
out_unlock:
	kcm_ctl_unlock(s);
	return ret;
}

/* KVM_COCO_MIG_EXCHANGE. */
VISIBLE_IF_KUNIT int kcm_ioctl_exchange(struct kcm_session *s,
					struct kvm_coco_mig_exchange __user *uarg)
{
	struct kvm_coco_mig_exchange a;
	struct kcm_xchg x = { .op = KCM_OP_EXCHANGE };
	u32 done, round;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	ret = kcm_exchange_args_check(&a, s->backend->max_in_len);
	if (ret)
		return ret;
	x.in_uaddr = a.in_uaddr;
	x.in_len = a.in_len;
	x.out_uaddr = a.out_uaddr;
	x.out_room = a.out_len;
	x.out_len = &uarg->out_len;
	x.query = a.flags & KVM_COCO_MIG_EXCHANGE_F_QUERY;
	ret = kcm_exchange_round(s, &x);
	if (ret || x.query)
		return ret;
	done = x.done;
	round = x.round;
	if (put_user(done, &uarg->done) || put_user(round, &uarg->round))
		return -EFAULT;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_ioctl_exchange);

/*
 * GET_MIGRATION_DATA, START and ACCEPT: the rounds of the sw exchange by
 * their version 1 names, each with its own rule for the input and the
 * output.
 */
static int kcm_ioctl_named_round(struct kcm_session *s, enum kcm_op op,
				 struct kvm_coco_mig_blob __user *uarg)
{
	struct kcm_xchg x = { .op = op };
	struct kvm_coco_mig_blob b;
	enum kcm_blob_in in_rule;
	int ret;

	if (copy_from_user(&b, uarg, sizeof(b)))
		return -EFAULT;
	in_rule = op == KCM_OP_GET_MIGRATION_DATA ? KCM_IN_NONE : KCM_IN_REQUIRED;
	ret = kcm_blob_args_check(&b, in_rule, op != KCM_OP_ACCEPT,
				  s->backend->max_in_len);
	if (ret)
		return ret;
	x.in_uaddr = b.in_uaddr;
	x.in_len = b.in_len;
	x.out_uaddr = b.out_uaddr;
	x.out_room = b.out_len;
	x.out_len = op == KCM_OP_ACCEPT ? NULL : &uarg->out_len;
	/* Revision 1: a zero out_len asks for the size (ACCEPT sends nothing). */
	x.query = op != KCM_OP_ACCEPT && !b.out_len;
	return kcm_exchange_round(s, &x);
}

/**
 * struct kcm_blob_io - an ioctl's input, copied in, and its output, sized
 * @in: the input, a kernel copy (NULL for none)
 * @out: room for the output, zeroed kernel memory (NULL if it has none)
 * @need: the output's length
 */
struct kcm_blob_io {
	void *in;
	void *out;
	long need;
};

/*
 * Copy in the @in_len bytes at @in_uaddr, size the output of @op for that
 * input and allocate it. Return 0 to go on (kcm_blob_io_end() frees both
 * then); 1 if the call is answered: a zero @out_room asked for the size,
 * which is now in @out_len; or -errno, with nothing to free (ENOSPC:
 * @out_room is too small, the size is in @out_len).
 */
static int kcm_blob_io_begin(struct kcm_session *s, enum kcm_op op,
			     u64 in_uaddr, u32 in_len, u32 out_room,
			     __u32 __user *out_len, struct kcm_blob_io *io)
{
	int ret;

	io->out = NULL;
	io->in = kcm_copy_in(in_uaddr, in_len);
	if (IS_ERR(io->in))
		return PTR_ERR(io->in);
	io->need = s->backend->out_size(s, op, io->in, in_len);
	if (io->need < 0) {
		ret = io->need;
		goto out_free_in;
	}
	if (out_room < io->need) {
		/* Zero asks for the size; too small is an error. */
		ret = out_room ? -ENOSPC : 1;
		if (put_user((u32)io->need, out_len))
			ret = -EFAULT;
		goto out_free_in;
	}
	if (io->need) {
		io->out = kzalloc(io->need, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!io->out) {
			ret = -ENOMEM;
			goto out_free_in;
		}
	}
	return 0;

out_free_in:
	kfree_sensitive(io->in);
	return ret;
}

static void kcm_blob_io_end(struct kcm_blob_io *io)
{
	kfree_sensitive(io->out);
	kfree_sensitive(io->in);
}

/* KVM_COCO_MIG_FINISH: the final record, either side. */
static int kcm_ioctl_finish(struct kcm_session *s,
			    struct kvm_coco_mig_blob __user *uarg)
{
	const struct kcm_backend *be = s->backend;
	bool src = s->role == KVM_COCO_MIG_ROLE_SOURCE;
	struct kvm_coco_mig_blob b;
	struct kcm_blob_io io;
	int ret;

	if (copy_from_user(&b, uarg, sizeof(b)))
		return -EFAULT;
	/* Source: the VMM's VM-wide state; target: the final record. */
	ret = kcm_blob_args_check(&b, KCM_IN_REQUIRED, true,
				  src ? be->max_in_len : be->max_record_len);
	if (ret)
		return ret;

	ret = kcm_ctl_lock(s);
	if (ret)
		return ret;
	ret = kcm_state_check(s->role, s->state, KCM_OP_FINISH);
	if (ret)
		goto out_unlock;
	ret = kcm_blob_io_begin(s, KCM_OP_FINISH, b.in_uaddr, b.in_len, b.out_len,
				&uarg->out_len, &io);
	if (ret)
		goto out_unlock;

	if (src)
		ret = kcm_finish_source(s, &b, uarg, io.in, io.out, io.need);
	else
		ret = kcm_finish_target(s, &b, uarg, io.in, io.out, io.need);
	if (!ret)
		WRITE_ONCE(s->state, kcm_state_after(KCM_OP_FINISH));

	kcm_blob_io_end(&io);
out_unlock:
	kcm_ctl_unlock(s);
	return ret < 0 ? ret : 0;
}

VISIBLE_IF_KUNIT int kcm_vcpu_args_check(const struct kvm_coco_mig_vcpu *v,
					 u32 max_in)
{
	if (v->flags || memchr_inv(v->reserved, 0, sizeof(v->reserved)))
		return -EINVAL;
	if (!v->in_len && v->in_uaddr)
		return -EINVAL;
	if (v->in_len > max_in)
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_vcpu_args_check);

/* The vCPU @vcpu_id, if the VM has it and it has no record yet. */
static struct kvm_vcpu *kcm_vcpu_get(struct kcm_session *s, u32 vcpu_id)
{
	struct kvm_vcpu *vcpu;

	lockdep_assert_held(&s->lock);
	/* vCPUs are never removed; a record is counted under @s->lock. */
	vcpu = kvm_get_vcpu_by_id(s->kvm, vcpu_id);
	if (!vcpu)
		return ERR_PTR(-ENOENT);
	if (test_bit(vcpu->vcpu_idx, s->vcpu_done))
		return ERR_PTR(-EEXIST);
	return vcpu;
}

/*
 * Take every vCPU's mutex and kvm->lock (no vCPU ioctl runs, none is
 * added), and pause a source's VM from here on: @paused comes back true if
 * this call paused it. -EBUSY: a vCPU is in an ioctl.
 */
static int kcm_vcpu_begin(struct kcm_session *s, bool *paused)
{
	struct kvm *kvm = s->kvm;
	int ret;

	lockdep_assert_held(&s->lock);
	lockdep_assert_held_write(&s->data_sem);
	*paused = false;
	if (mutex_lock_killable(&kvm->lock))
		return -EINTR;
	ret = kcm_arch_lock_vcpus(kvm);
	if (ret)
		goto out_unlock_kvm;
	if (s->role == KVM_COCO_MIG_ROLE_SOURCE && !s->fenced) {
		ret = kcm_arch_fence(kvm);
		if (ret)
			goto out_unlock_vcpus;
		WRITE_ONCE(s->fenced, true);
		*paused = true;
	}
	return 0;

out_unlock_vcpus:
	kcm_arch_unlock_vcpus(kvm);
out_unlock_kvm:
	mutex_unlock(&kvm->lock);
	return ret;
}

/* Undo kcm_vcpu_begin(); a pause this call made goes if it failed. */
static void kcm_vcpu_end(struct kcm_session *s, bool paused, int ret)
{
	kcm_arch_unlock_vcpus(s->kvm);
	mutex_unlock(&s->kvm->lock);
	if (ret && paused) {
		kcm_arch_unfence(s->kvm);
		WRITE_ONCE(s->fenced, false);
	}
}

/*
 * KVM_COCO_MIG_PACKAGE_VCPU (source), KVM_COCO_MIG_RECEIVE_VCPU (target).
 * The output is pinned before the backend runs, so that a record made or
 * installed is always delivered, and a vCPU counts as done only then.
 */
static int kcm_ioctl_vcpu(struct kcm_session *s, enum kcm_op op,
			  struct kvm_coco_mig_vcpu __user *uarg)
{
	const struct kcm_backend *be = s->backend;
	bool src = op == KCM_OP_PACKAGE_VCPU;
	struct kvm_coco_mig_vcpu v;
	struct kcm_uout o = {};
	struct kcm_blob_io io;
	struct kvm_vcpu *vcpu;
	bool paused;
	int ret;

	if (copy_from_user(&v, uarg, sizeof(v)))
		return -EFAULT;
	ret = kcm_vcpu_args_check(&v, src ? be->max_vcpu_state :
					    be->max_vcpu_record);
	if (ret)
		return ret;

	ret = kcm_ctl_lock(s);
	if (ret)
		return ret;
	ret = kcm_state_check(s->role, s->state, op);
	if (ret)
		goto out_unlock;
	vcpu = kcm_vcpu_get(s, v.vcpu_id);
	if (IS_ERR(vcpu)) {
		ret = PTR_ERR(vcpu);
		goto out_unlock;
	}

	ret = kcm_blob_io_begin(s, op, v.in_uaddr, v.in_len, v.out_len,
				&uarg->out_len, &io);
	if (ret)
		goto out_unlock;
	if (io.need)
		ret = kcm_uout_pin(&o, v.out_uaddr, io.need, &uarg->out_len);
	else
		ret = put_user(0, &uarg->out_len) ? -EFAULT : 0;
	if (ret)
		goto out_end_io;

	ret = kcm_vcpu_begin(s, &paused);
	if (ret)
		goto out_unpin;
	ret = be->vcpu(s, vcpu, io.in, v.in_len, io.out);
	if (!ret) {
		__set_bit(vcpu->vcpu_idx, s->vcpu_done);
		atomic_inc(&s->vcpus);
		if (io.need)
			kcm_uout_write(&o, io.out);
	}
	kcm_vcpu_end(s, paused, ret);
out_unpin:
	kcm_uout_unpin(&o, !ret);
out_end_io:
	kcm_blob_io_end(&io);
out_unlock:
	kcm_ctl_unlock(s);
	return ret < 0 ? ret : 0;
}

VISIBLE_IF_KUNIT int kcm_pages_args_check(const struct kvm_coco_mig_pages *p,
					  bool package, u32 nr_streams)
{
	if (p->flags || memchr_inv(p->reserved, 0, sizeof(p->reserved)))
		return -EINVAL;
	if (!p->nr_pages || p->stream >= nr_streams)
		return -EINVAL;
	if (p->nr_pages > KVM_COCO_MIG_MAX_BATCH)
		return -E2BIG;
	if (package)
		return p->gfns_uaddr ? 0 : -EINVAL;
	if (p->gfns_uaddr || !p->buf_len)
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_pages_args_check);

/* Poison took effect in a stream: reap the session, if no one else did. */
static void kcm_session_reap(struct kcm_session *s)
{
	if (!kcm_ctl_lock(s))
		kcm_ctl_unlock(s);
}

/*
 * PACKAGE_PAGES and RECEIVE_PAGES: the data path. Calls on different
 * streams run at once: each holds @data_sem for reading and its stream's
 * lock, never the session's @lock.
 */
VISIBLE_IF_KUNIT int kcm_pages_ioctl(struct kcm_session *s, enum kcm_op op,
				     struct kvm_coco_mig_pages __user *uarg)
{
	bool package = op == KCM_OP_PACKAGE;
	struct kvm_coco_mig_pages p;
	struct kcm_batch b = {};
	struct kcm_stream *st;
	u64 *gfns = NULL;
	u64 need;
	int ret;

	if (copy_from_user(&p, uarg, sizeof(p)))
		return -EFAULT;
	ret = kcm_pages_args_check(&p, package, s->nr_streams);
	if (ret)
		return ret;
	need = (u64)p.nr_pages * s->backend->max_packet;

	if (package && p.buf_len < need) {
		/* Zero asks for the size; too small is an error. */
		ret = p.buf_len ? -ENOSPC : 0;
		if (put_user(need, &uarg->buf_len))
			ret = -EFAULT;
		return ret;
	}
	if (package) {
		gfns = kvmalloc_array(p.nr_pages, sizeof(*gfns), GFP_KERNEL_ACCOUNT);
		if (!gfns)
			return -ENOMEM;
		if (copy_from_user(gfns, u64_to_user_ptr(p.gfns_uaddr),
				   p.nr_pages * sizeof(*gfns))) {
			ret = -EFAULT;
			goto out_free_gfns;
		}
	}

	if (down_read_killable(&s->data_sem)) {
		ret = -EINTR;
		goto out_free_gfns;
	}
	ret = kcm_state_check(s->role, READ_ONCE(s->state), op);
	if (ret)
		goto out_up;
	st = &s->streams[p.stream];
	if (mutex_lock_killable(&st->lock)) {
		ret = -EINTR;
		goto out_up;
	}

	if (package) {
		ret = s->backend->package(s, p.stream, gfns, p.nr_pages,
					  u64_to_user_ptr(p.buf_uaddr), &b);
		if (s->track)
			s->track->ops->sent(s->track, gfns, b.done);
	} else {
		ret = s->backend->receive(s, p.stream, u64_to_user_ptr(p.buf_uaddr),
					  p.buf_len, p.nr_pages, &b);
	}
	mutex_unlock(&st->lock);

	atomic64_add(b.done, &s->pages);
	atomic64_add(b.bytes, &s->bytes);
	atomic64_add(b.refused, &s->refused);
	atomic64_add(b.resent, &s->resent);
	atomic64_add(b.unchanged, &s->unchanged);
	atomic64_add(b.superseded, &s->superseded);

	/* Report progress, also with an error: done pages are done. */
	p.done = b.done;
	p.buf_len = b.bytes;
	if (copy_to_user(&uarg->done, &p.done, sizeof(p.done)) ||
	    copy_to_user(&uarg->buf_len, &p.buf_len, sizeof(p.buf_len)))
		ret = ret ?: -EFAULT;
out_up:
	up_read(&s->data_sem);
	if (READ_ONCE(s->state) == KVM_COCO_MIG_STATE_FAILED && !READ_ONCE(s->reaped))
		kcm_session_reap(s);
out_free_gfns:
	kvfree(gfns);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_pages_ioctl);

/*
 * KVM_COCO_MIG_ABORT, target: the VM dies (if the session has not failed
 * already), then the token that says so goes out. Never once FINISH has
 * let the VM run. Everything that can fail comes before the kill: the
 * output is pinned and the token sealed in kernel memory, so an
 * unwritable buffer or a failed seal changes nothing, and once the VM is
 * dead the token always goes out.
 */
static int kcm_abort_target(struct kcm_session *s, struct kvm_coco_mig_blob *b,
			    struct kvm_coco_mig_blob __user *uarg)
{
	const struct kcm_backend *be = s->backend;
	struct kcm_uout o = {};
	void *out;
	long need;
	int ret;

	if (s->state != KVM_COCO_MIG_STATE_FAILED) {
		ret = kcm_state_check(s->role, s->state, KCM_OP_ABORT_TOKEN);
		if (ret)
			return ret;
	}
	need = be->out_size(s, KCM_OP_ABORT, NULL, 0);
	if (need <= 0)
		return need ?: -EINVAL;
	if (b->out_len < need) {
		/* Zero asks for the size; too small is an error. */
		ret = b->out_len ? -ENOSPC : 0;
		if (put_user((u32)need, &uarg->out_len))
			ret = -EFAULT;
		return ret;
	}
	out = kzalloc(need, GFP_KERNEL_ACCOUNT);
	if (!out)
		return -ENOMEM;
	ret = kcm_uout_pin(&o, b->out_uaddr, need, &uarg->out_len);
	if (ret)
		goto out_free;
	ret = be->abort(s, NULL, 0, out);
	if (!ret) {
		/* First the VM dies; only then does the token leave. */
		kcm_session_fail(s);
		kcm_uout_write(&o, out);
	}
	kcm_uout_unpin(&o, !ret);
out_free:
	kfree_sensitive(out);
	return ret;
}

/*
 * KVM_COCO_MIG_ABORT, source: a token from this session's target lifts
 * the pause FINISH left the VM in. A token that does not verify changes
 * nothing: the real one may still come.
 */
static int kcm_abort_source(struct kcm_session *s, struct kvm_coco_mig_blob *b)
{
	void *in;
	int ret;

	ret = kcm_state_check(s->role, s->state, KCM_OP_ABORT);
	if (ret)
		return ret;
	in = kcm_copy_in(b->in_uaddr, b->in_len);
	if (IS_ERR(in))
		return PTR_ERR(in);
	ret = s->backend->abort(s, in, b->in_len, NULL);
	if (!ret) {
		s->backend->cancel(s);
		kcm_arch_unfence(s->kvm);
		WRITE_ONCE(s->fenced, false);
		s->sealed = false;
		WRITE_ONCE(s->state, kcm_state_after(KCM_OP_ABORT));
	}
	kfree_sensitive(in);
	return ret;
}

VISIBLE_IF_KUNIT int kcm_ioctl_abort(struct kcm_session *s,
				     struct kvm_coco_mig_blob __user *uarg)
{
	bool src = s->role == KVM_COCO_MIG_ROLE_SOURCE;
	struct kvm_coco_mig_blob b;
	int ret;

	if (copy_from_user(&b, uarg, sizeof(b)))
		return -EFAULT;
	ret = kcm_blob_args_check(&b, src ? KCM_IN_REQUIRED : KCM_IN_NONE, !src,
				  s->backend->max_in_len);
	if (ret)
		return ret;
	/* A target gives up: a RECEIVE_PAGES or FINISH that waits ends. */
	ret = src ? kcm_ctl_lock(s) : kcm_ctl_lock_interrupt(s, KCM_OP_ABORT_TOKEN);
	if (ret)
		return ret;
	ret = src ? kcm_abort_source(s, &b) : kcm_abort_target(s, &b, uarg);
	kcm_ctl_unlock(s);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_ioctl_abort);

VISIBLE_IF_KUNIT int kcm_cancel(struct kcm_session *s)
{
	int ret;

	/* An EXCHANGE, PACKAGE_PAGES or FINISH that waits ends first. */
	ret = kcm_ctl_lock_interrupt(s, KCM_OP_CANCEL);
	if (ret)
		return ret;
	ret = kcm_state_check(s->role, s->state, KCM_OP_CANCEL);
	if (!ret) {
		kcm_track_stop_locked(s);
		s->backend->cancel(s);
		/* Paused by PACKAGE_VCPU: no final record was made, it runs. */
		if (s->fenced) {
			kcm_arch_unfence(s->kvm);
			WRITE_ONCE(s->fenced, false);
		}
		WRITE_ONCE(s->state, kcm_state_after(KCM_OP_CANCEL));
	}
	kcm_ctl_unlock(s);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_cancel);

static long kcm_session_ioctl(struct file *file, unsigned int ioctl,
			      unsigned long arg)
{
	struct kcm_session *s = file->private_data;
	void __user *argp = (void __user *)arg;

	/* As KVM does: only the process that owns the VM drives it. */
	if (s->kvm->mm != current->mm)
		return -EIO;

	switch (ioctl) {
	case KVM_COCO_MIG_STATUS:
		return kcm_status(s, argp);
	case KVM_COCO_MIG_EXCHANGE:
		return kcm_ioctl_exchange(s, argp);
	case KVM_COCO_MIG_GET_MIGRATION_DATA:
		return kcm_ioctl_named_round(s, KCM_OP_GET_MIGRATION_DATA, argp);
	case KVM_COCO_MIG_START:
		return kcm_ioctl_named_round(s, KCM_OP_START, argp);
	case KVM_COCO_MIG_ACCEPT:
		return kcm_ioctl_named_round(s, KCM_OP_ACCEPT, argp);
	case KVM_COCO_MIG_PACKAGE_PAGES:
		return kcm_pages_ioctl(s, KCM_OP_PACKAGE, argp);
	case KVM_COCO_MIG_RECEIVE_PAGES:
		return kcm_pages_ioctl(s, KCM_OP_RECEIVE, argp);
	case KVM_COCO_MIG_FINISH:
		return kcm_ioctl_finish(s, argp);
	case KVM_COCO_MIG_ABORT:
		return kcm_ioctl_abort(s, argp);
	case KVM_COCO_MIG_PACKAGE_VCPU:
		return kcm_ioctl_vcpu(s, KCM_OP_PACKAGE_VCPU, argp);
	case KVM_COCO_MIG_RECEIVE_VCPU:
		return kcm_ioctl_vcpu(s, KCM_OP_RECEIVE_VCPU, argp);
	case KVM_COCO_MIG_CANCEL:
		if (arg)
			return -EINVAL;
		return kcm_cancel(s);
	case KVM_COCO_MIG_TRACK_START:
		return kcm_track_start(s, argp);
	case KVM_COCO_MIG_TRACK_STOP:
		if (arg)
			return -EINVAL;
		return kcm_track_stop(s);
	case KVM_COCO_MIG_GET_DIRTY:
		return kcm_get_dirty(s, argp);
	default:
		return -ENOTTY;
	}
}

VISIBLE_IF_KUNIT struct kcm_session *kcm_session_alloc(u32 nr_streams)
{
	struct kcm_session *s;
	u32 i;

	s = kzalloc(struct_size(s, streams, nr_streams), GFP_KERNEL_ACCOUNT);
	if (!s)
		return NULL;
	s->nr_streams = nr_streams;
	s->vcpu_done = bitmap_zalloc(KVM_MAX_VCPUS, GFP_KERNEL_ACCOUNT);
	if (!s->vcpu_done) {
		kfree(s);
		return NULL;
	}
	mutex_init(&s->lock);
	init_rwsem(&s->data_sem);
	init_waitqueue_head(&s->wq);
	for (i = 0; i < nr_streams; i++)
		mutex_init(&s->streams[i].lock);
	return s;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_session_alloc);

VISIBLE_IF_KUNIT void kcm_session_free(struct kcm_session *s)
{
	u32 i;

	for (i = 0; i < s->nr_streams; i++)
		mutex_destroy(&s->streams[i].lock);
	mutex_destroy(&s->lock);
	bitmap_free(s->vcpu_done);
	kfree(s);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_session_free);

static int kcm_session_release(struct inode *inode, struct file *file)
{
	struct kcm_session *s = file->private_data;
	struct file *vm_file;

	/* The reverse of kcm_session_create(), and of START. */
	mutex_lock(&s->lock);
	down_write(&s->data_sem);
	kcm_track_stop_locked(s);
	if (s->fenced) {
		/*
		 * A target closed before its FINISH never runs, nor does a
		 * source whose final record was made. A source paused
		 * before that runs on: no target can.
		 */
		if (s->role == KVM_COCO_MIG_ROLE_TARGET || s->sealed)
			kvm_vm_dead(s->kvm);
		kcm_arch_unfence(s->kvm);
		s->fenced = false;
	}
	up_write(&s->data_sem);
	mutex_unlock(&s->lock);
	if (s->backend->session_destroy)
		s->backend->session_destroy(s);
	kcm_vm_unbind(s);
	vm_file = s->vm_file;
	kcm_session_free(s);
	fput(vm_file);
	return 0;
}

static const struct file_operations kcm_session_fops = {
	.owner		= THIS_MODULE,
	.release	= kcm_session_release,
	.unlocked_ioctl	= kcm_session_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

/**
 * kcm_session_create - KVM_COCO_MIG_CREATE_SESSION
 * @uarg: userspace copy of struct kvm_coco_mig_create
 *
 * Return: the new session fd, or a negative errno; on error nothing is left
 * bound to the VM.
 */
long kcm_session_create(struct kvm_coco_mig_create __user *uarg)
{
	const struct kcm_backend *backend;
	struct kvm_coco_mig_create args;
	struct kcm_session *s;
	struct file *vm_file;
	struct kvm *kvm;
	int fd, ret;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	ret = kcm_create_args_check(&args);
	if (ret)
		return ret;

	vm_file = fget(args.vm_fd);
	if (!vm_file)
		return -EBADF;
	if (!file_is_kvm(vm_file)) {
		ret = -EBADF;
		goto e_put_vm_file;
	}

	kvm = vm_file->private_data;
	/*
	 * A dead VM is not migrated: a source that finished would be
	 * migrated twice, a failed target would run.
	 */
	if (kvm->mm != current->mm || READ_ONCE(kvm->vm_dead)) {
		ret = -EIO;
		goto e_put_vm_file;
	}
	backend = kcm_arch_select_backend(kvm);
	if (IS_ERR(backend)) {
		ret = PTR_ERR(backend);
		goto e_put_vm_file;
	}

	if (args.nr_streams > backend->max_streams) {
		ret = -EINVAL;
		goto e_put_vm_file;
	}
	s = kcm_session_alloc(args.nr_streams ?: 1);
	if (!s) {
		ret = -ENOMEM;
		goto e_put_vm_file;
	}
	s->kvm = kvm;
	s->vm_file = vm_file;
	s->backend = backend;
	s->role = args.role;
	s->state = KVM_COCO_MIG_STATE_CREATED;

	ret = kcm_vm_bind(s);
	if (ret)
		goto e_free_session;

	if (backend->session_init) {
		ret = backend->session_init(s);
		if (ret)
			goto e_unbind_vm;
	}

	if (args.role == KVM_COCO_MIG_ROLE_TARGET) {
		/* No vCPU enters the guest before a verified FINISH. */
		ret = kcm_arch_fence(kvm);
		if (ret)
			goto e_destroy_backend;
		s->fenced = true;
		/* Nor may one have entered before: see coco_mig_fence.c. */
		ret = kcm_arch_vcpus_have_run(kvm);
		if (ret) {
			ret = ret < 0 ? ret : -EBUSY;
			goto e_unfence;
		}
	}

	if (put_user(backend->id, &uarg->backend)) {
		ret = -EFAULT;
		goto e_unfence;
	}

	/* Last: once the fd is installed, userspace may close it at once. */
	fd = anon_inode_getfd("kvm-coco-mig", &kcm_session_fops, s,
			      O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto e_unfence;
	}
	return fd;

e_unfence:
	if (s->fenced)
		kcm_arch_unfence(kvm);
e_destroy_backend:
	if (backend->session_destroy)
		backend->session_destroy(s);
e_unbind_vm:
	kcm_vm_unbind(s);
e_free_session:
	kcm_session_free(s);
e_put_vm_file:
	fput(vm_file);
	return ret;
}
