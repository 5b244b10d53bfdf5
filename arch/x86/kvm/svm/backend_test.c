// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the choice of backend by VM type (suite
 * kvm_coco_mig_backend).
 */
#include <kunit/test.h>

#include "coco_mig.h"
#include "coco_mig_sev.h"

struct kcm_vm_type_case {
	unsigned long vm_type;
	const struct kcm_backend *backend;	/* NULL: expect @err */
	int err;
	const char *desc;
};

static const struct kcm_vm_type_case kcm_vm_type_cases[] = {
	{ KVM_X86_DEFAULT_VM, NULL, -EINVAL, "default VM" },
	{ KVM_X86_SW_PROTECTED_VM, &kcm_sw_backend, 0, "sw-protected VM" },
	{ KVM_X86_SEV_VM, &kcm_sev_backend, 0, "SEV VM" },
	{ KVM_X86_SEV_ES_VM, &kcm_sev_backend, 0, "SEV-ES VM" },
	{ KVM_X86_SNP_VM, NULL, -EOPNOTSUPP, "SNP VM" },
	{ KVM_X86_SNP_VM + 1, NULL, -EINVAL, "unknown type" },
	{ ~0UL, NULL, -EINVAL, "all-ones type" },
};

static void kcm_vm_type_desc(const struct kcm_vm_type_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kcm_vm_type, kcm_vm_type_cases, kcm_vm_type_desc);

static void backend_for_vm_type(struct kunit *test)
{
	const struct kcm_vm_type_case *c = test->param_value;
	const struct kcm_backend *b = kcm_backend_for_vm_type(c->vm_type);

	if (c->backend) {
		KUNIT_ASSERT_FALSE(test, IS_ERR(b));
		KUNIT_EXPECT_PTR_EQ(test, b, c->backend);
	} else {
		KUNIT_ASSERT_TRUE(test, IS_ERR(b));
		KUNIT_EXPECT_EQ(test, PTR_ERR(b), (long)c->err);
	}
}

static void sw_backend_reports_its_uapi_id(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, kcm_sw_backend.id, KVM_COCO_MIG_BACKEND_SW);
	KUNIT_EXPECT_STREQ(test, kcm_sw_backend.name, "sw");
}

static struct kunit_case kcm_backend_cases[] = {
	KUNIT_CASE_PARAM(backend_for_vm_type, kcm_vm_type_gen_params),
	KUNIT_CASE(sw_backend_reports_its_uapi_id),
	{}
};

static struct kunit_suite kcm_backend_suite = {
	.name = "kvm_coco_mig_backend",
	.test_cases = kcm_backend_cases,
};

kunit_test_suite(kcm_backend_suite);
