// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig on x86: which backend migrates a VM of a given type.
 */
#include <linux/err.h>
#include <linux/kvm_host.h>
#include <kunit/visibility.h>

#include "svm.h"
#include "coco_mig.h"
#include "coco_mig_sev.h"

/* The backends of this build, by the VM type each migrates. */
static const struct {
	u32 vm_type;
	const struct kcm_backend *backend;
} kcm_backends[] = {
	{ KVM_X86_SW_PROTECTED_VM, &kcm_sw_backend },
	{ KVM_X86_SEV_VM, &kcm_sev_backend },
	{ KVM_X86_SEV_ES_VM, &kcm_sev_backend },
};

/**
 * kcm_arch_backend - the @i-th backend of this build
 * @i: from 0
 * @vm_type: out: the KVM_X86_*_VM type it migrates
 *
 * Return: the backend, or NULL past the last.
 */
const struct kcm_backend *kcm_arch_backend(u32 i, u32 *vm_type)
{
	if (i >= ARRAY_SIZE(kcm_backends))
		return NULL;
	*vm_type = kcm_backends[i].vm_type;
	return kcm_backends[i].backend;
}

/**
 * kcm_backend_for_vm_type - the backend for a KVM_X86_*_VM type
 * @vm_type: the type the VM was created with
 *
 * Return: the backend, ERR_PTR(-EOPNOTSUPP) for a confidential VM type that
 * this build cannot migrate, or ERR_PTR(-EINVAL) for a VM that is not a
 * confidential VM (its memory migrates the ordinary way).
 */
VISIBLE_IF_KUNIT const struct kcm_backend *kcm_backend_for_vm_type(unsigned long vm_type)
{
	u32 i;

	for (i = 0; i < ARRAY_SIZE(kcm_backends); i++)
		if (kcm_backends[i].vm_type == vm_type)
			return kcm_backends[i].backend;
	if (vm_type == KVM_X86_SNP_VM)
		/* The svsm backend is not part of this build yet. */
		return ERR_PTR(-EOPNOTSUPP);
	return ERR_PTR(-EINVAL);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_backend_for_vm_type);

const struct kcm_backend *kcm_arch_select_backend(struct kvm *kvm)
{
	unsigned long type = kvm->arch.vm_type;

	/*
	 * A SEV VM has no encryption context until KVM_SEV_INIT2 (or the
	 * legacy KVM_SEV_INIT); there is nothing to migrate before that.
	 * Only kvm_amd creates VMs of these types, so the VM is a kvm_svm.
	 */
	if ((type == KVM_X86_SEV_VM || type == KVM_X86_SEV_ES_VM ||
	     type == KVM_X86_SNP_VM) && !sev_guest(kvm))
		return ERR_PTR(-EINVAL);
	/*
	 * In a kernel built for tests, a default VM that the PSP model
	 * adopted is a SEV guest of the model's (coco_mig_sev_fw.c).
	 */
	if (type == KVM_X86_DEFAULT_VM && kcm_sev_test_fw_adopted(kvm))
		return &kcm_sev_backend;

	return kcm_backend_for_vm_type(type);
}
