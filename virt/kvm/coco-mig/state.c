// SPDX-License-Identifier: GPL-2.0
/*
 * The session state machine, as a table.
 *
 *   either: CREATED --EXCHANGE--> KEY_PENDING (repeated) --EXCHANGE,
 *           done--> STREAMING --FINISH--> FINISHED
 *   source: CREATED --START--> STREAMING (the sw exchange's one round)
 *           CREATED, KEY_PENDING, STREAMING --CANCEL--> CANCELLED
 *   target: CREATED --GET_MIGRATION_DATA--> KEY_PENDING --ACCEPT-->
 *           STREAMING (the sw exchange's two rounds)
 *   either: a failed decrypt or a failed FINISH --> FAILED
 *   source: FINISHED --ABORT (a verified token)--> CANCELLED
 *   target: STREAMING --ABORT--> FAILED; FAILED --ABORT--> FAILED (the
 *           handler allows FAILED: a dead target gives out its token)
 *
 * An EXCHANGE round that completes this side's part leads to STREAMING,
 * any other to KEY_PENDING; the table holds the latter.
 * PACKAGE_PAGES, PACKAGE_VCPU (source) and RECEIVE_PAGES, RECEIVE_VCPU
 * (target) keep STREAMING;
 * GET_MIGRATION_DATA may be repeated in KEY_PENDING and returns the same
 * data. STATUS is valid in every state and is not in the table.
 */
#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/kvm_coco_mig.h>
#include <kunit/visibility.h>

#include "state.h"

#define ROLE(r)		BIT(KVM_COCO_MIG_ROLE_##r)
#define ST(s)		BIT(KVM_COCO_MIG_STATE_##s)

static const struct kcm_transition {
	u8 roles;
	u8 from;
	u8 to;
} kcm_transitions[KCM_NR_OPS] = {
	[KCM_OP_GET_MIGRATION_DATA] = {
		ROLE(TARGET), ST(CREATED) | ST(KEY_PENDING),
		KVM_COCO_MIG_STATE_KEY_PENDING },
	[KCM_OP_START] = {
		ROLE(SOURCE), ST(CREATED), KVM_COCO_MIG_STATE_STREAMING },
	[KCM_OP_ACCEPT] = {
		ROLE(TARGET), ST(KEY_PENDING), KVM_COCO_MIG_STATE_STREAMING },
	[KCM_OP_PACKAGE] = {
		ROLE(SOURCE), ST(STREAMING), KVM_COCO_MIG_STATE_STREAMING },
	[KCM_OP_RECEIVE] = {
		ROLE(TARGET), ST(STREAMING), KVM_COCO_MIG_STATE_STREAMING },
	[KCM_OP_FINISH] = {
		ROLE(SOURCE) | ROLE(TARGET), ST(STREAMING),
		KVM_COCO_MIG_STATE_FINISHED },
	[KCM_OP_CANCEL] = {
		ROLE(SOURCE), ST(CREATED) | ST(KEY_PENDING) | ST(STREAMING),
		KVM_COCO_MIG_STATE_CANCELLED },
	[KCM_OP_TRACK] = {
		ROLE(SOURCE), ST(STREAMING), KVM_COCO_MIG_STATE_STREAMING },
	[KCM_OP_GET_DIRTY] = {
		ROLE(SOURCE), ST(STREAMING), KVM_COCO_MIG_STATE_STREAMING },
	[KCM_OP_ABORT] = {
		ROLE(SOURCE), ST(FINISHED), KVM_COCO_MIG_STATE_CANCELLED },
	[KCM_OP_ABORT_TOKEN] = {
		ROLE(TARGET), ST(STREAMING), KVM_COCO_MIG_STATE_FAILED },
	[KCM_OP_PACKAGE_VCPU] = {
		ROLE(SOURCE), ST(STREAMING), KVM_COCO_MIG_STATE_STREAMING },
	[KCM_OP_RECEIVE_VCPU] = {
		ROLE(TARGET), ST(STREAMING), KVM_COCO_MIG_STATE_STREAMING },
	[KCM_OP_EXCHANGE] = {
		ROLE(SOURCE) | ROLE(TARGET), ST(CREATED) | ST(KEY_PENDING),
		KVM_COCO_MIG_STATE_KEY_PENDING },
};

/**
 * kcm_state_check - may a session of @role in @state issue @op?
 * @role: KVM_COCO_MIG_ROLE_*
 * @state: KVM_COCO_MIG_STATE_*
 * @op: the operation
 *
 * Return: 0 if allowed; -EIO if the session failed (nothing but STATUS
 * and close remain); -EINVAL if @op is not an operation of @role;
 * -EBADFD if @op comes too early or too late.
 */
int kcm_state_check(u32 role, u32 state, enum kcm_op op)
{
	const struct kcm_transition *t;

	if (state == KVM_COCO_MIG_STATE_FAILED)
		return -EIO;
	if ((unsigned int)op >= KCM_NR_OPS || role >= BITS_PER_BYTE ||
	    state >= BITS_PER_BYTE)
		return -EINVAL;
	t = &kcm_transitions[op];
	if (!(t->roles & BIT(role)))
		return -EINVAL;
	if (!(t->from & BIT(state)))
		return -EBADFD;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_state_check);

/**
 * kcm_state_after - the state a successful @op leads to
 * @op: an operation that kcm_state_check() allowed
 */
u32 kcm_state_after(enum kcm_op op)
{
	return kcm_transitions[op].to;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_state_after);
