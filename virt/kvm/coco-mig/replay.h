/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-gfn sequence bookkeeping: which version of each page a session sent
 * (source) or installed (target), for replay refusal and the completeness
 * record checked at FINISH.
 */
#ifndef __KVM_COCO_MIG_REPLAY_H
#define __KVM_COCO_MIG_REPLAY_H

#include <linux/types.h>
#include <linux/xarray.h>

#define KCM_DIGEST_SIZE	32

/**
 * struct kcm_seq_map - latest sequence number per gfn
 * @xa: gfn -> xa_mk_value(seq)
 * @pages: number of distinct gfns recorded
 *
 * Not locked: the owning session's lock serialises every access.
 */
struct kcm_seq_map {
	struct xarray xa;
	u64 pages;
};

int kcm_seq_next(u64 *seq);
void kcm_seq_map_init(struct kcm_seq_map *m);
void kcm_seq_map_destroy(struct kcm_seq_map *m);
int kcm_seq_check(struct kcm_seq_map *m, u64 gfn, u64 seq);
bool kcm_seq_has(struct kcm_seq_map *m, u64 gfn);
int kcm_seq_record(struct kcm_seq_map *m, u64 gfn, u64 seq);
void kcm_seq_digest(struct kcm_seq_map *m, u8 digest[KCM_DIGEST_SIZE]);

#endif /* __KVM_COCO_MIG_REPLAY_H */
