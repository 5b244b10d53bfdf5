// SPDX-License-Identifier: GPL-2.0
/*
 * The module's own channel: see channel.h.
 *
 * What the platform key proves: that a message was made by a kvm-coco-mig
 * module on a host holding the key, nothing about the host's integrity;
 * any root on a provisioned host can forge it. Hardware backends add the
 * firmware's or the agent's own attestation on top.
 */
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/unaligned.h>

#include "channel.h"
#include "replay.h"

static u8 kcm_platform_key[32];
static bool kcm_have_platform_key;

/*
 * The key arrives as a module argument. @val points into the module's own
 * copy of its arguments, which lives as long as the module: parse it, then
 * wipe it there. Nothing keeps another copy (no charp), and the parameter
 * cannot be read back (permissions 0).
 */
static int kcm_set_platform_key(const char *val, const struct kernel_param *kp)
{
	char *arg = (char *)val;
	size_t len = strlen(arg);
	int ret = 0;

	if (len != 2 * sizeof(kcm_platform_key) ||
	    hex2bin(kcm_platform_key, arg, sizeof(kcm_platform_key))) {
		memzero_explicit(kcm_platform_key, sizeof(kcm_platform_key));
		pr_err("platform_key must be %zu hex digits\n",
		       2 * sizeof(kcm_platform_key));
		ret = -EINVAL;
	} else {
		kcm_have_platform_key = true;
	}
	memzero_explicit(arg, len);
	return ret;
}

static const struct kernel_param_ops kcm_platform_key_ops = {
	.set = kcm_set_platform_key,
};
module_param_cb(platform_key, &kcm_platform_key_ops, NULL, 0);
MODULE_PARM_DESC(platform_key,
		 "64 hex digits shared by the hosts between which VMs may migrate; random (local migrations only) if unset");

int kcm_chan_module_init(void)
{
	if (!kcm_have_platform_key) {
		get_random_bytes(kcm_platform_key, sizeof(kcm_platform_key));
		pr_info("no platform_key given; only migrations within this host will verify\n");
	}
	return 0;
}

void kcm_chan_module_exit(void)
{
	memzero_explicit(kcm_platform_key, sizeof(kcm_platform_key));
}

/* HMAC-SHA256 of @len bytes at @data under the platform key. */
int kcm_platform_mac(const void *data, size_t len, u8 mac[SHA256_DIGEST_SIZE])
{
	return kcm_hmac_sha256(kcm_platform_key, sizeof(kcm_platform_key),
			       data, len, mac);
}

/**
 * kcm_chan_kek - the key that wraps a transport key
 * @info: the backend's label
 * @secret: the ECDH secret of the two sides' ephemeral keys
 * @nonce: the target's nonce
 * @sid: the session id the source chose
 * @kek: out
 *
 * KEK = HKDF-SHA256(@secret, salt: @nonce || @sid, @info).
 */
int kcm_chan_kek(const char *info, const u8 secret[KCM_ECDH_SECRET_SIZE],
		 const u8 nonce[KCM_CHAN_NONCE_SIZE],
		 const u8 sid[KCM_SESSION_ID_SIZE], u8 kek[KCM_AEAD_KEY_SIZE])
{
	u8 salt[KCM_CHAN_NONCE_SIZE + KCM_SESSION_ID_SIZE];
	int ret;

	memcpy(salt, nonce, KCM_CHAN_NONCE_SIZE);
	memcpy(salt + KCM_CHAN_NONCE_SIZE, sid, KCM_SESSION_ID_SIZE);
	ret = kcm_hkdf_sha256(salt, sizeof(salt), secret, KCM_ECDH_SECRET_SIZE,
			      info, strlen(info), kek, KCM_AEAD_KEY_SIZE);
	memzero_explicit(salt, sizeof(salt));
	return ret;
}

/**
 * kcm_chan_wrap - wrap (@seal) or unwrap a transport key under a KEK
 * @seal: wrap @tk into @wrapped, else unwrap @wrapped into @tk
 * @kek: used for exactly one key, so its nonce is fixed
 * @bound: the message bytes the wrapping is bound to: the additional
 *	data is their SHA-256
 * @bound_len: their length
 * @wrapped: the wrapped key and its tag
 * @tk: the transport key
 *
 * Return: 0; -EBADMSG if @wrapped was not wrapped under @kek with @bound.
 */
int kcm_chan_wrap(bool seal, const u8 kek[KCM_AEAD_KEY_SIZE],
		  const void *bound, size_t bound_len,
		  u8 wrapped[KCM_AEAD_KEY_SIZE + KCM_AEAD_TAG_SIZE],
		  u8 tk[KCM_AEAD_KEY_SIZE])
{
	static const u8 nonce[KCM_AEAD_NONCE_SIZE];
	const size_t wlen = KCM_AEAD_KEY_SIZE + KCM_AEAD_TAG_SIZE;
	unsigned int aad_len = SHA256_DIGEST_SIZE;
	struct kcm_aead kek_aead = {};
	u8 *buf;
	int ret;

	/* Linear heap copies: the AEAD takes no stack buffers. */
	buf = kmalloc(aad_len + wlen + KCM_AEAD_KEY_SIZE, GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;
	ret = kcm_aead_init(&kek_aead, kek);
	if (ret)
		goto out_free;
	sha256(bound, bound_len, buf);
	if (seal) {
		memcpy(buf + aad_len + wlen, tk, KCM_AEAD_KEY_SIZE);
		ret = kcm_aead_seal(&kek_aead, nonce, buf, aad_len,
				    buf + aad_len + wlen, KCM_AEAD_KEY_SIZE,
				    buf + aad_len);
		if (!ret)
			memcpy(wrapped, buf + aad_len, wlen);
	} else {
		memcpy(buf + aad_len, wrapped, wlen);
		ret = kcm_aead_open(&kek_aead, nonce, buf, aad_len,
				    buf + aad_len, KCM_AEAD_KEY_SIZE,
				    buf + aad_len + wlen);
		if (!ret)
			memcpy(tk, buf + aad_len + wlen, KCM_AEAD_KEY_SIZE);
	}
	kcm_aead_destroy(&kek_aead);
out_free:
	kfree_sensitive(buf);
	return ret;
}

/**
 * kcm_chan_seal - seal a packet
 * @aead: the stream's instance of the transport key
 * @sid: the session id, additional data of every packet
 * @seq: the stream's counter: the last sequence number it used
 * @p: the packet's type, flags, gfn, version and stream; its sequence
 *	number and length are set here
 * @src: @len bytes of payload
 * @len: their length
 * @dst: kernel memory for kcm_pkt_wire_size(@len) bytes: header,
 *	ciphertext, tag
 *
 * A nonce is never reused: the stream's counter only goes up, once per
 * packet sealed. A seal that fails leaves no gap in the stream: its output
 * never leaves the kernel, so its number can be taken again.
 */
int kcm_chan_seal(struct kcm_aead *aead, const u8 sid[KCM_SESSION_ID_SIZE],
		  u64 *seq, struct kcm_pkt *p, const void *src, u32 len,
		  u8 *dst)
{
	struct kcm_pkt_hdr *h = (struct kcm_pkt_hdr *)dst;
	u8 aad[KCM_PKT_AAD_SIZE], nonce[KCM_PKT_NONCE_SIZE];
	u64 next = *seq;
	int ret;

	ret = kcm_seq_next(&next);
	if (ret)
		return ret;
	p->seq = next;
	p->len = len;
	kcm_pkt_encode(h, p);
	kcm_pkt_aad(aad, sid, h);
	kcm_pkt_nonce(nonce, p->type, p->stream, p->seq);
	ret = kcm_aead_seal(aead, nonce, aad, sizeof(aad), src, len,
			    dst + sizeof(*h));
	if (!ret)
		*seq = next;
	return ret;
}

/**
 * kcm_chan_open - authenticate and decrypt a packet
 * @aead: the stream's instance of the transport key
 * @sid: the session id
 * @pkt: the packet, in kernel memory (a copy the VMM cannot change)
 * @len: the payload bytes it carries
 * @dst: out: @len bytes of plaintext
 *
 * Before anything in the packet is believed: the nonce comes from the
 * header's type, stream and sequence number as sent, and the whole header
 * is additional data, so a packet with any header byte changed fails here
 * (-EBADMSG). Only then may the caller decode the header.
 */
int kcm_chan_open(struct kcm_aead *aead, const u8 sid[KCM_SESSION_ID_SIZE],
		  const u8 *pkt, u32 len, void *dst)
{
	const struct kcm_pkt_hdr *h = (const struct kcm_pkt_hdr *)pkt;
	u8 aad[KCM_PKT_AAD_SIZE], nonce[KCM_PKT_NONCE_SIZE];

	kcm_pkt_aad(aad, sid, h);
	kcm_pkt_nonce(nonce, h->type, get_unaligned_le16(&h->stream),
		      get_unaligned_le64(&h->seq));
	return kcm_aead_open(aead, nonce, aad, sizeof(aad), pkt + sizeof(*h),
			     len, dst);
}
