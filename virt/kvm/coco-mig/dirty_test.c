// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the dirty tracker's bookkeeping: slot lookup, marking,
 * the range rules of GET_DIRTY, harvesting (dirty, newly private, shared
 * dropped), restoring an undelivered report, the FINISH completeness
 * check, an overflow folded into a full resend, the attribute walks over
 * multi-index entries, and their cost over a 1 TiB private range.
 *
 * The attributes come from a synthetic xarray that stands for a VM's
 * mem_attr_array; ranges are stored with xa_store_range(), as multi-index
 * entries, which is what lets 1 TiB of private gfns fit in a few nodes.
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/kvm_host.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/xarray.h>
#include <crypto/sha2.h>

#include "dirty.h"

static void kcm_test_tracker_free(void *t)
{
	kcm_tracker_free(t);
}

static void kcm_test_xa_destroy(void *xa)
{
	xa_destroy(xa);
	kfree(xa);
}

/* An empty attribute array, freed with the test. */
static struct xarray *kcm_test_attrs(struct kunit *test)
{
	struct xarray *xa = kzalloc(sizeof(*xa), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, xa);
	xa_init(xa);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kcm_test_xa_destroy,
							xa), 0);
	return xa;
}

/*
 * Give [first, last] the attribute @value (0: shared), one entry per gfn,
 * as KVM stores them.
 */
static void kcm_test_attr(struct kunit *test, struct xarray *xa, u64 first,
			  u64 last, u64 value)
{
	u64 i;

	for (i = first; i <= last; i++)
		KUNIT_ASSERT_EQ(test, xa_err(xa_store(xa, i, value ? xa_mk_value(value)
						       : NULL, GFP_KERNEL)), 0);
}

/*
 * The same, with xa_store_range(): multi-index entries. [first, last] must
 * not cut an entry already there (storing into one replaces it whole).
 */
static void kcm_test_attr_range(struct kunit *test, struct xarray *xa, u64 first,
				u64 last, u64 value)
{
	void *old = xa_store_range(xa, first, last,
				   value ? xa_mk_value(value) : NULL, GFP_KERNEL);

	KUNIT_ASSERT_FALSE(test, xa_is_err(old));
}

#define PRIV	KVM_MEMORY_ATTRIBUTE_PRIVATE

/*
 * Two slots, given out of order: [1000, 1000 + 200) and [64, 64 + 128),
 * with attributes from a synthetic array, all shared.
 */
static struct kcm_tracker *kcm_test_tracker(struct kunit *test)
{
	struct kcm_tracker *t = kcm_tracker_alloc(NULL, 2);

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kcm_test_tracker_free,
							t), 0);
	t->attrs = kcm_test_attrs(test);
	KUNIT_ASSERT_EQ(test, kcm_tracker_set_slot(t, 0, 1000, 200), 0);
	KUNIT_ASSERT_EQ(test, kcm_tracker_set_slot(t, 1, 64, 128), 0);
	KUNIT_ASSERT_EQ(test, kcm_tracker_sort(t), 0);
	return t;
}

/* As at the start of tracking: priv from the attributes, nothing unsent. */
static void kcm_test_snapshot(struct kunit *test, struct kcm_tracker *t)
{
	u32 i;

	for (i = 0; i < t->nr_slots; i++) {
		struct kcm_dirty_slot *s = &t->slots[i];

		KUNIT_ASSERT_EQ(test, kcm_private_bits(t->attrs, s->base_gfn,
						       s->npages, s->priv), 0);
		bitmap_zero(s->unsent, s->npages);
	}
}

static void tracker_find_and_mark(struct kunit *test)
{
	struct kcm_tracker *t = kcm_test_tracker(test);

	KUNIT_EXPECT_EQ(test, t->nr_pages, 328);
	KUNIT_EXPECT_EQ(test, t->slots[0].base_gfn, 64);
	KUNIT_EXPECT_PTR_EQ(test, kcm_tracker_find(t, 64), &t->slots[0]);
	KUNIT_EXPECT_PTR_EQ(test, kcm_tracker_find(t, 191), &t->slots[0]);
	KUNIT_EXPECT_NULL(test, kcm_tracker_find(t, 192));
	KUNIT_EXPECT_NULL(test, kcm_tracker_find(t, 63));
	KUNIT_EXPECT_NULL(test, kcm_tracker_find(t, 999));
	KUNIT_EXPECT_PTR_EQ(test, kcm_tracker_find(t, 1000), &t->slots[1]);
	KUNIT_EXPECT_PTR_EQ(test, kcm_tracker_find(t, 1199), &t->slots[1]);
	KUNIT_EXPECT_NULL(test, kcm_tracker_find(t, 1200));
	KUNIT_EXPECT_NULL(test, kcm_tracker_find(t, U64_MAX));

	KUNIT_EXPECT_TRUE(test, kcm_tracker_mark(t, 1005));
	KUNIT_EXPECT_TRUE(test, kcm_tracker_mark(t, 1005));
	KUNIT_EXPECT_FALSE(test, kcm_tracker_mark(t, 500));
	KUNIT_EXPECT_TRUE(test, test_bit(5, t->slots[1].dirty));
	KUNIT_EXPECT_EQ(test, bitmap_weight(t->slots[1].dirty, 200), 1);
	KUNIT_EXPECT_EQ(test, bitmap_weight(t->slots[0].dirty, 128), 0);
}

/* A huge mapping marks every tracked gfn it covers, across slots. */
static void tracker_mark_range_covers_mapping(struct kunit *test)
{
	struct kcm_tracker *t = kcm_test_tracker(test);

	kcm_tracker_mark_range(t, 0, 512);	/* a 2 MiB mapping at gfn 0 */
	KUNIT_EXPECT_EQ(test, bitmap_weight(t->slots[0].dirty, 128), 128);
	KUNIT_EXPECT_EQ(test, bitmap_weight(t->slots[1].dirty, 200), 0);
	kcm_tracker_mark_range(t, 1190, 20);	/* runs past the slot's end */
	KUNIT_EXPECT_EQ(test, bitmap_weight(t->slots[1].dirty, 200), 10);
	KUNIT_EXPECT_TRUE(test, test_bit(199, t->slots[1].dirty));
	kcm_tracker_mark_range(t, 900, 101);	/* ends on the slot's first gfn */
	KUNIT_EXPECT_TRUE(test, test_bit(0, t->slots[1].dirty));
	KUNIT_EXPECT_EQ(test, bitmap_weight(t->slots[1].dirty, 200), 11);

	/* Unaligned at both ends, a whole word between: exactly the range. */
	t = kcm_test_tracker(test);
	kcm_tracker_mark_range(t, 64 + 5, 100);	/* slot 0: gfns 64 to 191 */
	KUNIT_EXPECT_EQ(test, bitmap_weight(t->slots[0].dirty, 128), 100);
	KUNIT_EXPECT_FALSE(test, test_bit(4, t->slots[0].dirty));
	KUNIT_EXPECT_TRUE(test, test_bit(5, t->slots[0].dirty));
	KUNIT_EXPECT_TRUE(test, test_bit(104, t->slots[0].dirty));
	KUNIT_EXPECT_FALSE(test, test_bit(105, t->slots[0].dirty));
}

static void tracker_rejects_bad_slots(struct kunit *test)
{
	struct kcm_tracker *t = kcm_tracker_alloc(NULL, 2);

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kcm_test_tracker_free,
							t), 0);
	KUNIT_EXPECT_EQ(test, kcm_tracker_set_slot(t, 2, 0, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_tracker_set_slot(t, 0, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_tracker_set_slot(t, 0, U64_MAX, 2), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_tracker_set_slot(t, 0, 0, KVM_MEM_MAX_NR_PAGES + 1),
			-EINVAL);
	KUNIT_ASSERT_EQ(test, kcm_tracker_set_slot(t, 0, 100, 64), 0);
	KUNIT_ASSERT_EQ(test, kcm_tracker_set_slot(t, 1, 150, 64), 0);
	KUNIT_EXPECT_EQ(test, kcm_tracker_sort(t), -EINVAL);	/* overlap */
}

static void dirty_range_rules(struct kunit *test)
{
	struct kcm_tracker *t = kcm_test_tracker(test);
	struct kcm_dirty_slot *s = NULL;
	u64 first, nr;

	/* Queries: the slot holding the gfn, else the next one. */
	first = 0;
	nr = 0;
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), 0);
	KUNIT_EXPECT_EQ(test, first, 64);
	KUNIT_EXPECT_EQ(test, nr, 128);
	first = 100;
	nr = 0;
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), 0);
	KUNIT_EXPECT_EQ(test, first, 64);
	first = 192;
	nr = 0;
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), 0);
	KUNIT_EXPECT_EQ(test, first, 1000);
	KUNIT_EXPECT_EQ(test, nr, 200);
	first = 1200;
	nr = 0;
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), -ENOENT);

	/* Ranges. */
	first = 64;
	nr = 128;
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), 0);
	KUNIT_EXPECT_PTR_EQ(test, s, &t->slots[0]);
	first = 128;
	nr = 64;
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), 0);
	first = 1128;
	nr = 72;			/* a ragged end at the slot's end */
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), 0);
	first = 1064;
	nr = 64;
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), 0);
	first = 1000;
	nr = 100;			/* ragged, not at the end */
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), -EINVAL);
	first = 65;
	nr = 64;			/* misaligned in the slot */
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), -EINVAL);
	first = 1024;
	nr = 64;			/* aligned in gfns, not in the slot */
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), -EINVAL);
	first = 128;
	nr = 128;			/* past the end */
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), -EINVAL);
	first = 64;
	nr = U64_MAX;
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), -EINVAL);
	first = 0;
	nr = 64;			/* not tracked */
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), -ENOENT);
	first = 500;
	nr = 64;
	KUNIT_EXPECT_EQ(test, kcm_dirty_range(t, &first, &nr, &s), -ENOENT);
}

static void dirty_harvest_reports_and_rearms(struct kunit *test)
{
	struct kcm_tracker *t = kcm_test_tracker(test);
	struct kcm_dirty_slot *s = &t->slots[1];	/* [1000, 1200) */
	unsigned long *cur, *out;

	cur = kunit_kcalloc(test, BITS_TO_LONGS(200), sizeof(long), GFP_KERNEL);
	out = kunit_kcalloc(test, BITS_TO_LONGS(200), sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cur);
	KUNIT_ASSERT_NOT_NULL(test, out);

	/* At the start everything private is known: nothing new. */
	bitmap_set(cur, 0, 200);
	bitmap_clear(cur, 10, 5);		/* 10..14 shared */
	bitmap_copy(s->priv, cur, 200);

	kcm_tracker_mark(t, 1003);
	kcm_tracker_mark(t, 1012);		/* shared: dropped */
	kcm_tracker_mark(t, 1199);		/* last gfn of the slot */
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, s, 0, 200, cur, out), 2);
	KUNIT_EXPECT_TRUE(test, test_bit(3, out));
	KUNIT_EXPECT_TRUE(test, test_bit(199, out));
	KUNIT_EXPECT_FALSE(test, test_bit(12, out));
	KUNIT_EXPECT_TRUE(test, bitmap_empty(s->dirty, 200));	/* re-armed */
	KUNIT_EXPECT_TRUE(test, test_bit(3, s->unsent));

	/* Nothing since: an empty report. */
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, s, 0, 200, cur, out), 0);

	/* 12 turns private: reported without a write; 3 turns shared. */
	__set_bit(12, cur);
	__clear_bit(3, cur);
	kcm_tracker_mark(t, 1003);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, s, 0, 200, cur, out), 1);
	KUNIT_EXPECT_TRUE(test, test_bit(12, out));
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, s, 0, 200, cur, out), 0);

	/* A part of the slot: bits outside it stay for later. */
	kcm_tracker_mark(t, 1001);
	kcm_tracker_mark(t, 1130);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, s, 128, 72, cur + 2, out), 1);
	KUNIT_EXPECT_TRUE(test, test_bit(2, out));
	KUNIT_EXPECT_TRUE(test, test_bit(1, s->dirty));

	/* In place: the report overwrites the attributes it was made from. */
	kcm_tracker_mark(t, 1001);
	kcm_tracker_mark(t, 1012);
	bitmap_copy(out, cur, 200);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, s, 0, 200, out, out), 2);
	KUNIT_EXPECT_TRUE(test, test_bit(1, out));
	KUNIT_EXPECT_TRUE(test, test_bit(12, out));
	KUNIT_EXPECT_EQ(test, bitmap_weight(out, 200), 2);
}

static void dirty_restore_gives_back(struct kunit *test)
{
	struct kcm_tracker *t = kcm_test_tracker(test);
	struct kcm_dirty_slot *s = &t->slots[0];	/* [64, 192) */
	unsigned long cur[2], out[2];

	bitmap_fill(cur, 128);
	bitmap_copy(s->priv, cur, 128);
	kcm_tracker_mark(t, 64);
	kcm_tracker_mark(t, 191);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, s, 0, 128, cur, out), 2);
	kcm_dirty_restore(s, 0, 128, out);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, s, 0, 128, cur, out), 2);
	KUNIT_EXPECT_TRUE(test, test_bit(0, out));
	KUNIT_EXPECT_TRUE(test, test_bit(127, out));
	/* A part of a slot, 64 gfns in. */
	bitmap_zero(out, 128);
	__set_bit(5, out);
	kcm_dirty_restore(s, 64, 64, out);
	KUNIT_EXPECT_TRUE(test, test_bit(69, s->dirty));
	KUNIT_EXPECT_EQ(test, bitmap_weight(s->dirty, 128), 1);
}

static void dirty_pending_for_finish(struct kunit *test)
{
	struct kcm_tracker *t = kcm_test_tracker(test);
	struct kcm_dirty_slot *s = &t->slots[0];	/* [64, 192) */
	unsigned long cur[2], out[2];

	kcm_test_attr(test, t->attrs, 64, 191, PRIV);
	kcm_test_attr(test, t->attrs, 1000, 1199, PRIV);
	kcm_test_snapshot(test, t);
	bitmap_copy(cur, s->priv, 128);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), 0);
	bitmap_copy(s->unsent, cur, 128);		/* as tracking leaves it */
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -ENODATA);
	bitmap_zero(s->unsent, 128);
	kcm_tracker_sent(t, 70);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), 0);

	kcm_tracker_mark(t, 70);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -EBUSY);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, s, 0, 128, cur, out), 1);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -ENODATA);
	kcm_tracker_sent(t, 70);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), 0);

	/* A write in the other slot counts as much; EBUSY beats ENODATA. */
	__set_bit(3, t->slots[0].unsent);
	kcm_tracker_mark(t, 1100);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -EBUSY);
	__clear_bit(100, t->slots[1].dirty);
	__clear_bit(3, t->slots[0].unsent);

	/* A gfn that turned shared needs nothing; one that turned private does. */
	kcm_tracker_mark(t, 80);
	kcm_test_attr(test, t->attrs, 80, 80, 0);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), 0);
	kcm_test_attr(test, t->attrs, 80, 80, PRIV);
	__clear_bit(16, s->dirty);
	__clear_bit(16, s->priv);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -EBUSY);
	/* Another attribute bit is not private. */
	kcm_test_attr(test, t->attrs, 80, 80, PRIV << 1);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), 0);
}

/*
 * An overflow costs one full resend: every private gfn of every slot is
 * reported once, and then the migration can complete. (Before, the flag
 * was never cleared: every report was everything and FINISH always EBUSY.)
 */
static void overflow_costs_a_full_resend(struct kunit *test)
{
	struct kcm_tracker *t = kcm_test_tracker(test);
	unsigned long cur[BITS_TO_LONGS(200)];
	u64 gfns[8] = { 64, 100, 191, 1000 };

	kcm_test_attr(test, t->attrs, 64, 191, PRIV);
	kcm_test_attr(test, t->attrs, 1000, 1199, PRIV);
	kcm_test_attr(test, t->attrs, 1010, 1019, 0);	/* 10 shared */
	kcm_test_snapshot(test, t);
	KUNIT_ASSERT_EQ(test, kcm_dirty_pending(t), 0);

	WRITE_ONCE(t->overflow, true);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -EBUSY);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(t->overflow));	/* folded */
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -EBUSY);	/* still */

	/* Slot [64, 192): all of it, once. */
	KUNIT_ASSERT_EQ(test, kcm_private_bits(t->attrs, 64, 128, cur), 0);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, &t->slots[0], 0, 128, cur, cur),
			128);
	KUNIT_ASSERT_EQ(test, kcm_private_bits(t->attrs, 64, 128, cur), 0);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, &t->slots[0], 0, 128, cur, cur),
			0);
	/* Slot [1000, 1200): its private gfns, once, harvested later. */
	KUNIT_ASSERT_EQ(test, kcm_private_bits(t->attrs, 1000, 200, cur), 0);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, &t->slots[1], 0, 200, cur, cur),
			190);
	KUNIT_EXPECT_FALSE(test, test_bit(15, cur));
	KUNIT_ASSERT_EQ(test, kcm_private_bits(t->attrs, 1000, 200, cur), 0);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, &t->slots[1], 0, 200, cur, cur),
			0);

	/* Everything reported is unsent until packaged. */
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -ENODATA);
	kcm_tracker_sent_batch(t, gfns, 4);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -ENODATA);
	bitmap_zero(t->slots[0].unsent, 128);
	bitmap_zero(t->slots[1].unsent, 200);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), 0);

	/* A harvest folds too, and its report has every private gfn of the range. */
	WRITE_ONCE(t->overflow, true);
	KUNIT_ASSERT_EQ(test, kcm_private_bits(t->attrs, 1064, 136, cur), 0);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(t, &t->slots[1], 64, 136, cur, cur),
			136);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(t->overflow));
	KUNIT_EXPECT_EQ(test, bitmap_weight(t->slots[1].dirty, 200), 64);
	KUNIT_EXPECT_EQ(test, bitmap_weight(t->slots[0].dirty, 128), 128);
}

static void sent_batch_clears_unsent(struct kunit *test)
{
	struct kcm_tracker *t = kcm_test_tracker(test);
	u64 gfns[] = { 64, 100, 1000, 5000 };

	bitmap_fill(t->slots[0].unsent, 128);
	bitmap_fill(t->slots[1].unsent, 200);
	kcm_tracker_sent_batch(t, gfns, ARRAY_SIZE(gfns));
	KUNIT_EXPECT_EQ(test, bitmap_weight(t->slots[0].unsent, 128), 126);
	KUNIT_EXPECT_EQ(test, bitmap_weight(t->slots[1].unsent, 200), 199);
	KUNIT_EXPECT_FALSE(test, test_bit(36, t->slots[0].unsent));
}

/* Runs closer than the gap are re-armed together; the ranges cover every bit. */
static void dirty_next_run_merges_close_runs(struct kunit *test)
{
	DECLARE_BITMAP(bits, 1024);
	unsigned long *big;
	u64 start, end, n;

	bitmap_zero(bits, 1024);
	KUNIT_EXPECT_FALSE(test, kcm_dirty_next_run(bits, 1024, 0, 8, &start, &end));

	bitmap_set(bits, 3, 2);		/* [3, 5) */
	bitmap_set(bits, 12, 1);	/* 7 clear bits later: merged */
	bitmap_set(bits, 21, 4);	/* 8 clear bits later: not merged */
	bitmap_set(bits, 1023, 1);	/* the last bit */
	KUNIT_ASSERT_TRUE(test, kcm_dirty_next_run(bits, 1024, 0, 8, &start, &end));
	KUNIT_EXPECT_EQ(test, start, 3);
	KUNIT_EXPECT_EQ(test, end, 13);
	KUNIT_ASSERT_TRUE(test, kcm_dirty_next_run(bits, 1024, end, 8, &start, &end));
	KUNIT_EXPECT_EQ(test, start, 21);
	KUNIT_EXPECT_EQ(test, end, 25);
	KUNIT_ASSERT_TRUE(test, kcm_dirty_next_run(bits, 1024, end, 8, &start, &end));
	KUNIT_EXPECT_EQ(test, start, 1023);
	KUNIT_EXPECT_EQ(test, end, 1024);
	KUNIT_EXPECT_FALSE(test, kcm_dirty_next_run(bits, 1024, end, 8, &start, &end));

	/* A gap of 1: each run alone. A gap wider than the map: one range. */
	KUNIT_ASSERT_TRUE(test, kcm_dirty_next_run(bits, 1024, 0, 1, &start, &end));
	KUNIT_EXPECT_EQ(test, end, 5);
	KUNIT_ASSERT_TRUE(test, kcm_dirty_next_run(bits, 1024, 0, 2048, &start, &end));
	KUNIT_EXPECT_EQ(test, start, 3);
	KUNIT_EXPECT_EQ(test, end, 1024);

	/* Every other bit of 3 * KCM_RUN_MAX: ranges of at most KCM_RUN_MAX. */
	n = 3 * KCM_RUN_MAX;
	big = kunit_kcalloc(test, BITS_TO_LONGS(n), sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, big);
	memset(big, 0x55, BITS_TO_LONGS(n) * sizeof(long));
	end = 0;
	for (start = 0; kcm_dirty_next_run(big, n, end, 8, &start, &end); )
		KUNIT_ASSERT_LE(test, end - start, KCM_RUN_MAX);
	KUNIT_EXPECT_EQ(test, end, n - 1);

	/*
	 * Only the last bit set: no call looks at more than KCM_RUN_MAX bits
	 * to find it; those that find nothing return an empty range.
	 */
	bitmap_zero(big, n);
	__set_bit(n - 1, big);
	KUNIT_ASSERT_TRUE(test, kcm_dirty_next_run(big, n, 0, 8, &start, &end));
	KUNIT_EXPECT_EQ(test, start, KCM_RUN_MAX);
	KUNIT_EXPECT_EQ(test, end, KCM_RUN_MAX);
	KUNIT_ASSERT_TRUE(test, kcm_dirty_next_run(big, n, end, 8, &start, &end));
	KUNIT_EXPECT_EQ(test, start, 2 * KCM_RUN_MAX);
	KUNIT_EXPECT_EQ(test, end, 2 * KCM_RUN_MAX);
	KUNIT_ASSERT_TRUE(test, kcm_dirty_next_run(big, n, end, 8, &start, &end));
	KUNIT_EXPECT_EQ(test, start, n - 1);
	KUNIT_EXPECT_EQ(test, end, n);
	KUNIT_EXPECT_FALSE(test, kcm_dirty_next_run(big, n, end, 8, &start, &end));
}

/* The private bits and runs of [first, first + n), from xa_load() per gfn. */
static void kcm_test_expect_bits(struct kunit *test, struct xarray *xa, u64 first,
				 u64 n)
{
	unsigned long *bits = kunit_kcalloc(test, BITS_TO_LONGS(n), sizeof(long),
					    GFP_KERNEL);
	u64 i;

	KUNIT_ASSERT_NOT_NULL(test, bits);
	KUNIT_ASSERT_EQ(test, kcm_private_bits(xa, first, n, bits), 0);
	for (i = 0; i < n; i++) {
		void *e = xa_load(xa, first + i);
		bool priv = xa_is_value(e) && (xa_to_value(e) & PRIV);

		KUNIT_EXPECT_EQ_MSG(test, test_bit(i, bits), priv, "gfn %llu",
				    first + i);
	}
}

/* SHA-256 over the given runs, as kcm_private_digest() makes it. */
static void kcm_test_runs_digest(const u64 (*runs)[2], int n, u8 *digest)
{
	struct sha256_state sctx;
	__le64 run[2];
	int i;

	sha256_init(&sctx);
	for (i = 0; i < n; i++) {
		run[0] = cpu_to_le64(runs[i][0]);
		run[1] = cpu_to_le64(runs[i][1]);
		sha256_update(&sctx, (const u8 *)run, sizeof(run));
	}
	sha256_final(&sctx, digest);
}

/*
 * Multi-index entries, read from any gfn, also from inside an entry: the
 * bits are those of the gfns, and the runs are maximal however the
 * entries split them.
 */
static void private_walk_multi_index(struct kunit *test)
{
	static const u64 runs[][2] = { { 5, 295 }, { 311, 690 }, { 4096, 8192 } };
	struct xarray *xa = kcm_test_attrs(test);
	u8 digest[SHA256_DIGEST_SIZE], want[SHA256_DIGEST_SIZE];
	unsigned long bits[2];

	kcm_test_attr_range(test, xa, 5, 299, PRIV);
	kcm_test_attr_range(test, xa, 311, 1000, PRIV);	/* after a shared hole */
	kcm_test_attr_range(test, xa, 2000, 2047, PRIV << 1);	/* not private */
	kcm_test_attr_range(test, xa, 4096, 8191, PRIV);	/* one aligned entry */
	kcm_test_attr_range(test, xa, 8192, 12287, PRIV);	/* and two more */
	KUNIT_EXPECT_EQ(test, xa_get_order(xa, 4096), 12);

	kcm_test_expect_bits(test, xa, 0, 16384);
	kcm_test_expect_bits(test, xa, 7, 1000);	/* starts in an entry */
	kcm_test_expect_bits(test, xa, 5000, 100);	/* inside one entry */
	kcm_test_expect_bits(test, xa, 12280, 64);	/* across its end */
	kcm_test_expect_bits(test, xa, 20000, 64);	/* nothing */

	KUNIT_ASSERT_EQ(test, kcm_private_digest(xa, digest), 0);
	kcm_test_runs_digest(runs, ARRAY_SIZE(runs), want);
	KUNIT_EXPECT_MEMEQ(test, digest, want, sizeof(want));

	/* Order-0 entries, as KVM stores them, hash the same runs. */
	xa_destroy(xa);
	kcm_test_attr(test, xa, 5, 299, PRIV);
	kcm_test_attr(test, xa, 311, 1000, PRIV);
	kcm_test_attr(test, xa, 2000, 2047, PRIV << 1);
	kcm_test_attr(test, xa, 4096, 12287, PRIV);
	KUNIT_EXPECT_EQ(test, xa_get_order(xa, 4096), 0);
	kcm_test_expect_bits(test, xa, 0, 16384);
	KUNIT_ASSERT_EQ(test, kcm_private_digest(xa, digest), 0);
	KUNIT_EXPECT_MEMEQ(test, digest, want, sizeof(want));

	/* No attributes at all: nothing private. */
	KUNIT_EXPECT_EQ(test, kcm_private_bits(NULL, 0, 128, bits), 0);
	KUNIT_EXPECT_TRUE(test, bitmap_empty(bits, 128));
	KUNIT_EXPECT_EQ(test, kcm_private_bits(xa, 0, KVM_MEM_MAX_NR_PAGES + 1, bits),
			-EINVAL);
}

/*
 * A walk that starts inside a big entry and yields in it goes on from the
 * gfn after it: nothing after is skipped (xas_pause() from inside an entry
 * would skip as many slots past it as the start lay into it).
 */
static void private_walk_resumes_after_entry(struct kunit *test)
{
	const u64 a = (1ULL << 20) + 7, b = (1ULL << 20) + 4 * KCM_RESCHED_GFNS;
	const u64 first = a + 3 * KCM_RESCHED_GFNS / 2, n = b + 20 - first;
	struct xarray *xa = kcm_test_attrs(test);
	unsigned long *bits;

	kcm_test_attr_range(test, xa, a, b, PRIV);	/* head, body and tail */
	kcm_test_attr_range(test, xa, b + 10, b + 12, PRIV);
	bits = kunit_kcalloc(test, BITS_TO_LONGS(n), sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, bits);
	KUNIT_ASSERT_EQ(test, kcm_private_bits(xa, first, n, bits), 0);
	KUNIT_EXPECT_EQ(test, bitmap_weight(bits, n), b - first + 1 + 3);
	KUNIT_EXPECT_TRUE(test, test_bit(b - first, bits));
	KUNIT_EXPECT_FALSE(test, test_bit(b + 1 - first, bits));
	KUNIT_EXPECT_TRUE(test, test_bit(b + 12 - first, bits));
}

#define TIB_GFNS	BIT_ULL(28)		/* 1 TiB of 4 KiB pages */
#define TIB_BASE	(BIT_ULL(30) + 3)	/* unaligned: many entries */
#define TIB_CHUNK	BIT_ULL(20)		/* a GET_DIRTY of 4 GiB */

static long kcm_test_yields(void)
{
	return atomic_long_read(&kcm_dirty_yields);
}

/* @what, which covered @gfns gfns, rescheduled at least every KCM_RESCHED_GFNS. */
#define KCM_EXPECT_YIELDS(test, since, gfns, what)				\
	KUNIT_EXPECT_GE_MSG(test, kcm_test_yields() - (since),			\
			    (long)((gfns) / KCM_RESCHED_GFNS) - 1,		\
			    "%s: too few reschedule points", what)

/* Harvest the whole slot, as a VMM would, 4 GiB per GET_DIRTY. */
static u64 kcm_test_harvest_all(struct kunit *test, struct kcm_tracker *t,
				unsigned long *cur)
{
	struct kcm_dirty_slot *s = &t->slots[0];
	u64 off, count = 0;

	for (off = 0; off < s->npages; off += TIB_CHUNK) {
		KUNIT_EXPECT_EQ(test, kcm_private_bits(t->attrs, s->base_gfn + off,
						       TIB_CHUNK, cur), 0);
		count += kcm_dirty_harvest(t, s, off, TIB_CHUNK, cur, cur);
	}
	return count;
}

/*
 * 1 TiB of contiguous private memory: the digest, the attribute bits, the
 * completeness check and the harvest each reschedule at least every
 * KCM_RESCHED_GFNS gfns (on a kernel without full preemption a loop
 * without them is a soft lockup), and give the right answers. Memory: the
 * tracker's 3 bits per gfn (96 MiB) and a 128 KiB report.
 */
static void one_tib_private_range(struct kunit *test)
{
	static const u64 runs[][2] = { { TIB_BASE, TIB_GFNS } };
	u8 digest[SHA256_DIGEST_SIZE], want[SHA256_DIGEST_SIZE];
	struct xarray *xa = kcm_test_attrs(test);
	struct kcm_dirty_slot *s;
	struct kcm_tracker *t;
	unsigned long *cur;
	long y;

	kcm_test_attr_range(test, xa, TIB_BASE, TIB_BASE + TIB_GFNS - 1, PRIV);

	y = kcm_test_yields();
	KUNIT_ASSERT_EQ(test, kcm_private_digest(xa, digest), 0);
	KCM_EXPECT_YIELDS(test, y, TIB_GFNS, "kcm_private_digest");
	kcm_test_runs_digest(runs, 1, want);
	KUNIT_EXPECT_MEMEQ(test, digest, want, sizeof(want));

	t = kcm_tracker_alloc(NULL, 1);
	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kcm_test_tracker_free,
							t), 0);
	t->attrs = xa;
	KUNIT_ASSERT_EQ(test, kcm_tracker_set_slot(t, 0, TIB_BASE, TIB_GFNS), 0);
	KUNIT_ASSERT_EQ(test, kcm_tracker_sort(t), 0);
	s = &t->slots[0];
	cur = kunit_kcalloc(test, BITS_TO_LONGS(TIB_CHUNK), sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cur);

	y = kcm_test_yields();
	KUNIT_ASSERT_EQ(test, kcm_private_bits(xa, TIB_BASE, TIB_GFNS, s->priv), 0);
	KCM_EXPECT_YIELDS(test, y, TIB_GFNS, "kcm_private_bits");
	KUNIT_EXPECT_EQ(test, bitmap_weight(s->priv, TIB_GFNS), TIB_GFNS);

	/* FINISH's check over all of it, as tracking leaves it, then sent. */
	bitmap_copy(s->unsent, s->priv, TIB_GFNS);
	y = kcm_test_yields();
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -ENODATA);
	KCM_EXPECT_YIELDS(test, y, TIB_GFNS, "kcm_dirty_pending");
	bitmap_zero(s->unsent, TIB_GFNS);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), 0);

	/* One write at the very end. */
	kcm_tracker_mark(t, TIB_BASE + TIB_GFNS - 1);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -EBUSY);
	KUNIT_EXPECT_EQ(test, kcm_test_harvest_all(test, t, cur), 1);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -ENODATA);
	kcm_tracker_sent(t, TIB_BASE + TIB_GFNS - 1);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), 0);

	/* An overflow: one full resend of the terabyte, then complete. */
	WRITE_ONCE(t->overflow, true);
	y = kcm_test_yields();
	KUNIT_EXPECT_EQ(test, kcm_test_harvest_all(test, t, cur), TIB_GFNS);
	KCM_EXPECT_YIELDS(test, y, 2 * TIB_GFNS, "fold and harvest");
	KUNIT_EXPECT_EQ(test, kcm_test_harvest_all(test, t, cur), 0);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -ENODATA);
	bitmap_zero(s->unsent, TIB_GFNS);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), 0);
}

/* The walks that may stop, stop on a fatal signal, with -EINTR. */
static void fatal_signal_stops_walks(struct kunit *test)
{
	u8 digest[SHA256_DIGEST_SIZE];
	struct xarray *xa = kcm_test_attrs(test);
	struct kcm_tracker *t;
	unsigned long *bits;

	kcm_test_attr_range(test, xa, 0, 4 * KCM_RESCHED_GFNS - 1, PRIV);
	bits = kunit_kcalloc(test, BITS_TO_LONGS(4 * KCM_RESCHED_GFNS), sizeof(long),
			     GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, bits);
	t = kcm_tracker_alloc(NULL, 1);
	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kcm_test_tracker_free,
							t), 0);
	t->attrs = xa;
	KUNIT_ASSERT_EQ(test, kcm_tracker_set_slot(t, 0, 0, 4 * KCM_RESCHED_GFNS), 0);
	kcm_test_snapshot(test, t);		/* clean: the check runs to the end */

	/* The test runs in a kthread, which ignores signals unless allowed. */
	allow_signal(SIGKILL);
	send_sig(SIGKILL, current, 1);
	KUNIT_EXPECT_TRUE(test, fatal_signal_pending(current));
	KUNIT_EXPECT_EQ(test, kcm_private_digest(xa, digest), -EINTR);
	KUNIT_EXPECT_EQ(test, kcm_private_bits(xa, 0, 4 * KCM_RESCHED_GFNS, bits),
			-EINTR);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), -EINTR);
	flush_signals(current);
	disallow_signal(SIGKILL);
	KUNIT_EXPECT_EQ(test, kcm_private_digest(xa, digest), 0);
	KUNIT_EXPECT_EQ(test, kcm_private_bits(xa, 0, 4 * KCM_RESCHED_GFNS, bits), 0);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(t), 0);
}

static struct kunit_case kcm_dirty_cases[] = {
	KUNIT_CASE(tracker_find_and_mark),
	KUNIT_CASE(tracker_mark_range_covers_mapping),
	KUNIT_CASE(tracker_rejects_bad_slots),
	KUNIT_CASE(dirty_range_rules),
	KUNIT_CASE(dirty_harvest_reports_and_rearms),
	KUNIT_CASE(dirty_restore_gives_back),
	KUNIT_CASE(dirty_pending_for_finish),
	KUNIT_CASE(overflow_costs_a_full_resend),
	KUNIT_CASE(sent_batch_clears_unsent),
	KUNIT_CASE(dirty_next_run_merges_close_runs),
	KUNIT_CASE(private_walk_multi_index),
	KUNIT_CASE(private_walk_resumes_after_entry),
	KUNIT_CASE(fatal_signal_stops_walks),
	KUNIT_CASE_SLOW(one_tib_private_range),
	{}
};

static struct kunit_suite kcm_dirty_suite = {
	.name = "kvm_coco_mig_dirty",
	.test_cases = kcm_dirty_cases,
};

kunit_test_suite(kcm_dirty_suite);
