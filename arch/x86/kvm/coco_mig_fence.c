// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig on x86: keeping a target VM's vCPUs out of the guest until
 * its migration has finished.
 *
 * kvm.ko offers no hook to refuse KVM_RUN, so the fence is built from two
 * things it does on every KVM_RUN. kvm_arch_vcpu_ioctl_run() loads the
 * guest FPU state, which fires the kvm_fpu tracepoint (not exported; found
 * by name, kvm_tp.c), before anything that can reach the guest; and
 * vcpu_enter_guest() checks the vCPU's requests before every entry, the
 * first being KVM_REQ_VM_DEAD, which makes KVM_RUN fail with -EIO without
 * entering. The probe on kvm_fpu makes that request for a vCPU of a fenced
 * VM, so every KVM_RUN that starts while the fence is up fails with -EIO.
 * A KVM_RUN already past the probe when the fence goes up gets the same
 * request from kcm_arch_fence(), which also kicks the vCPU out of the
 * guest or out of a halt. The VM itself is not marked dead: its VM ioctls
 * (memory attributes, for one) keep working, and lifting the fence clears
 * the requests again.
 *
 * What the fence does not cover: what kvm_arch_vcpu_ioctl_run() does
 * between the probe and vcpu_enter_guest(). That is syncing registers from
 * struct kvm_run (no guest memory), an INIT/SIPI wait of an AP (no guest
 * code), and completing an exit to userspace (complete_userspace_io),
 * which can emulate the rest of an instruction and write guest memory. The
 * last exists only after the vCPU has run, and a target session is refused
 * on a VM whose vCPUs have run (kcm_arch_vcpus_have_run()).
 */
#include <linux/kvm_host.h>
#include <linux/tracepoint.h>

#include "coco_mig.h"

static struct tracepoint *kcm_fpu_tp;

/*
 * The fenced VMs, for the probe. The probe is registered once, at module
 * load, not per fence: registering a probe patches the tracepoint's call
 * sites while vCPUs run through them. Written under kcm_fences_lock; read
 * by the probe, which runs with preemption disabled (an RCU read section).
 */
struct kcm_fence {
	struct list_head node;
	struct kvm *kvm;
};

static LIST_HEAD(kcm_fences);
static DEFINE_SPINLOCK(kcm_fences_lock);

static void kcm_fence_probe(void *data, int load)
{
	struct kcm_fence *f;
	struct kvm_vcpu *vcpu;

	if (!load || list_empty(&kcm_fences))
		return;
	vcpu = kvm_get_running_vcpu();
	if (!vcpu)
		return;
	list_for_each_entry_rcu(f, &kcm_fences, node) {
		if (f->kvm == vcpu->kvm) {
			kvm_make_request(KVM_REQ_VM_DEAD, vcpu);
			return;
		}
	}
}

/**
 * kcm_arch_fence_init - hook what the fence needs
 *
 * The probe does nothing until a VM is fenced.
 *
 * Context: module load, before any session exists.
 * Return: 0; -EOPNOTSUPP if this kvm.ko has no kvm_fpu tracepoint; or the
 * error of the probe's registration.
 */
int kcm_arch_fence_init(void)
{
	kcm_fpu_tp = kcm_kvm_tracepoint("kvm_fpu");
	if (!kcm_fpu_tp) {
		pr_err("kvm.ko has no kvm_fpu tracepoint: target VMs cannot be fenced\n");
		return -EOPNOTSUPP;
	}
	return tracepoint_probe_register(kcm_fpu_tp, kcm_fence_probe, NULL);
}

/**
 * kcm_arch_fence_exit - unhook what kcm_arch_fence_init() hooked
 *
 * Context: module unload (or a failed load), no VM fenced.
 */
void kcm_arch_fence_exit(void)
{
	tracepoint_probe_unregister(kcm_fpu_tp, kcm_fence_probe, NULL);
	tracepoint_synchronize_unregister();
}

/**
 * kcm_arch_fence - keep every vCPU of @kvm out of the guest
 * @kvm: the VM; it has no fence yet
 *
 * On return no vCPU of @kvm is in the guest, and none enters until
 * kcm_arch_unfence().
 *
 * Context: process context.
 * Return: 0, or -ENOMEM.
 */
int kcm_arch_fence(struct kvm *kvm)
{
	struct kcm_fence *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return -ENOMEM;
	f->kvm = kvm;
	spin_lock(&kcm_fences_lock);
	list_add_tail_rcu(&f->node, &kcm_fences);
	spin_unlock(&kcm_fences_lock);
	/*
	 * A KVM_RUN that passed the probe before it saw @f: the request
	 * reaches it before its next entry. KVM_REQUEST_WAIT: a vCPU in the
	 * guest has left it on return.
	 */
	kvm_make_all_cpus_request(kvm, KVM_REQ_VM_DEAD);
	return 0;
}

/**
 * kcm_arch_unfence - let the vCPUs of @kvm run again
 * @kvm: a VM kcm_arch_fence() fenced, and that is not dead
 *
 * Context: process context.
 */
void kcm_arch_unfence(struct kvm *kvm)
{
	struct kcm_fence *f, *found = NULL;
	struct kvm_vcpu *vcpu;
	unsigned long i;

	spin_lock(&kcm_fences_lock);
	list_for_each_entry(f, &kcm_fences, node) {
		if (f->kvm == kvm) {
			list_del_rcu(&f->node);
			found = f;
			break;
		}
	}
	spin_unlock(&kcm_fences_lock);
	if (WARN_ON_ONCE(!found))
		return;
	/* The probe runs with preemption disabled: an RCU read section. */
	synchronize_rcu();
	kfree(found);
	/* No probe fences @kvm now: take back the requests it made. */
	if (!READ_ONCE(kvm->vm_dead))
		kvm_for_each_vcpu(i, vcpu, kvm)
			kvm_clear_request(KVM_REQ_VM_DEAD, vcpu);
}

/**
 * kcm_arch_vcpus_have_run - whether a vCPU of @kvm ever entered the guest
 * @kvm: a fenced VM
 *
 * Takes each vCPU's mutex in turn, so that a KVM_RUN in progress (which
 * the fence ends) has recorded its entries.
 *
 * Context: process context; no vCPU mutex held.
 * Return: 1 if one has, 0 if none has, -EINTR if interrupted.
 */
int kcm_arch_vcpus_have_run(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;
	int ran = 0;

	kvm_for_each_vcpu(i, vcpu, kvm) {
		if (mutex_lock_killable(&vcpu->mutex))
			return -EINTR;
		if (vcpu->arch.last_vmentry_cpu != -1)
			ran = 1;
		mutex_unlock(&vcpu->mutex);
		if (ran)
			break;
	}
	return ran;
}

/*
 * Source FINISH: no vCPU ioctl may run while the final record is made. A
 * vCPU in an ioctl (a VMM that did not stop it first) makes it -EBUSY.
 * Only the first mutex is known to lockdep, as kvm_amd does for SEV's
 * intra-host migration: lockdep holds at most MAX_LOCK_DEPTH locks.
 */
static void kcm_vcpu_unlock(struct kvm_vcpu *vcpu, bool first)
{
	if (!first)
		mutex_acquire(&vcpu->mutex.dep_map, 0, 1, _THIS_IP_);
	mutex_unlock(&vcpu->mutex);
}

/**
 * kcm_arch_lock_vcpus - take every vCPU's mutex of @kvm, or none
 * @kvm: the VM
 *
 * Context: process context; kvm->lock held (it is taken outside
 * vcpu->mutex, and keeps vCPUs from being added), no vCPU mutex held.
 * Return: 0, or -EBUSY if a vCPU is in an ioctl.
 */
int kcm_arch_lock_vcpus(struct kvm *kvm)
{
	int i, j, n = atomic_read(&kvm->online_vcpus);

	lockdep_assert_held(&kvm->lock);
	for (i = 0; i < n; i++) {
		struct kvm_vcpu *vcpu = kvm_get_vcpu(kvm, i);

		if (!mutex_trylock(&vcpu->mutex))
			goto e_unlock;
		if (i)
			mutex_release(&vcpu->mutex.dep_map, _THIS_IP_);
	}
	return 0;

e_unlock:
	for (j = 0; j < i; j++)
		kcm_vcpu_unlock(kvm_get_vcpu(kvm, j), !j);
	return -EBUSY;
}

/**
 * kcm_arch_unlock_vcpus - undo kcm_arch_lock_vcpus()
 * @kvm: the VM, kvm->lock still held
 */
void kcm_arch_unlock_vcpus(struct kvm *kvm)
{
	int i, n = atomic_read(&kvm->online_vcpus);

	lockdep_assert_held(&kvm->lock);
	for (i = 0; i < n; i++)
		kcm_vcpu_unlock(kvm_get_vcpu(kvm, i), !i);
}
