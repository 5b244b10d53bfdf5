// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig on x86: catching writes to guest_memfd private memory.
 *
 * KVM refuses KVM_MEM_LOG_DIRTY_PAGES on guest_memfd memslots, so writes to
 * private memory are caught here with what kvm.ko offers a module: the
 * mappings of a tracked gfn are zapped (kvm_zap_gfn_range()), and a probe
 * on the TDP MMU's kvm_tdp_mmu_spte_changed tracepoint marks the gfn dirty
 * whenever a leaf mapping of it is installed again, whatever installed it:
 * a nested page fault, KVM_PRE_FAULT_MEMORY (which maps memory without a
 * fault) or any other path through the TDP MMU. Any mapping counts as a
 * write, because KVM maps private memory writable on a read fault too.
 *
 * Why no write is missed (Documentation/virt/kvm/coco-migration.rst has the
 * whole argument):
 *  - Private memory is only ever mapped by the TDP MMU (KVM offers
 *    KVM_X86_SW_PROTECTED_VM only with it; SEV needs only NPT, so a
 *    backend that tracks SEV memory must check tdp_mmu_enabled), always at 4K
 *    (guest_memfd in 6.12 hands out order-0 folios only). Every change of
 *    a TDP MMU SPTE from not present to present passes the tracepoint.
 *    The paths that change a present SPTE without it (the fast page fault
 *    path restoring an access-tracked SPTE or setting the write bit of an
 *    MMU-writable one; a huge page split) all start from a present SPTE,
 *    which was installed through the tracepoint after the last zap, and
 *    so is marked, or removed by the next zap. Nothing but the guest
 *    writes private memory through a mapping.
 *  - The tracepoint fires under kvm->srcu (faults and pre-faults take it),
 *    right after the SPTE is set. A harvest clears the bits it reports,
 *    waits for kvm->srcu, and only then zaps the reported gfns: a mapping
 *    installed before the clear is zapped, and one that raced with it has
 *    marked its gfn again for the next harvest.
 *  - A mapping is installed by a vCPU of the VM (kvm_get_running_vcpu()
 *    says which VM); one installed with no vCPU running cannot be
 *    attributed and makes every tracker overflow (a full resend).
 *  - A nested guest whose L1 uses nested paging has its faults mapped by
 *    a shadow MMU over L1's nested page tables, not by the TDP MMU. The
 *    kvm_page_fault tracepoint sees them; the tracker cannot tell which
 *    gfn they map, so it overflows: the next harvest reports every private
 *    gfn (kcm_tracker_fold()). Without nested paging, L2 runs on L1's
 *    physical addresses, through the TDP MMU, and is tracked like L1.
 */
#include <linux/kvm_host.h>
#include <linux/tracepoint.h>

#include "mmu/spte.h"
#include "trace.h"
#include "coco_mig.h"
#include "dirty.h"

/* kvm.ko's kvm_tdp_mmu_spte_changed, which it does not export. */
static struct tracepoint *kcm_spte_tp;

/*
 * The trackers of the sessions that track, for the probes. The probes are
 * registered once, at module load, not per session: registering a probe
 * patches the tracepoint's call sites, and kvm_tdp_mmu_spte_changed fires
 * on every SPTE change of every VM. Written under kcm_trackers_lock; read
 * by the probes, which run with preemption disabled (an RCU read section).
 */
static LIST_HEAD(kcm_trackers);
static DEFINE_SPINLOCK(kcm_trackers_lock);

/* A mapping of @kvm's that no tracker can attribute: a full resend. */
static void kcm_track_overflow_all(void)
{
	struct kcm_tracker *t;

	list_for_each_entry_rcu(t, &kcm_trackers, node)
		WRITE_ONCE(t->overflow, true);
}

static struct kcm_tracker *kcm_tracker_of(struct kvm *kvm)
{
	struct kcm_tracker *t;

	list_for_each_entry_rcu(t, &kcm_trackers, node)
		if (t->kvm == kvm)
			return t;
	return NULL;
}

/*
 * The TDP MMU changed an SPTE: if it now maps memory of a tracked VM, the
 * gfns it maps may be written without a fault.
 */
static void kcm_track_spte(void *data, int as_id, gfn_t gfn, int level,
			   u64 old_spte, u64 new_spte)
{
	struct kvm_memory_slot *slot;
	struct kcm_tracker *t;
	struct kvm_vcpu *vcpu;

	if (list_empty(&kcm_trackers))
		return;
	if (!is_shadow_present_pte(new_spte) || !is_last_spte(new_spte, level))
		return;
	/*
	 * A mapping that stays, and gains no write access (its accessed bit
	 * cleared by aging, a write-protection): nothing new can be written.
	 * The TDP MMU never changes a present leaf's pfn in place.
	 */
	if (is_shadow_present_pte(old_spte) && is_last_spte(old_spte, level) &&
	    (is_writable_pte(old_spte) || !is_writable_pte(new_spte)))
		return;
	vcpu = kvm_get_running_vcpu();
	if (unlikely(!vcpu)) {
		kcm_track_overflow_all();
		return;
	}
	t = kcm_tracker_of(vcpu->kvm);
	if (!t)
		return;
	/* The fault or pre-fault holds kvm->srcu; @as_id is the SPTE's. */
	slot = search_memslots(__kvm_memslots(t->kvm, as_id), gfn, false);
	if (!slot || !kvm_slot_can_be_private(slot))
		return;		/* not guest_memfd memory: not tracked */
	/*
	 * A guest_memfd memslot that is not the tracked one at these gfns
	 * (bound since START, and perhaps gone again before the next check
	 * of the memslots) may write a file's pages the tracker knows at
	 * other gfns: only a full resend covers that.
	 */
	if (unlikely(!kcm_dirty_slot_is(kcm_tracker_find(t, gfn), slot))) {
		WRITE_ONCE(t->overflow, true);
		return;
	}
	kcm_tracker_mark_range(t, gfn, KVM_PAGES_PER_HPAGE(level));
}

static void kcm_track_fault(void *data, struct kvm_vcpu *vcpu,
			    u64 fault_address, u64 error_code)
{
	struct kcm_tracker *t;

	/*
	 * A fault that maps through the TDP MMU (L1's, or L2's when L1 does
	 * not use nested paging: L2 then runs on L1's physical addresses) is
	 * kcm_track_spte()'s. Only a nested MMU's is not.
	 */
	if (likely(vcpu->arch.mmu == &vcpu->arch.root_mmu) ||
	    list_empty(&kcm_trackers))
		return;
	t = kcm_tracker_of(vcpu->kvm);
	if (t)
		WRITE_ONCE(t->overflow, true);
}

/**
 * kcm_arch_track_init - hook the tracepoints tracking needs
 *
 * The probes do nothing until a tracker is registered.
 *
 * Context: module load, before any session exists.
 * Return: 0; -EOPNOTSUPP if this kvm.ko has no kvm_tdp_mmu_spte_changed
 * tracepoint; or the error of a probe's registration.
 */
int kcm_arch_track_init(void)
{
	int ret;

	kcm_spte_tp = kcm_kvm_tracepoint("kvm_tdp_mmu_spte_changed");
	if (!kcm_spte_tp) {
		pr_err("kvm.ko has no kvm_tdp_mmu_spte_changed tracepoint: private memory cannot be tracked\n");
		return -EOPNOTSUPP;
	}
	ret = tracepoint_probe_register(kcm_spte_tp, kcm_track_spte, NULL);
	if (ret)
		return ret;
	ret = register_trace_kvm_page_fault(kcm_track_fault, NULL);
	if (ret)
		goto e_unregister_spte;
	return 0;

e_unregister_spte:
	tracepoint_probe_unregister(kcm_spte_tp, kcm_track_spte, NULL);
	tracepoint_synchronize_unregister();
	return ret;
}

/**
 * kcm_arch_track_exit - unhook what kcm_arch_track_init() hooked
 *
 * Context: module unload (or a failed load), no tracker registered.
 */
void kcm_arch_track_exit(void)
{
	unregister_trace_kvm_page_fault(kcm_track_fault, NULL);
	tracepoint_probe_unregister(kcm_spte_tp, kcm_track_spte, NULL);
	tracepoint_synchronize_unregister();
}

/**
 * kcm_arch_track_register - start counting @t->kvm's mappings in @t
 * @t: a sorted tracker; it must stay allocated until
 *	kcm_arch_track_unregister() returns
 *
 * On return, every mapping is either counted or was installed before the
 * first zap (the caller zaps after this returns).
 *
 * Context: process context, not in a kvm->srcu read section.
 * Return: 0.
 */
int kcm_arch_track_register(struct kcm_tracker *t)
{
	spin_lock(&kcm_trackers_lock);
	list_add_tail_rcu(&t->node, &kcm_trackers);
	spin_unlock(&kcm_trackers_lock);
	/* A mapping made before the probes saw @t: zapped after this. */
	synchronize_srcu(&t->kvm->srcu);
	return 0;
}

/**
 * kcm_arch_track_unregister - stop counting mappings in @t
 * @t: a tracker kcm_arch_track_register() registered
 *
 * On return no probe uses @t, on any CPU: @t may be freed.
 *
 * Context: process context.
 */
void kcm_arch_track_unregister(struct kcm_tracker *t)
{
	spin_lock(&kcm_trackers_lock);
	list_del_rcu(&t->node);
	spin_unlock(&kcm_trackers_lock);
	/* The probes run with preemption disabled: an RCU read section. */
	synchronize_rcu();
}

/**
 * kcm_arch_track_rearm - make the next access to each gfn set in @bits fault
 * @kvm: the VM
 * @first: the gfn of bit 0
 * @bits: the gfns to re-arm
 * @nbits: the bits in @bits
 *
 * Waits for the faults in flight (see the comment at the top), then zaps
 * the set bits, runs less than a page table apart with one call: each
 * call flushes the TLBs of every vCPU, and waits for them.
 *
 * Context: process context, not in a kvm->srcu read section.
 */
void kcm_arch_track_rearm(struct kvm *kvm, u64 first, const unsigned long *bits,
			  u64 nbits)
{
	u64 start, end = 0;

	synchronize_srcu(&kvm->srcu);
	while (kcm_dirty_next_run(bits, nbits, end, PTRS_PER_PTE, &start, &end)) {
		if (start < end)
			kvm_zap_gfn_range(kvm, first + start, first + end);
		cond_resched();
	}
}
