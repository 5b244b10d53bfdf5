// SPDX-License-Identifier: GPL-2.0
/*
 * Per-gfn version bookkeeping.
 *
 * The source records, for every gfn it packages, the newest version it
 * sent; the target records the newest version it installed and installs
 * no version that is not newer. At FINISH both sides hash their map, in
 * gfn order, into a digest: the target runs only if the digests and page
 * counts match, i.e. it holds exactly the newest version of every page the
 * source sent.
 */
#include <crypto/sha2.h>
#include <linux/errno.h>
#include <linux/hash.h>
#include <linux/lockdep.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/unaligned.h>
#include <kunit/visibility.h>

#include "packet.h"
#include "replay.h"

/**
 * kcm_seq_next - take a session's next sequence number
 * @seq: the last one taken (0 before the first); the new one on return
 *
 * A sequence number is a packet's nonce: the counter only goes up, and at
 * KCM_SEQ_MAX the session can send nothing more.
 *
 * Return: 0, or -EOVERFLOW with @seq unchanged.
 */
int kcm_seq_next(u64 *seq)
{
	if (*seq >= KCM_SEQ_MAX)
		return -EOVERFLOW;
	(*seq)++;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_seq_next);

void kcm_seq_map_init(struct kcm_seq_map *m)
{
	int i;

	xa_init(&m->xa);
	atomic64_set(&m->pages, 0);
	for (i = 0; i < KCM_SEQ_LOCKS; i++)
		mutex_init(&m->locks[i]);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_seq_map_init);

void kcm_seq_map_destroy(struct kcm_seq_map *m)
{
	int i;

	xa_destroy(&m->xa);
	atomic64_set(&m->pages, 0);
	for (i = 0; i < KCM_SEQ_LOCKS; i++)
		mutex_destroy(&m->locks[i]);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_seq_map_destroy);

static struct mutex *kcm_seq_lock_of(struct kcm_seq_map *m, u64 gfn)
{
	return &m->locks[hash_64(gfn, ilog2(KCM_SEQ_LOCKS))];
}

/* Take the lock that serialises what is done with @gfn's entry. */
void kcm_seq_lock(struct kcm_seq_map *m, u64 gfn)
{
	mutex_lock(kcm_seq_lock_of(m, gfn));
}
EXPORT_SYMBOL_IF_KUNIT(kcm_seq_lock);

void kcm_seq_unlock(struct kcm_seq_map *m, u64 gfn)
{
	mutex_unlock(kcm_seq_lock_of(m, gfn));
}
EXPORT_SYMBOL_IF_KUNIT(kcm_seq_unlock);

/* The number of distinct gfns recorded. */
u64 kcm_seq_pages(struct kcm_seq_map *m)
{
	return atomic64_read(&m->pages);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_seq_pages);

/**
 * kcm_seq_check - is version @seq of @gfn newer than the recorded one?
 * @m: the map
 * @gfn: the packet's gfn
 * @seq: the packet's page version (1..KCM_SEQ_MAX)
 *
 * Context: the caller holds kcm_seq_lock(@m, @gfn) if it acts on the answer.
 * Return: 0 if @seq is newer than anything recorded for @gfn, -ESTALE if
 * not (a replay or an outdated version), -EINVAL for a version out of
 * range or a gfn that does not fit an index.
 */
int kcm_seq_check(struct kcm_seq_map *m, u64 gfn, u64 seq)
{
	void *entry;

	if (!seq || seq > KCM_SEQ_MAX || gfn > ULONG_MAX)
		return -EINVAL;
	entry = xa_load(&m->xa, gfn);
	if (entry && xa_to_value(entry) >= seq)
		return -ESTALE;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_seq_check);

/**
 * kcm_seq_has - whether a version of @gfn was recorded
 * @m: the map
 * @gfn: the gfn
 */
bool kcm_seq_has(struct kcm_seq_map *m, u64 gfn)
{
	return gfn <= ULONG_MAX && xa_load(&m->xa, gfn);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_seq_has);

/**
 * kcm_seq_record - remember @seq as a version of @gfn, if it is the newest
 * @m: the map
 * @gfn: the gfn
 * @seq: the version
 *
 * A version older than the one recorded leaves the entry as it is: on the
 * source, two streams may package the same gfn at once and finish in
 * either order.
 *
 * Context: the caller holds kcm_seq_lock(@m, @gfn).
 * Return: 0, -EINVAL as kcm_seq_check(), or -ENOMEM. On error the map is
 * unchanged.
 */
int kcm_seq_record(struct kcm_seq_map *m, u64 gfn, u64 seq)
{
	void *old;

	if (!seq || seq > KCM_SEQ_MAX || gfn > ULONG_MAX)
		return -EINVAL;
	lockdep_assert_held(kcm_seq_lock_of(m, gfn));
	old = xa_load(&m->xa, gfn);
	if (old && xa_to_value(old) >= seq)
		return 0;
	old = xa_store(&m->xa, gfn, xa_mk_value(seq), GFP_KERNEL_ACCOUNT);
	if (xa_is_err(old))
		return xa_err(old);
	if (!old)
		atomic64_inc(&m->pages);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_seq_record);

/**
 * kcm_seq_digest - hash the map in gfn order
 * @m: the map
 * @digest: SHA-256 over "kcm-completeness-v1", the page count, then each
 *	(gfn, seq) pair, all little endian
 *
 * May sleep: the walk reschedules on large maps.
 */
void kcm_seq_digest(struct kcm_seq_map *m, u8 digest[KCM_DIGEST_SIZE])
{
	static const char label[] = "kcm-completeness-v1";
	struct sha256_state sctx;
	unsigned long index;
	__le64 rec[2];
	void *entry;

	sha256_init(&sctx);
	sha256_update(&sctx, (const u8 *)label, sizeof(label));
	rec[0] = cpu_to_le64(kcm_seq_pages(m));
	sha256_update(&sctx, (u8 *)rec, sizeof(rec[0]));
	xa_for_each(&m->xa, index, entry) {
		rec[0] = cpu_to_le64(index);
		rec[1] = cpu_to_le64(xa_to_value(entry));
		sha256_update(&sctx, (u8 *)rec, sizeof(rec));
		cond_resched();
	}
	sha256_final(&sctx, digest);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_seq_digest);
