// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking of guest_memfd private memory: bitmaps and range logic.
 *
 * Per tracked memslot, three bitmaps (struct kcm_dirty_slot): @dirty is
 * what the mapping hook sets, @priv the private attribute each gfn had at
 * the last harvest, @unsent what was reported and not packaged since. A
 * harvest (GET_DIRTY) reports, and re-arms, the private gfns that were
 * written or became private since the last one:
 *
 *	out = (dirty | (cur & ~priv)) & cur	with cur the private attribute now
 *
 * A gfn that turned private is reported even if nobody wrote it: the
 * target may never have received its private content. Dirty bits of shared
 * gfns are dropped: shared memory travels the VMM's ordinary way.
 *
 * Cost. Every loop over gfns reschedules at least every KCM_RESCHED_GFNS
 * gfns (or attribute entries), and those that can stop without losing
 * anything stop on a fatal signal (-EINTR). The attributes are read from
 * an xarray that may hold multi-index entries (one entry for an aligned
 * power-of-two range): their cost is per entry and per gfn of a private
 * range, never per gfn of a shared one.
 */
#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/xarray.h>
#include <crypto/sha2.h>
#include <kunit/visibility.h>

#include "dirty.h"

#if IS_ENABLED(CONFIG_KUNIT)
atomic_long_t kcm_dirty_yields = ATOMIC_LONG_INIT(0);
EXPORT_SYMBOL_IF_KUNIT(kcm_dirty_yields);
#define kcm_count_yield()	atomic_long_inc(&kcm_dirty_yields)
#else
#define kcm_count_yield()	do { } while (0)
#endif

/* A reschedule point of a loop that must run to its end. */
static void kcm_resched(void)
{
	kcm_count_yield();
	cond_resched();
}

/* A reschedule point of a loop that may stop: -EINTR on a fatal signal. */
static int kcm_yield(void)
{
	kcm_resched();
	return fatal_signal_pending(current) ? -EINTR : 0;
}

/* Words of a bitmap between two reschedule points. */
#define KCM_RESCHED_WORDS	(KCM_RESCHED_GFNS / BITS_PER_LONG)

/**
 * kcm_tracker_alloc - a tracker for @nr_slots memslots, not yet described
 * @kvm: the VM (NULL in KUnit tests)
 * @nr_slots: at least one
 *
 * Return: the tracker, or NULL.
 */
struct kcm_tracker *kcm_tracker_alloc(struct kvm *kvm, u32 nr_slots)
{
	struct kcm_tracker *t;

	t = kzalloc(struct_size(t, slots, nr_slots), GFP_KERNEL_ACCOUNT);
	if (!t)
		return NULL;
	t->scratch = kcalloc(BITS_TO_LONGS(KCM_RESCHED_GFNS), sizeof(long),
			     GFP_KERNEL_ACCOUNT);
	if (!t->scratch) {
		kfree(t);
		return NULL;
	}
	t->kvm = kvm;
	t->attrs = kcm_kvm_attrs(kvm);
	t->nr_slots = nr_slots;
	return t;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_alloc);

static unsigned long *kcm_bitmap_alloc(u64 nbits)
{
	return kvcalloc(BITS_TO_LONGS(nbits), sizeof(unsigned long),
			GFP_KERNEL_ACCOUNT);
}

/**
 * kcm_tracker_set_slot - describe slot @i and allocate its bitmaps
 * @t: the tracker
 * @i: below @t->nr_slots
 * @base_gfn: the memslot's first gfn
 * @npages: its size, 1 to KVM_MEM_MAX_NR_PAGES pages
 *
 * Return: 0, -EINVAL or -ENOMEM.
 */
int kcm_tracker_set_slot(struct kcm_tracker *t, u32 i, u64 base_gfn,
			 u64 npages)
{
	struct kcm_dirty_slot *s;

	if (i >= t->nr_slots || !npages || npages > KVM_MEM_MAX_NR_PAGES ||
	    base_gfn + npages < base_gfn)
		return -EINVAL;
	s = &t->slots[i];
	s->base_gfn = base_gfn;
	s->npages = npages;
	s->dirty = kcm_bitmap_alloc(npages);
	s->unsent = kcm_bitmap_alloc(npages);
	s->priv = kcm_bitmap_alloc(npages);
	if (!s->dirty || !s->unsent || !s->priv)
		return -ENOMEM;
	t->nr_pages += npages;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_set_slot);

static int kcm_slot_cmp(const void *a, const void *b)
{
	const struct kcm_dirty_slot *x = a, *y = b;

	if (x->base_gfn != y->base_gfn)
		return x->base_gfn < y->base_gfn ? -1 : 1;
	return 0;
}

/**
 * kcm_tracker_sort - order the slots for lookup, once all are set
 * @t: the tracker
 *
 * Return: 0, or -EINVAL if two slots overlap.
 */
int kcm_tracker_sort(struct kcm_tracker *t)
{
	u32 i;

	sort(t->slots, t->nr_slots, sizeof(t->slots[0]), kcm_slot_cmp, NULL);
	for (i = 1; i < t->nr_slots; i++)
		if (t->slots[i - 1].base_gfn + t->slots[i - 1].npages >
		    t->slots[i].base_gfn)
			return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_sort);

/**
 * kcm_tracker_free - free a tracker, its bitmaps and its file references
 * @t: the tracker, or NULL; no mapping hook may use it any more
 */
void kcm_tracker_free(struct kcm_tracker *t)
{
	u32 i;

	if (!t)
		return;
	for (i = 0; i < t->nr_slots; i++) {
		if (t->slots[i].file)
			fput(t->slots[i].file);
		kvfree(t->slots[i].dirty);
		kvfree(t->slots[i].unsent);
		kvfree(t->slots[i].priv);
	}
	kfree(t->scratch);
	kfree(t);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_free);

/* Copy @nbits bits, rescheduling on the way. */
static void kcm_bitmap_copy(unsigned long *dst, const unsigned long *src,
			    u64 nbits)
{
	u64 w, nw = BITS_TO_LONGS(nbits);

	for (w = 0; w < nw; w++) {
		dst[w] = src[w];
		if (!((w + 1) % KCM_RESCHED_WORDS))
			kcm_resched();
	}
}

/**
 * kcm_tracker_build - a tracker for every guest_memfd memslot of @kvm now
 * @kvm: the VM
 *
 * Each private gfn is marked unsent. The tracker holds a reference on each
 * memslot's guest_memfd file and remembers the memslots generation, for
 * kcm_tracker_check_slots().
 *
 * Context: process context, may sleep; not in a kvm->srcu read section.
 * Return: the tracker, or an ERR_PTR: -ENOENT if the VM has no guest_memfd
 * memslot, -ENOMEM, -EINTR (a fatal signal).
 */
struct kcm_tracker *kcm_tracker_build(struct kvm *kvm)
{
	struct kvm_memory_slot *slot;
	struct kvm_memslots *slots;
	struct kcm_tracker *t;
	int idx, bkt, ret;
	u32 n = 0, i = 0;

	idx = srcu_read_lock(&kvm->srcu);
	slots = kvm_memslots(kvm);
	kvm_for_each_memslot(slot, bkt, slots)
		if (kvm_slot_can_be_private(slot))
			n++;
	if (!n) {
		ret = -ENOENT;
		goto e_unlock;
	}
	t = kcm_tracker_alloc(kvm, n);
	if (!t) {
		ret = -ENOMEM;
		goto e_unlock;
	}
	t->generation = slots->generation;
	kvm_for_each_memslot(slot, bkt, slots) {
		if (!kvm_slot_can_be_private(slot))
			continue;
		ret = kcm_tracker_set_slot(t, i, slot->base_gfn, slot->npages);
		if (ret)
			goto e_free_tracker;
		/*
		 * NULL if the file is being released: its memory is going
		 * away without a memslot change, so the tracker is stale
		 * from the start. Held, the file cannot be released later.
		 */
		t->slots[i].file = get_file_active(&slot->gmem.file);
		if (!t->slots[i].file)
			t->stale = true;
		t->slots[i].pgoff = slot->gmem.pgoff;
		i++;
	}
	srcu_read_unlock(&kvm->srcu, idx);

	ret = kcm_tracker_sort(t);
	if (ret)
		goto e_free_unlocked;
	for (i = 0; i < t->nr_slots; i++) {
		struct kcm_dirty_slot *ds = &t->slots[i];

		ret = kcm_private_bits(t->attrs, ds->base_gfn, ds->npages, ds->priv);
		if (ret)
			goto e_free_unlocked;
		kcm_bitmap_copy(ds->unsent, ds->priv, ds->npages);
	}
	return t;

e_free_tracker:
	srcu_read_unlock(&kvm->srcu, idx);
e_free_unlocked:
	kcm_tracker_free(t);
	return ERR_PTR(ret);
e_unlock:
	srcu_read_unlock(&kvm->srcu, idx);
	return ERR_PTR(ret);
}

/**
 * kcm_dirty_slot_is - is @ds the tracked state of memslot @slot?
 * @ds: a tracked slot, or NULL
 * @slot: a guest_memfd memslot
 *
 * The same gfns, bound to the same file at the same offset.
 *
 * Context: any, also the mapping hook; @slot protected by kvm->srcu.
 */
bool kcm_dirty_slot_is(const struct kcm_dirty_slot *ds,
		       const struct kvm_memory_slot *slot)
{
	return ds && ds->base_gfn == slot->base_gfn &&
	       ds->npages == slot->npages &&
	       ds->file == READ_ONCE(slot->gmem.file) &&
	       ds->pgoff == slot->gmem.pgoff;
}

/*
 * Whether @slots holds exactly the guest_memfd memslots of @t: the same
 * gfns, bound to the same file at the same offset.
 */
static bool kcm_tracker_slots_match(struct kcm_tracker *t,
				    struct kvm_memslots *slots)
{
	struct kvm_memory_slot *slot;
	struct kcm_dirty_slot *ds;
	u32 n = 0;
	int bkt;

	kvm_for_each_memslot(slot, bkt, slots) {
		if (!kvm_slot_can_be_private(slot))
			continue;
		ds = kcm_tracker_find(t, slot->base_gfn);
		if (!kcm_dirty_slot_is(ds, slot))
			return false;
		n++;
	}
	/* The tracked slots do not overlap: a match for each is a bijection. */
	return n == t->nr_slots;
}

/**
 * kcm_tracker_check_slots - are the tracked memslots still the VM's?
 * @t: a tracker kcm_tracker_build() made
 *
 * A guest_memfd memslot added, deleted, moved (deleted and added at other
 * gfns) or bound to another file or offset since tracking began changes
 * private memory without a guest write, or leaves some untracked. Once
 * such a change is seen, the tracker is stale for good: the VMM must start
 * over. A memslot deleted and created again exactly as it was (the same
 * gfns, file and offset) between two checks is not a change: its contents
 * are the file's, and every mapping made since went through the hook. A
 * mapping made meanwhile through a guest_memfd memslot the tracker does
 * not know (the same file bound at other gfns, say) could have changed
 * the file's contents: the hook overflows the tracker for it (a full
 * resend). Other memslots (without guest_memfd) may change freely.
 *
 * Cost: nothing if the memslots generation is the one last checked, else
 * one pass over the VM's memslots.
 *
 * Context: process context, the session lock (which serialises the
 * checks), not in a kvm->srcu read section.
 * Return: 0, or -ESTALE.
 */
int kcm_tracker_check_slots(struct kcm_tracker *t)
{
	struct kvm_memslots *slots;
	int idx;

	if (t->stale)
		return -ESTALE;
	idx = srcu_read_lock(&t->kvm->srcu);
	slots = kvm_memslots(t->kvm);
	if (slots->generation != t->generation) {
		if (kcm_tracker_slots_match(t, slots))
			t->generation = slots->generation;
		else
			t->stale = true;
	}
	srcu_read_unlock(&t->kvm->srcu, idx);
	return t->stale ? -ESTALE : 0;
}

/**
 * kcm_tracker_find - the tracked slot holding @gfn
 * @t: the tracker, sorted
 * @gfn: any gfn
 *
 * Context: any, also the mapping hook (no locks, no sleeping).
 * Return: the slot, or NULL.
 */
struct kcm_dirty_slot *kcm_tracker_find(struct kcm_tracker *t, u64 gfn)
{
	u32 lo = 0, hi = t->nr_slots;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		struct kcm_dirty_slot *s = &t->slots[mid];

		if (gfn < s->base_gfn)
			hi = mid;
		else if (gfn - s->base_gfn >= s->npages)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_find);

/**
 * kcm_tracker_mark - record a possible write to @gfn
 * @t: the tracker
 * @gfn: the gfn just mapped
 *
 * Context: the mapping hook: atomic, may race with itself and a harvest.
 * Return: whether @gfn is tracked.
 */
bool kcm_tracker_mark(struct kcm_tracker *t, u64 gfn)
{
	struct kcm_dirty_slot *s = kcm_tracker_find(t, gfn);
	u64 i;

	if (!s)
		return false;
	i = gfn - s->base_gfn;
	/* Read first: most mappings are of a page already marked. */
	if (!test_bit(i, s->dirty))
		set_bit(i, s->dirty);
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_mark);

/**
 * kcm_tracker_mark_range - record a possible write to @nr gfns from @gfn
 * @t: the tracker
 * @gfn: the first gfn of a mapping
 * @nr: the gfns it maps (512 for a 2 MiB mapping)
 *
 * Private memory is mapped 4K at a time in 6.12; a huge mapping is of
 * shared memory, whose bits a harvest drops, but it is marked whole so
 * that the rule "mapped implies marked" holds for any mapping.
 *
 * Context: the mapping hook: atomic, may race with itself and a harvest.
 */
void kcm_tracker_mark_range(struct kcm_tracker *t, u64 gfn, u64 nr)
{
	u64 end = gfn + nr, from, to, b;
	u32 lo = 0, hi = t->nr_slots;

	/* The first slot that ends after @gfn, then those that begin before @end. */
	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		struct kcm_dirty_slot *s = &t->slots[mid];

		if (s->base_gfn + s->npages <= gfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < t->nr_slots && t->slots[lo].base_gfn < end; lo++) {
		struct kcm_dirty_slot *s = &t->slots[lo];

		from = max(gfn, s->base_gfn) - s->base_gfn;
		to = min(end, s->base_gfn + s->npages) - s->base_gfn;
		b = from;
		/* Bit by bit to a word boundary, then a word at a time. */
		for (; b < to && b % BITS_PER_LONG; b++)
			if (!test_bit(b, s->dirty))
				set_bit(b, s->dirty);
		for (; b + BITS_PER_LONG <= to; b += BITS_PER_LONG) {
			unsigned long *w = &s->dirty[b / BITS_PER_LONG];

			if (~READ_ONCE(*w))
				atomic_long_or(~0L, (atomic_long_t *)w);
		}
		for (; b < to; b++)
			if (!test_bit(b, s->dirty))
				set_bit(b, s->dirty);
	}
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_mark_range);

/**
 * kcm_tracker_fold - turn an overflow into dirty bits
 * @t: the tracker
 *
 * If the hook flagged a mapping it could not attribute, clears the flag
 * and sets every dirty bit of every slot: the reports that follow contain
 * every private gfn once (a full resend), and the migration goes on. The
 * flag is taken with xchg() before the bits are set, and the hooks set it
 * under kvm->srcu, in the section that installs the mapping it stands for:
 * the harvest's wait for kvm->srcu and zap then remove that mapping, or the
 * flag is still set for the next harvest.
 *
 * Context: the session lock.
 * Return: whether the flag was set.
 */
bool kcm_tracker_fold(struct kcm_tracker *t)
{
	u64 w, nw;
	u32 i;

	if (!READ_ONCE(t->overflow) || !xchg(&t->overflow, false))
		return false;
	for (i = 0; i < t->nr_slots; i++) {
		struct kcm_dirty_slot *s = &t->slots[i];

		nw = BITS_TO_LONGS(s->npages);
		/* A racing set_bit() sets a bit these stores set anyway. */
		for (w = 0; w < nw - 1; w++) {
			WRITE_ONCE(s->dirty[w], ~0UL);
			if (!((w + 1) % KCM_RESCHED_WORDS))
				kcm_resched();
		}
		WRITE_ONCE(s->dirty[nw - 1], BITMAP_LAST_WORD_MASK(s->npages));
	}
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_fold);

/**
 * kcm_tracker_sent - @gfn was packaged: it is no longer unsent
 * @t: the tracker
 * @gfn: the gfn
 *
 * Context: the session's data_sem, read (streams run at once: atomic
 * bitops); the harvest and the completeness check hold it for writing.
 */
void kcm_tracker_sent(struct kcm_tracker *t, u64 gfn)
{
	struct kcm_dirty_slot *s = kcm_tracker_find(t, gfn);

	if (s)
		clear_bit(gfn - s->base_gfn, s->unsent);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_sent);

/**
 * kcm_tracker_sent_batch - kcm_tracker_sent() for each of @nr gfns
 * @t: the tracker
 * @gfns: the gfns packaged
 * @nr: their number (a PACKAGE_PAGES batch)
 *
 * Context: as kcm_tracker_sent().
 */
void kcm_tracker_sent_batch(struct kcm_tracker *t, const u64 *gfns, u32 nr)
{
	u32 i;

	for (i = 0; i < nr; i++)
		kcm_tracker_sent(t, gfns[i]);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_sent_batch);

/**
 * kcm_dirty_range - check the range of a GET_DIRTY
 * @t: the tracker
 * @first: in: the range's first gfn; out, for a query: the slot's first gfn
 * @nr: in: the range's length, or 0 to query the first tracked slot that
 *	holds @first or lies above it; out, for a query: that slot's length
 * @slot: out: the slot the range lies in
 *
 * A range lies within one slot, starts a multiple of 64 gfns into it and
 * is a multiple of 64 gfns long or ends where the slot ends: the bitmap
 * handed out then starts on a whole word of the slot's bitmaps.
 *
 * Return: 0; -ENOENT if no tracked slot holds @first (for a query: none
 * holds it or lies above it); -EINVAL for a misaligned range or one that
 * runs past the end of its slot.
 */
int kcm_dirty_range(struct kcm_tracker *t, u64 *first, u64 *nr,
		    struct kcm_dirty_slot **slot)
{
	struct kcm_dirty_slot *s;
	u64 idx;
	u32 i;

	if (!*nr) {
		for (i = 0; i < t->nr_slots; i++) {
			s = &t->slots[i];
			if (*first - s->base_gfn < s->npages || s->base_gfn > *first) {
				*first = s->base_gfn;
				*nr = s->npages;
				*slot = s;
				return 0;
			}
		}
		return -ENOENT;
	}

	s = kcm_tracker_find(t, *first);
	if (!s)
		return -ENOENT;
	idx = *first - s->base_gfn;
	if (idx % 64 || *nr > s->npages - idx)
		return -EINVAL;
	if (*nr % 64 && idx + *nr != s->npages)
		return -EINVAL;
	*slot = s;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_dirty_range);

/**
 * kcm_dirty_harvest - report and re-arm part of a slot
 * @t: the tracker
 * @slot: the slot
 * @idx: the first gfn, as an index into the slot; a multiple of 64
 * @nbits: the gfns, as kcm_dirty_range() allows
 * @cur: the private attribute of each gfn now, @nbits bits
 * @out: receives the report: a bit per private gfn that was written or
 *	became private since the last harvest. May be @cur: each word of
 *	@cur is read before that word of @out is written.
 *
 * First folds an overflow (kcm_tracker_fold()). Takes the dirty bits with
 * xchg(), so that a bit the hook sets meanwhile is either reported now or
 * kept for the next harvest. Updates @slot's private snapshot and adds the
 * report to its unsent bits. Cannot stop half-way (the bits it took must
 * be reported), so it only reschedules.
 *
 * Context: the session lock; may sleep.
 * Return: the number of bits set in @out.
 */
u64 kcm_dirty_harvest(struct kcm_tracker *t, struct kcm_dirty_slot *slot,
		      u64 idx, u64 nbits, const unsigned long *cur,
		      unsigned long *out)
{
	u64 w, w0 = idx / BITS_PER_LONG, nw = BITS_TO_LONGS(nbits), count = 0;

	kcm_tracker_fold(t);
	for (w = 0; w < nw; w++) {
		unsigned long d = xchg(&slot->dirty[w0 + w], 0);
		unsigned long c = cur[w], o;

		if (w == nw - 1)
			c &= BITMAP_LAST_WORD_MASK(nbits);
		o = (d | (c & ~slot->priv[w0 + w])) & c;
		slot->priv[w0 + w] = c;
		slot->unsent[w0 + w] |= o;
		out[w] = o;
		count += hweight_long(o);
		if (!((w + 1) % KCM_RESCHED_WORDS))
			kcm_resched();
	}
	return count;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_dirty_harvest);

/**
 * kcm_dirty_restore - give a report back after it could not be delivered
 * @slot: the slot
 * @idx: as for kcm_dirty_harvest()
 * @nbits: as for kcm_dirty_harvest()
 * @out: the report kcm_dirty_harvest() made
 *
 * The gfns are dirty again, so the next harvest reports them.
 *
 * Context: the session lock; may sleep.
 */
void kcm_dirty_restore(struct kcm_dirty_slot *slot, u64 idx, u64 nbits,
		       const unsigned long *out)
{
	u64 w, nw = BITS_TO_LONGS(nbits), w0 = idx / BITS_PER_LONG;
	unsigned long b;

	for (w = 0; w < nw; w++) {
		for_each_set_bit(b, &out[w], BITS_PER_LONG)
			set_bit(b, &slot->dirty[w0 + w]);
		if (!((w + 1) % KCM_RESCHED_WORDS))
			kcm_resched();
	}
}
EXPORT_SYMBOL_IF_KUNIT(kcm_dirty_restore);

/**
 * kcm_dirty_next_run - the next range of a report to re-arm with one call
 * @bits: the report
 * @nbits: the bits in @bits
 * @from: where to start looking
 * @gap: runs of set bits fewer than @gap clear bits apart are merged
 * @start: out: the first bit of the range
 * @end: out: the bit after the range, at most KCM_RUN_MAX bits on
 *
 * Each call that re-arms a range flushes the TLBs of every vCPU and waits
 * for them; a clear bit inside a range mostly costs a look at an SPTE that
 * is not present. Merging runs a few gfns apart turns a scattered report
 * into a few calls instead of one per run. Re-arming a gfn that is not in
 * the report is harmless: at worst it faults once more, and is counted.
 * A call looks at no more than KCM_RUN_MAX bits from @from to find a run
 * and KCM_RUN_MAX to end it, so that the caller, which reschedules between
 * calls, never runs long without doing so: with none set in the first
 * KCM_RUN_MAX, it returns an empty range (@start == @end) to go on from.
 *
 * Context: any.
 * Return: false if no bit at or after @from is set.
 */
bool kcm_dirty_next_run(const unsigned long *bits, u64 nbits, u64 from,
			u64 gap, u64 *start, u64 *end)
{
	u64 s, e, next, limit;

	if (from >= nbits)
		return false;
	limit = min(nbits, from + KCM_RUN_MAX);
	s = find_next_bit(bits, limit, from);
	if (s >= limit) {
		if (limit >= nbits)
			return false;
		*start = limit;
		*end = limit;
		return true;
	}
	limit = min(nbits, s + KCM_RUN_MAX);
	e = find_next_zero_bit(bits, limit, s);
	while (e < limit) {
		next = find_next_bit(bits, limit, e);
		if (next >= limit || next - e >= gap)
			break;
		e = find_next_zero_bit(bits, limit, next);
	}
	*start = s;
	*end = e;
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_dirty_next_run);

/**
 * kcm_dirty_pending - whether private gfns are not yet migrated
 * @t: the tracker
 *
 * First folds an overflow (kcm_tracker_fold()): a full resend then clears
 * it. Reads the attributes KCM_RESCHED_GFNS gfns at a time into the
 * tracker's scratch bitmap, so that it allocates nothing.
 *
 * Cost: a pass over the attributes of the tracked gfns (per entry, and per
 * gfn of a private range) and over the three bitmaps.
 *
 * Context: the session lock; may sleep.
 * Return: 0; -EBUSY if a private gfn was written or became private since
 * the last harvest (in any slot); else -ENODATA if one was reported and not
 * packaged since; -EINTR on a fatal signal.
 */
int kcm_dirty_pending(struct kcm_tracker *t)
{
	unsigned long *cur = t->scratch;
	bool unsent = false;
	u64 off, n, w, w0;
	int ret;
	u32 i;

	kcm_tracker_fold(t);
	for (i = 0; i < t->nr_slots; i++) {
		struct kcm_dirty_slot *s = &t->slots[i];

		for (off = 0; off < s->npages; off += n) {
			n = min(s->npages - off, KCM_RESCHED_GFNS);
			ret = kcm_private_bits(t->attrs, s->base_gfn + off, n, cur);
			if (ret)
				return ret;
			w0 = off / BITS_PER_LONG;
			for (w = 0; w < BITS_TO_LONGS(n); w++) {
				unsigned long c = cur[w];

				if ((READ_ONCE(s->dirty[w0 + w]) |
				     (c & ~s->priv[w0 + w])) & c)
					return -EBUSY;
				if (s->unsent[w0 + w] & c)
					unsent = true;
			}
			ret = kcm_yield();
			if (ret)
				return ret;
		}
	}
	return unsent ? -ENODATA : 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_dirty_pending);

/**
 * kcm_kvm_attrs - a VM's memory attributes
 * @kvm: the VM, or NULL
 *
 * Return: &kvm->mem_attr_array, or NULL if the VM (or the kernel) has none.
 */
struct xarray *kcm_kvm_attrs(struct kvm *kvm)
{
#ifdef CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES
	return kvm ? &kvm->mem_attr_array : NULL;
#else
	return NULL;
#endif
}
EXPORT_SYMBOL_IF_KUNIT(kcm_kvm_attrs);

/* Called for each piece of a private range, in gfn order. */
typedef void (*kcm_piece_fn)(void *arg, u64 start, u64 len);

/*
 * Hand @fn the private part of [@start, @start + @len) of one entry, in
 * pieces that fit the budget, rescheduling between them. Out of RCU.
 */
static int kcm_attr_pieces(kcm_piece_fn fn, void *arg, bool private,
			   u64 start, u64 len, u64 *budget)
{
	int ret;

	while (private && len) {
		u64 n = min(len, KCM_RESCHED_GFNS - *budget);

		if (n) {
			fn(arg, start, n);
			start += n;
			len -= n;
			*budget += n;
		}
		if (*budget >= KCM_RESCHED_GFNS) {
			*budget = 0;
			ret = kcm_yield();
			if (ret)
				return ret;
		}
	}
	if (*budget >= KCM_RESCHED_GFNS || !private) {
		*budget = 0;
		return kcm_yield();
	}
	return 0;
}

/*
 * The indices the entry @xas points at covers: its canonical slot and the
 * sibling slots after it. xa_store_range() makes entries of any number of
 * slots (e.g. slots 5 to 63 of a node), so xas_get_order(), which assumes
 * a power-of-two entry, would overstate them.
 */
static void kcm_xas_extent(struct xa_state *xas, u64 *start, u64 *len)
{
	struct xa_node *node = xas->xa_node;
	unsigned int shift, n = 1;
	unsigned long low;

	if (xas_not_node(node)) {
		/* The head of the array holds index 0 alone. */
		*start = xas->xa_index;
		*len = 1;
		return;
	}
	while (xas->xa_offset + n < XA_CHUNK_SIZE &&
	       xa_is_sibling(xa_entry(xas->xa, node, xas->xa_offset + n)))
		n++;
	shift = node->shift;
	/* The node's first index: xa_index without its offset and below. */
	low = ((unsigned long)XA_CHUNK_MASK << shift) | ((1UL << shift) - 1);
	*start = (xas->xa_index & ~low) + ((u64)xas->xa_offset << shift);
	*len = (u64)n << shift;
}

/*
 * Walk the attribute entries over [@first, @last] in order and hand @fn
 * each private range, clipped to it. Entries may be multi-index. Work is
 * counted per entry and per private gfn; every KCM_RESCHED_GFNS of it, the
 * walk leaves RCU and yields.
 */
static int kcm_attr_walk(struct xarray *attrs, u64 first, u64 last,
			 kcm_piece_fn fn, void *arg)
{
	XA_STATE(xas, attrs, first);
	u64 budget = 0;
	void *entry;
	int ret;

	if (!attrs || first > last)
		return 0;
	rcu_read_lock();
	xas_for_each(&xas, entry, last) {
		u64 start, end, len, cost;
		bool private;

		if (xas_retry(&xas, entry))
			continue;
		/* xa_index may lie inside the entry (the walk's first one). */
		kcm_xas_extent(&xas, &start, &len);
		end = start + (len - 1);
		start = max(start, first);
		end = min(end, last);
		len = end - start + 1;
		private = xa_is_value(entry) &&
			  (xa_to_value(entry) & KVM_MEMORY_ATTRIBUTE_PRIVATE);
		cost = private ? len : 1;
		if (cost <= KCM_RESCHED_GFNS - budget) {
			if (private)
				fn(arg, start, len);
			budget += cost;
			continue;
		}
		/*
		 * Too much for this stretch: go on out of RCU, and then from
		 * the gfn after the entry. (Not xas_pause(): from an index
		 * inside an entry, it skips as many slots past it.)
		 */
		rcu_read_unlock();
		ret = kcm_attr_pieces(fn, arg, private, start, len, &budget);
		if (ret || end >= last)
			return ret;
		xas_set(&xas, end + 1);
		rcu_read_lock();
	}
	rcu_read_unlock();
	return 0;
}

struct kcm_bits_ctx {
	unsigned long *bits;
	u64 first;
};

static void kcm_bits_piece(void *arg, u64 start, u64 len)
{
	struct kcm_bits_ctx *c = arg;

	/* Both below KVM_MEM_MAX_NR_PAGES: they fit bitmap_set(). */
	bitmap_set(c->bits, start - c->first, len);
}

/**
 * kcm_private_bits - the private attribute of a range of gfns
 * @attrs: the attributes (kcm_kvm_attrs()), or NULL: nothing is private
 * @first: the first gfn
 * @nbits: the number of gfns, at most KVM_MEM_MAX_NR_PAGES
 * @bits: receives a bit per gfn, set if it is private
 *
 * Cost: per attribute entry in the range and per private gfn; reschedules
 * every KCM_RESCHED_GFNS of either.
 *
 * Context: process context; takes the RCU read lock. The VMM serialises
 * KVM_SET_MEMORY_ATTRIBUTES with the migration (documented).
 * Return: 0, -EINVAL for too many gfns, or -EINTR on a fatal signal (@bits
 * then holds part of the answer).
 */
int kcm_private_bits(struct xarray *attrs, u64 first, u64 nbits,
		     unsigned long *bits)
{
	struct kcm_bits_ctx c = { .bits = bits, .first = first };
	u64 w, nw = BITS_TO_LONGS(nbits);

	if (nbits > KVM_MEM_MAX_NR_PAGES || first + nbits < first)
		return -EINVAL;
	for (w = 0; w < nw; w++) {
		bits[w] = 0;
		if (!((w + 1) % KCM_RESCHED_WORDS))
			kcm_resched();
	}
	if (!nbits)
		return 0;
	return kcm_attr_walk(attrs, first, first + nbits - 1, kcm_bits_piece, &c);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_private_bits);

struct kcm_digest_ctx {
	struct sha256_state sctx;
	u64 start, len;
};

/* Hash one run of private gfns: its first gfn and length, little endian. */
static void kcm_digest_run(struct sha256_state *sctx, u64 start, u64 len)
{
	__le64 run[2] = { cpu_to_le64(start), cpu_to_le64(len) };

	sha256_update(sctx, (const u8 *)run, sizeof(run));
}

/* Grow the current run, or hash it and start the next. */
static void kcm_digest_piece(void *arg, u64 start, u64 len)
{
	struct kcm_digest_ctx *c = arg;

	if (c->len && start == c->start + c->len) {
		c->len += len;
		return;
	}
	if (c->len)
		kcm_digest_run(&c->sctx, c->start, c->len);
	c->start = start;
	c->len = len;
}

/**
 * kcm_private_digest - a digest of which gfns of a VM are private
 * @attrs: the attributes (kcm_kvm_attrs()), or NULL: nothing is private
 * @digest: receives SHA-256 over the runs of private gfns, in order
 *
 * The source seals it into its final record; the target compares its own
 * attributes with it at FINISH. The runs are maximal, however the entries
 * that make them up are split.
 *
 * Cost: per attribute entry and per private gfn (16 bytes hashed per run);
 * reschedules every KCM_RESCHED_GFNS of either.
 *
 * Context: process context; takes the RCU read lock.
 * Return: 0, or -EINTR on a fatal signal (@digest is then not written).
 */
int kcm_private_digest(struct xarray *attrs, u8 digest[SHA256_DIGEST_SIZE])
{
	struct kcm_digest_ctx c = {};
	int ret;

	sha256_init(&c.sctx);
	ret = kcm_attr_walk(attrs, 0, ULONG_MAX, kcm_digest_piece, &c);
	if (!ret) {
		if (c.len)
			kcm_digest_run(&c.sctx, c.start, c.len);
		sha256_final(&c.sctx, digest);
	}
	memzero_explicit(&c, sizeof(c));
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_private_digest);
