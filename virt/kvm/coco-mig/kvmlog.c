// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking through KVM's own dirty log, for memory in ordinary
 * memslots with KVM_MEM_LOG_DIRTY_PAGES: the shared view of a sw session
 * (kcm_log_shared_track_ops), and both views of a backend whose private
 * memory lives in ordinary memslots (kcm_log_track_ops, for sev).
 *
 * One owner. A memslot has one dirty bitmap, and a harvest clears what it
 * reads: two harvesters steal each other's bits. From START to the end of
 * tracking the session is the only harvester of the memslots it tracks:
 * it reads and clears memslot->dirty_bitmap in kernel memory (never a copy
 * the VMM can write) and reports both views from what it took. KVM's own
 * KVM_GET_DIRTY_LOG cannot serve: on x86 (KVM_GENERIC_DIRTYLOG_READ_PROTECT)
 * kvm_get_dirty_log() is not built, and kvm_get_dirty_log_protect() is
 * static and writes to user memory. What the session takes for one view
 * and does not report stays in @pending for that view; @stop gives every
 * pending bit back to KVM's log, so that after CANCEL the VMM's own
 * KVM_GET_DIRTY_LOG reports it.
 *
 * A harvest of [first, first + nr):
 *	1. kick every vCPU, so that a CPU that logs writes in a buffer (PML)
 *	   flushes it into the log on its exit, as kvm_arch_sync_dirty_log()
 *	   does;
 *	2. under kvm->srcu, find the memslot again (it must be the tracked
 *	   one) and take each word of its dirty bitmap with xchg(): a bit
 *	   KVM sets meanwhile is either taken now or left for the next
 *	   harvest;
 *	3. split what it took between the views (@priv), into @pending;
 *	4. report the view's pending bits of the range (private: and mark
 *	   them unsent);
 *	5. re-arm every gfn it took, of either view, by zapping its mappings
 *	   (kvm_zap_gfn_range(), which flushes every vCPU's TLB);
 *	6. return.
 *
 * Why no write is lost between a harvest and the packaging that follows
 * it (the arch's half of the argument is at the top of
 * arch/x86/kvm/coco_mig_kvmlog.c). KVM keeps this invariant for a memslot
 * with a dirty bitmap: a gfn that has a writable mapping had its bit set
 * when, or after, the mapping became writable. Each path that makes a
 * mapping writable sets the bit: a fault that installs one (under the MMU
 * lock, with the mapping), the fast path that sets the write bit of a
 * present one (right after its cmpxchg), and KVM's own writes to guest
 * memory mark the page after writing it. Take a write W to gfn G after the
 * harvest H of G's range returned.
 *  - If G had a writable mapping when H took G's word, and its bit was
 *    set, H took the bit and zapped G at step 5: W faults again, and the
 *    fault sets G's bit after H's take.
 *  - If the bit was not set, the mapping became writable after the last
 *    take of G's bit, and its bit is set after H's take too (in the same
 *    MMU lock section as the install, or right after the fast path's
 *    cmpxchg); H's zap at step 5 cannot have come before an install that
 *    marks before it (the zap takes the MMU lock for writing).
 *  - With no writable mapping, W faults and sets the bit.
 * Either way G's bit is set after H's take, so the next harvest takes it
 * (into @pending of G's view) and the next report of G's view has it. A
 * write before H returned either set a bit H took (H reports it, and the
 * package that follows H reads the page after the write) or one after the
 * take (the next harvest). The private view's FINISH check, with every
 * vCPU stopped (out of KVM_RUN: their PML buffers are flushed), reads the
 * log and @pending: a gfn written since the last harvest has its bit in
 * one of them, and FINISH refuses (EBUSY), as the guest_memfd tracker does.
 *
 * Tracking starts without touching the log: the bits KVM set before START
 * stay for the session's first harvest, so handing the log over from the
 * VMM to the session loses nothing, and START costs the guest no faults.
 *
 * What the session cannot stop: the VMM calling KVM_GET_DIRTY_LOG or
 * KVM_CLEAR_DIRTY_LOG on a tracked memslot takes bits the session never
 * sees. The invariant still holds (KVM write-protects what it clears), so
 * every write after the VMM's call is still reported by the session; the
 * bits the VMM took are reported only to the VMM. For the shared view of a
 * sw session that loses nothing the VMM did not take itself; for a private
 * view over the log, FINISH can then miss a page: the documentation says
 * the VMM must not (coco-migration.rst, "The VMM and KVM's dirty log").
 * A memslot deleted, moved, resized or no longer logging is refused
 * (ESTALE) once seen; one deleted and created again identical between two
 * checks may reuse the same memory for its struct and bitmap and not be
 * seen: its bits since the last harvest are then lost, as with
 * KVM_GET_DIRTY_LOG.
 */
#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/err.h>
#include <linux/kvm_host.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <kunit/visibility.h>

#include "coco_mig.h"
#include "dirty.h"
#include "kvmlog.h"

/* Words of a bitmap between two reschedule points. */
#define KCM_LOG_RESCHED_WORDS	(KCM_RESCHED_GFNS / BITS_PER_LONG)

static void kcm_log_resched(u64 w)
{
	if (!((w + 1) % KCM_LOG_RESCHED_WORDS))
		cond_resched();
}

static unsigned long *kcm_log_bitmap(u64 nbits)
{
	return kvcalloc(BITS_TO_LONGS(nbits), sizeof(unsigned long),
			GFP_KERNEL_ACCOUNT);
}

/**
 * kcm_log_alloc - a log tracker for @nr_slots memslots, not yet described
 * @kvm: the VM (NULL in KUnit tests)
 * @nr_slots: at least one
 * @views: BIT(KCM_VIEW_SHARED), or with BIT(KCM_VIEW_PRIVATE) as well
 *
 * Return: the tracker, or NULL.
 */
struct kcm_log_tracker *kcm_log_alloc(struct kvm *kvm, u32 nr_slots, u32 views)
{
	struct kcm_log_tracker *t;

	t = kzalloc(struct_size(t, slots, nr_slots), GFP_KERNEL_ACCOUNT);
	if (!t)
		return NULL;
	t->kvm = kvm;
	t->nr_slots = nr_slots;
	t->track.views = views;
	t->track.ops = views & BIT(KCM_VIEW_PRIVATE) ? &kcm_log_track_ops :
						       &kcm_log_shared_track_ops;
	return t;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_alloc);

/**
 * kcm_log_set_slot - describe slot @i and allocate its bitmaps
 * @t: the tracker
 * @i: below @t->nr_slots
 * @id: the memslot's id
 * @base_gfn: its first gfn
 * @npages: its size, 1 to KVM_MEM_MAX_NR_PAGES pages
 *
 * With a private view, every gfn starts in it, and unsent.
 *
 * Return: 0, -EINVAL or -ENOMEM.
 */
int kcm_log_set_slot(struct kcm_log_tracker *t, u32 i, u16 id, u64 base_gfn,
		     u64 npages)
{
	struct kcm_log_slot *ls;

	if (i >= t->nr_slots || !npages || npages > KVM_MEM_MAX_NR_PAGES ||
	    base_gfn + npages < base_gfn)
		return -EINVAL;
	ls = &t->slots[i];
	ls->id = id;
	ls->base_gfn = base_gfn;
	ls->npages = npages;
	ls->pending[KCM_VIEW_SHARED] = kcm_log_bitmap(npages);
	if (!ls->pending[KCM_VIEW_SHARED])
		return -ENOMEM;
	if (t->track.views & BIT(KCM_VIEW_PRIVATE)) {
		ls->pending[KCM_VIEW_PRIVATE] = kcm_log_bitmap(npages);
		ls->priv = kcm_log_bitmap(npages);
		ls->unsent = kcm_log_bitmap(npages);
		if (!ls->pending[KCM_VIEW_PRIVATE] || !ls->priv || !ls->unsent)
			return -ENOMEM;
		bitmap_set(ls->priv, 0, npages);
		bitmap_set(ls->unsent, 0, npages);
	}
	t->nr_pages += npages;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_set_slot);

static int kcm_log_slot_cmp(const void *a, const void *b)
{
	const struct kcm_log_slot *x = a, *y = b;

	if (x->base_gfn != y->base_gfn)
		return x->base_gfn < y->base_gfn ? -1 : 1;
	return 0;
}

/**
 * kcm_log_sort - order the slots for lookup, once all are set
 * @t: the tracker
 *
 * Return: 0, or -EINVAL if two slots overlap.
 */
int kcm_log_sort(struct kcm_log_tracker *t)
{
	u32 i;

	sort(t->slots, t->nr_slots, sizeof(t->slots[0]), kcm_log_slot_cmp, NULL);
	for (i = 1; i < t->nr_slots; i++)
		if (t->slots[i - 1].base_gfn + t->slots[i - 1].npages >
		    t->slots[i].base_gfn)
			return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_sort);

/**
 * kcm_log_free - free a log tracker and its bitmaps
 * @t: the tracker, or NULL
 */
void kcm_log_free(struct kcm_log_tracker *t)
{
	u32 i;
	int v;

	if (!t)
		return;
	for (i = 0; i < t->nr_slots; i++) {
		for (v = 0; v < KCM_NR_VIEWS; v++)
			kvfree(t->slots[i].pending[v]);
		kvfree(t->slots[i].priv);
		kvfree(t->slots[i].unsent);
	}
	kfree(t);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_free);

/**
 * kcm_log_find - the tracked slot holding @gfn
 * @t: the tracker, sorted
 * @gfn: any gfn
 *
 * Context: any (no locks, no sleeping).
 * Return: the slot, or NULL.
 */
struct kcm_log_slot *kcm_log_find(struct kcm_log_tracker *t, u64 gfn)
{
	u32 lo = 0, hi = t->nr_slots;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		struct kcm_log_slot *ls = &t->slots[mid];

		if (gfn < ls->base_gfn)
			hi = mid;
		else if (gfn - ls->base_gfn >= ls->npages)
			lo = mid + 1;
		else
			return ls;
	}
	return NULL;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_find);

/**
 * kcm_log_range - check the range of a GET_DIRTY, or answer a query
 * @t: the tracker
 * @first: in: the range's first gfn; out, for a query: the slot's first gfn
 * @nr: in: the range's length, or 0 to query the first tracked slot that
 *	holds @first or lies above it; out, for a query: that slot's length
 *
 * The rules of kcm_dirty_range(): one slot, a multiple of 64 gfns into it,
 * a multiple of 64 long or to the slot's end.
 *
 * Return: 0, -ENOENT or -EINVAL.
 */
int kcm_log_range(struct kcm_log_tracker *t, u64 *first, u64 *nr)
{
	struct kcm_log_slot *ls;
	u64 idx;
	u32 i;

	if (!*nr) {
		for (i = 0; i < t->nr_slots; i++) {
			ls = &t->slots[i];
			/* Sorted: the first that ends above @first. */
			if (ls->base_gfn + ls->npages > *first) {
				*first = ls->base_gfn;
				*nr = ls->npages;
				return 0;
			}
		}
		return -ENOENT;
	}
	ls = kcm_log_find(t, *first);
	if (!ls)
		return -ENOENT;
	idx = *first - ls->base_gfn;
	if (idx % 64 || *nr > ls->npages - idx)
		return -EINVAL;
	if (*nr % 64 && idx + *nr != ls->npages)
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_range);

/**
 * kcm_log_take - take part of KVM's log into the views' pending bits
 * @ls: the slot
 * @log: its dirty bitmap (KVM's; KUnit: a synthetic one)
 * @idx: the first gfn, as an index into the slot; a multiple of 64
 * @nbits: the gfns
 * @taken: receives the bits taken, @nbits of them: the gfns to re-arm
 *
 * Each word is taken with xchg(): a bit KVM sets meanwhile is taken now
 * or stays for the next take. Bits of gfns in the private view go to its
 * pending bits, the others to the shared view's.
 *
 * Context: the session lock; the memslot held (kvm->srcu) while @log is
 * KVM's; may sleep.
 */
void kcm_log_take(struct kcm_log_slot *ls, unsigned long *log, u64 idx,
		  u64 nbits, unsigned long *taken)
{
	u64 w, w0 = idx / BITS_PER_LONG, nw = BITS_TO_LONGS(nbits);
	unsigned long d, p;

	for (w = 0; w < nw; w++) {
		d = READ_ONCE(log[w0 + w]) ? xchg(&log[w0 + w], 0) : 0;
		taken[w] = d;
		p = ls->priv ? ls->priv[w0 + w] : 0;
		ls->pending[KCM_VIEW_SHARED][w0 + w] |= d & ~p;
		if (ls->priv)
			ls->pending[KCM_VIEW_PRIVATE][w0 + w] |= d & p;
		kcm_log_resched(w);
	}
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_take);

/**
 * kcm_log_report - hand out a view's pending bits of a range
 * @ls: the slot
 * @v: the view; private only if the slot has one
 * @idx: as for kcm_log_take()
 * @nbits: as for kcm_log_take()
 * @out: receives the report, @nbits bits
 *
 * The bits reported are no longer pending; in the private view they are
 * unsent until packaged.
 *
 * Context: the session lock; may sleep.
 * Return: the number of bits set in @out.
 */
u64 kcm_log_report(struct kcm_log_slot *ls, enum kcm_view v, u64 idx,
		   u64 nbits, unsigned long *out)
{
	u64 w, w0 = idx / BITS_PER_LONG, nw = BITS_TO_LONGS(nbits), count = 0;
	unsigned long *pend = ls->pending[v];

	for (w = 0; w < nw; w++) {
		out[w] = pend[w0 + w];
		if (w == nw - 1)
			out[w] &= BITMAP_LAST_WORD_MASK(nbits);
		pend[w0 + w] &= ~out[w];
		if (v == KCM_VIEW_PRIVATE)
			ls->unsent[w0 + w] |= out[w];
		count += hweight_long(out[w]);
		kcm_log_resched(w);
	}
	return count;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_report);

/**
 * kcm_log_restore - give a report back after it could not be delivered
 * @ls: the slot
 * @v: the view reported
 * @idx: as for kcm_log_report()
 * @nbits: as for kcm_log_report()
 * @out: the report
 *
 * The gfns are pending again, so the next report of @v has them.
 *
 * Context: the session lock; may sleep.
 */
void kcm_log_restore(struct kcm_log_slot *ls, enum kcm_view v, u64 idx,
		     u64 nbits, const unsigned long *out)
{
	u64 w, w0 = idx / BITS_PER_LONG, nw = BITS_TO_LONGS(nbits);

	for (w = 0; w < nw; w++) {
		ls->pending[v][w0 + w] |= out[w];
		kcm_log_resched(w);
	}
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_restore);

/**
 * kcm_log_give_back - return every pending bit of a slot to KVM's log
 * @ls: the slot
 * @log: its dirty bitmap
 *
 * At the end of tracking: whoever harvests the log next (the VMM, after
 * CANCEL) gets what the session took and did not report. The re-arm of
 * those gfns happened when they were taken, so KVM's invariant holds.
 *
 * Context: the session lock; the memslot held (kvm->srcu); may sleep.
 */
void kcm_log_give_back(struct kcm_log_slot *ls, unsigned long *log)
{
	u64 w, nw = BITS_TO_LONGS(ls->npages);
	unsigned long b;
	int v;

	for (w = 0; w < nw; w++) {
		b = 0;
		for (v = 0; v < KCM_NR_VIEWS; v++) {
			if (!ls->pending[v])
				continue;
			b |= ls->pending[v][w];
			ls->pending[v][w] = 0;
		}
		/* KVM sets bits meanwhile (set_bit_le(): atomic). */
		if (b)
			atomic_long_or(b, (atomic_long_t *)&log[w]);
		kcm_log_resched(w);
	}
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_give_back);

/**
 * kcm_log_check - the FINISH check of one slot's private view
 * @ls: the slot, with a private view
 * @log: its dirty bitmap, every vCPU stopped
 *
 * Context: the session lock; may sleep.
 * Return: 0; -EBUSY if a private gfn is dirty in the log or pending (taken
 * and not reported); else -ENODATA if one is unsent.
 */
int kcm_log_check(struct kcm_log_slot *ls, const unsigned long *log)
{
	u64 w, nw = BITS_TO_LONGS(ls->npages);
	bool unsent = false;

	for (w = 0; w < nw; w++) {
		unsigned long p = ls->priv[w];

		if ((READ_ONCE(log[w]) | ls->pending[KCM_VIEW_PRIVATE][w]) & p)
			return -EBUSY;
		if (ls->unsent[w] & p)
			unsent = true;
		kcm_log_resched(w);
	}
	return unsent ? -ENODATA : 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_check);

/**
 * kcm_log_sent - @gfn was packaged: it is no longer unsent
 * @t: the tracker
 * @gfn: the gfn
 *
 * Context: the session's data_sem, read (atomic bitops).
 */
void kcm_log_sent(struct kcm_log_tracker *t, u64 gfn)
{
	struct kcm_log_slot *ls = kcm_log_find(t, gfn);

	if (ls && ls->unsent)
		clear_bit(gfn - ls->base_gfn, ls->unsent);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_sent);

/**
 * kcm_log_set_private - move gfns between the views
 * @t: a tracker with a private view
 * @gfn: the first gfn
 * @nr: the gfns, all in one tracked slot
 * @private: their new view
 *
 * For a backend that learns of conversions (sev: the guest's page
 * encryption status). A gfn that changes view is pending in its new view
 * (its content there may never have been sent) and no longer in the old
 * one; one that turns private is unsent, one that turns shared is not.
 *
 * Context: the session lock, data_sem for writing.
 * Return: 0, or -EINVAL (no private view, or not in one slot).
 */
int kcm_log_set_private(struct kcm_log_tracker *t, u64 gfn, u64 nr,
			bool private)
{
	enum kcm_view to = private ? KCM_VIEW_PRIVATE : KCM_VIEW_SHARED;
	enum kcm_view from = private ? KCM_VIEW_SHARED : KCM_VIEW_PRIVATE;
	struct kcm_log_slot *ls = kcm_log_find(t, gfn);
	u64 i, idx;

	if (!(t->track.views & BIT(KCM_VIEW_PRIVATE)) || !ls || !nr ||
	    nr > ls->npages - (gfn - ls->base_gfn))
		return -EINVAL;
	idx = gfn - ls->base_gfn;
	for (i = idx; i < idx + nr; i++) {
		if (test_bit(i, ls->priv) == private)
			continue;
		__assign_bit(i, ls->priv, private);
		__clear_bit(i, ls->pending[from]);
		__set_bit(i, ls->pending[to]);
		if (private)
			set_bit(i, ls->unsent);
		else
			clear_bit(i, ls->unsent);
		kcm_log_resched(i);
	}
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_log_set_private);

/* The KVM side: the memslots, under kvm->srcu. */

static struct kcm_log_tracker *kcm_log(struct kcm_track *t)
{
	return container_of(t, struct kcm_log_tracker, track);
}

/*
 * The memslot @ls tracks, if it is still the one tracked: the same struct,
 * gfns, host address and dirty bitmap, logging on. kvm->srcu held.
 */
static struct kvm_memory_slot *kcm_log_memslot(struct kcm_log_tracker *t,
					       struct kcm_log_slot *ls)
{
	struct kvm_memory_slot *ms;

	ms = id_to_memslot(__kvm_memslots(t->kvm, 0), ls->id);
	if (!ms || ms != ls->memslot || ms->base_gfn != ls->base_gfn ||
	    ms->npages != ls->npages || ms->userspace_addr != ls->userspace_addr ||
	    !(ms->flags & KVM_MEM_LOG_DIRTY_PAGES) || ms->dirty_bitmap != ls->log)
		return NULL;
	return ms;
}

/*
 * Whether every tracked memslot is still the one tracked (for good if
 * not), and the log still the only one: a dirty ring enabled since begin
 * (a VM that had no vCPU then) takes the writes of running vCPUs.
 */
static int kcm_log_check_slots(struct kcm_log_tracker *t)
{
	int idx;
	u32 i;

	if (READ_ONCE(t->kvm->dirty_ring_size))
		return -ENXIO;
	if (t->stale)
		return -ESTALE;
	idx = srcu_read_lock(&t->kvm->srcu);
	for (i = 0; i < t->nr_slots && !t->stale; i++)
		if (!kcm_log_memslot(t, &t->slots[i]))
			t->stale = true;
	srcu_read_unlock(&t->kvm->srcu, idx);
	return t->stale ? -ESTALE : 0;
}

static bool kcm_log_slot_tracked(const struct kvm_memory_slot *ms)
{
	return ms->id < KVM_USER_MEM_SLOTS && ms->dirty_bitmap &&
	       (ms->flags & KVM_MEM_LOG_DIRTY_PAGES);
}

/*
 * Take over the dirty log of every dirty-logging memslot of address space
 * 0. -ENXIO: the VM uses a dirty ring, which takes the writes of running
 * vCPUs off the bitmap (also with KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP);
 * -ENOENT: no such memslot.
 */
static struct kcm_track *kcm_log_begin_views(struct kcm_session *s, u32 views)
{
	struct kvm *kvm = s->kvm;
	struct kvm_memory_slot *ms;
	struct kvm_memslots *slots;
	struct kcm_log_tracker *t;
	int idx, bkt, ret;
	u32 n = 0, i = 0;

	lockdep_assert_held(&s->lock);
	if (READ_ONCE(kvm->dirty_ring_size))
		return ERR_PTR(-ENXIO);
	idx = srcu_read_lock(&kvm->srcu);
	slots = __kvm_memslots(kvm, 0);
	kvm_for_each_memslot(ms, bkt, slots)
		if (kcm_log_slot_tracked(ms))
			n++;
	if (!n) {
		ret = -ENOENT;
		goto e_unlock;
	}
	t = kcm_log_alloc(kvm, n, views);
	if (!t) {
		ret = -ENOMEM;
		goto e_unlock;
	}
	kvm_for_each_memslot(ms, bkt, slots) {
		if (!kcm_log_slot_tracked(ms))
			continue;
		ret = kcm_log_set_slot(t, i, ms->id, ms->base_gfn, ms->npages);
		if (ret)
			goto e_free_tracker;
		t->slots[i].userspace_addr = ms->userspace_addr;
		t->slots[i].memslot = ms;
		t->slots[i].log = ms->dirty_bitmap;
		i++;
	}
	srcu_read_unlock(&kvm->srcu, idx);
	ret = kcm_log_sort(t);
	if (ret) {
		kcm_log_free(t);
		return ERR_PTR(ret);
	}
	return &t->track;

e_free_tracker:
	kcm_log_free(t);
e_unlock:
	srcu_read_unlock(&kvm->srcu, idx);
	return ERR_PTR(ret);
}

static struct kcm_track *kcm_log_begin_shared(struct kcm_session *s)
{
	return kcm_log_begin_views(s, BIT(KCM_VIEW_SHARED));
}

static struct kcm_track *kcm_log_begin(struct kcm_session *s)
{
	return kcm_log_begin_views(s, BIT(KCM_VIEW_PRIVATE) | BIT(KCM_VIEW_SHARED));
}

/*
 * Both views, for a backend whose private memory is every ordinary memslot
 * (sev): a memslot that does not log dirty pages could never be proven
 * complete, so tracking does not start while one exists (-EINVAL).
 */
static struct kcm_track *kcm_log_begin_all(struct kcm_session *s)
{
	struct kvm_memory_slot *ms;
	int bkt, idx, ret = 0;

	idx = srcu_read_lock(&s->kvm->srcu);
	kvm_for_each_memslot(ms, bkt, __kvm_memslots(s->kvm, 0))
		if (ms->id < KVM_USER_MEM_SLOTS && !kcm_log_slot_tracked(ms))
			ret = -EINVAL;
	srcu_read_unlock(&s->kvm->srcu, idx);
	return ret ? ERR_PTR(ret) : kcm_log_begin(s);
}

/* Hand back what was taken and not reported, to memslots still tracked. */
static void kcm_log_stop(struct kcm_track *track)
{
	struct kcm_log_tracker *t = kcm_log(track);
	struct kvm_memory_slot *ms;
	int idx;
	u32 i;

	idx = srcu_read_lock(&t->kvm->srcu);
	for (i = 0; i < t->nr_slots; i++) {
		ms = kcm_log_memslot(t, &t->slots[i]);
		if (ms)
			kcm_log_give_back(&t->slots[i], ms->dirty_bitmap);
	}
	srcu_read_unlock(&t->kvm->srcu, idx);
	kcm_log_free(t);
}

static void kcm_log_info(struct kcm_track *track, u32 *nr_slots, u64 *nr_gfns)
{
	*nr_slots = kcm_log(track)->nr_slots;
	*nr_gfns = kcm_log(track)->nr_pages;
}

static int kcm_log_range_op(struct kcm_track *track, enum kcm_view v,
			    u64 *first, u64 *nr)
{
	struct kcm_log_tracker *t = kcm_log(track);
	int ret;

	ret = kcm_log_check_slots(t);
	if (ret)
		return ret;
	return kcm_log_range(t, first, nr);
}

static int kcm_log_harvest(struct kcm_track *track, enum kcm_view v, u64 first,
			   u64 nr, unsigned long *out, u64 *count)
{
	struct kcm_log_tracker *t = kcm_log(track);
	struct kcm_log_slot *ls = kcm_log_find(t, first);
	struct kvm_memory_slot *ms;
	unsigned long *taken;
	int idx, ret = 0;

	taken = kcm_log_bitmap(nr);
	if (!taken)
		return -ENOMEM;
	kcm_arch_log_sync(t->kvm);
	idx = srcu_read_lock(&t->kvm->srcu);
	ms = kcm_log_memslot(t, ls);
	if (!ms) {
		srcu_read_unlock(&t->kvm->srcu, idx);
		t->stale = true;
		ret = -ESTALE;
		goto out_free_taken;
	}
	kcm_log_take(ls, ms->dirty_bitmap, first - ls->base_gfn, nr, taken);
	*count = kcm_log_report(ls, v, first - ls->base_gfn, nr, out);
	/*
	 * Re-armed inside kvm->srcu: kvm_zap_gfn_range() walks the memslots,
	 * and not every 6.12.y takes kvm->srcu in it itself.
	 */
	kcm_arch_log_rearm(t->kvm, first, taken, nr);
	srcu_read_unlock(&t->kvm->srcu, idx);
out_free_taken:
	kvfree(taken);
	return ret;
}

static void kcm_log_restore_op(struct kcm_track *track, enum kcm_view v,
			       u64 first, u64 nr, const unsigned long *out)
{
	struct kcm_log_tracker *t = kcm_log(track);
	struct kcm_log_slot *ls = kcm_log_find(t, first);

	kcm_log_restore(ls, v, first - ls->base_gfn, nr, out);
}

static void kcm_log_sent_op(struct kcm_track *track, const u64 *gfns, u32 nr)
{
	u32 i;

	for (i = 0; i < nr; i++)
		kcm_log_sent(kcm_log(track), gfns[i]);
}

static int kcm_log_complete(struct kcm_track *track)
{
	struct kcm_log_tracker *t = kcm_log(track);
	struct kvm_memory_slot *ms;
	bool unsent = false;
	int idx, ret = 0;
	u32 i;

	ret = kcm_log_check_slots(t);
	if (ret)
		return ret;
	idx = srcu_read_lock(&t->kvm->srcu);
	for (i = 0; i < t->nr_slots; i++) {
		ms = kcm_log_memslot(t, &t->slots[i]);
		if (!ms) {
			t->stale = true;
			ret = -ESTALE;
			break;
		}
		ret = kcm_log_check(&t->slots[i], ms->dirty_bitmap);
		if (ret == -ENODATA) {
			unsent = true;
			ret = 0;
		}
		if (!ret && fatal_signal_pending(current))
			ret = -EINTR;
		if (ret)
			break;
	}
	srcu_read_unlock(&t->kvm->srcu, idx);
	return ret ?: (unsent ? -ENODATA : 0);
}

/* The shared view of a sw session: KVM's log of its ordinary memslots. */
const struct kcm_track_ops kcm_log_shared_track_ops = {
	.begin		= kcm_log_begin_shared,
	.stop		= kcm_log_stop,
	.info		= kcm_log_info,
	.range		= kcm_log_range_op,
	.harvest	= kcm_log_harvest,
	.restore	= kcm_log_restore_op,
};
EXPORT_SYMBOL_IF_KUNIT(kcm_log_shared_track_ops);

/*
 * Both views of a VM whose private memory lives in ordinary memslots (a
 * backend's @track; sev). Every gfn starts private and unsent; the backend
 * moves gfns between the views with kcm_log_set_private().
 */
const struct kcm_track_ops kcm_log_track_ops = {
	.begin		= kcm_log_begin,
	.stop		= kcm_log_stop,
	.info		= kcm_log_info,
	.range		= kcm_log_range_op,
	.harvest	= kcm_log_harvest,
	.restore	= kcm_log_restore_op,
	.sent		= kcm_log_sent_op,
	.complete	= kcm_log_complete,
};
EXPORT_SYMBOL_IF_KUNIT(kcm_log_track_ops);

/* The same, refusing to start while a memslot does not log (kcm_log_begin_all()). */
const struct kcm_track_ops kcm_log_all_track_ops = {
	.begin		= kcm_log_begin_all,
	.stop		= kcm_log_stop,
	.info		= kcm_log_info,
	.range		= kcm_log_range_op,
	.harvest	= kcm_log_harvest,
	.restore	= kcm_log_restore_op,
	.sent		= kcm_log_sent_op,
	.complete	= kcm_log_complete,
};
