// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig: live migration of confidential KVM guests.
 *
 * This file registers /dev/kvm-coco-mig, whose only job is to create
 * migration sessions (session.c) and to report the API version and what
 * this build can do (KVM_COCO_MIG_GET_CAPS).
 */
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "channel.h"
#include "coco_mig.h"

/* The largest entry size a caller may give: room for any future struct. */
#define KCM_CAPS_MAX_ENTRY	4096

/* One backend's entry, as the kernel knows it. */
static void kcm_backend_caps(const struct kcm_backend *b, u32 vm_type,
			     struct kvm_coco_mig_backend_caps *e)
{
	memset(e, 0, sizeof(*e));
	e->backend = b->id;
	e->vm_type = vm_type;
	e->features = b->features;
	e->max_packet = b->max_packet;
	e->max_batch = KVM_COCO_MIG_MAX_BATCH;
	e->max_blob = b->max_in_len;
	e->max_final = b->max_record_len;
	e->max_streams = b->max_streams;
	e->max_vcpu_state = b->max_vcpu_state;
	e->max_vcpu_record = b->max_vcpu_record;
}

/*
 * KVM_COCO_MIG_GET_CAPS: each backend's entry in the caller's size, the
 * fields the caller does not know left out, those the kernel does not
 * know zeroed.
 */
static long kcm_get_caps(struct kvm_coco_mig_caps __user *uarg)
{
	struct kvm_coco_mig_backend_caps e;
	const struct kcm_backend *b;
	struct kvm_coco_mig_caps c;
	u32 i, n, vm_type, size;
	u64 dst;

	if (copy_from_user(&c, uarg, sizeof(c)))
		return -EFAULT;
	if (c.flags || memchr_inv(c.reserved, 0, sizeof(c.reserved)))
		return -EINVAL;
	if (c.nr_backends && (c.entry_size < offsetofend(typeof(e), vm_type) ||
			      c.entry_size > KCM_CAPS_MAX_ENTRY))
		return -EINVAL;

	for (n = 0; kcm_arch_backend(n, &vm_type); n++)
		;
	size = min_t(u32, c.entry_size, sizeof(e));
	for (i = 0; i < min(n, c.nr_backends); i++) {
		b = kcm_arch_backend(i, &vm_type);
		kcm_backend_caps(b, vm_type, &e);
		dst = c.backends_uaddr + (u64)i * c.entry_size;
		if (copy_to_user(u64_to_user_ptr(dst), &e, size))
			return -EFAULT;
		if (c.entry_size > size &&
		    clear_user(u64_to_user_ptr(dst + size), c.entry_size - size))
			return -EFAULT;
	}

	c.api_version = KVM_COCO_MIG_API_VERSION;
	c.nr_backends = n;
	c.entry_size = sizeof(e);
	if (copy_to_user(uarg, &c, sizeof(c)))
		return -EFAULT;
	return 0;
}

static long kcm_dev_ioctl(struct file *file, unsigned int ioctl,
			  unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (ioctl) {
	case KVM_COCO_MIG_GET_API_VERSION:
		if (arg)
			return -EINVAL;
		return KVM_COCO_MIG_API_VERSION;
	case KVM_COCO_MIG_CREATE_SESSION:
		return kcm_session_create(argp);
	case KVM_COCO_MIG_GET_CAPS:
		return kcm_get_caps(argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations kcm_dev_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= kcm_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice kcm_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "kvm-coco-mig",
	.fops	= &kcm_dev_fops,
	.mode	= 0600,
};

static int __init kcm_init(void)
{
	int ret;

	ret = kcm_arch_fence_init();
	if (ret)
		return ret;
	ret = kcm_arch_track_init();
	if (ret)
		goto e_fence_exit;
	ret = kcm_chan_module_init();
	if (ret)
		goto e_track_exit;

	ret = misc_register(&kcm_dev);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", kcm_dev.name, ret);
		goto e_sw_exit;
	}
	return 0;

e_sw_exit:
	kcm_chan_module_exit();
e_track_exit:
	kcm_arch_track_exit();
e_fence_exit:
	kcm_arch_fence_exit();
	return ret;
}

static void __exit kcm_exit(void)
{
	misc_deregister(&kcm_dev);
	kcm_chan_module_exit();
	kcm_arch_track_exit();
	kcm_arch_fence_exit();
}

module_init(kcm_init);
module_exit(kcm_exit);
MODULE_DESCRIPTION("Live migration of confidential KVM guests");
MODULE_LICENSE("GPL");
