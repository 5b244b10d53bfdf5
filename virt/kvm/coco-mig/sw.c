// SPDX-License-Identifier: GPL-2.0
/*
 * The sw backend: KVM_X86_SW_PROTECTED_VM guests, whose private memory lives
 * in guest_memfd and whose "confidentiality" is enforced by nothing but KVM.
 * The module itself packages and unpackages pages; it is the reference
 * semantics for the hardware backends.
 *
 * Key exchange. The target makes an ephemeral ECDH P-256 key pair and a
 * random nonce and hands out evidence: both, MACed with the host's platform
 * key (HMAC-SHA256). The source checks the MAC and the evidence's version
 * and backend (its policy), makes its own ephemeral pair, a random session
 * id and a random transport key, derives a key-encryption key with
 * HKDF-SHA256 from the ECDH secret (salt: target nonce || session id) and
 * sends the transport key wrapped under it with AES-256-GCM. The KEK is
 * used once, with an all-zero nonce. The transport blob is MACed with the
 * platform key too, over its header, session id and public key and the
 * target's nonce and public key: the target accepts a transport key only
 * from a host that holds the platform key and answered this evidence. The
 * evidence is public (it crosses the network); without that MAC anyone who
 * saw it could wrap a key of their own to the target's public key.
 *
 * Pages. Every packet is sealed under the transport key with a nonce made
 * from its sequence number (one counter per session, never reused) and the
 * session id and header as additional data (packet.c). The target decrypts
 * into a bounce page and copies into guest_memfd only what authenticated.
 *
 * What the platform key proves: that the evidence was made by a kvm-coco-mig
 * module on a host holding the key, nothing about the host's integrity; any
 * root on a provisioned host can forge it. Hardware backends replace it with
 * a PSP or SVSM attestation report.
 */
#include <crypto/algapi.h>
#include <linux/kvm_host.h>
#include <linux/moduleparam.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
#include <kunit/visibility.h>

#include "coco_mig.h"
#include "crypto.h"
#include "dirty.h"
#include "packet.h"
#include "replay.h"
#include "window.h"

#define KCM_SW_EVIDENCE_MAGIC	0x454d434b	/* "KCME" */
#define KCM_SW_TRANSPORT_MAGIC	0x544d434b	/* "KCMT" */
#define KCM_SW_BLOB_VERSION	1
#define KCM_SW_NONCE_SIZE	16

/* The target's migration data, little endian. */
struct kcm_sw_evidence {
	__le32 magic;
	u8 version;
	u8 backend;
	__le16 reserved;
	u8 nonce[KCM_SW_NONCE_SIZE];
	u8 pub[KCM_ECDH_PUB_SIZE];
	u8 mac[SHA256_DIGEST_SIZE];	/* HMAC(platform key, all above) */
};

/* The wrapped transport key, source to target. */
struct kcm_sw_transport {
	__le32 magic;
	u8 version;
	u8 reserved[3];
	u8 sid[KCM_SESSION_ID_SIZE];
	u8 pub[KCM_ECDH_PUB_SIZE];
	u8 wrapped[KCM_AEAD_KEY_SIZE + KCM_AEAD_TAG_SIZE];
	/* HMAC(platform key, all above but @wrapped, evidence nonce and pub) */
	u8 mac[SHA256_DIGEST_SIZE];
};

/*
 * The final record's plaintext: completeness (pages and their versions,
 * which gfns are private), then the VMM's vCPU state.
 */
struct kcm_sw_final {
	__le64 pages;
	u8 digest[KCM_DIGEST_SIZE];
	u8 private_digest[SHA256_DIGEST_SIZE];
	u8 vcpu_state[];
};

#define KCM_SW_PACKET_SIZE	kcm_pkt_wire_size(PAGE_SIZE)

/**
 * struct kcm_sw - the sw backend's half of a session
 * @ecdh: the ephemeral key pair, until the transport key is agreed
 * @evidence: target: the migration data, made once
 * @have_evidence: @evidence is valid
 * @aead: the transport key; @keyed says whether it is set
 * @keyed: the transport key is agreed
 * @sid: the session id, additional data of every packet
 * @seq: source: the last sequence number used
 * @map: newest sequence number per gfn sent (source) or installed (target)
 * @pkt: target: the packet being received, copied out of the user buffer
 * @plain: target: decrypted page, before it is known to be authentic
 * @win: the pinned part of the user buffer of PACKAGE_PAGES or
 *	RECEIVE_PAGES; empty between calls
 */
struct kcm_sw {
	struct kcm_ecdh ecdh;
	struct kcm_sw_evidence evidence;
	bool have_evidence;
	struct kcm_aead aead;
	bool keyed;
	u8 sid[KCM_SESSION_ID_SIZE];
	u64 seq;
	struct kcm_seq_map map;
	u8 *pkt;
	u8 *plain;
	struct kcm_window win;
};

static u8 kcm_sw_platform_key[32];
static bool kcm_sw_have_key;

/*
 * The key arrives as a module argument. @val points into the module's own
 * copy of its arguments, which lives as long as the module: parse it, then
 * wipe it there. Nothing keeps another copy (no charp), and the parameter
 * cannot be read back (permissions 0).
 */
static int kcm_sw_set_platform_key(const char *val, const struct kernel_param *kp)
{
	char *arg = (char *)val;
	size_t len = strlen(arg);
	int ret = 0;

	if (len != 2 * sizeof(kcm_sw_platform_key) ||
	    hex2bin(kcm_sw_platform_key, arg, sizeof(kcm_sw_platform_key))) {
		memzero_explicit(kcm_sw_platform_key, sizeof(kcm_sw_platform_key));
		pr_err("sw: platform_key must be %zu hex digits\n",
		       2 * sizeof(kcm_sw_platform_key));
		ret = -EINVAL;
	} else {
		kcm_sw_have_key = true;
	}
	memzero_explicit(arg, len);
	return ret;
}

static const struct kernel_param_ops kcm_sw_platform_key_ops = {
	.set = kcm_sw_set_platform_key,
};
module_param_cb(platform_key, &kcm_sw_platform_key_ops, NULL, 0);
MODULE_PARM_DESC(platform_key,
		 "sw backend: 64 hex digits shared by the hosts between which SW-protected VMs may migrate; random (local migrations only) if unset");

int kcm_sw_module_init(void)
{
	if (!kcm_sw_have_key) {
		get_random_bytes(kcm_sw_platform_key, sizeof(kcm_sw_platform_key));
		pr_info("sw: no platform_key given; only migrations within this host will verify\n");
	}
	return 0;
}

void kcm_sw_module_exit(void)
{
	memzero_explicit(kcm_sw_platform_key, sizeof(kcm_sw_platform_key));
}

static struct kcm_sw *to_sw(struct kcm_session *s)
{
	return s->priv;
}

static int kcm_sw_session_init(struct kcm_session *s)
{
	struct kcm_sw *sw;

	sw = kzalloc(sizeof(*sw), GFP_KERNEL_ACCOUNT);
	if (!sw)
		return -ENOMEM;
	sw->pkt = kmalloc(KCM_SW_PACKET_SIZE, GFP_KERNEL_ACCOUNT);
	sw->plain = kmalloc(PAGE_SIZE, GFP_KERNEL_ACCOUNT);
	if (!sw->pkt || !sw->plain) {
		kfree(sw->pkt);
		kfree(sw->plain);
		kfree(sw);
		return -ENOMEM;
	}
	kcm_seq_map_init(&sw->map);
	s->priv = sw;
	return 0;
}

/* Destroy every key; the session can no longer package or receive. */
static void kcm_sw_forget_keys(struct kcm_sw *sw)
{
	kcm_ecdh_destroy(&sw->ecdh);
	kcm_aead_destroy(&sw->aead);
	sw->keyed = false;
	memzero_explicit(sw->sid, sizeof(sw->sid));
}

static void kcm_sw_session_destroy(struct kcm_session *s)
{
	struct kcm_sw *sw = to_sw(s);

	kcm_sw_forget_keys(sw);
	kcm_seq_map_destroy(&sw->map);
	kfree_sensitive(sw->pkt);
	kfree_sensitive(sw->plain);
	kfree_sensitive(sw);
	s->priv = NULL;
}

/* The vCPU state length a final record announces, or -EINVAL. */
static long kcm_sw_final_state_len(const void *in, u32 in_len)
{
	const struct kcm_pkt_hdr *h = in;
	u32 len;

	if (in_len < kcm_pkt_wire_size(sizeof(struct kcm_sw_final)))
		return -EINVAL;
	len = get_unaligned_le32(&h->len);
	if (kcm_pkt_wire_size(len) != in_len)
		return -EINVAL;
	return len - sizeof(struct kcm_sw_final);
}

static long kcm_sw_out_size(struct kcm_session *s, enum kcm_op op,
			    const void *in, u32 in_len)
{
	switch (op) {
	case KCM_OP_GET_MIGRATION_DATA:
		return sizeof(struct kcm_sw_evidence);
	case KCM_OP_START:
		return sizeof(struct kcm_sw_transport);
	case KCM_OP_FINISH:
		if (s->role == KVM_COCO_MIG_ROLE_SOURCE)
			return kcm_pkt_wire_size(sizeof(struct kcm_sw_final) + in_len);
		/* A record without a vCPU state is not one the source makes. */
		return kcm_sw_final_state_len(in, in_len) ?: -EINVAL;
	default:
		return 0;
	}
}

static int kcm_sw_evidence_mac(const struct kcm_sw_evidence *ev,
			       u8 mac[SHA256_DIGEST_SIZE])
{
	return kcm_hmac_sha256(kcm_sw_platform_key, sizeof(kcm_sw_platform_key),
			       ev, offsetof(struct kcm_sw_evidence, mac), mac);
}

/*
 * The transport blob's MAC: its header, session id and public key, then
 * the evidence's nonce and public key it answers. The wrapped key is not
 * covered: the key wrapping authenticates it, under a KEK only the holder
 * of the private key behind @t->pub can derive.
 */
static int kcm_sw_transport_mac(const struct kcm_sw_transport *t,
				const struct kcm_sw_evidence *ev,
				u8 mac[SHA256_DIGEST_SIZE])
{
	u8 buf[offsetof(struct kcm_sw_transport, wrapped) + KCM_SW_NONCE_SIZE +
	       KCM_ECDH_PUB_SIZE];
	size_t off = offsetof(struct kcm_sw_transport, wrapped);
	int ret;

	memcpy(buf, t, off);
	memcpy(buf + off, ev->nonce, KCM_SW_NONCE_SIZE);
	memcpy(buf + off + KCM_SW_NONCE_SIZE, ev->pub, KCM_ECDH_PUB_SIZE);
	ret = kcm_hmac_sha256(kcm_sw_platform_key, sizeof(kcm_sw_platform_key),
			      buf, sizeof(buf), mac);
	memzero_explicit(buf, sizeof(buf));
	return ret;
}

static int kcm_sw_get_migration_data(struct kcm_session *s, void *out)
{
	struct kcm_sw *sw = to_sw(s);
	struct kcm_sw_evidence *ev = &sw->evidence;
	int ret;

	if (!sw->have_evidence) {
		memset(ev, 0, sizeof(*ev));
		ev->magic = cpu_to_le32(KCM_SW_EVIDENCE_MAGIC);
		ev->version = KCM_SW_BLOB_VERSION;
		ev->backend = KVM_COCO_MIG_BACKEND_SW;
		get_random_bytes(ev->nonce, sizeof(ev->nonce));
		ret = kcm_ecdh_generate(&sw->ecdh, ev->pub);
		if (ret)
			return ret;
		ret = kcm_sw_evidence_mac(ev, ev->mac);
		if (ret) {
			kcm_ecdh_destroy(&sw->ecdh);
			return ret;
		}
		sw->have_evidence = true;
	}
	memcpy(out, ev, sizeof(*ev));
	return 0;
}

/* KEK = HKDF-SHA256(ECDH secret, target nonce || session id, label). */
static int kcm_sw_kek(const u8 secret[KCM_ECDH_SECRET_SIZE],
		      const u8 nonce[KCM_SW_NONCE_SIZE],
		      const u8 sid[KCM_SESSION_ID_SIZE],
		      u8 kek[KCM_AEAD_KEY_SIZE])
{
	static const u8 info[] = "kvm-coco-mig v1 sw kek";
	u8 salt[KCM_SW_NONCE_SIZE + KCM_SESSION_ID_SIZE];
	int ret;

	memcpy(salt, nonce, KCM_SW_NONCE_SIZE);
	memcpy(salt + KCM_SW_NONCE_SIZE, sid, KCM_SESSION_ID_SIZE);
	ret = kcm_hkdf_sha256(salt, sizeof(salt), secret, KCM_ECDH_SECRET_SIZE,
			      info, sizeof(info) - 1, kek, KCM_AEAD_KEY_SIZE);
	memzero_explicit(salt, sizeof(salt));
	return ret;
}

/*
 * The KEK wraps exactly one key, so its nonce can be fixed. The additional
 * data is a SHA-256 of the transport blob's header, session id and public
 * key.
 */
static int kcm_sw_wrap(bool seal, const u8 kek[KCM_AEAD_KEY_SIZE],
		       struct kcm_sw_transport *t, u8 *tk)
{
	static const u8 nonce[KCM_AEAD_NONCE_SIZE];
	unsigned int aad_len = SHA256_DIGEST_SIZE;
	struct kcm_aead kek_aead = {};
	u8 *buf;
	int ret;

	/* Linear heap copies: the AEAD takes no stack buffers. */
	buf = kmalloc(aad_len + sizeof(t->wrapped) + KCM_AEAD_KEY_SIZE,
		      GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;
	ret = kcm_aead_init(&kek_aead, kek);
	if (ret)
		goto out_free;
	sha256((const u8 *)t, offsetof(struct kcm_sw_transport, wrapped), buf);
	if (seal) {
		memcpy(buf + aad_len + sizeof(t->wrapped), tk, KCM_AEAD_KEY_SIZE);
		ret = kcm_aead_seal(&kek_aead, nonce, buf, aad_len,
				    buf + aad_len + sizeof(t->wrapped),
				    KCM_AEAD_KEY_SIZE, buf + aad_len);
		if (!ret)
			memcpy(t->wrapped, buf + aad_len, sizeof(t->wrapped));
	} else {
		memcpy(buf + aad_len, t->wrapped, sizeof(t->wrapped));
		ret = kcm_aead_open(&kek_aead, nonce, buf, aad_len, buf + aad_len,
				    KCM_AEAD_KEY_SIZE, buf + aad_len + sizeof(t->wrapped));
		if (!ret)
			memcpy(tk, buf + aad_len + sizeof(t->wrapped), KCM_AEAD_KEY_SIZE);
	}
	kcm_aead_destroy(&kek_aead);
out_free:
	kfree_sensitive(buf);
	return ret;
}

static int kcm_sw_start(struct kcm_session *s, const void *in, u32 in_len,
			void *out)
{
	const struct kcm_sw_evidence *ev = in;
	struct kcm_sw_transport *t = out;
	struct kcm_sw *sw = to_sw(s);
	u8 secret[KCM_ECDH_SECRET_SIZE], kek[KCM_AEAD_KEY_SIZE];
	u8 tk[KCM_AEAD_KEY_SIZE], mac[SHA256_DIGEST_SIZE];
	int ret;

	/* Policy: a version-1 sw evidence, MACed with our platform key. */
	if (in_len != sizeof(*ev) ||
	    le32_to_cpu(ev->magic) != KCM_SW_EVIDENCE_MAGIC ||
	    ev->version != KCM_SW_BLOB_VERSION ||
	    ev->backend != KVM_COCO_MIG_BACKEND_SW || ev->reserved)
		return -EINVAL;
	ret = kcm_sw_evidence_mac(ev, mac);
	if (ret)
		return ret;
	if (crypto_memneq(mac, ev->mac, sizeof(mac)))
		return -EKEYREJECTED;

	memset(t, 0, sizeof(*t));
	t->magic = cpu_to_le32(KCM_SW_TRANSPORT_MAGIC);
	t->version = KCM_SW_BLOB_VERSION;
	get_random_bytes(t->sid, sizeof(t->sid));
	get_random_bytes(tk, sizeof(tk));

	ret = kcm_ecdh_generate(&sw->ecdh, t->pub);
	if (ret)
		goto out;
	ret = kcm_ecdh_shared(&sw->ecdh, ev->pub, secret);
	kcm_ecdh_destroy(&sw->ecdh);
	if (ret)
		goto out;
	ret = kcm_sw_kek(secret, ev->nonce, t->sid, kek);
	if (ret)
		goto out;
	ret = kcm_sw_wrap(true, kek, t, tk);
	if (ret)
		goto out;
	ret = kcm_sw_transport_mac(t, ev, t->mac);
	if (ret)
		goto out;
	ret = kcm_aead_init(&sw->aead, tk);
	if (ret)
		goto out;
	memcpy(sw->sid, t->sid, sizeof(sw->sid));
	sw->seq = 0;
	sw->keyed = true;
out:
	memzero_explicit(secret, sizeof(secret));
	memzero_explicit(kek, sizeof(kek));
	memzero_explicit(tk, sizeof(tk));
	return ret;
}

static int kcm_sw_accept(struct kcm_session *s, const void *in, u32 in_len)
{
	struct kcm_sw_transport t;
	struct kcm_sw *sw = to_sw(s);
	u8 secret[KCM_ECDH_SECRET_SIZE], kek[KCM_AEAD_KEY_SIZE];
	u8 tk[KCM_AEAD_KEY_SIZE], mac[SHA256_DIGEST_SIZE];
	int ret;

	if (in_len != sizeof(t))
		return -EINVAL;
	memcpy(&t, in, sizeof(t));
	/* Authentic first: a blob we cannot tie to our evidence changes nothing. */
	ret = kcm_sw_transport_mac(&t, &sw->evidence, mac);
	if (ret)
		return ret;
	if (crypto_memneq(mac, t.mac, sizeof(mac)))
		return -EKEYREJECTED;
	if (le32_to_cpu(t.magic) != KCM_SW_TRANSPORT_MAGIC ||
	    t.version != KCM_SW_BLOB_VERSION || memchr_inv(t.reserved, 0, sizeof(t.reserved)))
		return -EINVAL;

	ret = kcm_ecdh_shared(&sw->ecdh, t.pub, secret);
	if (ret)
		goto out;
	ret = kcm_sw_kek(secret, sw->evidence.nonce, t.sid, kek);
	if (ret)
		goto out;
	ret = kcm_sw_wrap(false, kek, &t, tk);
	if (ret == -EBADMSG) {
		/* Not wrapped to our key, or tampered with. */
		kcm_sw_forget_keys(sw);
		kcm_session_fail(s);
		goto out;
	}
	if (ret)
		goto out;
	ret = kcm_aead_init(&sw->aead, tk);
	if (ret)
		goto out;
	kcm_ecdh_destroy(&sw->ecdh);
	memcpy(sw->sid, t.sid, sizeof(sw->sid));
	sw->keyed = true;
out:
	memzero_explicit(secret, sizeof(secret));
	memzero_explicit(kek, sizeof(kek));
	memzero_explicit(tk, sizeof(tk));
	return ret;
}

/*
 * Take the next sequence number and write the header of a packet of @type
 * for @gfn, with @len bytes of payload, to @h; its nonce and additional
 * data to @nonce and @aad.
 */
static int kcm_sw_header(struct kcm_sw *sw, u8 type, u16 flags, u64 gfn, u32 len,
			 struct kcm_pkt_hdr *h, u8 nonce[KCM_PKT_NONCE_SIZE],
			 u8 aad[KCM_PKT_AAD_SIZE])
{
	struct kcm_pkt p = { .type = type, .flags = flags, .len = len, .gfn = gfn };
	int ret;

	/* A nonce is never reused: the counter only goes up. */
	ret = kcm_seq_next(&sw->seq);
	if (ret)
		return ret;
	p.seq = sw->seq;
	kcm_pkt_encode(h, &p);
	kcm_pkt_aad(aad, sw->sid, h);
	kcm_pkt_nonce(nonce, type, p.seq);
	return 0;
}

/* Seal @len bytes at @src as a packet of @type for @gfn into @dst. */
static int kcm_sw_seal(struct kcm_sw *sw, u8 type, u16 flags, u64 gfn,
		       const void *src, u32 len, u8 *dst)
{
	struct kcm_pkt_hdr *h = (struct kcm_pkt_hdr *)dst;
	u8 aad[KCM_PKT_AAD_SIZE], nonce[KCM_PKT_NONCE_SIZE];
	int ret;

	ret = kcm_sw_header(sw, type, flags, gfn, len, h, nonce, aad);
	if (ret)
		return ret;
	return kcm_aead_seal(&sw->aead, nonce, aad, sizeof(aad), src, len,
			     dst + sizeof(*h));
}

/*
 * Seal the page at @src as the packet for @gfn, at offset @off of the
 * pinned window. The AEAD works in kernel memory (@sw->pkt): GCM computes
 * the tag over the ciphertext it has written, and a VMM thread could
 * rewrite its own buffer between the two. Only the finished packet is
 * copied out.
 */
static int kcm_sw_seal_page(struct kcm_sw *sw, u64 gfn, u16 flags,
			    const void *src, size_t off)
{
	int ret;

	ret = kcm_sw_seal(sw, KCM_PKT_PAGE, flags, gfn, src, PAGE_SIZE, sw->pkt);
	if (!ret)
		kcm_window_write(&sw->win, off, sw->pkt, KCM_SW_PACKET_SIZE);
	return ret;
}

/*
 * Authenticate and decrypt the packet at @pkt, which carries @len bytes of
 * payload, into @dst, before anything in it is believed: the nonce comes
 * from the header's type and sequence number as sent, and the whole header
 * is additional data, so a packet with any header byte changed fails here
 * (-EBADMSG). Only then is the header decoded.
 */
static int kcm_sw_open(struct kcm_sw *sw, const u8 *pkt, u32 len, void *dst)
{
	const struct kcm_pkt_hdr *h = (const struct kcm_pkt_hdr *)pkt;
	u8 aad[KCM_PKT_AAD_SIZE], nonce[KCM_PKT_NONCE_SIZE];

	kcm_pkt_aad(aad, sw->sid, h);
	kcm_pkt_nonce(nonce, h->type, get_unaligned_le64(&h->seq));
	return kcm_aead_open(&sw->aead, nonce, aad, sizeof(aad),
			     pkt + sizeof(*h), len, dst);
}

/*
 * The memslot of a private @gfn. Called under kvm->srcu. -ENOENT: no
 * memslot, or one without guest_memfd; -EINVAL: a shared gfn.
 */
static int kcm_sw_private_slot(struct kvm *kvm, u64 gfn,
			       struct kvm_memory_slot **slot)
{
	*slot = gfn_to_memslot(kvm, gfn);
	if (!*slot || !kvm_slot_can_be_private(*slot))
		return -ENOENT;
	if (!kvm_mem_is_private(kvm, gfn))
		return -EINVAL;
	return 0;
}

/*
 * The guest_memfd page behind @gfn of @slot, which kcm_sw_private_slot()
 * returned, with a reference. Called under kvm->srcu.
 */
static int kcm_sw_gmem_page(struct kvm *kvm, struct kvm_memory_slot *slot,
			    u64 gfn, struct page **page)
{
	kvm_pfn_t pfn;
	int ret;

	ret = kvm_gmem_get_pfn(kvm, slot, gfn, &pfn, NULL);
	if (ret)
		return ret;
	*page = pfn_to_page(pfn);
	return 0;
}

/*
 * Whether the guest_memfd page behind @gfn of @slot holds anything: a page
 * never allocated (or allocated and never prepared, which KVM clears on
 * first use) reads as zeros. PACKAGE sends such a page as a zero page and
 * does not allocate it, as kvm_gmem_get_pfn() would. A guest write that
 * allocates it meanwhile is caught by dirty tracking like any other.
 * Called under kvm->srcu.
 */
static bool kcm_sw_gmem_present(struct kvm_memory_slot *slot, u64 gfn)
{
	struct file *file = get_file_active(&slot->gmem.file);
	struct folio *folio;
	bool present;

	if (!file)
		return true;	/* kvm_gmem_get_pfn() reports the error */
	folio = filemap_get_folio(file->f_mapping,
				  slot->gmem.pgoff + gfn - slot->base_gfn);
	present = !IS_ERR(folio);
	if (present) {
		present = folio_test_uptodate(folio);
		folio_put(folio);
	}
	fput(file);
	return present;
}

/*
 * Pin the next part of the user's packet buffer: packets @i to @nr - 1 of
 * @ubuf. Return how many whole packets the window holds, or -EFAULT.
 */
static long kcm_sw_pin(struct kcm_sw *sw, const u8 __user *ubuf, u32 i,
		       u32 nr, bool write)
{
	long bytes;

	bytes = kcm_window_pin(&sw->win,
			       (unsigned long)ubuf + (size_t)i * KCM_SW_PACKET_SIZE,
			       (size_t)(nr - i) * KCM_SW_PACKET_SIZE, write);
	if (bytes < 0)
		return bytes;
	if (bytes < KCM_SW_PACKET_SIZE) {
		/* Not even one whole packet: the next page faults. */
		kcm_window_unpin(&sw->win);
		return -EFAULT;
	}
	return bytes / KCM_SW_PACKET_SIZE;
}

static int kcm_sw_package(struct kcm_session *s, const u64 *gfns, u32 nr,
			  u8 __user *ubuf, u32 *done)
{
	struct kcm_sw *sw = to_sw(s);
	struct kvm_memory_slot *slot;
	struct kvm *kvm = s->kvm;
	struct page *page;
	int idx, ret = 0;
	long in_win;
	u32 i, k;

	idx = srcu_read_lock(&kvm->srcu);
	/* Refuse the whole batch before producing anything. */
	for (i = 0; i < nr; i++) {
		ret = kcm_sw_private_slot(kvm, gfns[i], &slot);
		if (ret)
			goto out;
	}
	for (i = 0; i < nr && !ret; ) {
		in_win = kcm_sw_pin(sw, ubuf, i, nr, true);
		if (in_win < 0) {
			ret = in_win;
			break;
		}
		for (k = 0; k < in_win; k++, i++) {
			if (fatal_signal_pending(current)) {
				ret = -EINTR;
				break;
			}
			/*
			 * The memslots cannot change inside this srcu section,
			 * but the private attribute can: KVM_SET_MEMORY_ATTRIBUTES
			 * does not wait for srcu readers. Check again.
			 */
			ret = kcm_sw_private_slot(kvm, gfns[i], &slot);
			if (ret)
				break;
			if (!kcm_sw_gmem_present(slot, gfns[i])) {
				ret = kcm_sw_seal_page(sw, gfns[i], KCM_PKT_F_ZERO,
						       page_address(ZERO_PAGE(0)),
						       (size_t)k * KCM_SW_PACKET_SIZE);
			} else {
				ret = kcm_sw_gmem_page(kvm, slot, gfns[i], &page);
				if (ret)
					break;
				ret = kcm_sw_seal_page(sw, gfns[i], 0, page_address(page),
						       (size_t)k * KCM_SW_PACKET_SIZE);
				put_page(page);
			}
			if (ret)
				break;
			ret = kcm_seq_record(&sw->map, gfns[i], sw->seq);
			if (ret)
				break;
			*done = i + 1;
			cond_resched();
		}
		kcm_window_unpin(&sw->win);
	}
out:
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

static int kcm_sw_receive(struct kcm_session *s, const u8 __user *ubuf,
			  u32 nr, u32 *done)
{
	struct kcm_sw *sw = to_sw(s);
	struct kvm_memory_slot *slot;
	struct kvm *kvm = s->kvm;
	struct kcm_pkt p;
	struct page *page;
	int idx, ret = 0;
	long in_win;
	u32 i, k;

	idx = srcu_read_lock(&kvm->srcu);
	for (i = 0; i < nr && !ret; ) {
		in_win = kcm_sw_pin(sw, ubuf, i, nr, false);
		if (in_win < 0) {
			ret = in_win;
			break;
		}
		for (k = 0; k < in_win; k++, i++) {
			if (fatal_signal_pending(current)) {
				ret = -EINTR;
				break;
			}
			/* A private copy: the VMM cannot change it under the AEAD. */
			kcm_window_read(&sw->win, (size_t)k * KCM_SW_PACKET_SIZE,
					sw->pkt, KCM_SW_PACKET_SIZE);
			ret = kcm_sw_open(sw, sw->pkt, PAGE_SIZE, sw->plain);
			if (!ret)
				ret = kcm_pkt_decode(sw->pkt, KCM_SW_PACKET_SIZE,
						     KCM_PKT_PAGE, PAGE_SIZE, &p);
			if (ret) {
				s->refused++;
				/*
				 * Tampering, another session's packet, or one this
				 * version does not make: poison.
				 */
				if (ret == -EBADMSG || ret == -EPROTONOSUPPORT) {
					kcm_sw_forget_keys(sw);
					kcm_session_fail(s);
				}
				break;
			}
			/* Authentic, and as this version makes it? */
			if ((p.flags & KCM_PKT_F_ZERO) &&
			    memchr_inv(sw->plain, 0, PAGE_SIZE)) {
				s->refused++;
				ret = -EBADMSG;
				kcm_sw_forget_keys(sw);
				kcm_session_fail(s);
				break;
			}
			/* Authentic: a replay, or a gfn the target lacks. */
			ret = kcm_sw_private_slot(kvm, p.gfn, &slot);
			if (!ret)
				ret = kcm_seq_check(&sw->map, p.gfn, p.seq);
			if (ret) {
				s->refused++;
				break;
			}
			/* Authentic: only now does guest memory change. */
			ret = kcm_sw_gmem_page(kvm, slot, p.gfn, &page);
			if (ret)
				break;
			if (kcm_seq_has(&sw->map, p.gfn)) {
				/* A pre-copy round sent it again: did it change? */
				s->resent++;
				if (!memcmp(page_address(page), sw->plain, PAGE_SIZE))
					s->unchanged++;
			}
			memcpy(page_address(page), sw->plain, PAGE_SIZE);
			put_page(page);
			ret = kcm_seq_record(&sw->map, p.gfn, p.seq);
			if (ret)
				break;
			*done = i + 1;
			cond_resched();
		}
		kcm_window_unpin(&sw->win);
	}
	memzero_explicit(sw->plain, PAGE_SIZE);
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

/*
 * Target: whether every gfn of the VM that is private now was installed by
 * this session. -ENODATA if one was not; -EINTR on a fatal signal.
 */
static int kcm_sw_private_received(struct kcm_session *s)
{
#ifdef CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES
	struct kcm_sw *sw = to_sw(s);
	unsigned long index;
	u64 n = 0;
	void *entry;

	xa_for_each(&s->kvm->mem_attr_array, index, entry) {
		if (!(xa_to_value(entry) & KVM_MEMORY_ATTRIBUTE_PRIVATE))
			continue;
		if (!kcm_seq_has(&sw->map, index))
			return -ENODATA;
		if (!(++n % 4096)) {
			if (fatal_signal_pending(current))
				return -EINTR;
			cond_resched();
		}
	}
#endif
	return 0;
}

/* Source: seal the final record into @out; the VM is still alive. */
static int kcm_sw_finish_source(struct kcm_session *s, const void *in,
				u32 in_len, void *out)
{
	struct kcm_sw *sw = to_sw(s);
	struct kcm_sw_final *rec;
	size_t rec_len;
	int ret;

	rec_len = struct_size(rec, vcpu_state, in_len);
	rec = kzalloc(rec_len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!rec)
		return -ENOMEM;
	rec->pages = cpu_to_le64(sw->map.pages);
	kcm_seq_digest(&sw->map, rec->digest);
	ret = kcm_private_digest(kcm_kvm_attrs(s->kvm), rec->private_digest);
	if (ret)
		goto out_free_rec;
	memcpy(rec->vcpu_state, in, in_len);
	ret = kcm_sw_seal(sw, KCM_PKT_FINAL, 0, 0, rec, rec_len, out);
out_free_rec:
	kfree_sensitive(rec);
	return ret;
}

/*
 * Target: authenticate the final record, then check it against what this
 * session installed. A record that fails poisons the session (which makes
 * the target dead); an allocation failure or a fatal signal changes
 * nothing.
 */
static int kcm_sw_finish_target(struct kcm_session *s, const void *in,
				u32 in_len, void *out)
{
	struct kcm_sw *sw = to_sw(s);
	u8 digest[KCM_DIGEST_SIZE];
	struct kcm_sw_final *rec;
	size_t rec_len;
	struct kcm_pkt p;
	long state_len;
	int ret;

	/* The length only sizes the buffers; the AEAD checks it. */
	state_len = kcm_sw_final_state_len(in, in_len);
	if (state_len <= 0)
		return -EINVAL;
	rec_len = struct_size(rec, vcpu_state, state_len);
	rec = kzalloc(rec_len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!rec)
		return -ENOMEM;

	ret = kcm_sw_open(sw, in, rec_len, rec);
	if (!ret)
		ret = kcm_pkt_decode(in, in_len, KCM_PKT_FINAL, rec_len, &p);
	if (!ret) {
		kcm_seq_digest(&sw->map, digest);
		/* A page missing or out of date? */
		if (le64_to_cpu(rec->pages) != sw->map.pages ||
		    crypto_memneq(digest, rec->digest, sizeof(digest)))
			ret = -ENODATA;
	}
	if (!ret) {
		/* A gfn private on one side and shared on the other? */
		ret = kcm_private_digest(kcm_kvm_attrs(s->kvm), digest);
		if (!ret && crypto_memneq(digest, rec->private_digest,
					  sizeof(digest)))
			ret = -ENODATA;
	}
	/* A private gfn this session never installed? */
	if (!ret)
		ret = kcm_sw_private_received(s);
	if (ret == -EINTR)
		goto out;

	kcm_sw_forget_keys(sw);
	if (ret) {
		kcm_session_fail(s);
		goto out;
	}
	memcpy(out, rec->vcpu_state, state_len);
out:
	kfree_sensitive(rec);
	return ret;
}

static int kcm_sw_finish(struct kcm_session *s, const void *in, u32 in_len,
			 void *out)
{
	if (s->role == KVM_COCO_MIG_ROLE_SOURCE)
		return kcm_sw_finish_source(s, in, in_len, out);
	return kcm_sw_finish_target(s, in, in_len, out);
}

static void kcm_sw_cancel(struct kcm_session *s)
{
	kcm_sw_forget_keys(to_sw(s));
}

const struct kcm_backend kcm_sw_backend = {
	.name			= "sw",
	.id			= KVM_COCO_MIG_BACKEND_SW,
	.packet_size		= KCM_SW_PACKET_SIZE,
	.max_in_len		= KVM_COCO_MIG_MAX_BLOB,
	.features		= KVM_COCO_MIG_F_DIRTY_TRACKING |
				  KVM_COCO_MIG_F_ZERO_PAGES |
				  KVM_COCO_MIG_F_MUTUAL_AUTH,
	.max_record_len		= kcm_pkt_wire_size(sizeof(struct kcm_sw_final) +
						    KVM_COCO_MIG_MAX_BLOB),
	.session_init		= kcm_sw_session_init,
	.session_destroy	= kcm_sw_session_destroy,
	.out_size		= kcm_sw_out_size,
	.get_migration_data	= kcm_sw_get_migration_data,
	.start			= kcm_sw_start,
	.accept			= kcm_sw_accept,
	.package		= kcm_sw_package,
	.receive		= kcm_sw_receive,
	.finish			= kcm_sw_finish,
	.cancel			= kcm_sw_cancel,
};
EXPORT_SYMBOL_IF_KUNIT(kcm_sw_backend);
