// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig's sev backend: the firmware behind it. On a host that is
 * the PSP, through sev_do_cmd() (which ccp exports and takes the PSP's
 * command mutex), and kvm_amd's own record of the VM (struct kvm_sev_info).
 * A kernel built with KUnit can also register one test firmware, the PSP
 * model, for the KVM_X86_DEFAULT_VM VMs it adopts.
 */
#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/psp-sev.h>
#include <kunit/visibility.h>

#include "svm.h"
#include "coco_mig_sev.h"

static int kcm_sev_host_do_cmd(struct kvm *kvm, int cmd, void *data,
			       int *psp_ret)
{
	return sev_do_cmd(cmd, data, psp_ret);
}

static int kcm_sev_host_vm_info(struct kvm *kvm, struct kcm_sev_vm *vm)
{
	struct kvm_sev_info *sev = &to_kvm_svm(kvm)->sev_info;
	unsigned long type = kvm->arch.vm_type;

	if ((type != KVM_X86_SEV_VM && type != KVM_X86_SEV_ES_VM) ||
	    !sev->active)
		return -EINVAL;
	vm->handle = sev->handle;
	vm->asid = sev->asid;
	vm->es = sev->es_active;
	return 0;
}

static void kcm_sev_host_set_handle(struct kvm *kvm, u32 handle)
{
	lockdep_assert_held(&kvm->lock);
	/* sev_vm_destroy() deactivates and decommissions it. */
	to_kvm_svm(kvm)->sev_info.handle = handle;
}

static phys_addr_t kcm_sev_host_vmsa_pa(struct kvm_vcpu *vcpu)
{
	struct vcpu_svm *svm = to_svm(vcpu);

	lockdep_assert_held(&vcpu->mutex);
	return svm->sev_es.vmsa ? __sme_pa(svm->sev_es.vmsa) : 0;
}

static void kcm_sev_host_vmsa_received(struct kvm_vcpu *vcpu)
{
	lockdep_assert_held(&vcpu->mutex);
	vcpu->arch.guest_state_protected = true;
}

const struct kcm_sev_fw kcm_sev_host_fw = {
	.name		= "psp",
	.owner		= NULL,	/* ccp, which this module links against */
	.do_cmd		= kcm_sev_host_do_cmd,
	.vm_info	= kcm_sev_host_vm_info,
	.set_handle	= kcm_sev_host_set_handle,
	.vmsa_pa	= kcm_sev_host_vmsa_pa,
	.vmsa_received	= kcm_sev_host_vmsa_received,
};

#if IS_ENABLED(CONFIG_KUNIT)
/* The test firmware; kcm_sev_test_lock protects the pointer. */
static const struct kcm_sev_fw *kcm_sev_test_fw;
static DEFINE_MUTEX(kcm_sev_test_lock);

int kcm_sev_register_test_fw(const struct kcm_sev_fw *fw)
{
	int ret = 0;

	mutex_lock(&kcm_sev_test_lock);
	if (kcm_sev_test_fw)
		ret = -EBUSY;
	else
		kcm_sev_test_fw = fw;
	mutex_unlock(&kcm_sev_test_lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_sev_register_test_fw);

/*
 * A session holds a reference on @fw->owner, so the model cannot go away
 * under one; once this returns, no new session finds it.
 */
void kcm_sev_unregister_test_fw(const struct kcm_sev_fw *fw)
{
	mutex_lock(&kcm_sev_test_lock);
	if (kcm_sev_test_fw == fw)
		kcm_sev_test_fw = NULL;
	mutex_unlock(&kcm_sev_test_lock);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_sev_unregister_test_fw);

/* The test firmware, with a reference on its module, if it adopted @kvm. */
static const struct kcm_sev_fw *kcm_sev_test_fw_get(struct kvm *kvm,
						    struct kcm_sev_vm *vm)
{
	const struct kcm_sev_fw *fw;
	int ret;

	mutex_lock(&kcm_sev_test_lock);
	fw = kcm_sev_test_fw;
	if (!fw) {
		fw = ERR_PTR(-EINVAL);
	} else if (!try_module_get(fw->owner)) {
		fw = ERR_PTR(-ENODEV);
	} else {
		ret = fw->vm_info(kvm, vm);
		if (ret) {
			module_put(fw->owner);
			fw = ERR_PTR(ret);
		}
	}
	mutex_unlock(&kcm_sev_test_lock);
	return fw;
}
#else
static const struct kcm_sev_fw *kcm_sev_test_fw_get(struct kvm *kvm,
						    struct kcm_sev_vm *vm)
{
	return ERR_PTR(-EINVAL);
}
#endif

/* Whether a default VM is a SEV guest of the test firmware. */
bool kcm_sev_test_fw_adopted(struct kvm *kvm)
{
	const struct kcm_sev_fw *fw;
	struct kcm_sev_vm vm;

	fw = kcm_sev_test_fw_get(kvm, &vm);
	if (IS_ERR(fw))
		return false;
	kcm_sev_fw_put(fw);
	return true;
}

/**
 * kcm_sev_fw_get - the firmware of a VM, with a reference on its module
 * @kvm: the VM
 * @vm: out: the VM as the firmware describes it
 *
 * A SEV or SEV-ES VM is the host PSP's; in a kernel built for tests, a
 * default VM the registered test firmware adopted is the test firmware's.
 *
 * Return: the firmware, or an ERR_PTR: -EINVAL, the VM is not a SEV guest
 * of any firmware (a SEV VM before KVM_SEV_INIT2); -ENODEV, the test
 * firmware is going away.
 */
const struct kcm_sev_fw *kcm_sev_fw_get(struct kvm *kvm, struct kcm_sev_vm *vm)
{
	int ret;

	if (kvm->arch.vm_type == KVM_X86_DEFAULT_VM)
		return kcm_sev_test_fw_get(kvm, vm);
	ret = kcm_sev_host_vm_info(kvm, vm);
	return ret ? ERR_PTR(ret) : &kcm_sev_host_fw;
}

void kcm_sev_fw_put(const struct kcm_sev_fw *fw)
{
	module_put(fw->owner);
}
