// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig: live migration of confidential KVM guests.
 *
 * This file registers /dev/kvm-coco-mig, whose only job is to create
 * migration sessions (session.c) and to report the API version.
 */
#include <linux/miscdevice.h>
#include <linux/module.h>

#include "coco_mig.h"

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
	ret = kcm_sw_module_init();
	if (ret)
		goto e_track_exit;

	ret = misc_register(&kcm_dev);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", kcm_dev.name, ret);
		goto e_sw_exit;
	}
	return 0;

e_sw_exit:
	kcm_sw_module_exit();
e_track_exit:
	kcm_arch_track_exit();
e_fence_exit:
	kcm_arch_fence_exit();
	return ret;
}

static void __exit kcm_exit(void)
{
	misc_deregister(&kcm_dev);
	kcm_sw_module_exit();
	kcm_arch_track_exit();
	kcm_arch_fence_exit();
}

module_init(kcm_init);
module_exit(kcm_exit);
MODULE_DESCRIPTION("Live migration of confidential KVM guests");
MODULE_LICENSE("GPL");
