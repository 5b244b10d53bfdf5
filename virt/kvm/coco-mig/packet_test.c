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
		.gfn = 0x123456789aULL, .seq = 42, .gen = 0x77, .stream = 3,
	};

	KUNIT_ASSERT_NOT_NULL(test, t);
	kcm_pkt_encode(&t->h, &p);
	return t;
}

/* The header of a page packet, as the uAPI's struct kvm_coco_mig_pkt_hdr. */
static const u8 kcm_test_hdr[40] = {
	3, 1, 0, 0,				/* version, type, flags */
	0x38, 0x10, 0x00, 0x00,			/* len 4152: the whole packet */
	0x9a, 0x78, 0x56, 0x34, 0x12, 0, 0, 0,	/* gfn */
	42, 0, 0, 0, 0, 0, 0, 0,		/* seq */
	0x77, 0, 0, 0, 0, 0, 0, 0,		/* gen */
	3, 0, 0, 0, 0, 0, 0, 0,			/* stream, reserved */
};

static void pkt_encode_is_little_endian(struct kunit *test)
{
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);

	KUNIT_EXPECT_MEMEQ(test, &t->h, kcm_test_hdr, sizeof(kcm_test_hdr));
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
	KUNIT_EXPECT_EQ(test, p.gen, 0x77ULL);
	KUNIT_EXPECT_EQ(test, p.stream, 3);
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
	u32 len;

	for (avail = 0; avail < sizeof(*t); avail += avail < 64 ? 1 : 509) {
		KUNIT_EXPECT_EQ_MSG(test, kcm_pkt_decode(t, avail, KCM_PKT_PAGE, PAGE_SIZE, &p),
				    -EINVAL, "avail %zu", avail);
		KUNIT_EXPECT_EQ_MSG(test, kcm_pkt_frame(t, avail, sizeof(*t), &len),
				    -EINVAL, "avail %zu", avail);
	}
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t) - 1, KCM_PKT_PAGE,
					     PAGE_SIZE, &p), -EINVAL);
}

/* The length frames a packet before it is authenticated: bounded both ways. */
static void pkt_frame_bounds_the_length(struct kunit *test)
{
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	u32 len = 0;

	KUNIT_EXPECT_EQ(test, kcm_pkt_frame(t, sizeof(*t), sizeof(*t), &len), 0);
	KUNIT_EXPECT_EQ(test, len, sizeof(*t));
	/* The receiver's largest packet is the limit, not the buffer. */
	KUNIT_EXPECT_EQ(test, kcm_pkt_frame(t, sizeof(*t), sizeof(*t) - 1, &len),
			-EBADMSG);
	t->h.len = cpu_to_le32(kcm_pkt_wire_size(0) - 1);
	KUNIT_EXPECT_EQ(test, kcm_pkt_frame(t, sizeof(*t), sizeof(*t), &len), -EBADMSG);
	t->h.len = cpu_to_le32(U32_MAX);
	KUNIT_EXPECT_EQ(test, kcm_pkt_frame(t, sizeof(*t), U32_MAX, &len), -EINVAL);
	t->h.len = cpu_to_le32(kcm_pkt_wire_size(0));
	KUNIT_EXPECT_EQ(test, kcm_pkt_frame(t, sizeof(*t), sizeof(*t), &len), 0);
	KUNIT_EXPECT_EQ(test, len, kcm_pkt_wire_size(0));
	t->h.version = 1;
	KUNIT_EXPECT_EQ(test, kcm_pkt_frame(t, sizeof(*t), sizeof(*t), &len),
			-EPROTONOSUPPORT);
}

struct kcm_malformed_case {
	const char *desc;
	unsigned int offset;	/* byte of the header to set */
	u8 value;
	int err;
};

static const struct kcm_malformed_case kcm_malformed_cases[] = {
	{ "version 0", 0, 0, -EPROTONOSUPPORT },
	{ "version 1", 0, 1, -EPROTONOSUPPORT },
	{ "version 255", 0, 255, -EPROTONOSUPPORT },
	{ "type 0", 1, 0, -EBADMSG },
	{ "type final", 1, KCM_PKT_FINAL, -EBADMSG },
	{ "type 3", 1, 3, -EBADMSG },
	{ "flags bit 1", 2, 0x02, -EBADMSG },
	{ "flags bit 15", 3, 0x80, -EBADMSG },
	{ "len 4153", 4, 0x39, -EBADMSG },
	{ "len 56", 5, 0x00, -EBADMSG },
	{ "len 2^24+4152", 7, 0x01, -EBADMSG },
	{ "seq 0", 16, 0, -EBADMSG },
	{ "seq 2^62", 23, 0x40, -EBADMSG },
	{ "seq 2^63", 23, 0x80, -EBADMSG },
	{ "gen 0", 24, 0, -EBADMSG },
	{ "gen 2^62", 31, 0x40, -EBADMSG },
	{ "stream ctl", 33, 0xff, -EBADMSG },
	{ "reserved 34", 34, 1, -EBADMSG },
	{ "reserved 39", 39, 0x80, -EBADMSG },
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

	if (c->offset == 33)
		t->h.stream = cpu_to_le16(KCM_PKT_CTL_STREAM);
	else
		((u8 *)&t->h)[c->offset] = c->value;
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p), c->err);
}

/* ZERO marks a page packet only: one without payload. */
static void pkt_decode_zero_flag(struct kunit *test)
{
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	struct kcm_pkt p;

	/* A zero page with a page of payload is not one this version makes. */
	t->h.flags = cpu_to_le16(KCM_PKT_F_ZERO);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p),
			-EBADMSG);
	t->h.len = cpu_to_le32(kcm_pkt_wire_size(0));
	KUNIT_ASSERT_EQ(test, kcm_pkt_decode(t, kcm_pkt_wire_size(0), KCM_PKT_PAGE,
					     PAGE_SIZE, &p), 0);
	KUNIT_EXPECT_EQ(test, p.flags, KCM_PKT_F_ZERO);
	KUNIT_EXPECT_EQ(test, p.len, 0);
	KUNIT_EXPECT_EQ(test, p.gfn, 0x123456789aULL);
	KUNIT_EXPECT_EQ(test, p.gen, 0x77ULL);
	/* Nor a page packet without the flag and without payload. */
	t->h.flags = 0;
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p),
			-EBADMSG);
	t->h.flags = cpu_to_le16(KCM_PKT_F_ZERO);
	t->h.type = KCM_PKT_FINAL;
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_FINAL, 0, &p),
			-EBADMSG);
}

/* A final record: the control stream, no gfn, no version. */
static void pkt_decode_other_type_and_len(struct kunit *test)
{
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	struct kcm_pkt p;

	/* A page packet is not a final record, and vice versa. */
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_FINAL, PAGE_SIZE, &p),
			-EBADMSG);
	memset(&t->h, 0, sizeof(t->h));
	p = (struct kcm_pkt){ .type = KCM_PKT_FINAL, .len = 40, .seq = 1,
			      .stream = KCM_PKT_CTL_STREAM };
	kcm_pkt_encode(&t->h, &p);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, kcm_pkt_wire_size(40), KCM_PKT_FINAL, 40, &p),
			0);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, kcm_pkt_wire_size(40) - 1, KCM_PKT_FINAL,
					     40, &p), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p),
			-EBADMSG);
	t->h.stream = 0;
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_FINAL, 40, &p), -EBADMSG);
	t->h.stream = cpu_to_le16(KCM_PKT_CTL_STREAM);
	t->h.gen = cpu_to_le64(1);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_FINAL, 40, &p), -EBADMSG);
	t->h.gen = 0;
	t->h.gfn = cpu_to_le64(1);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_FINAL, 40, &p), -EBADMSG);
}

/* A vCPU record: the control stream, the vCPU id in @gfn, no version. */
static void pkt_decode_vcpu_record(struct kunit *test)
{
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	struct kcm_pkt p;

	memset(&t->h, 0, sizeof(t->h));
	p = (struct kcm_pkt){ .type = KCM_PKT_VCPU, .len = 64, .seq = 3, .gfn = 7,
			      .stream = KCM_PKT_CTL_STREAM };
	kcm_pkt_encode(&t->h, &p);
	memset(&p, 0, sizeof(p));
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_VCPU, 64, &p), 0);
	KUNIT_EXPECT_EQ(test, p.gfn, 7);
	KUNIT_EXPECT_EQ(test, p.seq, 3);
	KUNIT_EXPECT_EQ(test, p.len, 64);
	/* Not a final record, nor a page; not off the control stream. */
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_FINAL, 64, &p), -EBADMSG);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, 64, &p), -EBADMSG);
	t->h.stream = 0;
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_VCPU, 64, &p), -EBADMSG);
	t->h.stream = cpu_to_le16(KCM_PKT_CTL_STREAM);
	t->h.gen = cpu_to_le64(1);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_VCPU, 64, &p), -EBADMSG);
	t->h.gen = 0;
	t->h.flags = cpu_to_le16(KCM_PKT_F_ZERO);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_VCPU, 64, &p), -EBADMSG);
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
	t->h.seq = cpu_to_le64(1);
	t->h.gen = cpu_to_le64(KCM_SEQ_MAX);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, sizeof(*t), KCM_PKT_PAGE, PAGE_SIZE, &p), 0);
}

/* No two (type, stream, seq) share a nonce: streams never collide. */
static void pkt_nonce_is_unique_per_seq_and_type(struct kunit *test)
{
	u8 a[KCM_PKT_NONCE_SIZE], b[KCM_PKT_NONCE_SIZE];

	kcm_pkt_nonce(a, KCM_PKT_PAGE, 0, 1);
	kcm_pkt_nonce(b, KCM_PKT_PAGE, 0, 2);
	KUNIT_EXPECT_MEMNEQ(test, a, b, sizeof(a));
	kcm_pkt_nonce(b, KCM_PKT_PAGE + 1, 0, 1);
	KUNIT_EXPECT_MEMNEQ(test, a, b, sizeof(a));
	kcm_pkt_nonce(b, KCM_PKT_PAGE, 1, 1);
	KUNIT_EXPECT_MEMNEQ(test, a, b, sizeof(a));
	kcm_pkt_nonce(b, KCM_PKT_PAGE, 0x100, 1);
	KUNIT_EXPECT_MEMNEQ(test, a, b, sizeof(a));
	kcm_pkt_nonce(b, KCM_PKT_PAGE, 0, 1);
	KUNIT_EXPECT_MEMEQ(test, a, b, sizeof(a));
	/* Type, stream and sequence number each have their own bytes. */
	kcm_pkt_nonce(a, KCM_PKT_PAGE, 0xabcd, 0x0102030405060708ULL);
	KUNIT_EXPECT_EQ(test, a[1], KCM_PKT_PAGE);
	KUNIT_EXPECT_EQ(test, a[2], 0xcd);
	KUNIT_EXPECT_EQ(test, a[3], 0xab);
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
	static const u8 sid_want[16] = {
		0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
		0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
	};
	struct kcm_test_pkt *t = kcm_test_pkt_new(test);
	u8 sid[KCM_SESSION_ID_SIZE], aad[KCM_PKT_AAD_SIZE];

	KUNIT_ASSERT_EQ(test, KCM_PKT_AAD_SIZE, sizeof(sid_want) + sizeof(kcm_test_hdr));
	kcm_test_sid(sid);
	/* Every byte is written: the result does not depend on the buffer. */
	kcm_test_aad(aad, 0x00, sid, &t->h);
	KUNIT_EXPECT_MEMEQ(test, aad, sid_want, sizeof(sid_want));
	KUNIT_EXPECT_MEMEQ(test, aad + 16, kcm_test_hdr, sizeof(kcm_test_hdr));
	kcm_test_aad(aad, 0xff, sid, &t->h);
	KUNIT_EXPECT_MEMEQ(test, aad, sid_want, sizeof(sid_want));
	KUNIT_EXPECT_MEMEQ(test, aad + 16, kcm_test_hdr, sizeof(kcm_test_hdr));
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
 * The wire format's sizes: a 40-byte header and a 16-byte tag around the
 * payload, so a 4 KiB page travels in exactly 4152 bytes, 56 of overhead
 * (1.37 %), and a page the guest never wrote in 56.
 */
static void pkt_wire_size_exact(struct kunit *test)
{
	struct kcm_test_pkt *t;
	struct kcm_pkt p;

	KUNIT_EXPECT_EQ(test, sizeof(struct kcm_pkt_hdr), 40);
	KUNIT_EXPECT_EQ(test, KCM_PKT_TAG_SIZE, 16);
	KUNIT_EXPECT_EQ(test, KCM_PKT_AAD_SIZE, 56);
	KUNIT_EXPECT_EQ(test, kcm_pkt_wire_size(0), 56);
	KUNIT_EXPECT_EQ(test, kcm_pkt_wire_size(1), 57);
	KUNIT_ASSERT_EQ(test, PAGE_SIZE, 4096);
	KUNIT_EXPECT_EQ(test, kcm_pkt_wire_size(PAGE_SIZE), 4152);
	KUNIT_EXPECT_LE(test, kcm_pkt_wire_size(PAGE_SIZE) * 1000, (size_t)PAGE_SIZE * 1014);

	/* The decoder takes exactly that much, not a byte less. */
	t = kcm_test_pkt_new(test);
	KUNIT_EXPECT_EQ(test, sizeof(*t), 4152);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, 4152, KCM_PKT_PAGE, PAGE_SIZE, &p), 0);
	KUNIT_EXPECT_EQ(test, kcm_pkt_decode(t, 4151, KCM_PKT_PAGE, PAGE_SIZE, &p),
			-EINVAL);
}

static struct kunit_case kcm_packet_cases[] = {
	KUNIT_CASE(pkt_encode_is_little_endian),
	KUNIT_CASE(pkt_decode_roundtrip),
	KUNIT_CASE(pkt_decode_unaligned),
	KUNIT_CASE(pkt_decode_truncated),
	KUNIT_CASE(pkt_frame_bounds_the_length),
	KUNIT_CASE_PARAM(pkt_decode_malformed_header, kcm_malformed_gen_params),
	KUNIT_CASE(pkt_decode_zero_flag),
	KUNIT_CASE(pkt_decode_other_type_and_len),
	KUNIT_CASE(pkt_decode_vcpu_record),
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
