/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dirty tracking of guest_memfd private memory: the bitmaps and the range
 * logic. How writes are caught is the architecture's (for x86: see
 * arch/x86/kvm/coco_mig_track.c); this part is plain bookkeeping.
 */
#ifndef __KVM_COCO_MIG_DIRTY_H
#define __KVM_COCO_MIG_DIRTY_H

#include <linux/types.h>
#include <crypto/sha2.h>

struct kvm;

/**
 * struct kcm_dirty_slot - one tracked guest_memfd memslot
 * @base_gfn: its first gfn
 * @npages: its size
 * @dirty: a bit per gfn that may have been written since it was last
 *	reported. Set by the fault hook with atomic bitops, taken with xchg().
 * @unsent: a bit per gfn reported (or, at the start, private) and not
 *	packaged since. Session lock.
 * @priv: the private attribute of each gfn as of the last harvest. Session
 *	lock.
 */
struct kcm_dirty_slot {
	u64 base_gfn;
	u64 npages;
	unsigned long *dirty;
	unsigned long *unsent;
	unsigned long *priv;
};

/**
 * struct kcm_tracker - dirty tracking of one VM's private memory
 * @kvm: the VM whose faults count
 * @overflow: a fault was seen that cannot be attributed to a gfn (a nested
 *	guest's): until the next harvest of each slot, every gfn is dirty.
 *	One flag per slot would be finer; this is the rare case.
 * @nr_slots: entries of @slots
 * @nr_pages: gfns tracked, over all slots
 * @slots: the slots, sorted by @base_gfn, not overlapping
 */
struct kcm_tracker {
	struct kvm *kvm;
	bool overflow;
	u32 nr_slots;
	u64 nr_pages;
	struct kcm_dirty_slot slots[] __counted_by(nr_slots);
};

struct kcm_tracker *kcm_tracker_alloc(struct kvm *kvm, u32 nr_slots);
int kcm_tracker_set_slot(struct kcm_tracker *t, u32 i, u64 base_gfn,
			 u64 npages);
int kcm_tracker_sort(struct kcm_tracker *t);
void kcm_tracker_free(struct kcm_tracker *t);

struct kcm_dirty_slot *kcm_tracker_find(struct kcm_tracker *t, u64 gfn);
bool kcm_tracker_mark(struct kcm_tracker *t, u64 gfn);
void kcm_tracker_sent(struct kcm_tracker *t, u64 gfn);
void kcm_tracker_sent_batch(struct kcm_tracker *t, const u64 *gfns, u32 nr);

int kcm_dirty_range(struct kcm_tracker *t, u64 *first, u64 *nr,
		    struct kcm_dirty_slot **slot);
u64 kcm_dirty_harvest(struct kcm_dirty_slot *slot, u64 idx, u64 nbits,
		      const unsigned long *cur, bool all, unsigned long *out);
void kcm_dirty_restore(struct kcm_dirty_slot *slot, u64 idx, u64 nbits,
		       const unsigned long *out);
bool kcm_dirty_next_run(const unsigned long *bits, u64 nbits, u64 from,
			u64 gap, u64 *start, u64 *end);
int kcm_dirty_pending(struct kcm_dirty_slot *slot, const unsigned long *cur,
		      bool all);

void kcm_private_bits(struct kvm *kvm, u64 first, u64 nbits,
		      unsigned long *bits);
void kcm_private_digest(struct kvm *kvm, u8 digest[SHA256_DIGEST_SIZE]);

#endif /* __KVM_COCO_MIG_DIRTY_H */
