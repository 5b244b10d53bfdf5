// SPDX-License-Identifier: GPL-2.0
/*
 * The guest_memfd tracker behind the tracker seam (struct kcm_track_ops):
 * the bookkeeping of dirty.c and the architecture's mapping hook
 * (x86: arch/x86/kvm/coco_mig_track.c), for the private view of a VM
 * whose private memory lives in guest_memfd (sw).
 */
#include <linux/err.h>
#include <linux/kvm_host.h>
#include <linux/slab.h>

#include "coco_mig.h"
#include "dirty.h"

struct kcm_gmem_track {
	struct kcm_track track;
	struct kcm_tracker *t;
};

static struct kcm_tracker *kcm_gmem(struct kcm_track *t)
{
	return container_of(t, struct kcm_gmem_track, track)->t;
}

/*
 * Track writes to every guest_memfd memslot the VM has, each private gfn
 * unsent. A VM without guest_memfd memory has nothing to track (-ENOENT).
 */
static struct kcm_track *kcm_gmem_begin(struct kcm_session *s)
{
	struct kcm_gmem_track *g;
	struct kcm_tracker *t;
	int ret;
	u32 i;

	lockdep_assert_held(&s->lock);
	g = kzalloc(sizeof(*g), GFP_KERNEL_ACCOUNT);
	if (!g)
		return ERR_PTR(-ENOMEM);
	t = kcm_tracker_build(s->kvm);
	if (IS_ERR(t)) {
		ret = PTR_ERR(t);
		goto e_free_track;
	}
	ret = kcm_arch_track_register(t);
	if (ret)
		goto e_free_tracker;
	/* Existing mappings of private memory go: the next access faults. */
	for (i = 0; i < t->nr_slots; i++)
		kcm_arch_track_rearm(s->kvm, t->slots[i].base_gfn,
				     t->slots[i].priv, t->slots[i].npages);
	g->track.ops = &kcm_gmem_track_ops;
	g->track.views = BIT(KCM_VIEW_PRIVATE);
	g->t = t;
	return &g->track;

e_free_tracker:
	kcm_tracker_free(t);
e_free_track:
	kfree(g);
	return ERR_PTR(ret);
}

/* The probe is gone on return. */
static void kcm_gmem_stop(struct kcm_track *track)
{
	struct kcm_tracker *t = kcm_gmem(track);

	kcm_arch_track_unregister(t);
	kcm_tracker_free(t);
	kfree(container_of(track, struct kcm_gmem_track, track));
}

static void kcm_gmem_info(struct kcm_track *track, u32 *nr_slots, u64 *nr_gfns)
{
	*nr_slots = kcm_gmem(track)->nr_slots;
	*nr_gfns = kcm_gmem(track)->nr_pages;
}

static int kcm_gmem_range(struct kcm_track *track, enum kcm_view v, u64 *first,
			  u64 *nr)
{
	struct kcm_tracker *t = kcm_gmem(track);
	struct kcm_dirty_slot *slot;
	int ret;

	/* A guest_memfd memslot changed under the tracker: start over. */
	ret = kcm_tracker_check_slots(t);
	if (ret)
		return ret;
	return kcm_dirty_range(t, first, nr, &slot);
}

static int kcm_gmem_harvest(struct kcm_track *track, enum kcm_view v, u64 first,
			    u64 nr, unsigned long *out, u64 *count)
{
	struct kcm_tracker *t = kcm_gmem(track);
	struct kcm_dirty_slot *slot = kcm_tracker_find(t, first);
	int ret;

	/* The attributes now, then the report over them, in place. */
	ret = kcm_private_bits(t->attrs, first, nr, out);
	if (ret)
		return ret;
	*count = kcm_dirty_harvest(t, slot, first - slot->base_gfn, nr, out, out);
	kcm_arch_track_rearm(t->kvm, first, out, nr);
	return 0;
}

static void kcm_gmem_restore(struct kcm_track *track, enum kcm_view v, u64 first,
			     u64 nr, const unsigned long *out)
{
	struct kcm_tracker *t = kcm_gmem(track);
	struct kcm_dirty_slot *slot = kcm_tracker_find(t, first);

	kcm_dirty_restore(slot, first - slot->base_gfn, nr, out);
}

static void kcm_gmem_sent(struct kcm_track *track, const u64 *gfns, u32 nr)
{
	kcm_tracker_sent_batch(kcm_gmem(track), gfns, nr);
}

static int kcm_gmem_complete(struct kcm_track *track)
{
	struct kcm_tracker *t = kcm_gmem(track);
	int ret;

	ret = kcm_tracker_check_slots(t);
	if (!ret)
		ret = kcm_dirty_pending(t);
	return ret;
}

const struct kcm_track_ops kcm_gmem_track_ops = {
	.begin		= kcm_gmem_begin,
	.stop		= kcm_gmem_stop,
	.info		= kcm_gmem_info,
	.range		= kcm_gmem_range,
	.harvest	= kcm_gmem_harvest,
	.restore	= kcm_gmem_restore,
	.sent		= kcm_gmem_sent,
	.complete	= kcm_gmem_complete,
};
