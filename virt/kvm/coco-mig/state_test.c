// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the session state machine (suite kvm_coco_mig_state):
 * the whole (role, state, op) space against an independent restatement of
 * the documented rules.
 */
#include <kunit/test.h>
#include <linux/kvm_coco_mig.h>

#include "state.h"

#define SRC	KVM_COCO_MIG_ROLE_SOURCE
#define TGT	KVM_COCO_MIG_ROLE_TARGET

/* The rules of Documentation/virt/kvm/coco-migration.rst, written out. */
static int kcm_expected(u32 role, u32 state, enum kcm_op op)
{
	if (state == KVM_COCO_MIG_STATE_FAILED)
		return -EIO;
	switch (op) {
	case KCM_OP_GET_MIGRATION_DATA:
		if (role != TGT)
			return -EINVAL;
		return state == KVM_COCO_MIG_STATE_CREATED ||
		       state == KVM_COCO_MIG_STATE_KEY_PENDING ? 0 : -EBADFD;
	case KCM_OP_START:
		if (role != SRC)
			return -EINVAL;
		return state == KVM_COCO_MIG_STATE_CREATED ? 0 : -EBADFD;
	case KCM_OP_ACCEPT:
		if (role != TGT)
			return -EINVAL;
		return state == KVM_COCO_MIG_STATE_KEY_PENDING ? 0 : -EBADFD;
	case KCM_OP_PACKAGE:
	case KCM_OP_PACKAGE_VCPU:
	case KCM_OP_TRACK:
	case KCM_OP_GET_DIRTY:
		if (role != SRC)
			return -EINVAL;
		return state == KVM_COCO_MIG_STATE_STREAMING ? 0 : -EBADFD;
	case KCM_OP_RECEIVE:
	case KCM_OP_RECEIVE_VCPU:
		if (role != TGT)
			return -EINVAL;
		return state == KVM_COCO_MIG_STATE_STREAMING ? 0 : -EBADFD;
	case KCM_OP_FINISH:
		return state == KVM_COCO_MIG_STATE_STREAMING ? 0 : -EBADFD;
	case KCM_OP_CANCEL:
		if (role != SRC)
			return -EINVAL;
		return state == KVM_COCO_MIG_STATE_CREATED ||
		       state == KVM_COCO_MIG_STATE_KEY_PENDING ||
		       state == KVM_COCO_MIG_STATE_STREAMING ? 0 : -EBADFD;
	case KCM_OP_ABORT:
		if (role != SRC)
			return -EINVAL;
		return state == KVM_COCO_MIG_STATE_FINISHED ? 0 : -EBADFD;
	case KCM_OP_ABORT_TOKEN:
		if (role != TGT)
			return -EINVAL;
		return state == KVM_COCO_MIG_STATE_STREAMING ? 0 : -EBADFD;
	case KCM_OP_EXCHANGE:
		return state == KVM_COCO_MIG_STATE_CREATED ||
		       state == KVM_COCO_MIG_STATE_KEY_PENDING ? 0 : -EBADFD;
	default:
		return -EINVAL;
	}
}

static void state_table_matches_rules(struct kunit *test)
{
	u32 role, state;
	int op, got, want;

	for (role = SRC; role <= TGT; role++) {
		for (state = KVM_COCO_MIG_STATE_CREATED;
		     state <= KVM_COCO_MIG_STATE_FAILED; state++) {
			for (op = 0; op < KCM_NR_OPS; op++) {
				got = kcm_state_check(role, state, op);
				want = kcm_expected(role, state, op);
				KUNIT_EXPECT_EQ_MSG(test, got, want,
						    "role %u state %u op %d",
						    role, state, op);
			}
		}
	}
}

static void state_after_each_op(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, kcm_state_after(KCM_OP_GET_MIGRATION_DATA),
			KVM_COCO_MIG_STATE_KEY_PENDING);
	KUNIT_EXPECT_EQ(test, kcm_state_after(KCM_OP_START), KVM_COCO_MIG_STATE_STREAMING);
	KUNIT_EXPECT_EQ(test, kcm_state_after(KCM_OP_ACCEPT), KVM_COCO_MIG_STATE_STREAMING);
	KUNIT_EXPECT_EQ(test, kcm_state_after(KCM_OP_PACKAGE), KVM_COCO_MIG_STATE_STREAMING);
	KUNIT_EXPECT_EQ(test, kcm_state_after(KCM_OP_RECEIVE), KVM_COCO_MIG_STATE_STREAMING);
	KUNIT_EXPECT_EQ(test, kcm_state_after(KCM_OP_FINISH), KVM_COCO_MIG_STATE_FINISHED);
	KUNIT_EXPECT_EQ(test, kcm_state_after(KCM_OP_CANCEL), KVM_COCO_MIG_STATE_CANCELLED);
	KUNIT_EXPECT_EQ(test, kcm_state_after(KCM_OP_TRACK), KVM_COCO_MIG_STATE_STREAMING);
	KUNIT_EXPECT_EQ(test, kcm_state_after(KCM_OP_GET_DIRTY), KVM_COCO_MIG_STATE_STREAMING);
	KUNIT_EXPECT_EQ(test, kcm_state_after(KCM_OP_PACKAGE_VCPU),
			KVM_COCO_MIG_STATE_STREAMING);
	KUNIT_EXPECT_EQ(test, kcm_state_after(KCM_OP_RECEIVE_VCPU),
			KVM_COCO_MIG_STATE_STREAMING);
}

static void state_out_of_range_inputs(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, kcm_state_check(SRC, KVM_COCO_MIG_STATE_CREATED,
					      KCM_NR_OPS), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_state_check(0, KVM_COCO_MIG_STATE_CREATED,
					      KCM_OP_START), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_state_check(U32_MAX, KVM_COCO_MIG_STATE_CREATED,
					      KCM_OP_START), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_state_check(SRC, 0, KCM_OP_START), -EBADFD);
	KUNIT_EXPECT_EQ(test, kcm_state_check(SRC, U32_MAX, KCM_OP_START), -EINVAL);
}

static struct kunit_case kcm_state_cases[] = {
	KUNIT_CASE(state_table_matches_rules),
	KUNIT_CASE(state_after_each_op),
	KUNIT_CASE(state_out_of_range_inputs),
	{}
};

static struct kunit_suite kcm_state_suite = {
	.name = "kvm_coco_mig_state",
	.test_cases = kcm_state_cases,
};

kunit_test_suite(kcm_state_suite);
