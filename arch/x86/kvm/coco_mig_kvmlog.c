// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig on x86: re-arming KVM's dirty log after the session took
 * bits from it (virt/kvm/coco-mig/kvmlog.c has the whole argument).
 *
 * kvm.ko exports nothing that write-protects a range the way
 * KVM_GET_DIRTY_LOG does (kvm_arch_mmu_enable_log_dirty_pt_masked() is
 * not exported), so a gfn whose bit was taken is re-armed by zapping its
 * mappings with kvm_zap_gfn_range(): it takes the MMU lock for writing,
 * bumps the invalidation sequence (a fault in flight for the gfn retries),
 * removes the gfn's SPTEs from the TDP MMU and the shadow MMU (a nested
 * guest's shadow pages map L1 gfns through the rmaps), and flushes every
 * vCPU's TLB before it returns. What makes the next write set the bit
 * again, in a memslot with KVM_MEM_LOG_DIRTY_PAGES:
 *  - a fault that installs a writable SPTE calls make_spte(), which marks
 *    the gfn (mark_page_dirty_in_slot()) when the SPTE is writable and the
 *    memslot logs; it does so under the MMU lock, in the section that
 *    installs the SPTE, so it is wholly before a zap or wholly after it;
 *  - the fast page fault path that sets the write bit of a present SPTE
 *    marks the gfn right after its cmpxchg (fast_pf_fix_direct_spte());
 *    it cannot act on an SPTE the zap removed (the cmpxchg fails);
 *  - dirty logging keeps every mapping of the memslot at 4K, so a write
 *    cannot go through a huge mapping installed before logging began;
 *  - KVM's own writes to guest memory (kvm_write_guest() and friends)
 *    mark the page after writing it, whatever the SPTEs.
 * Zapping instead of write-protecting costs a full fault rather than a
 * fast one on the next access; read faults of a logging memslot may map
 * writable and mark (over-reporting, never loss).
 *
 * On a host whose CPU logs writes in a buffer (Intel's PML), KVM clears
 * dirty bits instead of write-protecting and a write reaches the log at the
 * vCPU's next exit: kcm_arch_log_sync() kicks every vCPU first, as
 * kvm_arch_sync_dirty_log() does (kvm_x86_ops, which says whether the host
 * logs that way, is not exported: the kick is unconditional). AMD has no
 * such buffer; the kick then only costs an exit per running vCPU.
 */
#include <linux/kvm_host.h>

#include "coco_mig.h"
#include "dirty.h"

/**
 * kcm_arch_log_sync - make buffered dirty-log entries reach the log
 * @kvm: the VM
 *
 * Context: process context.
 */
void kcm_arch_log_sync(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;

	kvm_for_each_vcpu(i, vcpu, kvm)
		kvm_vcpu_kick(vcpu);
}

/**
 * kcm_arch_log_rearm - make the next write to each gfn set in @bits log it
 * @kvm: the VM
 * @first: the gfn of bit 0
 * @bits: the gfns taken from the log
 * @nbits: the bits in @bits
 *
 * Zaps the set bits, runs less than a page table apart with one call
 * (each call flushes every vCPU's TLB and waits for it).
 *
 * Context: process context, may sleep.
 */
void kcm_arch_log_rearm(struct kvm *kvm, u64 first, const unsigned long *bits,
			u64 nbits)
{
	u64 start, end = 0;

	while (kcm_dirty_next_run(bits, nbits, end, PTRS_PER_PTE, &start, &end)) {
		if (start < end)
			kvm_zap_gfn_range(kvm, first + start, first + end);
		cond_resched();
	}
}
