// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig cryptographic primitives over the kernel crypto API.
 *
 * Every operation may sleep: the transforms are allowed to be asynchronous
 * (so that "gcm(aes)" can resolve to the AES-NI/VAES implementation, which
 * the SIMD wrapper registers as asynchronous) and each call waits for its
 * request with crypto_wait_req().
 *
 * AES-GCM nonce rule: callers never reuse a (key, nonce) pair; nonces are
 * counter-derived by the caller (see kcm_pkt_nonce()). Nothing here
 * generates or checks nonces.
 *
 * Secrets that pass through this file's stack frames or buffers (HKDF's
 * PRK and T blocks, HMAC state, ECDH shared secrets) are wiped before
 * return; keys held by transforms are wiped by the crypto API when the
 * transform is freed.
 */
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/minmax.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <crypto/aead.h>
#include <crypto/ecdh.h>
#include <crypto/hash.h>
#include <crypto/kpp.h>
#include <kunit/visibility.h>

#include "crypto.h"

#define KCM_HKDF_MAX_OKM	(255 * SHA256_DIGEST_SIZE)

/**
 * kcm_hkdf_sha256 - HKDF-SHA256 (RFC 5869), extract then expand
 * @salt: optional salt; when @salt_len is 0, HashLen zero bytes are used
 * @salt_len: bytes at @salt
 * @ikm: input keying material
 * @ikm_len: bytes at @ikm
 * @info: optional context and application specific information
 * @info_len: bytes at @info
 * @okm: output keying material
 * @okm_len: bytes to derive, 1 to 255 * SHA256_DIGEST_SIZE
 *
 * Context: process context; may sleep.
 * Return: 0; -EINVAL for a length out of range; or the crypto API's error,
 * in which case @okm is zeroed.
 */
int kcm_hkdf_sha256(const u8 *salt, size_t salt_len, const u8 *ikm,
		    size_t ikm_len, const u8 *info, size_t info_len, u8 *okm,
		    size_t okm_len)
{
	static const u8 zero_salt[SHA256_DIGEST_SIZE];
	u8 prk[SHA256_DIGEST_SIZE], t[SHA256_DIGEST_SIZE];
	struct crypto_shash *tfm;
	size_t done, n;
	u8 ctr;
	int ret;

	if (!okm_len || okm_len > KCM_HKDF_MAX_OKM || salt_len > UINT_MAX ||
	    ikm_len > UINT_MAX || info_len > UINT_MAX)
		return -EINVAL;

	tfm = crypto_alloc_shash("hmac(sha256)", 0, 0);
	if (IS_ERR(tfm))
		return PTR_ERR(tfm);

	/* Extract: PRK = HMAC-Hash(salt, IKM). */
	if (salt_len)
		ret = crypto_shash_setkey(tfm, salt, salt_len);
	else
		ret = crypto_shash_setkey(tfm, zero_salt, sizeof(zero_salt));
	if (!ret)
		ret = crypto_shash_tfm_digest(tfm, ikm, ikm_len, prk);
	if (!ret)
		ret = crypto_shash_setkey(tfm, prk, sizeof(prk));
	if (ret)
		goto out;

	/* Expand: T(i) = HMAC-Hash(PRK, T(i - 1) | info | i), T(0) empty. */
	for (done = 0, ctr = 1; done < okm_len; done += n, ctr++) {
		SHASH_DESC_ON_STACK(desc, tfm);

		desc->tfm = tfm;
		ret = crypto_shash_init(desc);
		if (!ret && done)
			ret = crypto_shash_update(desc, t, sizeof(t));
		if (!ret && info_len)
			ret = crypto_shash_update(desc, info, info_len);
		if (!ret)
			ret = crypto_shash_finup(desc, &ctr, 1, t);
		shash_desc_zero(desc);
		if (ret)
			goto out;

		n = min(okm_len - done, sizeof(t));
		memcpy(okm + done, t, n);
	}

out:
	if (ret)
		memzero_explicit(okm, okm_len);
	memzero_explicit(prk, sizeof(prk));
	memzero_explicit(t, sizeof(t));
	crypto_free_shash(tfm);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_hkdf_sha256);

/**
 * kcm_hmac_sha256 - one-shot HMAC-SHA256
 * @key: the key, e.g. the per-host platform key that authenticates evidence
 * @key_len: bytes at @key
 * @data: the message
 * @len: bytes at @data
 * @out: the 32-byte MAC
 *
 * Context: process context; may sleep.
 * Return: 0; -EINVAL for a length above UINT_MAX; or the crypto API's error.
 */
int kcm_hmac_sha256(const u8 *key, size_t key_len, const void *data,
		    size_t len, u8 out[SHA256_DIGEST_SIZE])
{
	struct crypto_shash *tfm;
	int ret;

	if (key_len > UINT_MAX || len > UINT_MAX)
		return -EINVAL;

	tfm = crypto_alloc_shash("hmac(sha256)", 0, 0);
	if (IS_ERR(tfm))
		return PTR_ERR(tfm);

	ret = crypto_shash_setkey(tfm, key, key_len);
	if (!ret)
		ret = crypto_shash_tfm_digest(tfm, data, len, out);

	crypto_free_shash(tfm);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_hmac_sha256);

#define KCM_AEAD_BUF_SIZE	(KCM_AEAD_MAX_AAD_SIZE + KCM_AEAD_NONCE_SIZE)

static u8 *kcm_aead_aad(struct kcm_aead *a)
{
	return a->buf;
}

static u8 *kcm_aead_iv(struct kcm_aead *a)
{
	return a->buf + KCM_AEAD_MAX_AAD_SIZE;
}

/**
 * kcm_aead_init - key an AES-256-GCM context
 * @a: the context; overwritten
 * @key: the 32-byte key; the transform keeps its own copy
 *
 * Allocates the transform, the one request that every kcm_aead_seal() and
 * kcm_aead_open() on @a reuses, and the buffer the additional data and
 * nonce are copied to (charged to the caller's memory cgroup).
 *
 * Context: process context; may sleep.
 * Return: 0, or a negative errno with @a zeroed.
 */
int kcm_aead_init(struct kcm_aead *a, const u8 key[KCM_AEAD_KEY_SIZE])
{
	int ret;

	memset(a, 0, sizeof(*a));

	a->tfm = crypto_alloc_aead("gcm(aes)", 0, 0);
	if (IS_ERR(a->tfm)) {
		ret = PTR_ERR(a->tfm);
		a->tfm = NULL;
		return ret;
	}

	ret = crypto_aead_setkey(a->tfm, key, KCM_AEAD_KEY_SIZE);
	if (!ret)
		ret = crypto_aead_setauthsize(a->tfm, KCM_AEAD_TAG_SIZE);
	if (ret)
		goto e_destroy;

	ret = -ENOMEM;
	a->req = aead_request_alloc(a->tfm, GFP_KERNEL_ACCOUNT);
	if (!a->req)
		goto e_destroy;
	a->buf = kzalloc(KCM_AEAD_BUF_SIZE, GFP_KERNEL_ACCOUNT);
	if (!a->buf)
		goto e_destroy;
	return 0;

e_destroy:
	kcm_aead_destroy(a);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_aead_init);

/**
 * kcm_aead_destroy - free what kcm_aead_init() allocated
 * @a: the context; zeroed on return. A zeroed context is a no-op.
 */
void kcm_aead_destroy(struct kcm_aead *a)
{
	kfree(a->buf);
	aead_request_free(a->req);
	crypto_free_aead(a->tfm);
	memset(a, 0, sizeof(*a));
}
EXPORT_SYMBOL_IF_KUNIT(kcm_aead_destroy);

/*
 * Build @sg over the additional data (already in @a's buffer) followed by
 * @len bytes at @data, skipping empty parts. Return the number of entries.
 */
static unsigned int kcm_aead_sg(struct kcm_aead *a, struct scatterlist sg[2],
				unsigned int aad_len, const void *data,
				unsigned int len)
{
	unsigned int n = 0;

	sg_init_table(sg, 2);
	if (aad_len)
		sg_set_buf(&sg[n++], kcm_aead_aad(a), aad_len);
	if (len)
		sg_set_buf(&sg[n++], data, len);
	if (n)
		sg_mark_end(&sg[n - 1]);
	return n;
}

/* Run one request: @src and @dst start with the additional data. */
static int kcm_aead_run(struct kcm_aead *a, bool enc, unsigned int aad_len,
			struct scatterlist *src, struct scatterlist *dst,
			unsigned int src_len)
{
	DECLARE_CRYPTO_WAIT(wait);

	aead_request_set_callback(a->req, CRYPTO_TFM_REQ_MAY_SLEEP |
				  CRYPTO_TFM_REQ_MAY_BACKLOG,
				  crypto_req_done, &wait);
	aead_request_set_ad(a->req, aad_len);
	aead_request_set_crypt(a->req, src, dst, src_len, kcm_aead_iv(a));
	if (enc)
		return crypto_wait_req(crypto_aead_encrypt(a->req), &wait);
	return crypto_wait_req(crypto_aead_decrypt(a->req), &wait);
}

/* Copy the additional data and nonce to @a's linear buffer. */
static int kcm_aead_prepare(struct kcm_aead *a,
			    const u8 nonce[KCM_AEAD_NONCE_SIZE],
			    const void *aad, unsigned int aad_len)
{
	if (aad_len > KCM_AEAD_MAX_AAD_SIZE)
		return -EINVAL;
	if (aad_len)
		memcpy(kcm_aead_aad(a), aad, aad_len);
	memcpy(kcm_aead_iv(a), nonce, KCM_AEAD_NONCE_SIZE);
	return 0;
}

static int kcm_aead_crypt(struct kcm_aead *a, bool enc,
			  const u8 nonce[KCM_AEAD_NONCE_SIZE], const void *aad,
			  unsigned int aad_len, const void *src,
			  unsigned int src_len, void *dst, unsigned int dst_len)
{
	struct scatterlist sg_src[2], sg_dst[2];
	struct scatterlist *psrc = sg_src, *pdst = sg_dst;
	int ret;

	ret = kcm_aead_prepare(a, nonce, aad, aad_len);
	if (ret)
		return ret;

	/*
	 * Both lists start with the same copy of the additional data, which
	 * GCM reads and never writes. The side that always holds the tag is
	 * never empty; the other one is empty only when there is neither
	 * additional data nor text, and then stands in for it harmlessly.
	 */
	if (!kcm_aead_sg(a, sg_src, aad_len, src, src_len))
		psrc = sg_dst;
	if (!kcm_aead_sg(a, sg_dst, aad_len, dst, dst_len))
		pdst = sg_src;
	return kcm_aead_run(a, enc, aad_len, psrc, pdst, src_len);
}

/**
 * kcm_aead_seal - AES-256-GCM encryption
 * @a: a context from kcm_aead_init(); callers serialise its use
 * @nonce: 12 bytes, never used before with this key
 * @aad: additional authenticated data, not encrypted; any kernel memory
 * @aad_len: bytes at @aad, at most %KCM_AEAD_MAX_AAD_SIZE
 * @src: the plaintext, in the linear mapping (kmalloc or page_address(),
 *	not the stack, vmalloc or module data)
 * @len: bytes at @src
 * @dst: receives @len bytes of ciphertext then the %KCM_AEAD_TAG_SIZE-byte
 *	tag; linear mapping as @src, and not overlapping it
 *
 * Allocates nothing.
 *
 * Context: process context; may sleep.
 * Return: 0; -EINVAL for @aad_len or @len out of range; or the crypto
 * API's error.
 */
int kcm_aead_seal(struct kcm_aead *a, const u8 nonce[KCM_AEAD_NONCE_SIZE],
		  const void *aad, unsigned int aad_len, const void *src,
		  unsigned int len, void *dst)
{
	if (len > UINT_MAX - KCM_AEAD_TAG_SIZE)
		return -EINVAL;
	return kcm_aead_crypt(a, true, nonce, aad, aad_len, src, len, dst,
			      len + KCM_AEAD_TAG_SIZE);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_aead_seal);

/**
 * kcm_aead_seal_sg - AES-256-GCM encryption to a scatterlist
 * @a: a context from kcm_aead_init(); callers serialise its use
 * @nonce: 12 bytes, never used before with this key
 * @aad: additional authenticated data, not encrypted; any kernel memory
 * @aad_len: bytes at @aad, at most %KCM_AEAD_MAX_AAD_SIZE
 * @src: the plaintext, in the linear mapping, as for kcm_aead_seal()
 * @len: bytes at @src, at least one
 * @dst: 1 + @dst_nents entries. Entry 0 is the caller's to leave unset: it
 *	receives the additional data. The entries after it describe where the
 *	@len bytes of ciphertext and then the tag go, for instance the pinned
 *	pages of a user buffer; they must not overlap @src.
 * @dst_nents: entries of @dst after the first, at least one
 *
 * As kcm_aead_seal(), for a destination that is not linear. Allocates
 * nothing.
 *
 * Context: process context; may sleep.
 * Return: 0; -EINVAL for @aad_len, @len or @dst_nents out of range; or the
 * crypto API's error.
 */
int kcm_aead_seal_sg(struct kcm_aead *a, const u8 nonce[KCM_AEAD_NONCE_SIZE],
		     const void *aad, unsigned int aad_len, const void *src,
		     unsigned int len, struct scatterlist *dst,
		     unsigned int dst_nents)
{
	struct scatterlist sg_src[2];
	int ret;

	if (!len || len > UINT_MAX - KCM_AEAD_TAG_SIZE || !dst_nents)
		return -EINVAL;
	ret = kcm_aead_prepare(a, nonce, aad, aad_len);
	if (ret)
		return ret;
	kcm_aead_sg(a, sg_src, aad_len, src, len);
	if (aad_len) {
		sg_set_buf(&dst[0], kcm_aead_aad(a), aad_len);
		sg_unmark_end(&dst[0]);
	} else {
		dst++;
	}
	sg_mark_end(&dst[aad_len ? dst_nents : dst_nents - 1]);
	return kcm_aead_run(a, true, aad_len, sg_src, dst, len);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_aead_seal_sg);

/**
 * kcm_aead_open - AES-256-GCM decryption and verification
 * @a: a context from kcm_aead_init(); callers serialise its use
 * @nonce: the nonce the data was sealed with
 * @aad: the additional data it was sealed with; any kernel memory
 * @aad_len: bytes at @aad, at most %KCM_AEAD_MAX_AAD_SIZE
 * @src: @len bytes of ciphertext then the tag, in the linear mapping
 * @len: bytes of ciphertext, without the tag
 * @dst: receives @len bytes of plaintext; linear mapping, not overlapping
 *	@src
 *
 * Allocates nothing. On failure @dst holds unspecified data: callers that
 * must not expose unauthenticated plaintext decrypt into a bounce buffer.
 *
 * Context: process context; may sleep.
 * Return: 0; -EBADMSG if the tag does not authenticate the ciphertext,
 * additional data and nonce under the key; -EINVAL for @aad_len or @len
 * out of range; or the crypto API's error.
 */
int kcm_aead_open(struct kcm_aead *a, const u8 nonce[KCM_AEAD_NONCE_SIZE],
		  const void *aad, unsigned int aad_len, const void *src,
		  unsigned int len, void *dst)
{
	if (len > UINT_MAX - KCM_AEAD_TAG_SIZE)
		return -EINVAL;
	return kcm_aead_crypt(a, false, nonce, aad, aad_len, src,
			      len + KCM_AEAD_TAG_SIZE, dst, len);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_aead_open);

/*
 * Run one kpp operation: generate the public key when @peer is NULL, else
 * the shared secret with @peer. The kpp API takes scatterlists, so the data
 * goes through a linear bounce buffer, wiped on free.
 */
static int kcm_ecdh_run(struct crypto_kpp *tfm, const u8 *peer, u8 *out,
			unsigned int out_len)
{
	struct scatterlist sg_in, sg_out;
	DECLARE_CRYPTO_WAIT(wait);
	struct kpp_request *req;
	u8 *buf;
	int ret;

	buf = kzalloc(2 * KCM_ECDH_PUB_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	req = kpp_request_alloc(tfm, GFP_KERNEL);
	if (!req) {
		ret = -ENOMEM;
		goto out_free_buf;
	}

	if (peer) {
		memcpy(buf, peer, KCM_ECDH_PUB_SIZE);
		sg_init_one(&sg_in, buf, KCM_ECDH_PUB_SIZE);
		kpp_request_set_input(req, &sg_in, KCM_ECDH_PUB_SIZE);
	} else {
		kpp_request_set_input(req, NULL, 0);
	}
	sg_init_one(&sg_out, buf + KCM_ECDH_PUB_SIZE, out_len);
	kpp_request_set_output(req, &sg_out, out_len);
	kpp_request_set_callback(req, CRYPTO_TFM_REQ_MAY_SLEEP |
				 CRYPTO_TFM_REQ_MAY_BACKLOG,
				 crypto_req_done, &wait);

	if (peer)
		ret = crypto_wait_req(crypto_kpp_compute_shared_secret(req),
				      &wait);
	else
		ret = crypto_wait_req(crypto_kpp_generate_public_key(req),
				      &wait);
	if (!ret)
		memcpy(out, buf + KCM_ECDH_PUB_SIZE, out_len);

	kpp_request_free(req);
out_free_buf:
	kfree_sensitive(buf);
	return ret;
}

/**
 * kcm_ecdh_generate - make a fresh P-256 key pair
 * @e: zeroed before first use; a key it already holds is replaced
 * @pub: the public key, X then Y, each 32 bytes big endian (the SEC 1
 *	uncompressed point without its 0x04 prefix)
 *
 * The private key is random: setting an empty secret on the kernel's ECDH
 * makes it draw one from the default RNG. It never leaves the transform.
 *
 * Context: process context; may sleep.
 * Return: 0, or a negative errno, after which @e holds no key.
 */
int kcm_ecdh_generate(struct kcm_ecdh *e, u8 pub[KCM_ECDH_PUB_SIZE])
{
	/* An encoded struct ecdh with no key: the header only. */
	char secret[sizeof(struct kpp_secret) + sizeof(unsigned short)];
	struct ecdh params = {};
	unsigned int len = crypto_ecdh_key_len(&params);
	int ret;

	if (len > sizeof(secret))
		return -EINVAL;

	if (!e->tfm) {
		e->tfm = crypto_alloc_kpp("ecdh-nist-p256", 0, 0);
		if (IS_ERR(e->tfm)) {
			ret = PTR_ERR(e->tfm);
			e->tfm = NULL;
			return ret;
		}
	}

	ret = crypto_ecdh_encode_key(secret, len, &params);
	if (!ret)
		ret = crypto_kpp_set_secret(e->tfm, secret, len);
	if (!ret)
		ret = kcm_ecdh_run(e->tfm, NULL, pub, KCM_ECDH_PUB_SIZE);
	if (ret)
		kcm_ecdh_destroy(e);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_ecdh_generate);

/**
 * kcm_ecdh_shared - the ECDH shared secret with a peer
 * @e: holds a key from kcm_ecdh_generate()
 * @peer_pub: the peer's public key, in kcm_ecdh_generate()'s format
 * @secret: the X coordinate of the shared point, 32 bytes big endian; raw,
 *	to be fed to a KDF, never used as a key
 *
 * The kernel checks that @peer_pub is a point on the curve (SP 800-56A
 * partial validation, which is full validation on P-256: its cofactor is
 * 1) and refuses the point at infinity (all zero), coordinates that are not
 * below p, and points off the curve with -EINVAL. A product at infinity,
 * which the kernel reports as -EFAULT and a valid point cannot yield, is
 * also returned as -EINVAL, so that it cannot pass for a bad user address.
 *
 * Context: process context; may sleep.
 * Return: 0; -EINVAL if @e holds no key or @peer_pub is not a valid point;
 * or the crypto API's error.
 */
int kcm_ecdh_shared(struct kcm_ecdh *e, const u8 peer_pub[KCM_ECDH_PUB_SIZE],
		    u8 secret[KCM_ECDH_SECRET_SIZE])
{
	int ret;

	if (!e->tfm)
		return -EINVAL;
	ret = kcm_ecdh_run(e->tfm, peer_pub, secret, KCM_ECDH_SECRET_SIZE);
	return ret == -EFAULT ? -EINVAL : ret;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_ecdh_shared);

/**
 * kcm_ecdh_destroy - free the key pair
 * @e: zeroed on return; a zeroed @e is a no-op
 */
void kcm_ecdh_destroy(struct kcm_ecdh *e)
{
	crypto_free_kpp(e->tfm);
	e->tfm = NULL;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_ecdh_destroy);
