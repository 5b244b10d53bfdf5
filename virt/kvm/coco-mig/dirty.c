// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking of guest_memfd private memory: bitmaps and range logic.
 *
 * Per tracked memslot, three bitmaps (struct kcm_dirty_slot): @dirty is
 * what the fault hook sets, @priv the private attribute each gfn had at the
 * last harvest, @unsent what was reported and not packaged since. A harvest
 * (GET_DIRTY) reports, and re-arms, the private gfns that were written or
 * became private since the last one:
 *
 *	out = (dirty | (cur & ~priv)) & cur	with cur the private attribute now
 *
 * A gfn that turned private is reported even if nobody wrote it: the
 * target may never have received its private content. Dirty bits of shared
 * gfns are dropped: shared memory travels the VMM's ordinary way.
 */
#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/kvm_host.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <crypto/sha2.h>
#include <kunit/visibility.h>

#include "dirty.h"

/**
 * kcm_tracker_alloc - a tracker for @nr_slots memslots, not yet described
 * @kvm: the VM
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
	t->kvm = kvm;
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
 * @npages: its size, at least one page
 *
 * Return: 0, -EINVAL or -ENOMEM.
 */
int kcm_tracker_set_slot(struct kcm_tracker *t, u32 i, u64 base_gfn,
			 u64 npages)
{
	struct kcm_dirty_slot *s;

	if (i >= t->nr_slots || !npages || base_gfn + npages < base_gfn)
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
 * kcm_tracker_free - free a tracker and its bitmaps
 * @t: the tracker, or NULL; no fault hook may use it any more
 */
void kcm_tracker_free(struct kcm_tracker *t)
{
	u32 i;

	if (!t)
		return;
	for (i = 0; i < t->nr_slots; i++) {
		kvfree(t->slots[i].dirty);
		kvfree(t->slots[i].unsent);
		kvfree(t->slots[i].priv);
	}
	kfree(t);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_free);

/**
 * kcm_tracker_find - the tracked slot holding @gfn
 * @t: the tracker, sorted
 * @gfn: any gfn
 *
 * Context: any, also the fault hook (no locks, no sleeping).
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
 * @gfn: the faulting gfn
 *
 * Context: the fault hook: atomic, may race with itself and a harvest.
 * Return: whether @gfn is tracked.
 */
bool kcm_tracker_mark(struct kcm_tracker *t, u64 gfn)
{
	struct kcm_dirty_slot *s = kcm_tracker_find(t, gfn);
	u64 i;

	if (!s)
		return false;
	i = gfn - s->base_gfn;
	/* Read first: most faults hit a page already marked. */
	if (!test_bit(i, s->dirty))
		set_bit(i, s->dirty);
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_mark);

/**
 * kcm_tracker_sent - @gfn was packaged: it is no longer unsent
 * @t: the tracker
 * @gfn: the gfn
 *
 * Context: the session lock.
 */
void kcm_tracker_sent(struct kcm_tracker *t, u64 gfn)
{
	struct kcm_dirty_slot *s = kcm_tracker_find(t, gfn);

	if (s)
		__clear_bit(gfn - s->base_gfn, s->unsent);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_tracker_sent);

/**
 * kcm_tracker_sent_batch - kcm_tracker_sent() for each of @nr gfns
 * @t: the tracker
 * @gfns: the gfns packaged
 * @nr: their number
 *
 * Context: the session lock.
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
 * @slot: the slot
 * @idx: the first gfn, as an index into the slot; a multiple of 64
 * @nbits: the gfns, as kcm_dirty_range() allows
 * @cur: the private attribute of each gfn now, @nbits bits
 * @all: report every private gfn (the tracker overflowed)
 * @out: receives the report: a bit per private gfn that was written or
 *	became private since the last harvest
 *
 * Takes the dirty bits with xchg(), so that a bit the fault hook sets
 * meanwhile is either reported now or kept for the next harvest. Updates
 * @slot's private snapshot and adds the report to its unsent bits.
 *
 * Context: the session lock.
 * Return: the number of bits set in @out.
 */
u64 kcm_dirty_harvest(struct kcm_dirty_slot *slot, u64 idx, u64 nbits,
		      const unsigned long *cur, bool all, unsigned long *out)
{
	u64 w, w0 = idx / BITS_PER_LONG, nw = BITS_TO_LONGS(nbits), count = 0;

	for (w = 0; w < nw; w++) {
		unsigned long d = xchg(&slot->dirty[w0 + w], 0);
		unsigned long c = cur[w], o;

		if (all)
			d = ~0UL;
		if (w == nw - 1)
			c &= BITMAP_LAST_WORD_MASK(nbits);
		o = (d | (c & ~slot->priv[w0 + w])) & c;
		slot->priv[w0 + w] = c;
		slot->unsent[w0 + w] |= o;
		out[w] = o;
		count += hweight_long(o);
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
 * Context: the session lock.
 */
void kcm_dirty_restore(struct kcm_dirty_slot *slot, u64 idx, u64 nbits,
		       const unsigned long *out)
{
	unsigned long b;

	for_each_set_bit(b, out, nbits)
		set_bit(idx + b, slot->dirty);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_dirty_restore);

/**
 * kcm_dirty_next_run - the next range of a report to re-arm with one call
 * @bits: the report
 * @nbits: the bits in @bits
 * @from: where to start looking
 * @gap: runs of set bits fewer than @gap clear bits apart are merged
 * @start: out: the first bit of the range
 * @end: out: the bit after the range
 *
 * Each call that re-arms a range flushes the TLBs of every vCPU and waits
 * for them; a clear bit inside a range mostly costs a look at an SPTE that
 * is not present. Merging runs a few gfns apart turns a scattered report
 * into a few calls instead of one per run. Re-arming a gfn that is not in
 * the report is harmless: at worst it faults once more, and is counted.
 *
 * Context: any.
 * Return: false if no bit at or after @from is set.
 */
bool kcm_dirty_next_run(const unsigned long *bits, u64 nbits, u64 from,
			u64 gap, u64 *start, u64 *end)
{
	u64 s, e, next;

	s = find_next_bit(bits, nbits, from);
	if (s >= nbits)
		return false;
	e = find_next_zero_bit(bits, nbits, s);
	while (e < nbits) {
		next = find_next_bit(bits, nbits, e);
		if (next >= nbits || next - e >= gap)
			break;
		e = find_next_zero_bit(bits, nbits, next);
	}
	*start = s;
	*end = e;
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_dirty_next_run);

/**
 * kcm_dirty_pending - whether a slot has private gfns not yet migrated
 * @slot: the slot
 * @cur: the private attribute of each of its gfns now
 * @all: the tracker overflowed
 *
 * Context: the session lock.
 * Return: 0; -EBUSY if a private gfn was written or became private since
 * the last harvest; -ENODATA if one was reported and not packaged since.
 */
int kcm_dirty_pending(struct kcm_dirty_slot *slot, const unsigned long *cur,
		      bool all)
{
	u64 w, nw = BITS_TO_LONGS(slot->npages);

	if (all)
		return bitmap_empty(cur, slot->npages) ? 0 : -EBUSY;
	for (w = 0; w < nw; w++)
		if ((READ_ONCE(slot->dirty[w]) | (cur[w] & ~slot->priv[w])) & cur[w])
			return -EBUSY;
	for (w = 0; w < nw; w++)
		if (slot->unsent[w] & cur[w])
			return -ENODATA;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_dirty_pending);

/**
 * kcm_private_bits - the private attribute of a range of gfns
 * @kvm: the VM
 * @first: the first gfn
 * @nbits: the number of gfns
 * @bits: receives a bit per gfn, set if it is private
 *
 * Context: process context; takes the RCU read lock. The VMM serialises
 * KVM_SET_MEMORY_ATTRIBUTES with the migration (documented).
 */
void kcm_private_bits(struct kvm *kvm, u64 first, u64 nbits,
		      unsigned long *bits)
{
	bitmap_zero(bits, nbits);
#ifdef CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES
	{
		unsigned long index;
		void *entry;

		xa_for_each_range(&kvm->mem_attr_array, index, entry, first,
				  first + nbits - 1)
			if (xa_to_value(entry) & KVM_MEMORY_ATTRIBUTE_PRIVATE)
				__set_bit(index - first, bits);
	}
#endif
}

/* Hash one run of private gfns: its first gfn and length, little endian. */
static void kcm_digest_run(struct sha256_state *sctx, u64 start, u64 len)
{
	__le64 run[2] = { cpu_to_le64(start), cpu_to_le64(len) };

	sha256_update(sctx, (const u8 *)run, sizeof(run));
}

/**
 * kcm_private_digest - a digest of which gfns of a VM are private
 * @kvm: the VM
 * @digest: receives SHA-256 over the runs of private gfns, in order
 *
 * The source seals it into its final record; the target compares its own
 * attributes with it at FINISH.
 *
 * Context: process context; takes the RCU read lock.
 */
void kcm_private_digest(struct kvm *kvm, u8 digest[SHA256_DIGEST_SIZE])
{
	struct sha256_state sctx;
	u64 start = 0, len = 0;

	sha256_init(&sctx);
#ifdef CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES
	{
		unsigned long index;
		void *entry;

		xa_for_each(&kvm->mem_attr_array, index, entry) {
			if (!(xa_to_value(entry) & KVM_MEMORY_ATTRIBUTE_PRIVATE))
				continue;
			if (len && index == start + len) {
				len++;
				continue;
			}
			if (len)
				kcm_digest_run(&sctx, start, len);
			start = index;
			len = 1;
			cond_resched();
		}
	}
#endif
	if (len)
		kcm_digest_run(&sctx, start, len);
	sha256_final(&sctx, digest);
	memzero_explicit(&sctx, sizeof(sctx));
}
