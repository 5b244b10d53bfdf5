// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the bookkeeping of the tracker over KVM's dirty log:
 * taking the log (cleared, split between the views), reporting one view
 * while the other's bits wait, restoring an undelivered report, giving
 * unreported bits back to the log at the end, the private view's FINISH
 * check, conversions between the views, and the range rules.
 *
 * KVM's dirty bitmap is a synthetic one here; the memslot lookups, the
 * re-arm (a zap) and the vCPU kicks are kvmlog.c's KVM side, which the
 * kselftest shared_dirty_test runs.
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/kvm_host.h>

#include "kvmlog.h"

#define NPAGES	256	/* four words */

static void kcm_test_log_free(void *t)
{
	kcm_log_free(t);
}

/* A tracker of one slot of NPAGES gfns at @base, freed with the test. */
static struct kcm_log_tracker *kcm_test_log(struct kunit *test, u32 views,
					    u64 base)
{
	struct kcm_log_tracker *t = kcm_log_alloc(NULL, 1, views);

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kcm_test_log_free, t), 0);
	KUNIT_ASSERT_EQ(test, kcm_log_set_slot(t, 0, 3, base, NPAGES), 0);
	KUNIT_ASSERT_EQ(test, kcm_log_sort(t), 0);
	return t;
}

static void log_take_clears_the_log_and_reports_once(struct kunit *test)
{
	struct kcm_log_tracker *t = kcm_test_log(test, BIT(KCM_VIEW_SHARED), 1024);
	struct kcm_log_slot *ls = &t->slots[0];
	DECLARE_BITMAP(log, NPAGES) = {};
	DECLARE_BITMAP(taken, NPAGES);
	DECLARE_BITMAP(out, NPAGES);

	KUNIT_EXPECT_PTR_EQ(test, t->track.ops, &kcm_log_shared_track_ops);
	KUNIT_EXPECT_NULL(test, ls->priv);
	__set_bit(0, log);
	__set_bit(70, log);
	__set_bit(255, log);
	kcm_log_take(ls, log, 0, NPAGES, taken);
	/* KVM's log is empty: the session holds the bits now. */
	KUNIT_EXPECT_TRUE(test, bitmap_empty(log, NPAGES));
	KUNIT_EXPECT_EQ(test, bitmap_weight(taken, NPAGES), 3);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, out), 3);
	KUNIT_EXPECT_TRUE(test, bitmap_equal(out, taken, NPAGES));
	/* Reported: the next report is empty, unless KVM logs again. */
	kcm_log_take(ls, log, 0, NPAGES, taken);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, out), 0);
	__set_bit(70, log);
	kcm_log_take(ls, log, 0, NPAGES, taken);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, out), 1);
	KUNIT_EXPECT_TRUE(test, test_bit(70, out));
}

static void log_take_of_a_range_leaves_the_rest(struct kunit *test)
{
	struct kcm_log_tracker *t = kcm_test_log(test, BIT(KCM_VIEW_SHARED), 0);
	struct kcm_log_slot *ls = &t->slots[0];
	DECLARE_BITMAP(log, NPAGES) = {};
	DECLARE_BITMAP(taken, 64);
	DECLARE_BITMAP(out, 64);

	__set_bit(10, log);
	__set_bit(64 + 5, log);
	kcm_log_take(ls, log, 64, 64, taken);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_SHARED, 64, 64, out), 1);
	KUNIT_EXPECT_TRUE(test, test_bit(5, out));
	/* Outside the range: still KVM's. */
	KUNIT_EXPECT_TRUE(test, test_bit(10, log));
	KUNIT_EXPECT_FALSE(test, test_bit(64 + 5, log));
}

static void log_report_of_one_view_keeps_the_other(struct kunit *test)
{
	u32 both = BIT(KCM_VIEW_PRIVATE) | BIT(KCM_VIEW_SHARED);
	struct kcm_log_tracker *t = kcm_test_log(test, both, 0);
	struct kcm_log_slot *ls = &t->slots[0];
	DECLARE_BITMAP(log, NPAGES) = {};
	DECLARE_BITMAP(taken, NPAGES);
	DECLARE_BITMAP(out, NPAGES);

	KUNIT_EXPECT_PTR_EQ(test, t->track.ops, &kcm_log_track_ops);
	/* Every gfn starts private; 128..255 turn shared. */
	KUNIT_ASSERT_EQ(test, kcm_log_set_private(t, 128, 128, false), 0);
	/* Those became pending in the shared view: their content is new there. */
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, out), 128);
	__set_bit(1, log);		/* private */
	__set_bit(200, log);		/* shared */
	/* A harvest of the shared view takes both bits from the log ... */
	kcm_log_take(ls, log, 0, NPAGES, taken);
	KUNIT_EXPECT_EQ(test, bitmap_weight(taken, NPAGES), 2);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, out), 1);
	KUNIT_EXPECT_TRUE(test, test_bit(200, out));
	/* ... and the private view still gets its own, from nothing in the log. */
	KUNIT_EXPECT_TRUE(test, bitmap_empty(log, NPAGES));
	kcm_log_take(ls, log, 0, NPAGES, taken);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_PRIVATE, 0, NPAGES, out), 1);
	KUNIT_EXPECT_TRUE(test, test_bit(1, out));
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, out), 0);
}

static void log_restore_reports_again(struct kunit *test)
{
	struct kcm_log_tracker *t = kcm_test_log(test, BIT(KCM_VIEW_SHARED), 0);
	struct kcm_log_slot *ls = &t->slots[0];
	DECLARE_BITMAP(log, NPAGES) = {};
	DECLARE_BITMAP(taken, NPAGES);
	DECLARE_BITMAP(out, NPAGES);
	DECLARE_BITMAP(again, NPAGES);

	bitmap_set(log, 60, 10);
	kcm_log_take(ls, log, 0, NPAGES, taken);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, out), 10);
	kcm_log_restore(ls, KCM_VIEW_SHARED, 0, NPAGES, out);
	kcm_log_take(ls, log, 0, NPAGES, taken);
	KUNIT_EXPECT_TRUE(test, bitmap_empty(taken, NPAGES));
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, again), 10);
	KUNIT_EXPECT_TRUE(test, bitmap_equal(out, again, NPAGES));
}

static void log_give_back_returns_unreported_bits(struct kunit *test)
{
	u32 both = BIT(KCM_VIEW_PRIVATE) | BIT(KCM_VIEW_SHARED);
	struct kcm_log_tracker *t = kcm_test_log(test, both, 0);
	struct kcm_log_slot *ls = &t->slots[0];
	DECLARE_BITMAP(log, NPAGES) = {};
	DECLARE_BITMAP(taken, NPAGES);
	DECLARE_BITMAP(out, NPAGES);

	KUNIT_ASSERT_EQ(test, kcm_log_set_private(t, 64, 64, false), 0);
	kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, out);
	__set_bit(3, log);		/* private, taken by a shared harvest */
	__set_bit(65, log);		/* shared, reported */
	__set_bit(66, log);		/* shared, restored after a fault */
	kcm_log_take(ls, log, 0, NPAGES, taken);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, out), 2);
	__clear_bit(65, out);
	kcm_log_restore(ls, KCM_VIEW_SHARED, 0, NPAGES, out);
	__set_bit(200, log);		/* KVM logged since */
	kcm_log_give_back(ls, log);
	KUNIT_EXPECT_EQ(test, bitmap_weight(log, NPAGES), 3);
	KUNIT_EXPECT_TRUE(test, test_bit(3, log));
	KUNIT_EXPECT_TRUE(test, test_bit(66, log));
	KUNIT_EXPECT_TRUE(test, test_bit(200, log));
	/* Given back: the session holds nothing any more. */
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_PRIVATE, 0, NPAGES, out), 0);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, out), 0);
}

static void log_check_for_finish(struct kunit *test)
{
	u32 both = BIT(KCM_VIEW_PRIVATE) | BIT(KCM_VIEW_SHARED);
	struct kcm_log_tracker *t = kcm_test_log(test, both, 512);
	struct kcm_log_slot *ls = &t->slots[0];
	DECLARE_BITMAP(log, NPAGES) = {};
	DECLARE_BITMAP(taken, NPAGES);
	DECLARE_BITMAP(out, NPAGES);
	u64 g;

	/* Private at the start: unsent until packaged. */
	KUNIT_EXPECT_EQ(test, kcm_log_check(ls, log), -ENODATA);
	KUNIT_ASSERT_EQ(test, kcm_log_set_private(t, 512 + 128, 128, false), 0);
	for (g = 512; g < 512 + 128; g++)
		kcm_log_sent(t, g);
	KUNIT_EXPECT_EQ(test, kcm_log_check(ls, log), 0);
	/* A shared gfn written: not the private view's business. */
	__set_bit(130, log);
	KUNIT_EXPECT_EQ(test, kcm_log_check(ls, log), 0);
	/* A private gfn written: dirty, in KVM's log ... */
	__set_bit(5, log);
	KUNIT_EXPECT_EQ(test, kcm_log_check(ls, log), -EBUSY);
	/* ... or taken by a shared harvest and not reported yet ... */
	kcm_log_take(ls, log, 0, NPAGES, taken);
	kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, out);
	KUNIT_EXPECT_TRUE(test, bitmap_empty(log, NPAGES));
	KUNIT_EXPECT_EQ(test, kcm_log_check(ls, log), -EBUSY);
	/* ... then reported: unsent until packaged. */
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_PRIVATE, 0, NPAGES, out), 1);
	KUNIT_EXPECT_EQ(test, kcm_log_check(ls, log), -ENODATA);
	kcm_log_sent(t, 512 + 5);
	KUNIT_EXPECT_EQ(test, kcm_log_check(ls, log), 0);
	/* Out of the tracker: nothing. */
	kcm_log_sent(t, 5);
	kcm_log_sent(t, 512 + NPAGES);
}

static void log_conversion_moves_a_gfn_to_its_new_view(struct kunit *test)
{
	u32 both = BIT(KCM_VIEW_PRIVATE) | BIT(KCM_VIEW_SHARED);
	struct kcm_log_tracker *t = kcm_test_log(test, both, 0);
	struct kcm_log_tracker *sh = kcm_test_log(test, BIT(KCM_VIEW_SHARED), 0);
	struct kcm_log_slot *ls = &t->slots[0];
	DECLARE_BITMAP(log, NPAGES) = {};
	DECLARE_BITMAP(out, NPAGES);
	u64 g;

	for (g = 0; g < NPAGES; g++)
		kcm_log_sent(t, g);
	KUNIT_EXPECT_EQ(test, kcm_log_check(ls, log), 0);
	/* Shared: pending there, and no longer the private view's. */
	KUNIT_ASSERT_EQ(test, kcm_log_set_private(t, 10, 2, false), 0);
	KUNIT_EXPECT_EQ(test, kcm_log_check(ls, log), 0);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_PRIVATE, 0, NPAGES, out), 0);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_SHARED, 0, NPAGES, out), 2);
	/* Private again: its private content is to be sent (pending, unsent). */
	KUNIT_ASSERT_EQ(test, kcm_log_set_private(t, 10, 1, true), 0);
	KUNIT_EXPECT_EQ(test, kcm_log_check(ls, log), -EBUSY);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_PRIVATE, 0, NPAGES, out), 1);
	KUNIT_EXPECT_TRUE(test, test_bit(10, out));
	KUNIT_EXPECT_EQ(test, kcm_log_check(ls, log), -ENODATA);
	/* No change, no report. */
	KUNIT_ASSERT_EQ(test, kcm_log_set_private(t, 10, 1, true), 0);
	KUNIT_EXPECT_EQ(test, kcm_log_report(ls, KCM_VIEW_PRIVATE, 0, NPAGES, out), 0);
	/* Bad ranges, and a tracker without a private view. */
	KUNIT_EXPECT_EQ(test, kcm_log_set_private(t, NPAGES, 1, true), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_log_set_private(t, NPAGES - 1, 2, true), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_log_set_private(t, 0, 0, true), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_log_set_private(sh, 0, 1, true), -EINVAL);
}

static void log_range_rules(struct kunit *test)
{
	struct kcm_log_tracker *t = kcm_log_alloc(NULL, 2, BIT(KCM_VIEW_SHARED));
	u64 first, nr;

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kcm_test_log_free, t), 0);
	/* Out of order, and one with a ragged end. */
	KUNIT_ASSERT_EQ(test, kcm_log_set_slot(t, 0, 1, 4096, 100), 0);
	KUNIT_ASSERT_EQ(test, kcm_log_set_slot(t, 1, 2, 1024, NPAGES), 0);
	KUNIT_ASSERT_EQ(test, kcm_log_sort(t), 0);
	KUNIT_EXPECT_EQ(test, t->nr_pages, 100 + NPAGES);

	/* Queries: the slot that holds a gfn, or the next one. */
	first = 0;
	nr = 0;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), 0);
	KUNIT_EXPECT_EQ(test, first, 1024);
	KUNIT_EXPECT_EQ(test, nr, NPAGES);
	first = 1024 + 7;
	nr = 0;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), 0);
	KUNIT_EXPECT_EQ(test, first, 1024);
	first = 1024 + NPAGES;
	nr = 0;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), 0);
	KUNIT_EXPECT_EQ(test, first, 4096);
	KUNIT_EXPECT_EQ(test, nr, 100);
	first = 4096 + 100;
	nr = 0;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), -ENOENT);

	/* Ranges. */
	first = 1024;
	nr = NPAGES;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), 0);
	first = 1024 + 64;
	nr = 64;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), 0);
	first = 4096 + 64;
	nr = 36;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), 0);
	first = 1024 + 1;
	nr = 64;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), -EINVAL);
	first = 1024;
	nr = NPAGES + 64;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), -EINVAL);
	first = 1024;
	nr = 100;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), -EINVAL);
	first = 1024;
	nr = ~0ull;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), -EINVAL);
	first = 1000;
	nr = 64;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), -ENOENT);
	first = 4096 + 128;
	nr = 64;
	KUNIT_EXPECT_EQ(test, kcm_log_range(t, &first, &nr), -ENOENT);
}

static void log_rejects_bad_slots(struct kunit *test)
{
	struct kcm_log_tracker *t = kcm_log_alloc(NULL, 2, BIT(KCM_VIEW_SHARED));

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kcm_test_log_free, t), 0);
	KUNIT_EXPECT_EQ(test, kcm_log_set_slot(t, 2, 1, 0, 64), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_log_set_slot(t, 0, 1, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_log_set_slot(t, 0, 1, ~0ull - 10, 64), -EINVAL);
	KUNIT_ASSERT_EQ(test, kcm_log_set_slot(t, 0, 1, 0, 128), 0);
	KUNIT_ASSERT_EQ(test, kcm_log_set_slot(t, 1, 2, 64, 128), 0);
	KUNIT_EXPECT_EQ(test, kcm_log_sort(t), -EINVAL);
}

static struct kunit_case kcm_kvmlog_cases[] = {
	KUNIT_CASE(log_take_clears_the_log_and_reports_once),
	KUNIT_CASE(log_take_of_a_range_leaves_the_rest),
	KUNIT_CASE(log_report_of_one_view_keeps_the_other),
	KUNIT_CASE(log_restore_reports_again),
	KUNIT_CASE(log_give_back_returns_unreported_bits),
	KUNIT_CASE(log_check_for_finish),
	KUNIT_CASE(log_conversion_moves_a_gfn_to_its_new_view),
	KUNIT_CASE(log_range_rules),
	KUNIT_CASE(log_rejects_bad_slots),
	{}
};

static struct kunit_suite kcm_kvmlog_suite = {
	.name = "kvm_coco_mig_kvmlog",
	.test_cases = kcm_kvmlog_cases,
};

kunit_test_suite(kcm_kvmlog_suite);
