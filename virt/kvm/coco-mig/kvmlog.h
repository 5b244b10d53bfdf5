/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tracker over KVM's own dirty log: the session harvests the dirty
 * bitmaps of the VM's dirty-logging memslots itself, in kernel memory, and
 * reports them in one or two views (see kvmlog.c).
 */
#ifndef __KVM_COCO_MIG_KVMLOG_H
#define __KVM_COCO_MIG_KVMLOG_H

#include <linux/types.h>

#include "coco_mig.h"

struct kvm;
struct kvm_memory_slot;

/**
 * struct kcm_log_slot - one tracked dirty-logging memslot
 * @id: its slot id, in address space 0
 * @base_gfn: its first gfn
 * @npages: its size
 * @userspace_addr: its host address
 * @memslot: the memslot at begin; compared, never dereferenced
 * @log: its dirty bitmap at begin (KVM's memory); compared, and used only
 *	after the memslot was found again under kvm->srcu
 * @pending: per view, a bit per gfn taken from KVM's log and not yet
 *	reported in that view; session lock
 * @priv: a bit per gfn in the private view, or NULL (all shared); session
 *	lock
 * @unsent: private view: a bit per gfn reported (or private at begin) and
 *	not packaged since. Cleared by the streams with atomic bitops under
 *	the session's data_sem (read); set under it (write). NULL with @priv.
 */
struct kcm_log_slot {
	u16 id;
	u64 base_gfn;
	u64 npages;
	unsigned long userspace_addr;
	const struct kvm_memory_slot *memslot;
	const unsigned long *log;
	unsigned long *pending[KCM_NR_VIEWS];
	unsigned long *priv;
	unsigned long *unsent;
};

/**
 * struct kcm_log_tracker - KVM's dirty log of one VM, owned by its session
 * @track: the core's handle (views: shared, or private and shared)
 * @kvm: the VM (NULL in KUnit tests)
 * @stale: a tracked memslot changed: refused from then on (-ESTALE)
 * @nr_slots: entries of @slots
 * @nr_pages: gfns tracked, over all slots
 * @slots: the slots, sorted by @base_gfn, not overlapping
 *
 * Memory: one bit per tracked gfn and view (two more with a private view).
 */
struct kcm_log_tracker {
	struct kcm_track track;
	struct kvm *kvm;
	bool stale;
	u32 nr_slots;
	u64 nr_pages;
	struct kcm_log_slot slots[] __counted_by(nr_slots);
};

struct kcm_log_tracker *kcm_log_alloc(struct kvm *kvm, u32 nr_slots, u32 views);
int kcm_log_set_slot(struct kcm_log_tracker *t, u32 i, u16 id, u64 base_gfn,
		     u64 npages);
int kcm_log_sort(struct kcm_log_tracker *t);
void kcm_log_free(struct kcm_log_tracker *t);
struct kcm_log_slot *kcm_log_find(struct kcm_log_tracker *t, u64 gfn);
int kcm_log_range(struct kcm_log_tracker *t, u64 *first, u64 *nr);
void kcm_log_take(struct kcm_log_slot *ls, unsigned long *log, u64 idx,
		  u64 nbits, unsigned long *taken);
u64 kcm_log_report(struct kcm_log_slot *ls, enum kcm_view v, u64 idx,
		   u64 nbits, unsigned long *out);
void kcm_log_restore(struct kcm_log_slot *ls, enum kcm_view v, u64 idx,
		     u64 nbits, const unsigned long *out);
void kcm_log_give_back(struct kcm_log_slot *ls, unsigned long *log);
int kcm_log_check(struct kcm_log_slot *ls, const unsigned long *log);
void kcm_log_sent(struct kcm_log_tracker *t, u64 gfn);
int kcm_log_set_private(struct kcm_log_tracker *t, u64 gfn, u64 nr,
			bool private);

#endif /* __KVM_COCO_MIG_KVMLOG_H */
