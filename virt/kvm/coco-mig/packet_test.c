// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the wire format (suite kvm_coco_mig_packet).
 */
#include <kunit/test.h>
#include <linux/mm.h>

#include "packet.h"

/* A whole packet: header, page-sized payload, tag. */
struct kcm_test_pkt {
	struct kcm_pkt_hdr h;
	u8 body[PAGE_SIZE + KCM_PKT_TAG_SIZE];
};

static struct kcm_test_pkt *kcm_test_pkt_new(struct kunit *test)
{
	struct kcm_test_pkt *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	struct kcm_pkt p = {
		.type = KCM_PKT_PAGE, .len = PAGE_SIZE,
		.gfn = 0x123456789aULL, .seq = 42,
	};

	KUNIT_ASSERT_NOT_NULL(test, t);
	kcm_pkt_encode(&t->h, &p);
	return t;
}

static void pkt_encode_is_little_endian(struct kunit *test)
{
	static const u8 want[24] = {
		1, 1, 0, 0,				/* version, type, flags */
		0x00, 0x10, 0x00, 0x00,			/* len 4096 */
		0x9a, 0x78, 0x56, 0x34, 0x12, 0, 0, 0,	/* gfn */
		42, 0, 0, 0, 0, 0, 0, 0,		/* seq */
	};
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);

	KUNIT_EXPECT_MEMEQ(test, &t->h, want, sizeof(want));
}

static void pkt_decode_roundtrip(struct kunit *test)
{
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	struct kcm_pkt p;

	KUNIT_ASSERT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p), 0);
	KUNIT_EXPECT_EQ(test, p.type, KCM_PKT_PAGE);
	KUNIT_EXPECT_EQ(test, p.len, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, p.gfn, 0x123456789aULL);
	KUNIT_EXPECT_EQ(test, p.seq, 42ULL);
	KUNIT_EXPECT_EQ(test, kcm_pkt_wire_size(p.len), sizeof(*t));
}

static void pkt_decode_unaligned(struct kunit *test)
{
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	u8 *buf = kunit_kzalloc(test, sizeof(*t) + 1, GFP_KERNEL);
	struct kcm_pkt p;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	memcpy(buf + 1, t, sizeof(*t));
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(buf + 1, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p), 0);
	KUNIT_EXPECT_EQ(test, p.gfn, 0x123456789aULL);
}

static void pkt_decode_truncated(struct kunit *test)
{
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	struct kcm_pkt p;
	size_t avail;

	for (avail = 0; avail < sizeof(*t); avail += avail < 64 ? 1 : 509)
		KUNIT_EXPECT_EQ_MSG(test, kcm_pkt_decode(t, avail, KCM_PKT_PAGE, PAGE_SIZE, &p),
				    -EINVAL, "avail %zu", avail);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t) - 1, KCM_PKT_PAGE,
					     PAGE_SIZE, &p), -EINVAL);
}

struct kcm_malformed_case {
	const char *desc;
	unsigned int offset;	/* byte of the header to set */
	u8 value;
	int err;
};

static const struct kcm_malformed_case kcm_malformed_cases[] = {
	{ "version 0", 0, 0, -EPROTONOSUPPORT },
	{ "version 2", 0, 2, -EPROTONOSUPPORT },
	{ "version 255", 0, 255, -EPROTONOSUPPORT },
	{ "type 0", 1, 0, -EBADMSG },
	{ "type final", 1, KCM_PKT_FINAL, -EBADMSG },
	{ "type 3", 1, 3, -EBADMSG },
	{ "flags bit 1", 2, 0x02, -EBADMSG },
	{ "flags bit 15", 3, 0x80, -EBADMSG },
	{ "len 4097", 4, 0x01, -EBADMSG },
	{ "len 0", 5, 0x00, -EBADMSG },
	{ "len 2^24+4096", 7, 0x01, -EBADMSG },
	{ "seq 0", 16, 0, -EBADMSG },
	{ "seq 2^62", 23, 0x40, -EBADMSG },
	{ "seq 2^63", 23, 0x80, -EBADMSG },
};

static void kcm_malformed_desc(const struct kcm_malformed_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kcm_malformed, kcm_malformed_cases, kcm_malformed_desc);

static void pkt_decode_malformed_header(struct kunit *test)
{
	const struct kcm_malformed_case *c = test->param_value;
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	struct kcm_pkt p;

	((u8 *)&t->h)[c->offset] = c->value;
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p), c->err);
}

/* ZERO marks a page packet only, and comes back decoded. */
static void pkt_decode_zero_flag(struct kunit *test)
{
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	struct kcm_pkt p;

	t->h.flags = cpu_to_le16(KCM_PKT_F_ZERO);
	KUNIT_ASSERT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p), 0);
	KUNIT_EXPECT_EQ(test, p.flags, KCM_PKT_F_ZERO);
	t->h.type = KCM_PKT_FINAL;
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_FINAL, PAGE_SIZE, &p),
			-EBADMSG);
}

static void pkt_decode_other_type_and_len(struct kunit *test)
{
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	struct kcm_pkt p;

	/* A page packet is not a final record, and vice versa. */
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_FINAL, PAGE_SIZE, &p),
			-EBADMSG);
	t->h.type = KCM_PKT_FINAL;
	t->h.len = cpu_to_le32(40);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, kcm_pkt_wire_size(40), KCM_PKT_FINAL, 40, &p),
			0);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, kcm_pkt_wire_size(40) - 1, KCM_PKT_FINAL,
					     40, &p), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p),
			-EBADMSG);
}

static void pkt_decode_seq_bounds(struct kunit *test)
{
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	struct kcm_pkt p;

	t->h.seq = cpu_to_le64(1);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p), 0);
	t->h.seq = cpu_to_le64(KCM_SEQ_MAX);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p), 0);
	t->h.seq = cpu_to_le64(KCM_SEQ_MAX + 1);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p), -EBADMSG);
}

static void pkt_nonce_is_unique_per_seq_and_type(struct kunit *test)
{
	u8 a[KCM_PKT_NONCE_SIZE], b[KCM_PKT_NONCE_SIZE];

	kcm_pkt_nonce(a, KCM_PKT_PAGE, 1);
	kcm_pkt_nonce(b, KCM_PKT_PAGE, 2);
	KUNIT_EXPECT_MEMNEQ(test, a, b, sizeof(a));
	kcm_pkt_nonce(b, KCM_PKT_PAGE + 1, 1);
	KUNIT_EXPECT_MEMNEQ(test, a, b, sizeof(a));
	kcm_pkt_nonce(b, KCM_PKT_PAGE, 1);
	KUNIT_EXPECT_MEMEQ(test, a, b, sizeof(a));
	/* The sequence number sits in the low 8 bytes, little endian. */
	kcm_pkt_nonce(a, KCM_PKT_PAGE, 0x0102030405060708ULL);
	KUNIT_EXPECT_EQ(test, a[4], 0x08);
	KUNIT_EXPECT_EQ(test, a[11], 0x01);
}

/* A session id whose bytes all differ, and from the header's. */
static void kcm_test_sid(u8 sid[KCM_SESSION_ID_SIZE])
{
	int i;

	for (i = 0; i < KCM_SESSION_ID_SIZE; i++)
		sid[i] = 0xc0 + i;
}

/*
 * kcm_pkt_aad() into @aad, which holds @fill before the call: whatever
 * the function leaves unwritten shows as @fill.
 */
static void kcm_test_aad(u8 aad[KCM_PKT_AAD_SIZE], u8 fill,
			 const u8 sid[KCM_SESSION_ID_SIZE],
			 const struct kcm_pkt_hdr *h)
{
	memset(aad, fill, KCM_PKT_AAD_SIZE);
	kcm_pkt_aad(aad, sid, h);
}

/* The layout of the wire format: session id, then the header as sent. */
static void pkt_aad_known_answer(struct kunit *test)
{
	static const u8 want[40] = {
		0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,	/* session id */
		0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
		1, 1, 0, 0,				/* version, type, flags */
		0x00, 0x10, 0x00, 0x00,			/* len 4096 */
		0x9a, 0x78, 0x56, 0x34, 0x12, 0, 0, 0,	/* gfn */
		42, 0, 0, 0, 0, 0, 0, 0,		/* seq */
	};
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	u8 sid[KCM_SESSION_ID_SIZE], aad[KCM_PKT_AAD_SIZE];

	KUNIT_ASSERT_EQ(test, KCM_PKT_AAD_SIZE, sizeof(want));
	kcm_test_sid(sid);
	/* Every byte is written: the result does not depend on the buffer. */
	kcm_test_aad(aad, 0x00, sid, &t->h);
	KUNIT_EXPECT_MEMEQ(test, aad, want, sizeof(want));
	kcm_test_aad(aad, 0xff, sid, &t->h);
	KUNIT_EXPECT_MEMEQ(test, aad, want, sizeof(want));
}

/*
 * A packet moved to another gfn, renumbered, retyped, resized, of another
 * version or flags, or from another session must fail to open: its AAD
 * changes with every bit of the session id and of the header.
 */
static void pkt_aad_binds_session_and_header(struct kunit *test)
{
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	u8 sid[KCM_SESSION_ID_SIZE], base[KCM_PKT_AAD_SIZE], aad[KCM_PKT_AAD_SIZE];
	u8 *hdr = (u8 *)&t->h;
	unsigned int byte, bit;

	kcm_test_sid(sid);
	kcm_test_aad(base, 0x5a, sid, &t->h);
	for (byte = 0; byte < KCM_SESSION_ID_SIZE; byte++) {
		for (bit = 0; bit < 8; bit++) {
			sid[byte] ^= BIT(bit);
			kcm_test_aad(aad, 0x5a, sid, &t->h);
			KUNIT_EXPECT_MEMNEQ_MSG(test, aad, base, sizeof(aad),
						"session id byte %u bit %u", byte, bit);
			sid[byte] ^= BIT(bit);
		}
	}
	for (byte = 0; byte < sizeof(t->h); byte++) {
		for (bit = 0; bit < 8; bit++) {
			hdr[byte] ^= BIT(bit);
			kcm_test_aad(aad, 0x5a, sid, &t->h);
			KUNIT_EXPECT_MEMNEQ_MSG(test, aad, base, sizeof(aad),
						"header byte %u bit %u", byte, bit);
			hdr[byte] ^= BIT(bit);
		}
	}
	/* Restored: the same AAD again. */
	kcm_test_aad(aad, 0x5a, sid, &t->h);
	KUNIT_EXPECT_MEMEQ(test, aad, base, sizeof(aad));
}

/*
 * The wire format's sizes: a 24-byte header and a 16-byte tag around the
 * payload, so a 4 KiB page travels in exactly 4136 bytes, 40 of overhead
 * (0.98 %; 4136 is also the most that make bench's target of 1.01 x the
 * payload allows).
 */
static void pkt_wire_size_exact(struct kunit *test)
{
	struct kcm_test_pkt *t;
	struct kcm_pkt p;

	KUNIT_EXPECT_EQ(test, sizeof(struct kcm_pkt_hdr), 24);
	KUNIT_EXPECT_EQ(test, KCM_PKT_TAG_SIZE, 16);
	KUNIT_EXPECT_EQ(test, KCM_PKT_AAD_SIZE, 40);
	KUNIT_EXPECT_EQ(test, kcm_pkt_wire_size(0), 40);
	KUNIT_EXPECT_EQ(test, kcm_pkt_wire_size(1), 41);
	KUNIT_EXPECT_EQ(test, kcm_pkt_wire_size(40), 80);
	KUNIT_ASSERT_EQ(test, PAGE_SIZE, 4096);
	KUNIT_EXPECT_EQ(test, kcm_pkt_wire_size(PAGE_SIZE), 4136);
	KUNIT_EXPECT_LE(test, kcm_pkt_wire_size(PAGE_SIZE) * 100, (size_t)PAGE_SIZE * 101);

	/* The decoder takes exactly that much, not a byte less. */
	t = kcm_test_pkt_new(test);
	KUNIT_EXPECT_EQ(test, sizeof(*t), 4136);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, 4136, KCM_PKT_PAGE, PAGE_SIZE, &p), 0);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, 4135, KCM_PKT_PAGE, PAGE_SIZE, &p),
			-EINVAL);
}

static struct kunit_case kcm_packet_cases[] = {
	KUNIT_CASE(pkt_encode_is_little_endian),
	KUNIT_CASE(pkt_decode_roundtrip),
	KUNIT_CASE(pkt_decode_unaligned),
	KUNIT_CASE(pkt_decode_truncated),
	KUNIT_CASE_PARAM(pkt_decode_malformed_header, kcm_malformed_gen_params),
	KUNIT_CASE(pkt_decode_zero_flag),
	KUNIT_CASE(pkt_decode_other_type_and_len),
	KUNIT_CASE(pkt_decode_seq_bounds),
	KUNIT_CASE(pkt_nonce_is_unique_per_seq_and_type),
	KUNIT_CASE(pkt_aad_known_answer),
	KUNIT_CASE(pkt_aad_binds_session_and_header),
	KUNIT_CASE(pkt_wire_size_exact),
	{}
};

static struct kunit_suite kcm_packet_suite = {
	.name = "kvm_coco_mig_packet",
	.test_cases = kcm_packet_cases,
};

kunit_test_suite(kcm_packet_suite);
