// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the sev backend's pure logic (suite kvm_coco_mig_sev):
 * which errno a firmware failure becomes.
 */
#include <kunit/test.h>
#include <linux/psp-sev.h>

#include "coco_mig.h"
#include "coco_mig_sev.h"

struct kcm_sev_errno_case {
	int ret;
	int status;
	int err;
	const char *desc;
};

static const struct kcm_sev_errno_case kcm_sev_errno_cases[] = {
	{ -EIO, SEV_RET_BAD_MEASUREMENT, -EBADMSG, "MAC failure: tampering" },
	{ -EIO, SEV_RET_INVALID_CERTIFICATE, -EKEYREJECTED, "bad certificate" },
	{ -EIO, SEV_RET_BAD_SIGNATURE, -EKEYREJECTED, "bad signature" },
	{ -EIO, SEV_RET_POLICY_FAILURE, -EPERM, "policy refuses" },
	{ -EIO, SEV_RET_INVALID_GUEST_STATE, -EBUSY, "guest state" },
	{ -EIO, SEV_RET_INVALID_PLATFORM_STATE, -ENXIO, "platform state" },
	{ -EIO, SEV_RET_INACTIVE, -ENXIO, "ASID inactive" },
	{ -EIO, SEV_RET_UNSUPPORTED, -EOPNOTSUPP, "unsupported" },
	{ -EIO, SEV_RET_RESOURCE_LIMIT, -ENOSPC, "no handle left" },
	{ -EIO, SEV_RET_INVALID_GUEST, -ENOENT, "no such handle" },
	{ -EIO, SEV_RET_INVALID_LEN, -EPROTO, "length: our bug" },
	{ -EIO, SEV_RET_INVALID_ADDRESS, -EPROTO, "address: our bug" },
	{ -EIO, SEV_RET_HWSEV_RET_UNSAFE, -EPROTO, "unsafe" },
	{ -EIO, 0xffff, -EPROTO, "unknown status" },
	{ -ETIMEDOUT, 0, -ETIMEDOUT, "PSP timed out" },
	{ -EBUSY, 0, -ETIMEDOUT, "PSP dead since" },
	{ -ENOMEM, 0, -ENOMEM, "driver out of memory" },
};

static void kcm_sev_errno_desc(const struct kcm_sev_errno_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kcm_sev_errno, kcm_sev_errno_cases, kcm_sev_errno_desc);

static void sev_errno_of_status(struct kunit *test)
{
	const struct kcm_sev_errno_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, c->err, kcm_sev_errno(c->ret, c->status));
}

static struct kunit_case kcm_sev_test_cases[] = {
	KUNIT_CASE_PARAM(sev_errno_of_status, kcm_sev_errno_gen_params),
	{}
};

static struct kunit_suite kcm_sev_test_suite = {
	.name = "kvm_coco_mig_sev",
	.test_cases = kcm_sev_test_cases,
};

kunit_test_suite(kcm_sev_test_suite);
