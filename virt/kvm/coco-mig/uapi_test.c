// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the checks on userspace arguments (suite kvm_coco_mig_uapi).
 */
#include <kunit/test.h>

#include "coco_mig.h"

static void kcm_create_valid_args(struct kvm_coco_mig_create *args, u32 role)
{
	memset(args, 0, sizeof(*args));
	args->vm_fd = 3;
	args->role = role;
}

static void create_args_check_accepts_both_roles(struct kunit *test)
{
	struct kvm_coco_mig_create args;

	kcm_create_valid_args(&args, KVM_COCO_MIG_ROLE_SOURCE);
	KUNIT_EXPECT_EQ(test, kcm_create_args_check(&args), 0);
	kcm_create_valid_args(&args, KVM_COCO_MIG_ROLE_TARGET);
	KUNIT_EXPECT_EQ(test, kcm_create_args_check(&args), 0);
}

static void create_args_check_ignores_output_backend(struct kunit *test)
{
	struct kvm_coco_mig_create args;

	kcm_create_valid_args(&args, KVM_COCO_MIG_ROLE_SOURCE);
	args.backend = 0xdeadbeef;
	KUNIT_EXPECT_EQ(test, kcm_create_args_check(&args), 0);
}

static void create_args_check_rejects_bad_role(struct kunit *test)
{
	static const u32 bad[] = { 0, 3, 4, 0x80000000, U32_MAX };
	struct kvm_coco_mig_create args;
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		kcm_create_valid_args(&args, bad[i]);
		KUNIT_EXPECT_EQ_MSG(test, kcm_create_args_check(&args), -EINVAL,
				    "role %#x", bad[i]);
	}
}

static void create_args_check_rejects_every_flag(struct kunit *test)
{
	struct kvm_coco_mig_create args;
	int bit;

	for (bit = 0; bit < 32; bit++) {
		kcm_create_valid_args(&args, KVM_COCO_MIG_ROLE_SOURCE);
		args.flags = BIT(bit);
		KUNIT_EXPECT_EQ_MSG(test, kcm_create_args_check(&args), -EINVAL,
				    "flag bit %d", bit);
	}
}

static void create_args_check_rejects_every_reserved_bit(struct kunit *test)
{
	struct kvm_coco_mig_create args;
	int i, bit;

	for (i = 0; i < ARRAY_SIZE(args.reserved); i++) {
		for (bit = 0; bit < 64; bit++) {
			kcm_create_valid_args(&args, KVM_COCO_MIG_ROLE_TARGET);
			args.reserved[i] = BIT_ULL(bit);
			KUNIT_EXPECT_EQ_MSG(test, kcm_create_args_check(&args),
					    -EINVAL, "reserved[%d] bit %d", i, bit);
		}
	}
}

static void status_args_check_rejects_every_flag(struct kunit *test)
{
	struct kvm_coco_mig_status st = {};
	int bit;

	KUNIT_EXPECT_EQ(test, kcm_status_args_check(&st), 0);
	for (bit = 0; bit < 32; bit++) {
		st.flags = BIT(bit);
		KUNIT_EXPECT_EQ_MSG(test, kcm_status_args_check(&st), -EINVAL,
				    "flag bit %d", bit);
	}
}

static void uapi_layout_is_fixed(struct kunit *test)
{
	/* The sizes are ABI: they are encoded in the ioctl numbers. */
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_create), 64);
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_coco_mig_status), 128);
	KUNIT_EXPECT_EQ(test, _IOC_SIZE(KVM_COCO_MIG_CREATE_SESSION), 64);
	KUNIT_EXPECT_EQ(test, _IOC_SIZE(KVM_COCO_MIG_STATUS), 128);
}

static struct kunit_case kcm_uapi_cases[] = {
	KUNIT_CASE(create_args_check_accepts_both_roles),
	KUNIT_CASE(create_args_check_ignores_output_backend),
	KUNIT_CASE(create_args_check_rejects_bad_role),
	KUNIT_CASE(create_args_check_rejects_every_flag),
	KUNIT_CASE(create_args_check_rejects_every_reserved_bit),
	KUNIT_CASE(status_args_check_rejects_every_flag),
	KUNIT_CASE(uapi_layout_is_fixed),
	{}
};

static struct kunit_suite kcm_uapi_suite = {
	.name = "kvm_coco_mig_uapi",
	.test_cases = kcm_uapi_cases,
};

kunit_test_suite(kcm_uapi_suite);

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
MODULE_DESCRIPTION("KUnit tests for kvm-coco-mig");
MODULE_LICENSE("GPL");
