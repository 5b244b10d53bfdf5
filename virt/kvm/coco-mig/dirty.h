/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dirty tracking of guest_memfd private memory: the bitmaps and the range
 * logic. How writes are caught is the architecture's (for x86: see
 * arch/x86/kvm/coco_mig_track.c); this part is plain bookkeeping.
 */
#ifndef __KVM_COCO_MIG_DIRTY_H
#define __KVM_COCO_MIG_DIRTY_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/list.h>
#include <linux/types.h>
#include <crypto/sha2.h>

struct file;
struct kvm;
struct kvm_memory_slot;
struct xarray;

/*
 * The most gfns (bits, or attribute entries) any loop here works through
 * between two reschedule points; also the size of the tracker's scratch
 * bitmap, the unit of FINISH's completeness check.
 */
#define KCM_RESCHED_GFNS	BIT_ULL(16)

/*
 * The longest range kcm_dirty_next_run() hands out: it bounds the bits one
 * call looks at, and still zaps a full 1 TiB report in 256 calls.
 */
#define KCM_RUN_MAX		BIT_ULL(20)

/**
 * struct kcm_dirty_slot - one tracked guest_memfd memslot
 * @base_gfn: its first gfn
 * @npages: its size
 * @file: its guest_memfd file when tracking began, with a reference held
 *	(so that a new file cannot take its address), or NULL
 * @pgoff: its offset into @file, in pages
 * @dirty: a bit per gfn that may have been written since it was last
 *	reported. Set by the mapping hook with atomic bitops, taken with xchg().
 * @unsent: a bit per gfn reported (or, at the start, private) and not
 *	packaged since. Cleared by the streams with atomic bitops under the
 *	session's data_sem (read); set under it (write).
 * @priv: the private attribute of each gfn as of the last harvest. Session
 *	lock.
 */
struct kcm_dirty_slot {
	u64 base_gfn;
	u64 npages;
	struct file *file;
	u64 pgoff;
	unsigned long *dirty;
	unsigned long *unsent;
	unsigned long *priv;
};

/**
 * struct kcm_tracker - dirty tracking of one VM's private memory
 * @kvm: the VM whose mappings count
 * @attrs: the VM's memory attributes (&kvm->mem_attr_array), or NULL if it
 *	has none; KUnit points it at a synthetic array
 * @overflow: a mapping was made that could not be attributed to a VM: every
 *	gfn may be dirty. Set by the mapping hook; kcm_tracker_fold() turns it
 *	into dirty bits.
 * @stale: the VM's guest_memfd memslots are no longer the tracked ones;
 *	kcm_tracker_check_slots() refuses from then on. Session lock.
 * @generation: the memslots generation last found to match. Session lock.
 * @scratch: KCM_RESCHED_GFNS bits for the completeness check. Session lock.
 * @nr_slots: entries of @slots
 * @nr_pages: gfns tracked, over all slots
 * @node: in the list of trackers the mapping hook looks at (arch code)
 * @slots: the slots, sorted by @base_gfn, not overlapping
 *
 * Memory: 3 bits per tracked gfn, plus 8 KiB.
 */
struct kcm_tracker {
	struct kvm *kvm;
	struct xarray *attrs;
	bool overflow;
	bool stale;
	u64 generation;
	unsigned long *scratch;
	u32 nr_slots;
	u64 nr_pages;
	struct list_head node;
	struct kcm_dirty_slot slots[] __counted_by(nr_slots);
};

struct kcm_tracker *kcm_tracker_alloc(struct kvm *kvm, u32 nr_slots);
int kcm_tracker_set_slot(struct kcm_tracker *t, u32 i, u64 base_gfn,
			 u64 npages);
int kcm_tracker_sort(struct kcm_tracker *t);
void kcm_tracker_free(struct kcm_tracker *t);
struct kcm_tracker *kcm_tracker_build(struct kvm *kvm);
int kcm_tracker_check_slots(struct kcm_tracker *t);
bool kcm_dirty_slot_is(const struct kcm_dirty_slot *ds,
		       const struct kvm_memory_slot *slot);

struct kcm_dirty_slot *kcm_tracker_find(struct kcm_tracker *t, u64 gfn);
bool kcm_tracker_mark(struct kcm_tracker *t, u64 gfn);
void kcm_tracker_mark_range(struct kcm_tracker *t, u64 gfn, u64 nr);
bool kcm_tracker_fold(struct kcm_tracker *t);
void kcm_tracker_sent(struct kcm_tracker *t, u64 gfn);
void kcm_tracker_sent_batch(struct kcm_tracker *t, const u64 *gfns, u32 nr);

int kcm_dirty_range(struct kcm_tracker *t, u64 *first, u64 *nr,
		    struct kcm_dirty_slot **slot);
u64 kcm_dirty_harvest(struct kcm_tracker *t, struct kcm_dirty_slot *slot,
		      u64 idx, u64 nbits, const unsigned long *cur,
		      unsigned long *out);
void kcm_dirty_restore(struct kcm_dirty_slot *slot, u64 idx, u64 nbits,
		       const unsigned long *out);
bool kcm_dirty_next_run(const unsigned long *bits, u64 nbits, u64 from,
			u64 gap, u64 *start, u64 *end);
int kcm_dirty_pending(struct kcm_tracker *t);

struct xarray *kcm_kvm_attrs(struct kvm *kvm);
int kcm_private_bits(struct xarray *attrs, u64 first, u64 nbits,
		     unsigned long *bits);
int kcm_private_digest(struct xarray *attrs, u8 digest[SHA256_DIGEST_SIZE]);

#if IS_ENABLED(CONFIG_KUNIT)
/* Reschedule points passed, for the KUnit tests of the bounds above. */
extern atomic_long_t kcm_dirty_yields;
#endif

#endif /* __KVM_COCO_MIG_DIRTY_H */
