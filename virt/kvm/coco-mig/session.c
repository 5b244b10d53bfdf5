// SPDX-License-Identifier: GPL-2.0
/*
 * Migration sessions: creation, binding to a VM, lifetime and ioctls.
 *
 * A session file holds a reference on its VM's file (not only on the struct
 * kvm): that keeps both the VM and the vendor module that owns it loaded, so
 * userspace may close the VM fd and the session fd in either order.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/hashtable.h>
#include <linux/kvm_host.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <kunit/visibility.h>

#include "coco_mig.h"

/*
 * kcm_vm_lock protects kcm_vm_table, the set of VMs that currently have a
 * session, keyed by struct kvm pointer. It makes "at most one session per
 * VM" atomic with respect to concurrent KVM_COCO_MIG_CREATE_SESSION calls.
 * Because a session pins its VM, a struct kvm in the table cannot be freed
 * and its address reused while its entry exists.
 */
static DEFINE_MUTEX(kcm_vm_lock);
static DEFINE_HASHTABLE(kcm_vm_table, 6);

VISIBLE_IF_KUNIT int kcm_create_args_check(const struct kvm_coco_mig_create *args)
{
	int i;

	if (args->flags)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(args->reserved); i++)
		if (args->reserved[i])
			return -EINVAL;
	if (args->role != KVM_COCO_MIG_ROLE_SOURCE &&
	    args->role != KVM_COCO_MIG_ROLE_TARGET)
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_create_args_check);

VISIBLE_IF_KUNIT int kcm_status_args_check(const struct kvm_coco_mig_status *args)
{
	return args->flags ? -EINVAL : 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_status_args_check);

static int kcm_vm_bind(struct kcm_session *s)
{
	struct kcm_session *other;
	int ret = 0;

	mutex_lock(&kcm_vm_lock);
	hash_for_each_possible(kcm_vm_table, other, node, (unsigned long)s->kvm) {
		if (other->kvm == s->kvm) {
			ret = -EBUSY;
			goto out_unlock;
		}
	}
	hash_add(kcm_vm_table, &s->node, (unsigned long)s->kvm);
out_unlock:
	mutex_unlock(&kcm_vm_lock);
	return ret;
}

static void kcm_vm_unbind(struct kcm_session *s)
{
	mutex_lock(&kcm_vm_lock);
	hash_del(&s->node);
	mutex_unlock(&kcm_vm_lock);
}

static int kcm_status(struct kcm_session *s,
		      struct kvm_coco_mig_status __user *uarg)
{
	struct kvm_coco_mig_status st;
	int ret;

	if (copy_from_user(&st, uarg, sizeof(st)))
		return -EFAULT;
	ret = kcm_status_args_check(&st);
	if (ret)
		return ret;

	memset(&st, 0, sizeof(st));
	mutex_lock(&s->lock);
	st.state = s->state;
	mutex_unlock(&s->lock);
	st.role = s->role;
	st.backend = s->backend->id;

	if (copy_to_user(uarg, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}

static long kcm_session_ioctl(struct file *file, unsigned int ioctl,
			      unsigned long arg)
{
	struct kcm_session *s = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (ioctl) {
	case KVM_COCO_MIG_STATUS:
		return kcm_status(s, argp);
	default:
		return -ENOTTY;
	}
}

static int kcm_session_release(struct inode *inode, struct file *file)
{
	struct kcm_session *s = file->private_data;

	kcm_vm_unbind(s);
	if (s->backend->session_destroy)
		s->backend->session_destroy(s);
	mutex_destroy(&s->lock);
	fput(s->vm_file);
	kfree(s);
	return 0;
}

static const struct file_operations kcm_session_fops = {
	.owner		= THIS_MODULE,
	.release	= kcm_session_release,
	.unlocked_ioctl	= kcm_session_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

/**
 * kcm_session_create - KVM_COCO_MIG_CREATE_SESSION
 * @uarg: userspace copy of struct kvm_coco_mig_create
 *
 * Return: the new session fd, or a negative errno; on error nothing is left
 * bound to the VM.
 */
long kcm_session_create(struct kvm_coco_mig_create __user *uarg)
{
	const struct kcm_backend *backend;
	struct kvm_coco_mig_create args;
	struct kcm_session *s;
	struct file *vm_file;
	int fd, ret;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	ret = kcm_create_args_check(&args);
	if (ret)
		return ret;

	vm_file = fget(args.vm_fd);
	if (!vm_file)
		return -EBADF;
	if (!file_is_kvm(vm_file)) {
		ret = -EBADF;
		goto e_put_vm_file;
	}

	backend = kcm_arch_select_backend(vm_file->private_data);
	if (IS_ERR(backend)) {
		ret = PTR_ERR(backend);
		goto e_put_vm_file;
	}

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s) {
		ret = -ENOMEM;
		goto e_put_vm_file;
	}
	s->kvm = vm_file->private_data;
	s->vm_file = vm_file;
	s->backend = backend;
	s->role = args.role;
	s->state = KVM_COCO_MIG_STATE_CREATED;
	mutex_init(&s->lock);

	ret = kcm_vm_bind(s);
	if (ret)
		goto e_free_session;

	if (backend->session_init) {
		ret = backend->session_init(s);
		if (ret)
			goto e_unbind_vm;
	}

	if (put_user(backend->id, &uarg->backend)) {
		ret = -EFAULT;
		goto e_destroy_backend;
	}

	/* Last: once the fd is installed, userspace may close it at once. */
	fd = anon_inode_getfd("kvm-coco-mig", &kcm_session_fops, s,
			      O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto e_destroy_backend;
	}
	return fd;

e_destroy_backend:
	if (backend->session_destroy)
		backend->session_destroy(s);
e_unbind_vm:
	kcm_vm_unbind(s);
e_free_session:
	mutex_destroy(&s->lock);
	kfree(s);
e_put_vm_file:
	fput(vm_file);
	return ret;
}
