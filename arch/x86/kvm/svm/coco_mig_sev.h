/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-coco-mig's sev backend: the firmware seam.
 *
 * The backend reaches the SEV firmware through one function, @do_cmd,
 * with the command buffers of include/linux/psp-sev.h exactly as Linux
 * 6.12 lays them out and with the contract of sev_do_cmd(): 0, or -EIO
 * with the firmware's status in *psp_ret, or -ETIMEDOUT / -EBUSY for a
 * PSP that stopped answering; sev_cmd_buffer_len(cmd) bytes copied in and
 * the same number copied back, also on failure. On a host that is
 * sev_do_cmd() itself (kcm_sev_host_fw). What else differs between a host
 * and the tests is where a VM's handle, ASID and VMSA pages come from:
 * kvm_amd's struct kvm_sev_info on a host, the PSP model's own table of
 * the VMs it adopted in the tests.
 *
 * SEND_UPDATE_VMSA (0x042) on 6.12: sev_cmd_buffer_len() is 48, the size
 * of 6.12's struct sev_data_send_update_vmsa, which lacks the firmware's
 * reserved word at offset 4. The backend therefore lays the command out
 * as the firmware reads it (struct sev_data_send_update_data, 52 bytes)
 * and the last four bytes, trans_len, never reach the firmware: it reads
 * whatever the previous command left there. See kcm_sev_send_vmsa().
 */
#ifndef __KVM_COCO_MIG_SEV_H
#define __KVM_COCO_MIG_SEV_H

#include <linux/kvm_host.h>
#include <linux/types.h>

struct kcm_backend;
struct module;

/**
 * struct kcm_sev_vm - a SEV guest, as the firmware seam describes it
 * @handle: the firmware's handle of the guest; 0 for a target that has
 *	none yet (before RECEIVE_START)
 * @asid: the ASID KVM runs the VM with (KVM_SEV_INIT2 allocated it)
 * @es: SEV-ES: the vCPUs' state is in VMSA pages only the firmware reads
 */
struct kcm_sev_vm {
	u32 handle;
	u32 asid;
	bool es;
};

/**
 * struct kcm_sev_fw - the firmware behind the sev backend
 * @name: "psp" on a host, the model's name in the tests
 * @owner: the module that provides it; a session holds a reference
 * @do_cmd: issue SEV command @cmd with buffer @data for a command about
 *	@kvm (the model routes it to the platform of @kvm; a host has one
 *	PSP); the contract of sev_do_cmd(), above. May sleep.
 * @vm_info: fill @vm for @kvm: 0; -EINVAL if @kvm is not a SEV guest of
 *	this firmware. Called with kvm->lock held or not; the values do not
 *	change while a session exists, but for @handle (@set_handle).
 * @set_handle: target: record the handle RECEIVE_START made and ACTIVATE
 *	bound, where the VM's teardown finds it (host: kvm_sev_info.handle,
 *	so that sev_vm_destroy() deactivates and decommissions it). Called
 *	with kvm->lock held.
 * @vmsa_pa: SEV-ES: the system physical address of @vcpu's VMSA page,
 *	with the C-bit (host: __sme_pa() of the vCPU's sev_es.vmsa), or 0 if
 *	it has none. Called with @vcpu's mutex held.
 * @vmsa_received: SEV-ES target: RECEIVE_UPDATE_VMSA wrote @vcpu's VMSA;
 *	from now on KVM treats its state as protected. @vcpu's mutex held.
 * @c_bit: the memory encryption mask a guest page's address carries
 *	(host: sme_me_mask)
 */
struct kcm_sev_fw {
	const char *name;
	struct module *owner;
	int (*do_cmd)(struct kvm *kvm, int cmd, void *data, int *psp_ret);
	int (*vm_info)(struct kvm *kvm, struct kcm_sev_vm *vm);
	void (*set_handle)(struct kvm *kvm, u32 handle);
	phys_addr_t (*vmsa_pa)(struct kvm_vcpu *vcpu);
	void (*vmsa_received)(struct kvm_vcpu *vcpu);
	u64 c_bit;
};

/* The host's PSP (coco_mig_sev_host.c): sev_do_cmd() and kvm_sev_info. */
extern const struct kcm_sev_fw kcm_sev_host_fw;

/*
 * A test firmware (the PSP model, a KUnit-kernel-only module) for the
 * KVM_X86_DEFAULT_VM VMs it adopts: those get the sev backend with it.
 * Only in builds with CONFIG_KUNIT; -EBUSY if one is registered already.
 */
int kcm_sev_register_test_fw(const struct kcm_sev_fw *fw);
void kcm_sev_unregister_test_fw(const struct kcm_sev_fw *fw);

const struct kcm_sev_fw *kcm_sev_fw_get(struct kvm *kvm, struct kcm_sev_vm *vm);
void kcm_sev_fw_put(const struct kcm_sev_fw *fw);
bool kcm_sev_test_fw_adopted(struct kvm *kvm);

extern const struct kcm_backend kcm_sev_backend;

#if IS_ENABLED(CONFIG_KUNIT)
int kcm_sev_errno(int ret, int status);
#endif

#endif /* __KVM_COCO_MIG_SEV_H */
