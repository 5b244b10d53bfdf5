// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the cryptographic primitives (suite kvm_coco_mig_crypto):
 * known-answer vectors from RFC 5869 (HKDF), RFC 4231 (HMAC) and the GCM
 * specification (McGrew and Viega, test cases 13 to 16: AES-256), forgery
 * rejection, and ECDH P-256 agreement and point validation.
 *
 * The crypto API reads data through scatterlists, which must point to the
 * linear mapping: vectors are copied to kmalloc'd buffers before use.
 */
#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <crypto/aead.h>
#include <kunit/test.h>
#include <linux/scatterlist.h>

#include "crypto.h"

static const u8 kcm_zero[KCM_AEAD_KEY_SIZE];

/* RFC 5869 appendix A, test cases 1 to 3 (SHA-256). */
static const u8 kcm_rfc5869_a1_ikm[] = {
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
};

static const u8 kcm_rfc5869_a1_salt[] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c,
};

static const u8 kcm_rfc5869_a1_info[] = {
	0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
	0xf8, 0xf9,
};

static const u8 kcm_rfc5869_a1_okm[] = {
	0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a,
	0x90, 0x43, 0x4f, 0x64, 0xd0, 0x36, 0x2f, 0x2a,
	0x2d, 0x2d, 0x0a, 0x90, 0xcf, 0x1a, 0x5a, 0x4c,
	0x5d, 0xb0, 0x2d, 0x56, 0xec, 0xc4, 0xc5, 0xbf,
	0x34, 0x00, 0x72, 0x08, 0xd5, 0xb8, 0x87, 0x18,
	0x58, 0x65,
};

static const u8 kcm_rfc5869_a2_ikm[] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
	0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
	0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
	0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
	0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
};

static const u8 kcm_rfc5869_a2_salt[] = {
	0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
	0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77,
	0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
	0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
	0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
	0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
	0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
	0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
};

static const u8 kcm_rfc5869_a2_info[] = {
	0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
	0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
	0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
	0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
	0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7,
	0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
	0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
	0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
	0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
	0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
};

static const u8 kcm_rfc5869_a2_okm[] = {
	0xb1, 0x1e, 0x39, 0x8d, 0xc8, 0x03, 0x27, 0xa1,
	0xc8, 0xe7, 0xf7, 0x8c, 0x59, 0x6a, 0x49, 0x34,
	0x4f, 0x01, 0x2e, 0xda, 0x2d, 0x4e, 0xfa, 0xd8,
	0xa0, 0x50, 0xcc, 0x4c, 0x19, 0xaf, 0xa9, 0x7c,
	0x59, 0x04, 0x5a, 0x99, 0xca, 0xc7, 0x82, 0x72,
	0x71, 0xcb, 0x41, 0xc6, 0x5e, 0x59, 0x0e, 0x09,
	0xda, 0x32, 0x75, 0x60, 0x0c, 0x2f, 0x09, 0xb8,
	0x36, 0x77, 0x93, 0xa9, 0xac, 0xa3, 0xdb, 0x71,
	0xcc, 0x30, 0xc5, 0x81, 0x79, 0xec, 0x3e, 0x87,
	0xc1, 0x4c, 0x01, 0xd5, 0xc1, 0xf3, 0x43, 0x4f,
	0x1d, 0x87,
};

static const u8 kcm_rfc5869_a3_okm[] = {
	0x8d, 0xa4, 0xe7, 0x75, 0xa5, 0x63, 0xc1, 0x8f,
	0x71, 0x5f, 0x80, 0x2a, 0x06, 0x3c, 0x5a, 0x31,
	0xb8, 0xa1, 0x1f, 0x5c, 0x5e, 0xe1, 0x87, 0x9e,
	0xc3, 0x45, 0x4e, 0x5f, 0x3c, 0x73, 0x8d, 0x2d,
	0x9d, 0x20, 0x13, 0x95, 0xfa, 0xa4, 0xb6, 0x1a,
	0x96, 0xc8,
};

/* RFC 4231 section 4, test cases 1 and 2 (HMAC-SHA-256). */
static const u8 kcm_rfc4231_tc1_key[] = {
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
	0x0b, 0x0b, 0x0b, 0x0b,
};

static const u8 kcm_rfc4231_tc1_mac[] = {
	0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53,
	0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1, 0x2b,
	0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7,
	0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7,
};

static const u8 kcm_rfc4231_tc2_mac[] = {
	0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
	0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
	0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
	0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
};

/*
 * The GCM specification (McGrew and Viega, appendix B), test cases 13 to 16:
 * AES-256, 96-bit nonce. Test cases 13 and 14 use the zero key and nonce.
 */
static const u8 kcm_gcm_tc13_tag[] = {
	0x53, 0x0f, 0x8a, 0xfb, 0xc7, 0x45, 0x36, 0xb9,
	0xa9, 0x63, 0xb4, 0xf1, 0xc4, 0xcb, 0x73, 0x8b,
};

static const u8 kcm_gcm_tc14_ctext[] = {
	0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e,
	0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3, 0x9d, 0x18,
};

static const u8 kcm_gcm_tc14_tag[] = {
	0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0,
	0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a, 0xb9, 0x19,
};

static const u8 kcm_gcm_tc15_key[] = {
	0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c,
	0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08,
	0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c,
	0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08,
};

static const u8 kcm_gcm_tc15_nonce[] = {
	0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce, 0xdb, 0xad,
	0xde, 0xca, 0xf8, 0x88,
};

static const u8 kcm_gcm_tc15_ptext[] = {
	0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5,
	0xa5, 0x59, 0x09, 0xc5, 0xaf, 0xf5, 0x26, 0x9a,
	0x86, 0xa7, 0xa9, 0x53, 0x15, 0x34, 0xf7, 0xda,
	0x2e, 0x4c, 0x30, 0x3d, 0x8a, 0x31, 0x8a, 0x72,
	0x1c, 0x3c, 0x0c, 0x95, 0x95, 0x68, 0x09, 0x53,
	0x2f, 0xcf, 0x0e, 0x24, 0x49, 0xa6, 0xb5, 0x25,
	0xb1, 0x6a, 0xed, 0xf5, 0xaa, 0x0d, 0xe6, 0x57,
	0xba, 0x63, 0x7b, 0x39, 0x1a, 0xaf, 0xd2, 0x55,
};

static const u8 kcm_gcm_tc15_ctext[] = {
	0x52, 0x2d, 0xc1, 0xf0, 0x99, 0x56, 0x7d, 0x07,
	0xf4, 0x7f, 0x37, 0xa3, 0x2a, 0x84, 0x42, 0x7d,
	0x64, 0x3a, 0x8c, 0xdc, 0xbf, 0xe5, 0xc0, 0xc9,
	0x75, 0x98, 0xa2, 0xbd, 0x25, 0x55, 0xd1, 0xaa,
	0x8c, 0xb0, 0x8e, 0x48, 0x59, 0x0d, 0xbb, 0x3d,
	0xa7, 0xb0, 0x8b, 0x10, 0x56, 0x82, 0x88, 0x38,
	0xc5, 0xf6, 0x1e, 0x63, 0x93, 0xba, 0x7a, 0x0a,
	0xbc, 0xc9, 0xf6, 0x62, 0x89, 0x80, 0x15, 0xad,
};

static const u8 kcm_gcm_tc15_tag[] = {
	0xb0, 0x94, 0xda, 0xc5, 0xd9, 0x34, 0x71, 0xbd,
	0xec, 0x1a, 0x50, 0x22, 0x70, 0xe3, 0xcc, 0x6c,
};

static const u8 kcm_gcm_tc16_aad[] = {
	0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef,
	0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef,
	0xab, 0xad, 0xda, 0xd2,
};

static const u8 kcm_gcm_tc16_tag[] = {
	0x76, 0xfc, 0x6e, 0xce, 0x0f, 0x4e, 0x17, 0x68,
	0xcd, 0xdf, 0x88, 0x53, 0xbb, 0x2d, 0x55, 0x1b,
};

/* A kmalloc'd copy of @len bytes at @p (at least one byte, never NULL). */
static u8 *kcm_test_dup(struct kunit *test, const u8 *p, size_t len)
{
	u8 *buf = kunit_kzalloc(test, len ?: 1, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	if (len)
		memcpy(buf, p, len);
	return buf;
}

struct kcm_hkdf_vec {
	const char *name;
	const u8 *ikm, *salt, *info, *okm;
	size_t ikm_len, salt_len, info_len, okm_len;
};

static const struct kcm_hkdf_vec kcm_hkdf_vecs[] = {
	{
		.name = "RFC 5869 A.1",
		.ikm = kcm_rfc5869_a1_ikm,
		.ikm_len = sizeof(kcm_rfc5869_a1_ikm),
		.salt = kcm_rfc5869_a1_salt,
		.salt_len = sizeof(kcm_rfc5869_a1_salt),
		.info = kcm_rfc5869_a1_info,
		.info_len = sizeof(kcm_rfc5869_a1_info),
		.okm = kcm_rfc5869_a1_okm,
		.okm_len = sizeof(kcm_rfc5869_a1_okm),
	}, {
		.name = "RFC 5869 A.2",
		.ikm = kcm_rfc5869_a2_ikm,
		.ikm_len = sizeof(kcm_rfc5869_a2_ikm),
		.salt = kcm_rfc5869_a2_salt,
		.salt_len = sizeof(kcm_rfc5869_a2_salt),
		.info = kcm_rfc5869_a2_info,
		.info_len = sizeof(kcm_rfc5869_a2_info),
		.okm = kcm_rfc5869_a2_okm,
		.okm_len = sizeof(kcm_rfc5869_a2_okm),
	}, {
		/* Same IKM as A.1; no salt (HashLen zeros) and no info. */
		.name = "RFC 5869 A.3",
		.ikm = kcm_rfc5869_a1_ikm,
		.ikm_len = sizeof(kcm_rfc5869_a1_ikm),
		.okm = kcm_rfc5869_a3_okm,
		.okm_len = sizeof(kcm_rfc5869_a3_okm),
	},
};

static void kcm_hkdf_vec_desc(const struct kcm_hkdf_vec *v, char *desc)
{
	strscpy(desc, v->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kcm_hkdf, kcm_hkdf_vecs, kcm_hkdf_vec_desc);

static void hkdf_sha256_rfc5869(struct kunit *test)
{
	const struct kcm_hkdf_vec *v = test->param_value;
	u8 *okm = kunit_kzalloc(test, v->okm_len, GFP_KERNEL);
	size_t i;

	KUNIT_ASSERT_NOT_NULL(test, okm);
	KUNIT_ASSERT_EQ(test, kcm_hkdf_sha256(v->salt, v->salt_len, v->ikm,
					      v->ikm_len, v->info, v->info_len,
					      okm, v->okm_len), 0);
	KUNIT_EXPECT_MEMEQ(test, okm, v->okm, v->okm_len);

	/* A shorter output is a prefix of the longer one. */
	for (i = 1; i < v->okm_len; i += 13) {
		memset(okm, 0, v->okm_len);
		KUNIT_ASSERT_EQ(test, kcm_hkdf_sha256(v->salt, v->salt_len,
						      v->ikm, v->ikm_len,
						      v->info, v->info_len,
						      okm, i), 0);
		KUNIT_EXPECT_MEMEQ_MSG(test, okm, v->okm, i, "length %zu", i);
		KUNIT_EXPECT_EQ_MSG(test, okm[i], 0, "wrote past length %zu", i);
	}
}

static void hkdf_sha256_rejects_bad_length(struct kunit *test)
{
	size_t max = 255 * SHA256_DIGEST_SIZE;
	u8 *okm = kunit_kzalloc(test, max + 1, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, okm);
	KUNIT_EXPECT_EQ(test, kcm_hkdf_sha256(NULL, 0, kcm_rfc5869_a1_ikm,
					      sizeof(kcm_rfc5869_a1_ikm),
					      NULL, 0, okm, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_hkdf_sha256(NULL, 0, kcm_rfc5869_a1_ikm,
					      sizeof(kcm_rfc5869_a1_ikm),
					      NULL, 0, okm, max + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_hkdf_sha256(NULL, 0, kcm_rfc5869_a1_ikm,
					      sizeof(kcm_rfc5869_a1_ikm),
					      NULL, 0, okm, max), 0);
	KUNIT_EXPECT_MEMEQ(test, okm, kcm_rfc5869_a3_okm,
			   sizeof(kcm_rfc5869_a3_okm));
}

struct kcm_hmac_vec {
	const char *name;
	const u8 *key;
	size_t key_len;
	const char *data;
	const u8 *mac;
};

static const struct kcm_hmac_vec kcm_hmac_vecs[] = {
	{
		.name = "RFC 4231 test case 1",
		.key = kcm_rfc4231_tc1_key,
		.key_len = sizeof(kcm_rfc4231_tc1_key),
		.data = "Hi There",
		.mac = kcm_rfc4231_tc1_mac,
	}, {
		.name = "RFC 4231 test case 2",
		.key = (const u8 *)"Jefe",
		.key_len = 4,
		.data = "what do ya want for nothing?",
		.mac = kcm_rfc4231_tc2_mac,
	},
};

static void kcm_hmac_vec_desc(const struct kcm_hmac_vec *v, char *desc)
{
	strscpy(desc, v->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kcm_hmac, kcm_hmac_vecs, kcm_hmac_vec_desc);

static void hmac_sha256_rfc4231(struct kunit *test)
{
	const struct kcm_hmac_vec *v = test->param_value;
	u8 mac[SHA256_DIGEST_SIZE] = {};

	KUNIT_ASSERT_EQ(test, kcm_hmac_sha256(v->key, v->key_len, v->data,
					      strlen(v->data), mac), 0);
	KUNIT_EXPECT_MEMEQ(test, mac, v->mac, SHA256_DIGEST_SIZE);
}

struct kcm_gcm_vec {
	const char *name;
	const u8 *key, *nonce, *aad, *ptext, *ctext, *tag;
	unsigned int aad_len, len;
};

static const struct kcm_gcm_vec kcm_gcm_vecs[] = {
	{
		.name = "GCM test case 13",
		.key = kcm_zero,
		.nonce = kcm_zero,
		.tag = kcm_gcm_tc13_tag,
	}, {
		.name = "GCM test case 14",
		.key = kcm_zero,
		.nonce = kcm_zero,
		.ptext = kcm_zero,
		.ctext = kcm_gcm_tc14_ctext,
		.len = sizeof(kcm_gcm_tc14_ctext),
		.tag = kcm_gcm_tc14_tag,
	}, {
		.name = "GCM test case 15",
		.key = kcm_gcm_tc15_key,
		.nonce = kcm_gcm_tc15_nonce,
		.ptext = kcm_gcm_tc15_ptext,
		.ctext = kcm_gcm_tc15_ctext,
		.len = sizeof(kcm_gcm_tc15_ctext),
		.tag = kcm_gcm_tc15_tag,
	}, {
		/* Test case 15's key, nonce and texts, cut to 60 bytes. */
		.name = "GCM test case 16",
		.key = kcm_gcm_tc15_key,
		.nonce = kcm_gcm_tc15_nonce,
		.aad = kcm_gcm_tc16_aad,
		.aad_len = sizeof(kcm_gcm_tc16_aad),
		.ptext = kcm_gcm_tc15_ptext,
		.ctext = kcm_gcm_tc15_ctext,
		.len = 60,
		.tag = kcm_gcm_tc16_tag,
	},
};

static void kcm_gcm_vec_desc(const struct kcm_gcm_vec *v, char *desc)
{
	strscpy(desc, v->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kcm_gcm, kcm_gcm_vecs, kcm_gcm_vec_desc);

/*
 * Contexts live on the heap and are destroyed by a KUnit action: a failed
 * assertion ends the test at once, and its stack with it, but the actions
 * still run, so nothing leaks into the kmemleak scan that follows.
 */
static void kcm_test_aead_destroy(void *a)
{
	kcm_aead_destroy(a);
}

static struct kcm_aead *kcm_test_aead(struct kunit *test, const u8 *key)
{
	struct kcm_aead *a = kunit_kzalloc(test, sizeof(*a), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_EQ(test, kcm_aead_init(a, key), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							kcm_test_aead_destroy,
							a), 0);
	return a;
}

static void kcm_test_ecdh_destroy(void *e)
{
	kcm_ecdh_destroy(e);
}

static struct kcm_ecdh *kcm_test_ecdh(struct kunit *test)
{
	struct kcm_ecdh *e = kunit_kzalloc(test, sizeof(*e), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, e);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							kcm_test_ecdh_destroy,
							e), 0);
	return e;
}

static void kcm_test_free_page(void *page)
{
	__free_page(page);
}

static void aead_gcm_known_answer(struct kunit *test)
{
	const struct kcm_gcm_vec *v = test->param_value;
	u8 *ptext = kcm_test_dup(test, v->ptext, v->len);
	u8 *sealed = kunit_kzalloc(test, v->len + KCM_AEAD_TAG_SIZE, GFP_KERNEL);
	u8 *opened = kunit_kzalloc(test, v->len + 1, GFP_KERNEL);
	struct kcm_aead *a;

	KUNIT_ASSERT_NOT_NULL(test, sealed);
	KUNIT_ASSERT_NOT_NULL(test, opened);
	a = kcm_test_aead(test, v->key);
	kunit_info(test, "gcm(aes) is %s",
		   crypto_tfm_alg_driver_name(crypto_aead_tfm(a->tfm)));

	KUNIT_EXPECT_EQ(test, kcm_aead_seal(a, v->nonce, v->aad, v->aad_len,
					    ptext, v->len, sealed), 0);
	if (v->len)
		KUNIT_EXPECT_MEMEQ(test, sealed, v->ctext, v->len);
	KUNIT_EXPECT_MEMEQ(test, sealed + v->len, v->tag, KCM_AEAD_TAG_SIZE);

	/* Open the published ciphertext, not only our own. */
	memcpy(sealed, v->ctext, v->len);
	memcpy(sealed + v->len, v->tag, KCM_AEAD_TAG_SIZE);
	memset(opened, 0xa5, v->len + 1);
	KUNIT_EXPECT_EQ(test, kcm_aead_open(a, v->nonce, v->aad, v->aad_len,
					    sealed, v->len, opened), 0);
	if (v->len)
		KUNIT_EXPECT_MEMEQ(test, opened, v->ptext, v->len);
	KUNIT_EXPECT_EQ_MSG(test, opened[v->len], 0xa5, "wrote past the text");
}

/* Open @v's ciphertext with each bit of @target flipped in turn. */
static void kcm_flip_each_bit(struct kunit *test, struct kcm_aead *a,
			      const struct kcm_gcm_vec *v, u8 *nonce, u8 *aad,
			      u8 *sealed, u8 *opened, u8 *target,
			      unsigned int size, const char *what)
{
	unsigned int bit;

	for (bit = 0; bit < size * 8; bit++) {
		target[bit / 8] ^= BIT(bit % 8);
		KUNIT_EXPECT_EQ_MSG(test, kcm_aead_open(a, nonce, aad,
							v->aad_len, sealed,
							v->len, opened),
				    -EBADMSG, "%s bit %u flipped", what, bit);
		target[bit / 8] ^= BIT(bit % 8);
	}
}

static void aead_gcm_rejects_every_flipped_bit(struct kunit *test)
{
	/* Test case 16: it has text, additional data, tag and a nonce. */
	const struct kcm_gcm_vec *v = &kcm_gcm_vecs[3];
	u8 nonce[KCM_AEAD_NONCE_SIZE], aad[sizeof(kcm_gcm_tc16_aad)];
	u8 *sealed = kunit_kzalloc(test, v->len + KCM_AEAD_TAG_SIZE, GFP_KERNEL);
	u8 *opened = kunit_kzalloc(test, v->len, GFP_KERNEL);
	struct kcm_aead *a, *other;

	KUNIT_ASSERT_NOT_NULL(test, sealed);
	KUNIT_ASSERT_NOT_NULL(test, opened);
	memcpy(nonce, v->nonce, sizeof(nonce));
	memcpy(aad, v->aad, sizeof(aad));
	memcpy(sealed, v->ctext, v->len);
	memcpy(sealed + v->len, v->tag, KCM_AEAD_TAG_SIZE);
	a = kcm_test_aead(test, v->key);

	KUNIT_ASSERT_EQ(test, kcm_aead_open(a, nonce, aad, v->aad_len, sealed,
					    v->len, opened), 0);
	kcm_flip_each_bit(test, a, v, nonce, aad, sealed, opened, sealed,
			  v->len, "ciphertext");
	kcm_flip_each_bit(test, a, v, nonce, aad, sealed, opened,
			  sealed + v->len, KCM_AEAD_TAG_SIZE, "tag");
	kcm_flip_each_bit(test, a, v, nonce, aad, sealed, opened, aad,
			  sizeof(aad), "additional data");
	kcm_flip_each_bit(test, a, v, nonce, aad, sealed, opened, nonce,
			  sizeof(nonce), "nonce");

	/* Truncated additional data, and the wrong key. */
	KUNIT_EXPECT_EQ(test, kcm_aead_open(a, nonce, aad, v->aad_len - 1,
					    sealed, v->len, opened), -EBADMSG);
	other = kcm_test_aead(test, kcm_zero);
	KUNIT_EXPECT_EQ(test, kcm_aead_open(other, nonce, aad, v->aad_len,
					    sealed, v->len, opened), -EBADMSG);

	/* Nothing above disturbed the reusable request. */
	KUNIT_EXPECT_EQ(test, kcm_aead_open(a, nonce, aad, v->aad_len, sealed,
					    v->len, opened), 0);
	KUNIT_EXPECT_MEMEQ(test, opened, v->ptext, v->len);
}

/* The real use: a page, with the additional data and nonce on the stack. */
static void aead_gcm_page_round_trip(struct kunit *test)
{
	u8 nonce[KCM_AEAD_NONCE_SIZE] = { 'K', 'C', 'M', 1, 42 };
	u8 aad[40], key[KCM_AEAD_KEY_SIZE];
	u8 *sealed, *opened, *ptext;
	struct kcm_aead *a;
	struct page *page;
	unsigned int i;

	page = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kcm_test_free_page,
							page), 0);
	ptext = page_address(page);
	sealed = kunit_kzalloc(test, PAGE_SIZE + KCM_AEAD_TAG_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sealed);
	opened = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, opened);
	for (i = 0; i < PAGE_SIZE; i++)
		ptext[i] = i * 7 + 3;
	for (i = 0; i < sizeof(aad); i++)
		aad[i] = i;
	for (i = 0; i < sizeof(key); i++)
		key[i] = 0x80 + i;

	a = kcm_test_aead(test, key);
	KUNIT_EXPECT_EQ(test, kcm_aead_seal(a, nonce, aad, sizeof(aad), ptext,
					    PAGE_SIZE, sealed), 0);
	KUNIT_EXPECT_MEMNEQ(test, sealed, ptext, PAGE_SIZE);
	/* The request is reused: open twice, then once more after a failure. */
	for (i = 0; i < 2; i++) {
		memset(opened, 0, PAGE_SIZE);
		KUNIT_EXPECT_EQ(test, kcm_aead_open(a, nonce, aad, sizeof(aad),
						    sealed, PAGE_SIZE, opened),
				0);
		KUNIT_EXPECT_MEMEQ(test, opened, ptext, PAGE_SIZE);
	}
	sealed[PAGE_SIZE - 1] ^= 1;
	KUNIT_EXPECT_EQ(test, kcm_aead_open(a, nonce, aad, sizeof(aad), sealed,
					    PAGE_SIZE, opened), -EBADMSG);
	sealed[PAGE_SIZE - 1] ^= 1;
	memset(opened, 0, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, kcm_aead_open(a, nonce, aad, sizeof(aad), sealed,
					    PAGE_SIZE, opened), 0);
	KUNIT_EXPECT_MEMEQ(test, opened, ptext, PAGE_SIZE);
}

/*
 * kcm_aead_seal_sg() writes, across three pages at an odd offset, exactly
 * what kcm_aead_seal() writes to a linear buffer, with and without
 * additional data; bad arguments are refused.
 */
static void aead_gcm_seal_sg_matches_linear(struct kunit *test)
{
	u8 nonce[KCM_AEAD_NONCE_SIZE] = { 'K', 'C', 'M', 1, 7 };
	const unsigned int len = PAGE_SIZE, off = PAGE_SIZE - 10;
	struct scatterlist sg[1 + 3];
	u8 aad[40], key[KCM_AEAD_KEY_SIZE];
	u8 *linear, *ptext, *split, *gather;
	struct kcm_aead *a;
	struct page *pages[3];
	unsigned int i, j, aad_len;

	ptext = kunit_kzalloc(test, len, GFP_KERNEL);
	linear = kunit_kzalloc(test, len + KCM_AEAD_TAG_SIZE, GFP_KERNEL);
	gather = kunit_kzalloc(test, len + KCM_AEAD_TAG_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ptext);
	KUNIT_ASSERT_NOT_NULL(test, linear);
	KUNIT_ASSERT_NOT_NULL(test, gather);
	for (i = 0; i < ARRAY_SIZE(pages); i++) {
		pages[i] = alloc_page(GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
		KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
								kcm_test_free_page,
								pages[i]), 0);
	}
	for (i = 0; i < len; i++)
		ptext[i] = i * 13 + 5;
	for (i = 0; i < sizeof(aad); i++)
		aad[i] = 0xa0 + i;
	for (i = 0; i < sizeof(key); i++)
		key[i] = 0x40 + i;
	a = kcm_test_aead(test, key);

	for (aad_len = 0; aad_len <= sizeof(aad); aad_len += sizeof(aad)) {
		KUNIT_ASSERT_EQ(test, kcm_aead_seal(a, nonce, aad, aad_len, ptext,
						    len, linear), 0);
		sg_init_table(sg, ARRAY_SIZE(sg));
		sg_set_page(&sg[1], pages[0], PAGE_SIZE - off, off);
		sg_set_page(&sg[2], pages[1], PAGE_SIZE, 0);
		sg_set_page(&sg[3], pages[2], len + KCM_AEAD_TAG_SIZE -
			    (PAGE_SIZE - off) - PAGE_SIZE, 0);
		KUNIT_ASSERT_EQ(test, kcm_aead_seal_sg(a, nonce, aad, aad_len,
						       ptext, len, sg, 3), 0);
		/* Gather what landed in the pages, in order. */
		j = 0;
		for (i = 1; i < ARRAY_SIZE(sg); i++) {
			split = page_address(sg_page(&sg[i])) + sg[i].offset;
			memcpy(gather + j, split, sg[i].length);
			j += sg[i].length;
		}
		KUNIT_EXPECT_EQ(test, j, len + KCM_AEAD_TAG_SIZE);
		KUNIT_EXPECT_MEMEQ(test, gather, linear, len + KCM_AEAD_TAG_SIZE);
	}
	KUNIT_EXPECT_EQ(test, kcm_aead_seal_sg(a, nonce, aad, 0, ptext, 0, sg, 3),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_aead_seal_sg(a, nonce, aad, 0, ptext, len, sg, 0),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_aead_seal_sg(a, nonce, aad,
					       KCM_AEAD_MAX_AAD_SIZE + 1, ptext,
					       len, sg, 3), -EINVAL);
}

static void aead_rejects_oversized_aad(struct kunit *test)
{
	u8 *buf = kunit_kzalloc(test, KCM_AEAD_MAX_AAD_SIZE + 1, GFP_KERNEL);
	u8 *out = kunit_kzalloc(test, 16 + KCM_AEAD_TAG_SIZE, GFP_KERNEL);
	struct kcm_aead *a;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_NOT_NULL(test, out);
	a = kcm_test_aead(test, kcm_zero);
	KUNIT_EXPECT_EQ(test, kcm_aead_seal(a, kcm_zero, buf,
					    KCM_AEAD_MAX_AAD_SIZE + 1, buf, 16,
					    out), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_aead_open(a, kcm_zero, buf,
					    KCM_AEAD_MAX_AAD_SIZE + 1, out, 16,
					    buf), -EINVAL);
	KUNIT_EXPECT_EQ(test, kcm_aead_seal(a, kcm_zero, buf,
					    KCM_AEAD_MAX_AAD_SIZE, buf, 16,
					    out), 0);
}

static void aead_destroy_is_idempotent(struct kunit *test)
{
	struct kcm_aead a = {};

	kcm_aead_destroy(&a);
	/* No assertion between init and destroy: nothing can leak. */
	if (kcm_aead_init(&a, kcm_zero)) {
		KUNIT_FAIL(test, "kcm_aead_init failed");
		return;
	}
	KUNIT_EXPECT_NOT_NULL(test, a.tfm);
	KUNIT_EXPECT_NOT_NULL(test, a.req);
	KUNIT_EXPECT_NOT_NULL(test, a.buf);
	kcm_aead_destroy(&a);
	KUNIT_EXPECT_NULL(test, a.tfm);
	KUNIT_EXPECT_NULL(test, a.req);
	KUNIT_EXPECT_NULL(test, a.buf);
	kcm_aead_destroy(&a);
}

static void ecdh_p256_agree(struct kunit *test)
{
	u8 pub_a[KCM_ECDH_PUB_SIZE], pub_b[KCM_ECDH_PUB_SIZE];
	u8 sec_a[KCM_ECDH_SECRET_SIZE], sec_b[KCM_ECDH_SECRET_SIZE];
	struct kcm_ecdh *a = kcm_test_ecdh(test), *b = kcm_test_ecdh(test);

	KUNIT_ASSERT_EQ(test, kcm_ecdh_generate(a, pub_a), 0);
	KUNIT_ASSERT_EQ(test, kcm_ecdh_generate(b, pub_b), 0);
	KUNIT_EXPECT_MEMNEQ(test, pub_a, pub_b, KCM_ECDH_PUB_SIZE);

	memset(sec_a, 0, sizeof(sec_a));
	memset(sec_b, 0xff, sizeof(sec_b));
	KUNIT_EXPECT_EQ(test, kcm_ecdh_shared(a, pub_b, sec_a), 0);
	KUNIT_EXPECT_EQ(test, kcm_ecdh_shared(b, pub_a, sec_b), 0);
	KUNIT_EXPECT_MEMEQ(test, sec_a, sec_b, KCM_ECDH_SECRET_SIZE);
	KUNIT_EXPECT_MEMNEQ(test, sec_a, kcm_zero, KCM_ECDH_SECRET_SIZE);

	memzero_explicit(sec_a, sizeof(sec_a));
	memzero_explicit(sec_b, sizeof(sec_b));
}

static void ecdh_p256_generate_is_fresh(struct kunit *test)
{
	u8 pub1[KCM_ECDH_PUB_SIZE], pub2[KCM_ECDH_PUB_SIZE];
	u8 sec1[KCM_ECDH_SECRET_SIZE], sec2[KCM_ECDH_SECRET_SIZE];
	struct kcm_ecdh *a = kcm_test_ecdh(test), *peer = kcm_test_ecdh(test);
	u8 peer_pub[KCM_ECDH_PUB_SIZE];

	KUNIT_ASSERT_EQ(test, kcm_ecdh_generate(peer, peer_pub), 0);
	KUNIT_ASSERT_EQ(test, kcm_ecdh_generate(a, pub1), 0);
	KUNIT_ASSERT_EQ(test, kcm_ecdh_shared(a, peer_pub, sec1), 0);
	/* Generating again replaces the key pair. */
	KUNIT_ASSERT_EQ(test, kcm_ecdh_generate(a, pub2), 0);
	KUNIT_EXPECT_MEMNEQ(test, pub1, pub2, KCM_ECDH_PUB_SIZE);
	KUNIT_ASSERT_EQ(test, kcm_ecdh_shared(a, peer_pub, sec2), 0);
	KUNIT_EXPECT_MEMNEQ(test, sec1, sec2, KCM_ECDH_SECRET_SIZE);

	memzero_explicit(sec1, sizeof(sec1));
	memzero_explicit(sec2, sizeof(sec2));
	/* Destroying twice (here, then by the action) is harmless. */
	kcm_ecdh_destroy(peer);
	KUNIT_EXPECT_NULL(test, peer->tfm);
}

static void ecdh_p256_rejects_invalid_point(struct kunit *test)
{
	u8 pub[KCM_ECDH_PUB_SIZE], bad[KCM_ECDH_PUB_SIZE];
	u8 sec[KCM_ECDH_SECRET_SIZE];
	struct kcm_ecdh *e = kcm_test_ecdh(test);

	/* No key yet. */
	memset(bad, 0, sizeof(bad));
	KUNIT_EXPECT_EQ(test, kcm_ecdh_shared(e, bad, sec), -EINVAL);
	KUNIT_ASSERT_EQ(test, kcm_ecdh_generate(e, pub), 0);

	/* The point at infinity, as the kernel encodes it: all zero. */
	KUNIT_EXPECT_EQ(test, kcm_ecdh_shared(e, bad, sec), -EINVAL);

	/* Coordinates not below p. */
	memset(bad, 0xff, sizeof(bad));
	KUNIT_EXPECT_EQ(test, kcm_ecdh_shared(e, bad, sec), -EINVAL);

	/* A valid point with Y changed is off the curve. */
	memcpy(bad, pub, sizeof(bad));
	bad[KCM_ECDH_PUB_SIZE - 1] ^= 1;
	KUNIT_EXPECT_EQ(test, kcm_ecdh_shared(e, bad, sec), -EINVAL);

	/* And with X changed. */
	memcpy(bad, pub, sizeof(bad));
	bad[0] ^= 0x80;
	KUNIT_EXPECT_EQ(test, kcm_ecdh_shared(e, bad, sec), -EINVAL);

	/* The untouched point is fine (our own public key). */
	KUNIT_EXPECT_EQ(test, kcm_ecdh_shared(e, pub, sec), 0);

	memzero_explicit(sec, sizeof(sec));
}

static struct kunit_case kcm_crypto_cases[] = {
	KUNIT_CASE_PARAM(hkdf_sha256_rfc5869, kcm_hkdf_gen_params),
	KUNIT_CASE(hkdf_sha256_rejects_bad_length),
	KUNIT_CASE_PARAM(hmac_sha256_rfc4231, kcm_hmac_gen_params),
	KUNIT_CASE_PARAM(aead_gcm_known_answer, kcm_gcm_gen_params),
	KUNIT_CASE(aead_gcm_rejects_every_flipped_bit),
	KUNIT_CASE(aead_gcm_page_round_trip),
	KUNIT_CASE(aead_gcm_seal_sg_matches_linear),
	KUNIT_CASE(aead_rejects_oversized_aad),
	KUNIT_CASE(aead_destroy_is_idempotent),
	KUNIT_CASE(ecdh_p256_agree),
	KUNIT_CASE(ecdh_p256_generate_is_fresh),
	KUNIT_CASE(ecdh_p256_rejects_invalid_point),
	{}
};

static struct kunit_suite kcm_crypto_suite = {
	.name = "kvm_coco_mig_crypto",
	.test_cases = kcm_crypto_cases,
};

kunit_test_suite(kcm_crypto_suite);
