/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-coco-mig cryptographic primitives, thin wrappers over the kernel
 * crypto API: HKDF-SHA256 and HMAC-SHA256 for key derivation and evidence,
 * AES-256-GCM for the page stream, ECDH on NIST P-256 for the key exchange.
 */
#ifndef __KVM_COCO_MIG_CRYPTO_H
#define __KVM_COCO_MIG_CRYPTO_H

#include <linux/types.h>
#include <crypto/sha2.h>

struct aead_request;
struct crypto_aead;
struct crypto_kpp;
struct scatterlist;

#define KCM_AEAD_KEY_SIZE	32
#define KCM_AEAD_NONCE_SIZE	12
#define KCM_AEAD_TAG_SIZE	16
/* Enough for a packet's additional data (session id and header). */
#define KCM_AEAD_MAX_AAD_SIZE	64

#define KCM_ECDH_PUB_SIZE	64
#define KCM_ECDH_SECRET_SIZE	32

int kcm_hkdf_sha256(const u8 *salt, size_t salt_len, const u8 *ikm,
		    size_t ikm_len, const u8 *info, size_t info_len, u8 *okm,
		    size_t okm_len);
int kcm_hmac_sha256(const u8 *key, size_t key_len, const void *data,
		    size_t len, u8 out[SHA256_DIGEST_SIZE]);

/**
 * struct kcm_aead - an AES-256-GCM key with one reusable request
 * @tfm: the "gcm(aes)" transform, keyed
 * @req: the request every seal and open reuses, so that they allocate
 *	nothing; hence callers serialise their use of one struct kcm_aead
 * @buf: linear (kmalloc'd) copies of the caller's additional data, at
 *	offset 0, and nonce, at offset %KCM_AEAD_MAX_AAD_SIZE: callers may
 *	keep both on the stack, which a scatterlist cannot point to
 */
struct kcm_aead {
	struct crypto_aead *tfm;
	struct aead_request *req;
	u8 *buf;
};

int kcm_aead_init(struct kcm_aead *a, const u8 key[KCM_AEAD_KEY_SIZE]);
void kcm_aead_destroy(struct kcm_aead *a);
int kcm_aead_seal(struct kcm_aead *a, const u8 nonce[KCM_AEAD_NONCE_SIZE],
		  const void *aad, unsigned int aad_len, const void *src,
		  unsigned int len, void *dst);
int kcm_aead_seal_sg(struct kcm_aead *a, const u8 nonce[KCM_AEAD_NONCE_SIZE],
		     const void *aad, unsigned int aad_len, const void *src,
		     unsigned int len, struct scatterlist *dst,
		     unsigned int dst_nents);
int kcm_aead_open(struct kcm_aead *a, const u8 nonce[KCM_AEAD_NONCE_SIZE],
		  const void *aad, unsigned int aad_len, const void *src,
		  unsigned int len, void *dst);

/**
 * struct kcm_ecdh - an ephemeral ECDH key pair on NIST P-256
 * @tfm: the "ecdh-nist-p256" transform holding the private key; NULL
 *	until kcm_ecdh_generate() succeeds. Zero the struct before first use.
 */
struct kcm_ecdh {
	struct crypto_kpp *tfm;
};

int kcm_ecdh_generate(struct kcm_ecdh *e, u8 pub[KCM_ECDH_PUB_SIZE]);
int kcm_ecdh_shared(struct kcm_ecdh *e, const u8 peer_pub[KCM_ECDH_PUB_SIZE],
		    u8 secret[KCM_ECDH_SECRET_SIZE]);
void kcm_ecdh_destroy(struct kcm_ecdh *e);

#endif /* __KVM_COCO_MIG_CRYPTO_H */
