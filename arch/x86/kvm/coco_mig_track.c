// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig on x86: catching writes to guest_memfd private memory.
 *
 * KVM refuses KVM_MEM_LOG_DIRTY_PAGES on guest_memfd memslots, so writes to
 * private memory are caught here with what kvm.ko exports: the mappings of
 * a tracked gfn are zapped (kvm_zap_gfn_range()), and the next access to it
 * takes a nested page fault, which passes the kvm_page_fault tracepoint
 * before KVM maps anything. The probe marks the gfn dirty. Any fault counts
 * as a write, because KVM maps private memory writable on a read fault too.
 *
 * Why no write is missed (Documentation/virt/kvm/coco-migration.rst has the
 * whole argument):
 *  - Private memory is only ever mapped by the TDP MMU (KVM offers
 *    KVM_X86_SW_PROTECTED_VM and the SEV types only with TDP), always at 4K
 *    (guest_memfd in 6.12 hands out order-0 folios only), never
 *    prefetched; and nothing but the guest writes it through a mapping.
 *  - The tracepoint fires in npf_interception() under kvm->srcu, before
 *    kvm_mmu_page_fault() installs a mapping under the same srcu section.
 *    A harvest clears the bits it reports, waits for kvm->srcu (every fault
 *    that set a bit before the clear has installed its mapping), and only
 *    then zaps the reported gfns: a mapping made by a fault that raced with
 *    the clear is zapped too, and the next write faults and is marked again.
 *  - A fault of a nested guest carries an L2 address: the tracker cannot
 *    tell which gfn it maps, so it reports everything from then on.
 */
#include <linux/kvm_host.h>
#include <linux/tracepoint.h>

#include "kvm_cache_regs.h"
#include "trace.h"
#include "coco_mig.h"
#include "dirty.h"

static void kcm_track_fault(void *data, struct kvm_vcpu *vcpu,
			    u64 fault_address, u64 error_code)
{
	struct kcm_tracker *t = data;

	if (vcpu->kvm != t->kvm)
		return;
	if (unlikely(is_guest_mode(vcpu))) {
		WRITE_ONCE(t->overflow, true);
		return;
	}
	kcm_tracker_mark(t, gpa_to_gfn(fault_address));
}

/**
 * kcm_arch_track_register - start counting @t->kvm's faults in @t
 * @t: a sorted tracker; it must stay allocated until
 *	kcm_arch_track_unregister() returns
 *
 * On return, every fault that has not yet mapped anything is either
 * counted or will have finished before the first zap (the caller zaps
 * after this returns).
 *
 * Context: process context, not in a kvm->srcu read section.
 * Return: 0, or the error of the tracepoint registration.
 */
int kcm_arch_track_register(struct kcm_tracker *t)
{
	int ret;

	ret = register_trace_kvm_page_fault(kcm_track_fault, t);
	if (ret)
		return ret;
	/* A fault that passed the tracepoint before the probe was there. */
	synchronize_srcu(&t->kvm->srcu);
	return 0;
}

/**
 * kcm_arch_track_unregister - stop counting faults in @t
 * @t: a tracker kcm_arch_track_register() registered
 *
 * On return the probe no longer runs, on any CPU: @t may be freed.
 *
 * Context: process context.
 */
void kcm_arch_track_unregister(struct kcm_tracker *t)
{
	unregister_trace_kvm_page_fault(kcm_track_fault, t);
	tracepoint_synchronize_unregister();
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
		kvm_zap_gfn_range(kvm, first + start, first + end);
		cond_resched();
	}
}
