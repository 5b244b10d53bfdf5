// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the dirty tracker's bookkeeping: slot lookup, the range
 * rules of GET_DIRTY, harvesting (dirty, newly private, shared dropped),
 * restoring an undelivered report, and the FINISH completeness check.
 */
#include <kunit/test.h>
#include <linux/bitmap.h>

#include "dirty.h"

static void kcm_test_tracker_free(void *t)
{
	kcm_tracker_free(t);
}

/* Two slots, given out of order: [1000, 1000 + 200) and [64, 64 + 128). */
static struct kcm_tracker *kcm_test_tracker(struct kunit *test)
{
	struct kcm_tracker *t = kcm_tracker_alloc(NULL, 2);

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kcm_test_tracker_free,
							t), 0);
	KUNIT_ASSERT_EQ(test, kcm_tracker_set_slot(t, 0, 1000, 200), 0);
	KUNIT_ASSERT_EQ(test, kcm_tracker_set_slot(t, 1, 64, 128), 0);
	KUNIT_ASSERT_EQ(test, kcm_tracker_sort(t), 0);
	return t;
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

static void tracker_rejects_bad_slots(struct kunit *test)
{
	struct kcm_tracker *t = kcm_tracker_alloc(NULL, 2);

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kcm_test_tracker_free,
							t), 0);
	KUNIT_EXPECT_EQ(test, kcm_tracker_set_slot(t, 2, 0, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_tracker_set_slot(t, 0, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_tracker_set_slot(t, 0, U64_MAX, 2), -EINVAL);
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
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(s, 0, 200, cur, false, out), 2);
	KUNIT_EXPECT_TRUE(test, test_bit(3, out));
	KUNIT_EXPECT_TRUE(test, test_bit(199, out));
	KUNIT_EXPECT_FALSE(test, test_bit(12, out));
	KUNIT_EXPECT_TRUE(test, bitmap_empty(s->dirty, 200));	/* re-armed */
	KUNIT_EXPECT_TRUE(test, test_bit(3, s->unsent));

	/* Nothing since: an empty report. */
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(s, 0, 200, cur, false, out), 0);

	/* 12 turns private: reported without a write; 3 turns shared. */
	__set_bit(12, cur);
	__clear_bit(3, cur);
	kcm_tracker_mark(t, 1003);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(s, 0, 200, cur, false, out), 1);
	KUNIT_EXPECT_TRUE(test, test_bit(12, out));
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(s, 0, 200, cur, false, out), 0);

	/* A part of the slot: bits outside it stay for later. */
	kcm_tracker_mark(t, 1001);
	kcm_tracker_mark(t, 1130);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(s, 128, 72, cur + 2, false, out), 1);
	KUNIT_EXPECT_TRUE(test, test_bit(2, out));
	KUNIT_EXPECT_TRUE(test, test_bit(1, s->dirty));

	/* Overflowed: every private gfn of the range. */
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(s, 128, 72, cur + 2, true, out), 72);
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
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(s, 0, 128, cur, false, out), 2);
	kcm_dirty_restore(s, 0, 128, out);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(s, 0, 128, cur, false, out), 2);
	KUNIT_EXPECT_TRUE(test, test_bit(0, out));
	KUNIT_EXPECT_TRUE(test, test_bit(127, out));
}

static void dirty_pending_for_finish(struct kunit *test)
{
	struct kcm_tracker *t = kcm_test_tracker(test);
	struct kcm_dirty_slot *s = &t->slots[0];	/* [64, 192) */
	unsigned long cur[2], out[2];

	bitmap_fill(cur, 128);
	bitmap_copy(s->priv, cur, 128);
	bitmap_copy(s->unsent, cur, 128);		/* as TRACK_START leaves it */
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(s, cur, false), -ENODATA);
	bitmap_zero(s->unsent, 128);
	kcm_tracker_sent(t, 70);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(s, cur, false), 0);

	kcm_tracker_mark(t, 70);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(s, cur, false), -EBUSY);
	KUNIT_EXPECT_EQ(test, kcm_dirty_harvest(s, 0, 128, cur, false, out), 1);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(s, cur, false), -ENODATA);
	kcm_tracker_sent(t, 70);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(s, cur, false), 0);

	/* A gfn that turned shared needs nothing; one that turned private does. */
	kcm_tracker_mark(t, 80);
	__clear_bit(16, cur);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(s, cur, false), 0);
	__set_bit(16, cur);
	__clear_bit(16, s->priv);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(s, cur, false), -EBUSY);
	/* Overflowed: any private gfn is pending. */
	bitmap_copy(s->priv, cur, 128);
	bitmap_zero(s->dirty, 128);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(s, cur, true), -EBUSY);
	bitmap_zero(cur, 128);
	KUNIT_EXPECT_EQ(test, kcm_dirty_pending(s, cur, true), 0);
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
	u64 start, end;

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
}

static struct kunit_case kcm_dirty_cases[] = {
	KUNIT_CASE(tracker_find_and_mark),
	KUNIT_CASE(tracker_rejects_bad_slots),
	KUNIT_CASE(dirty_range_rules),
	KUNIT_CASE(dirty_harvest_reports_and_rearms),
	KUNIT_CASE(dirty_restore_gives_back),
	KUNIT_CASE(dirty_pending_for_finish),
	KUNIT_CASE(sent_batch_clears_unsent),
	KUNIT_CASE(dirty_next_run_merges_close_runs),
	{}
};

static struct kunit_suite kcm_dirty_suite = {
	.name = "kvm_coco_mig_dirty",
	.test_cases = kcm_dirty_cases,
};

kunit_test_suite(kcm_dirty_suite);
