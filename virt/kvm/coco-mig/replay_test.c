// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for sequence and completeness bookkeeping (suite
 * kvm_coco_mig_replay).
 */
#include <kunit/test.h>

#include "packet.h"
#include "replay.h"

static void kcm_seq_map_exit(void *data)
{
	kcm_seq_map_destroy(data);
}

/* kcm_seq_record() as a stream calls it: under the gfn's lock. */
static int kcm_test_record(struct kcm_seq_map *m, u64 gfn, u64 seq)
{
	int ret;

	kcm_seq_lock(m, gfn);
	ret = kcm_seq_record(m, gfn, seq);
	kcm_seq_unlock(m, gfn);
	return ret;
}

static struct kcm_seq_map *kcm_test_map(struct kunit *test)
{
	struct kcm_seq_map *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, m);
	kcm_seq_map_init(m);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kcm_seq_map_exit, m), 0);
	return m;
}

static void seq_first_version_is_accepted(struct kunit *test)
{
	struct kcm_seq_map *m = kcm_test_map(test);

	KUNIT_EXPECT_EQ(test, kcm_seq_check(m, 7, 1), 0);
	KUNIT_EXPECT_EQ(test, kcm_seq_check(m, 7, KCM_SEQ_MAX), 0);
}

static void seq_replay_and_older_are_stale(struct kunit *test)
{
	struct kcm_seq_map *m = kcm_test_map(test);

	KUNIT_ASSERT_EQ(test, kcm_test_record(m, 7, 10), 0);
	KUNIT_EXPECT_EQ(test, kcm_seq_check(m, 7, 10), -ESTALE);	/* replay */
	KUNIT_EXPECT_EQ(test, kcm_seq_check(m, 7, 9), -ESTALE);	/* older */
	KUNIT_EXPECT_EQ(test, kcm_seq_check(m, 7, 1), -ESTALE);
	KUNIT_EXPECT_EQ(test, kcm_seq_check(m, 7, 11), 0);		/* newer */
	KUNIT_EXPECT_EQ(test, kcm_seq_check(m, 8, 1), 0);		/* other gfn */
}

static void seq_record_counts_distinct_gfns(struct kunit *test)
{
	struct kcm_seq_map *m = kcm_test_map(test);

	KUNIT_ASSERT_EQ(test, kcm_test_record(m, 1, 1), 0);
	KUNIT_ASSERT_EQ(test, kcm_test_record(m, 2, 2), 0);
	KUNIT_ASSERT_EQ(test, kcm_test_record(m, 1, 3), 0);
	KUNIT_EXPECT_EQ(test, kcm_seq_pages(m), 2ULL);
	KUNIT_EXPECT_EQ(test, kcm_seq_check(m, 1, 2), -ESTALE);
}

/* Two streams finishing in either order leave the newest version recorded. */
static void seq_record_keeps_the_newest(struct kunit *test)
{
	struct kcm_seq_map *m = kcm_test_map(test);

	KUNIT_ASSERT_EQ(test, kcm_test_record(m, 5, 9), 0);
	KUNIT_ASSERT_EQ(test, kcm_test_record(m, 5, 4), 0);
	KUNIT_EXPECT_EQ(test, kcm_seq_check(m, 5, 9), -ESTALE);
	KUNIT_EXPECT_EQ(test, kcm_seq_check(m, 5, 10), 0);
	KUNIT_EXPECT_EQ(test, kcm_seq_pages(m), 1ULL);
}

static void seq_out_of_range_is_invalid(struct kunit *test)
{
	struct kcm_seq_map *m = kcm_test_map(test);

	KUNIT_EXPECT_EQ(test, kcm_seq_check(m, 1, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_seq_check(m, 1, KCM_SEQ_MAX + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_test_record(m, 1, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_test_record(m, 1, KCM_SEQ_MAX + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_seq_pages(m), 0ULL);
}

static void digest_equal_for_equal_maps(struct kunit *test)
{
	struct kcm_seq_map *a = kcm_test_map(test), *b = kcm_test_map(test);
	u8 da[KCM_DIGEST_SIZE], db[KCM_DIGEST_SIZE];
	u64 gfn;

	/* Same content, recorded in different orders and with history. */
	for (gfn = 0; gfn < 1000; gfn++)
		KUNIT_ASSERT_EQ(test, kcm_test_record(a, gfn, gfn + 1), 0);
	for (gfn = 1000; gfn-- > 0;) {
		KUNIT_ASSERT_EQ(test, kcm_test_record(b, gfn, 1), 0);
		if (gfn)
			KUNIT_ASSERT_EQ(test, kcm_test_record(b, gfn, gfn + 1), 0);
	}
	kcm_seq_digest(a, da);
	kcm_seq_digest(b, db);
	KUNIT_EXPECT_MEMEQ(test, da, db, sizeof(da));
}

static void digest_detects_missing_and_outdated(struct kunit *test)
{
	struct kcm_seq_map *src = kcm_test_map(test);
	struct kcm_seq_map *missing = kcm_test_map(test);
	struct kcm_seq_map *outdated = kcm_test_map(test);
	struct kcm_seq_map *empty = kcm_test_map(test);
	u8 d_src[KCM_DIGEST_SIZE], d[KCM_DIGEST_SIZE];

	KUNIT_ASSERT_EQ(test, kcm_test_record(src, 1, 5), 0);
	KUNIT_ASSERT_EQ(test, kcm_test_record(src, 2, 6), 0);
	KUNIT_ASSERT_EQ(test, kcm_test_record(missing, 1, 5), 0);
	KUNIT_ASSERT_EQ(test, kcm_test_record(outdated, 1, 5), 0);
	KUNIT_ASSERT_EQ(test, kcm_test_record(outdated, 2, 4), 0);
	kcm_seq_digest(src, d_src);

	kcm_seq_digest(missing, d);
	KUNIT_EXPECT_MEMNEQ(test, d, d_src, sizeof(d));
	kcm_seq_digest(outdated, d);
	KUNIT_EXPECT_MEMNEQ(test, d, d_src, sizeof(d));
	kcm_seq_digest(empty, d);
	KUNIT_EXPECT_MEMNEQ(test, d, d_src, sizeof(d));
}

/* The sequence space ends: EOVERFLOW, the counter unchanged, forever. */
static void seq_next_overflows_at_the_limit(struct kunit *test)
{
	u64 seq = 0;

	KUNIT_EXPECT_EQ(test, kcm_seq_next(&seq), 0);
	KUNIT_EXPECT_EQ(test, seq, 1);
	seq = KCM_SEQ_MAX - 1;
	KUNIT_EXPECT_EQ(test, kcm_seq_next(&seq), 0);
	KUNIT_EXPECT_EQ(test, seq, KCM_SEQ_MAX);
	KUNIT_EXPECT_EQ(test, kcm_seq_next(&seq), -EOVERFLOW);
	KUNIT_EXPECT_EQ(test, seq, KCM_SEQ_MAX);
	KUNIT_EXPECT_EQ(test, kcm_seq_next(&seq), -EOVERFLOW);
	KUNIT_EXPECT_EQ(test, seq, KCM_SEQ_MAX);
	/* The last number taken is still one the target accepts. */
	KUNIT_EXPECT_EQ(test, kcm_seq_check(kcm_test_map(test), 1, seq), 0);
}

static struct kunit_case kcm_replay_cases[] = {
	KUNIT_CASE(seq_next_overflows_at_the_limit),
	KUNIT_CASE(seq_first_version_is_accepted),
	KUNIT_CASE(seq_replay_and_older_are_stale),
	KUNIT_CASE(seq_record_counts_distinct_gfns),
	KUNIT_CASE(seq_record_keeps_the_newest),
	KUNIT_CASE(seq_out_of_range_is_invalid),
	KUNIT_CASE(digest_equal_for_equal_maps),
	KUNIT_CASE(digest_detects_missing_and_outdated),
	{}
};

static struct kunit_suite kcm_replay_suite = {
	.name = "kvm_coco_mig_replay",
	.test_cases = kcm_replay_cases,
};

kunit_test_suite(kcm_replay_suite);
