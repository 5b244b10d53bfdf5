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

static void kcm_fence_probe(void *data, int load)
{
	struct kvm_vcpu *vcpu;

	if (!load)
		return;
	vcpu = kvm_get_running_vcpu();
	if (vcpu && vcpu->kvm == data)
		kvm_make_request(KVM_REQ_VM_DEAD, vcpu);
}

/**
 * kcm_arch_fence_init - find what the fence hooks
 *
 * Return: 0, or -EOPNOTSUPP if this kvm.ko has no kvm_fpu tracepoint.
 */
int kcm_arch_fence_init(void)
{
	kcm_fpu_tp = kcm_kvm_tracepoint("kvm_fpu");
	if (!kcm_fpu_tp) {
		pr_err("kvm.ko has no kvm_fpu tracepoint: target VMs cannot be fenced\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

/**
 * kcm_arch_fence - keep every vCPU of @kvm out of the guest
 * @kvm: the VM; it has no fence yet
 *
 * On return no vCPU of @kvm is in the guest, and none enters until
 * kcm_arch_unfence().
 *
 * Context: process context.
 * Return: 0, or the error of the probe's registration.
 */
int kcm_arch_fence(struct kvm *kvm)
{
	int ret;

	ret = tracepoint_probe_register(kcm_fpu_tp, kcm_fence_probe, kvm);
	if (ret)
		return ret;
	/* KVM_REQUEST_WAIT: a vCPU in the guest has left it on return. */
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
	struct kvm_vcpu *vcpu;
	unsigned long i;

	tracepoint_probe_unregister(kcm_fpu_tp, kcm_fence_probe, kvm);
	tracepoint_synchronize_unregister();
	/* No probe runs now: take back the requests it made. */
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
