/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-gfn sequence bookkeeping: which version of each page a session sent
 * (source) or installed (target), for replay refusal and the completeness
 * record checked at FINISH.
 */
#ifndef __KVM_COCO_MIG_REPLAY_H
#define __KVM_COCO_MIG_REPLAY_H

#include <linux/atomic.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/xarray.h>

#define KCM_DIGEST_SIZE	32
#define KCM_SEQ_LOCKS	16

/**
 * struct kcm_seq_map - newest version per gfn
 * @xa: gfn -> xa_mk_value(version)
 * @pages: number of distinct gfns recorded
 * @locks: hashed by gfn; the one of a gfn serialises what streams do
 *	with that gfn's entry: a check acted on, the record (and the sw
 *	source's take of a version). Held for a few instructions: the sw
 *	backend keeps a stream's longer work with a page (a seal, an
 *	install) off other streams with the page's folio lock, which is the
 *	gfn's alone. The streams of a session run in parallel and may carry
 *	versions of the same gfn.
 *
 * kcm_seq_digest() and kcm_seq_map_destroy() run with every stream
 * excluded by the owning session.
 */
struct kcm_seq_map {
	struct xarray xa;
	atomic64_t pages;
	struct mutex locks[KCM_SEQ_LOCKS];	/* hashed by gfn, see above */
};

void kcm_seq_lock(struct kcm_seq_map *m, u64 gfn);
void kcm_seq_unlock(struct kcm_seq_map *m, u64 gfn);
u64 kcm_seq_pages(struct kcm_seq_map *m);

int kcm_seq_next(u64 *seq);
void kcm_seq_map_init(struct kcm_seq_map *m);
void kcm_seq_map_destroy(struct kcm_seq_map *m);
int kcm_seq_check(struct kcm_seq_map *m, u64 gfn, u64 seq);
bool kcm_seq_has(struct kcm_seq_map *m, u64 gfn);
int kcm_seq_record(struct kcm_seq_map *m, u64 gfn, u64 seq);
void kcm_seq_digest(struct kcm_seq_map *m, u8 digest[KCM_DIGEST_SIZE]);

#endif /* __KVM_COCO_MIG_REPLAY_H */
