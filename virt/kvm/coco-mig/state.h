/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The session state machine: which ioctl each role may issue in which
 * state, and the state it leads to.
 */
#ifndef __KVM_COCO_MIG_STATE_H
#define __KVM_COCO_MIG_STATE_H

#include <linux/types.h>

enum kcm_op {
	KCM_OP_GET_MIGRATION_DATA,
	KCM_OP_START,
	KCM_OP_ACCEPT,
	KCM_OP_PACKAGE,
	KCM_OP_RECEIVE,
	KCM_OP_FINISH,
	KCM_OP_CANCEL,
	KCM_OP_TRACK,		/* TRACK_START and TRACK_STOP */
	KCM_OP_GET_DIRTY,
	KCM_OP_EXCHANGE,
	KCM_OP_ABORT,		/* source: resume with a token */
	KCM_OP_ABORT_TOKEN,	/* target: die, give out the token */
	KCM_OP_PACKAGE_VCPU,
	KCM_OP_RECEIVE_VCPU,
	KCM_NR_OPS
};

int kcm_state_check(u32 role, u32 state, enum kcm_op op);
u32 kcm_state_after(enum kcm_op op);

#endif /* __KVM_COCO_MIG_STATE_H */
