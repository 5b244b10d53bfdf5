/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-coco-mig internal interfaces.
 *
 * Object model: a session (struct kcm_session) is the private data of an
 * anonymous-inode file. It pins the VM it migrates by holding a reference on
 * the VM's file, which in turn holds the struct kvm and the vendor module
 * (kvm_amd) that owns the VM's file operations. The work that depends on
 * the VM type is done by a backend (struct kcm_backend), chosen once at
 * session creation by the architecture code.
 */
#ifndef __KVM_COCO_MIG_H
#define __KVM_COCO_MIG_H

#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/kvm_coco_mig.h>

struct kcm_session;

/**
 * struct kcm_backend - the VM-type-specific half of a migration session
 * @name: short name, as in the documentation ("sw", "sev", "svsm")
 * @id: KVM_COCO_MIG_BACKEND_* reported to userspace
 * @session_init: optional; set up backend state for a new session. Called
 *	before the session is visible to userspace; a failure fails the
 *	creation.
 * @session_destroy: optional; undo @session_init. Called once, when the
 *	last reference to the session file goes away.
 */
struct kcm_backend {
	const char *name;
	u32 id;
	int (*session_init)(struct kcm_session *s);
	void (*session_destroy)(struct kcm_session *s);
};

/**
 * struct kcm_session - one migration session, bound to one VM
 * @kvm: the VM; valid for the whole life of the session
 * @vm_file: the reference that keeps @kvm and its vendor module alive
 * @backend: the backend chosen for @kvm's type
 * @role: KVM_COCO_MIG_ROLE_SOURCE or KVM_COCO_MIG_ROLE_TARGET
 * @node: entry in the table of VMs that have a session (kcm_vm_lock)
 * @lock: serialises the session's ioctls and protects @state
 * @state: KVM_COCO_MIG_STATE_*
 */
struct kcm_session {
	struct kvm *kvm;
	struct file *vm_file;
	const struct kcm_backend *backend;
	u32 role;
	struct hlist_node node;

	struct mutex lock;	/* serialises ioctls, protects @state */
	u32 state;
};

extern const struct kcm_backend kcm_sw_backend;

/* arch: the backend for a VM, or an ERR_PTR with the errno to report. */
const struct kcm_backend *kcm_arch_select_backend(struct kvm *kvm);

long kcm_session_create(struct kvm_coco_mig_create __user *uarg);

#if IS_ENABLED(CONFIG_KUNIT)
/* Pure helpers, static unless KUnit tests reach them. */
const struct kcm_backend *kcm_backend_for_vm_type(unsigned long vm_type);
int kcm_create_args_check(const struct kvm_coco_mig_create *args);
int kcm_status_args_check(const struct kvm_coco_mig_status *args);
#endif

#endif /* __KVM_COCO_MIG_H */
