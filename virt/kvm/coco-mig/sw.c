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
 * from its stream and its sequence number in the stream (one counter per
 * stream, never reused) and the session id and header as additional data
 * (packet.c). Each page packet carries a version, taken from one counter
 * of the session with the page read after it and no other stream on that
 * gfn meanwhile (kcm_sw_package_one()): the
 * target installs a version only if it is newer than the one it holds,
 * whatever stream it came on, and takes each stream's packets in the
 * order the stream made them. It
 * decrypts into a bounce page and copies into guest_memfd only what
 * authenticated.
 *
 * What the platform key proves: that the evidence was made by a kvm-coco-mig
 * module on a host holding the key, nothing about the host's integrity; any
 * root on a provisioned host can forge it. Hardware backends replace it with
 * a PSP or SVSM attestation report.
 */
#include <crypto/algapi.h>
#include <linux/kvm_host.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
#include <kunit/visibility.h>

#include "channel.h"
#include "coco_mig.h"
#include "crypto.h"
#include "dirty.h"
#include "packet.h"
#include "replay.h"
#include "window.h"

#define KCM_SW_EVIDENCE_MAGIC	0x454d434b	/* "KCME" */
#define KCM_SW_TRANSPORT_MAGIC	0x544d434b	/* "KCMT" */
#define KCM_SW_BLOB_VERSION	2
#define KCM_SW_NONCE_SIZE	KCM_CHAN_NONCE_SIZE
#define KCM_SW_KEK_INFO		"kvm-coco-mig v1 sw kek"

/* The target's migration data, little endian. */
struct kcm_sw_evidence {
	__le32 magic;
	u8 version;
	u8 backend;
	__le16 nr_streams;	/* the target's */
	u8 nonce[KCM_SW_NONCE_SIZE];
	u8 pub[KCM_ECDH_PUB_SIZE];
	u8 mac[SHA256_DIGEST_SIZE];	/* HMAC(platform key, all above) */
};

/* The wrapped transport key, source to target. */
struct kcm_sw_transport {
	__le32 magic;
	u8 version;
	u8 reserved;
	__le16 nr_streams;	/* the source's */
	u8 sid[KCM_SESSION_ID_SIZE];
	u8 pub[KCM_ECDH_PUB_SIZE];
	u8 wrapped[KCM_AEAD_KEY_SIZE + KCM_AEAD_TAG_SIZE];
	/* HMAC(platform key, all above but @wrapped, evidence nonce and pub) */
	u8 mac[SHA256_DIGEST_SIZE];
};

/*
 * The final record's plaintext: completeness (pages and their versions,
 * the vCPU records before it, which gfns are private), then the VMM's
 * VM-wide state.
 */
struct kcm_sw_final {
	__le64 pages;
	__le32 vcpus;
	__le32 reserved;
	u8 digest[KCM_DIGEST_SIZE];
	u8 private_digest[SHA256_DIGEST_SIZE];
	u8 vm_state[];
};

/*
 * The abort token's plaintext: a dead target's word that it will never
 * run, sealed on the control stream under the transport key.
 */
struct kcm_sw_abort {
	__le32 magic;
	__le32 reserved;
};

#define KCM_SW_ABORT_MAGIC	0x414d434b	/* "KCMA" */
#define KCM_SW_TOKEN_SIZE	kcm_pkt_wire_size(sizeof(struct kcm_sw_abort))
#define KCM_SW_PACKET_SIZE	kcm_pkt_wire_size(PAGE_SIZE)
#define KCM_SW_VCPU_RECORD_MAX	kcm_pkt_wire_size(KVM_COCO_MIG_MAX_VCPU_STATE)
#define KCM_SW_MAX_STREAMS	KVM_COCO_MIG_MAX_STREAMS

/**
 * struct kcm_sw_stream - one stream of a sw session; the core's stream
 *	lock protects it
 * @aead: the transport key, the stream's own instance of it
 * @seq: source: the last sequence number the stream used; target: the
 *	last one it took
 * @pkt: the packet being made or taken, in kernel memory
 * @plain: target: decrypted page, before it is known to be authentic
 * @win: the pinned part of the user buffer; empty between calls
 * @win_off: the offset into the user buffer @win starts at
 * @win_len: the bytes @win holds
 */
struct kcm_sw_stream {
	struct kcm_aead aead;
	u64 seq;
	u8 *pkt;
	u8 *plain;
	struct kcm_window win;
	u64 win_off;
	u64 win_len;
};

/**
 * struct kcm_sw - the sw backend's half of a session
 * @ecdh: the ephemeral key pair, until the transport key is agreed
 * @evidence: target: the migration data, made once
 * @have_evidence: @evidence is valid
 * @ctl: the transport key, for the records of the control stream (vCPU
 *	records, the final record, the abort token); @keyed says whether the
 *	keys are set
 * @ctl_seq: the last sequence number this side sealed on the control
 *	stream
 * @ctl_in: target: the last sequence number of a vCPU record it took
 * @vcpus: vCPU records made (source) or installed (target)
 * @token: target: the abort token, once made (the same one every time)
 * @have_token: @token is valid
 * @keyed: the transport key is agreed
 * @sid: the session id, additional data of every packet
 * @gen: source: the last page version handed out
 * @map: newest version per gfn sent (source) or installed (target)
 * @nr_streams: entries of @streams
 * @streams: the data streams
 *
 * All but @gen, @map and @streams are used with every stream excluded.
 */
struct kcm_sw {
	struct kcm_ecdh ecdh;
	struct kcm_sw_evidence evidence;
	bool have_evidence;
	struct kcm_aead ctl;
	u64 ctl_seq;
	u64 ctl_in;
	u32 vcpus;
	u8 token[KCM_SW_TOKEN_SIZE];
	bool have_token;
	bool keyed;
	u8 sid[KCM_SESSION_ID_SIZE];
	atomic64_t gen;
	struct kcm_seq_map map;
	u32 nr_streams;
	struct kcm_sw_stream streams[] __counted_by(nr_streams);
};

static struct kcm_sw *to_sw(struct kcm_session *s)
{
	return s->priv;
}

static void kcm_sw_free(struct kcm_sw *sw)
{
	u32 i;

	for (i = 0; i < sw->nr_streams; i++) {
		kfree_sensitive(sw->streams[i].pkt);
		kfree_sensitive(sw->streams[i].plain);
	}
	kcm_seq_map_destroy(&sw->map);
	kfree_sensitive(sw);
}

static int kcm_sw_session_init(struct kcm_session *s)
{
	struct kcm_sw_stream *st;
	struct kcm_sw *sw;
	u32 i;

	sw = kzalloc(struct_size(sw, streams, s->nr_streams), GFP_KERNEL_ACCOUNT);
	if (!sw)
		return -ENOMEM;
	sw->nr_streams = s->nr_streams;
	kcm_seq_map_init(&sw->map);
	atomic64_set(&sw->gen, 0);
	for (i = 0; i < sw->nr_streams; i++) {
		st = &sw->streams[i];
		st->pkt = kmalloc(KCM_SW_PACKET_SIZE, GFP_KERNEL_ACCOUNT);
		st->plain = kmalloc(PAGE_SIZE, GFP_KERNEL_ACCOUNT);
		if (!st->pkt || !st->plain) {
			kcm_sw_free(sw);
			return -ENOMEM;
		}
	}
	s->priv = sw;
	return 0;
}

/* The key pair and the data streams' keys go; the control stream's stays. */
static void kcm_sw_end_streams_keys(struct kcm_sw *sw)
{
	u32 i;

	kcm_ecdh_destroy(&sw->ecdh);
	for (i = 0; i < sw->nr_streams; i++)
		kcm_aead_destroy(&sw->streams[i].aead);
}

/* Destroy every key; the session can no longer package or receive. */
static void kcm_sw_forget_keys(struct kcm_sw *sw)
{
	kcm_sw_end_streams_keys(sw);
	kcm_aead_destroy(&sw->ctl);
	sw->keyed = false;
	memzero_explicit(sw->sid, sizeof(sw->sid));
}

/* Key the control stream and every data stream with the transport key. */
static int kcm_sw_set_keys(struct kcm_sw *sw, const u8 tk[KCM_AEAD_KEY_SIZE],
			   const u8 sid[KCM_SESSION_ID_SIZE])
{
	int ret;
	u32 i;

	ret = kcm_aead_init(&sw->ctl, tk);
	for (i = 0; !ret && i < sw->nr_streams; i++) {
		ret = kcm_aead_init(&sw->streams[i].aead, tk);
		sw->streams[i].seq = 0;
	}
	if (ret) {
		kcm_aead_destroy(&sw->ctl);
		for (i = 0; i < sw->nr_streams; i++)
			kcm_aead_destroy(&sw->streams[i].aead);
		return ret;
	}
	memcpy(sw->sid, sid, sizeof(sw->sid));
	sw->ctl_seq = 0;
	sw->ctl_in = 0;
	sw->vcpus = 0;
	sw->keyed = true;
	return 0;
}

static void kcm_sw_session_destroy(struct kcm_session *s)
{
	struct kcm_sw *sw = to_sw(s);

	kcm_sw_forget_keys(sw);
	kcm_sw_free(sw);
	s->priv = NULL;
}

/*
 * The payload length a control record of @in_len bytes announces, beyond
 * @fixed bytes of its own, or -EINVAL. It only sizes buffers: the AEAD
 * checks it.
 */
static long kcm_sw_record_len(const void *in, u32 in_len, size_t fixed)
{
	const struct kcm_pkt_hdr *h = in;

	if (in_len < kcm_pkt_wire_size(fixed))
		return -EINVAL;
	if (get_unaligned_le32(&h->len) != in_len)
		return -EINVAL;
	return in_len - kcm_pkt_wire_size(fixed);
}

/* The VM-wide state length a final record announces, or -EINVAL. */
static long kcm_sw_final_state_len(const void *in, u32 in_len)
{
	return kcm_sw_record_len(in, in_len, sizeof(struct kcm_sw_final));
}

/*
 * The sw exchange, in three messages: the target's evidence (its first
 * round, no input), the source's transport blob (the source's only round,
 * the evidence in), nothing (the target's second round, the transport blob
 * in).
 */
static long kcm_sw_out_size(struct kcm_session *s, enum kcm_op op,
			    const void *in, u32 in_len)
{
	switch (op) {
	case KCM_OP_EXCHANGE:
		if (s->role == KVM_COCO_MIG_ROLE_SOURCE)
			return in_len ? sizeof(struct kcm_sw_transport) : -EINVAL;
		return in_len ? 0 : sizeof(struct kcm_sw_evidence);
	case KCM_OP_ABORT:
		return s->role == KVM_COCO_MIG_ROLE_TARGET ? KCM_SW_TOKEN_SIZE : 0;
	case KCM_OP_FINISH:
		if (s->role == KVM_COCO_MIG_ROLE_SOURCE)
			return kcm_pkt_wire_size(sizeof(struct kcm_sw_final) + in_len);
		/* A record without a state is not one the source makes. */
		return kcm_sw_final_state_len(in, in_len) ?: -EINVAL;
	case KCM_OP_PACKAGE_VCPU:
		return in_len ? kcm_pkt_wire_size(in_len) : -EINVAL;
	case KCM_OP_RECEIVE_VCPU:
		return kcm_sw_record_len(in, in_len, 0) ?: -EINVAL;
	default:
		return 0;
	}
}

static int kcm_sw_evidence_mac(const struct kcm_sw_evidence *ev,
			       u8 mac[SHA256_DIGEST_SIZE])
{
	return kcm_platform_mac(ev, offsetof(struct kcm_sw_evidence, mac), mac);
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
	ret = kcm_platform_mac(buf, sizeof(buf), mac);
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
		ev->nr_streams = cpu_to_le16(s->nr_streams);
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

static int kcm_sw_start(struct kcm_session *s, const void *in, u32 in_len,
			void *out)
{
	const struct kcm_sw_evidence *ev = in;
	struct kcm_sw_transport *t = out;
	struct kcm_sw *sw = to_sw(s);
	u8 secret[KCM_ECDH_SECRET_SIZE], kek[KCM_AEAD_KEY_SIZE];
	u8 tk[KCM_AEAD_KEY_SIZE], mac[SHA256_DIGEST_SIZE];
	int ret;

	/* Policy: a sw evidence of this version, MACed with our platform key. */
	if (in_len != sizeof(*ev))
		return -EINVAL;
	ret = kcm_sw_evidence_mac(ev, mac);
	if (ret)
		return ret;
	if (crypto_memneq(mac, ev->mac, sizeof(mac)))
		return -EKEYREJECTED;
	if (le32_to_cpu(ev->magic) != KCM_SW_EVIDENCE_MAGIC ||
	    ev->version != KCM_SW_BLOB_VERSION ||
	    ev->backend != KVM_COCO_MIG_BACKEND_SW)
		return -EINVAL;
	/* Both sides stream on as many streams, or not at all. */
	if (le16_to_cpu(ev->nr_streams) != s->nr_streams)
		return -ECHRNG;

	memset(t, 0, sizeof(*t));
	t->magic = cpu_to_le32(KCM_SW_TRANSPORT_MAGIC);
	t->version = KCM_SW_BLOB_VERSION;
	t->nr_streams = cpu_to_le16(s->nr_streams);
	get_random_bytes(t->sid, sizeof(t->sid));
	get_random_bytes(tk, sizeof(tk));

	ret = kcm_ecdh_generate(&sw->ecdh, t->pub);
	if (ret)
		goto out;
	ret = kcm_ecdh_shared(&sw->ecdh, ev->pub, secret);
	kcm_ecdh_destroy(&sw->ecdh);
	if (ret)
		goto out;
	ret = kcm_chan_kek(KCM_SW_KEK_INFO, secret, ev->nonce, t->sid, kek);
	if (ret)
		goto out;
	ret = kcm_chan_wrap(true, kek, t, offsetof(struct kcm_sw_transport, wrapped),
			    t->wrapped, tk);
	if (ret)
		goto out;
	ret = kcm_sw_transport_mac(t, ev, t->mac);
	if (ret)
		goto out;
	ret = kcm_sw_set_keys(sw, tk, t->sid);
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
	    t.version != KCM_SW_BLOB_VERSION || t.reserved)
		return -EINVAL;
	if (le16_to_cpu(t.nr_streams) != s->nr_streams)
		return -ECHRNG;

	ret = kcm_ecdh_shared(&sw->ecdh, t.pub, secret);
	if (ret)
		goto out;
	ret = kcm_chan_kek(KCM_SW_KEK_INFO, secret, sw->evidence.nonce, t.sid, kek);
	if (ret)
		goto out;
	ret = kcm_chan_wrap(false, kek, &t, offsetof(struct kcm_sw_transport, wrapped),
			    t.wrapped, tk);
	if (ret == -EBADMSG) {
		/* Not wrapped to our key, or tampered with. */
		kcm_sw_forget_keys(sw);
		kcm_session_fail(s);
		goto out;
	}
	if (ret)
		goto out;
	ret = kcm_sw_set_keys(sw, tk, t.sid);
	if (ret)
		goto out;
	kcm_ecdh_destroy(&sw->ecdh);
out:
	memzero_explicit(secret, sizeof(secret));
	memzero_explicit(kek, sizeof(kek));
	memzero_explicit(tk, sizeof(tk));
	return ret;
}

/* One round of the exchange; see kcm_sw_out_size(). */
static int kcm_sw_exchange(struct kcm_session *s, const void *in, u32 in_len,
			   void *out, bool *done)
{
	int ret;

	if (s->role == KVM_COCO_MIG_ROLE_SOURCE) {
		ret = kcm_sw_start(s, in, in_len, out);
		*done = !ret;
		return ret;
	}
	if (!in_len) {
		*done = false;
		return kcm_sw_get_migration_data(s, out);
	}
	/* The transport blob answers evidence this session gave out. */
	if (!to_sw(s)->have_evidence)
		return -EBADFD;
	ret = kcm_sw_accept(s, in, in_len);
	*done = !ret;
	return ret;
}

static int kcm_sw_seal(struct kcm_sw *sw, struct kcm_aead *aead, u64 *seq,
		       struct kcm_pkt *p, const void *src, u32 len, u8 *dst)
{
	return kcm_chan_seal(aead, sw->sid, seq, p, src, len, dst);
}

static int kcm_sw_open(struct kcm_sw *sw, struct kcm_aead *aead,
		       const u8 *pkt, u32 len, void *dst)
{
	return kcm_chan_open(aead, sw->sid, pkt, len, dst);
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
 * Make bytes [@off, @off + @need) of the user buffer @ubuf (@len bytes) part
 * of the stream's pinned window, pinning a new one at @off if they are not.
 * Return the window offset of @off, or -EFAULT.
 */
static long kcm_sw_window(struct kcm_sw_stream *st, const void __user *ubuf,
			  u64 len, u64 off, size_t need, bool write)
{
	long bytes;

	if (st->win.nr && off >= st->win_off &&
	    off + need <= st->win_off + st->win_len)
		return off - st->win_off;
	kcm_window_unpin(&st->win);
	bytes = kcm_window_pin(&st->win, (unsigned long)ubuf + off, len - off,
			       write);
	if (bytes < 0)
		return bytes;
	st->win_off = off;
	st->win_len = bytes;
	if (bytes < need) {
		/* The buffer ends in a page that cannot be pinned. */
		kcm_window_unpin(&st->win);
		return -EFAULT;
	}
	return 0;
}

/*
 * Seal the page at @src (NULL: a zero page, no payload) as the session's
 * next version of @p->gfn into the stream's kernel buffer.
 */
static int kcm_sw_seal_page(struct kcm_sw *sw, struct kcm_sw_stream *st,
			    struct kcm_pkt *p, const void *src)
{
	u32 plen = src ? PAGE_SIZE : 0;

	p->flags = src ? 0 : KCM_PKT_F_ZERO;
	return kcm_sw_seal(sw, &st->aead, &st->seq, p, src, plen, st->pkt);
}

/* Take the session's next page version for @p. */
static int kcm_sw_take_gen(struct kcm_sw *sw, struct kcm_pkt *p)
{
	p->gen = atomic64_inc_return(&sw->gen);
	return p->gen > KCM_SEQ_MAX ? -EOVERFLOW : 0;
}

/*
 * Seal @gfn of @slot, a private gfn, as its next version into the stream's
 * kernel buffer, then copy the finished packet to offset @off of the user
 * buffer; return the packet's length. The AEAD works in kernel memory: GCM
 * computes the tag over the ciphertext it has written, and a VMM thread
 * could rewrite its own buffer between the two. Called under kvm->srcu.
 *
 * Of two streams packaging one gfn, the one with the newer version read the
 * page later: a page's version is taken, the page read and the version
 * recorded with every other stream kept off that gfn.
 * - A page that guest_memfd holds is sealed under its folio's lock, which
 *   is that gfn's alone (guest_memfd's folios are 4K), so streams packaging
 *   different gfns never wait for each other's seal. The version's take
 *   and its record are under the gfn's hashed lock too, each for a few
 *   instructions.
 * - A page that it does not hold reads as zeros (kcm_sw_gmem_present()):
 *   the check that it has none, the version's take, the seal (no payload)
 *   and the record are all under the gfn's hashed lock. A page that comes
 *   into being meanwhile either took its version after that section, and
 *   so is newer, or before it, and then the check finds it.
 * The folio lock is taken without the hashed lock held (which stays
 * innermost), and waits at most for one other stream's seal or install of
 * the same gfn, or for KVM's own brief use of the folio.
 */
static long kcm_sw_package_one(struct kcm_sw *sw, struct kvm *kvm,
			       struct kvm_memory_slot *slot, u32 stream, u64 gfn,
			       u8 __user *ubuf, u64 len, u64 off)
{
	struct kcm_sw_stream *st = &sw->streams[stream];
	struct kcm_pkt p = { .type = KCM_PKT_PAGE, .gfn = gfn, .stream = stream };
	struct folio *folio;
	struct page *page;
	long woff;
	int ret;

	if (!kcm_sw_gmem_present(slot, gfn)) {
		kcm_seq_lock(&sw->map, gfn);
		if (!kcm_sw_gmem_present(slot, gfn)) {
			ret = kcm_sw_take_gen(sw, &p);
			if (!ret)
				ret = kcm_sw_seal_page(sw, st, &p, NULL);
			if (!ret)
				ret = kcm_seq_record(&sw->map, gfn, p.gen);
			kcm_seq_unlock(&sw->map, gfn);
			goto out_copy;
		}
		kcm_seq_unlock(&sw->map, gfn);
	}

	ret = kcm_sw_gmem_page(kvm, slot, gfn, &page);
	if (ret)
		return ret;
	folio = page_folio(page);
	folio_lock(folio);
	kcm_seq_lock(&sw->map, gfn);
	ret = kcm_sw_take_gen(sw, &p);
	kcm_seq_unlock(&sw->map, gfn);
	if (!ret)
		ret = kcm_sw_seal_page(sw, st, &p, page_address(page));
	if (!ret) {
		kcm_seq_lock(&sw->map, gfn);
		ret = kcm_seq_record(&sw->map, gfn, p.gen);
		kcm_seq_unlock(&sw->map, gfn);
	}
	folio_unlock(folio);
	put_page(page);

out_copy:
	if (ret)
		return ret;
	woff = kcm_sw_window(st, ubuf, len, off, kcm_pkt_wire_size(p.len), true);
	if (woff < 0)
		return woff;
	kcm_window_write(&st->win, woff, st->pkt, kcm_pkt_wire_size(p.len));
	return kcm_pkt_wire_size(p.len);
}

static int kcm_sw_package(struct kcm_session *s, u32 stream, const u64 *gfns,
			  u32 nr, u8 __user *ubuf, struct kcm_batch *b)
{
	struct kcm_sw *sw = to_sw(s);
	struct kcm_sw_stream *st = &sw->streams[stream];
	u64 len = (u64)nr * KCM_SW_PACKET_SIZE;
	struct kvm_memory_slot *slot;
	struct kvm *kvm = s->kvm;
	int idx, ret = 0;
	long n;
	u32 i;

	idx = srcu_read_lock(&kvm->srcu);
	/* Refuse the whole batch before producing anything. */
	for (i = 0; i < nr; i++) {
		ret = kcm_sw_private_slot(kvm, gfns[i], &slot);
		if (ret)
			goto out;
	}
	for (i = 0; i < nr; i++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (READ_ONCE(s->state) == KVM_COCO_MIG_STATE_FAILED) {
			ret = -EIO;
			break;
		}
		/*
		 * The memslots cannot change inside this srcu section, but the
		 * private attribute can: KVM_SET_MEMORY_ATTRIBUTES does not
		 * wait for srcu readers. Check again.
		 */
		ret = kcm_sw_private_slot(kvm, gfns[i], &slot);
		if (ret)
			break;
		n = kcm_sw_package_one(sw, kvm, slot, stream, gfns[i], ubuf,
				       len, b->bytes);
		if (n < 0) {
			ret = n;
			break;
		}
		b->done = i + 1;
		b->bytes += n;
		cond_resched();
	}
	kcm_window_unpin(&st->win);
out:
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

/*
 * Copy the next packet of the user buffer, at offset @off of its @len
 * bytes, into the stream's kernel buffer and authenticate it. Return its
 * wire length, or the errno: -EINVAL for one that runs past @len,
 * -EBADMSG or -EPROTONOSUPPORT for one that is not authentic or that this
 * version does not make.
 */
static long kcm_sw_take(struct kcm_sw *sw, struct kcm_sw_stream *st,
			const u8 __user *ubuf, u64 len, u64 off, struct kcm_pkt *p)
{
	size_t hlen = sizeof(struct kcm_pkt_hdr);
	u32 wire_len;
	long woff;
	int ret;

	if (len - off < hlen)
		return -EINVAL;
	woff = kcm_sw_window(st, ubuf, len, off, hlen, false);
	if (woff < 0)
		return woff;
	/* The length frames the packet; the AEAD then checks it. */
	kcm_window_read(&st->win, woff, st->pkt, hlen);
	ret = kcm_pkt_frame(st->pkt, len - off, KCM_SW_PACKET_SIZE, &wire_len);
	if (ret)
		return ret;
	woff = kcm_sw_window(st, ubuf, len, off, wire_len, false);
	if (woff < 0)
		return woff;
	/* A private copy: the VMM cannot change it under the AEAD. */
	kcm_window_read(&st->win, woff, st->pkt, wire_len);
	ret = kcm_sw_open(sw, &st->aead, st->pkt,
			  wire_len - kcm_pkt_wire_size(0), st->plain);
	if (!ret)
		ret = kcm_pkt_decode(st->pkt, wire_len, KCM_PKT_PAGE, PAGE_SIZE, p);
	if (ret)
		return ret;
	return wire_len;
}

/*
 * Install version @p->gen of @p->gfn from the stream's bounce page (a zero
 * page if @p says so), if it is newer than the version the target holds.
 * The check, the record and the copy are made with every other stream kept
 * off the gfn, as the source packages (kcm_sw_package_one()): under the
 * folio lock of the gfn's guest_memfd page, with the check and the record
 * also under the gfn's hashed lock, so that streams installing different
 * gfns do not wait for each other's copy. Called under kvm->srcu.
 */
static int kcm_sw_install(struct kcm_session *s, struct kcm_sw_stream *st,
			  const struct kcm_pkt *p, struct kcm_batch *b)
{
	struct kcm_sw *sw = to_sw(s);
	struct kvm_memory_slot *slot;
	struct folio *folio;
	struct page *page;
	bool resent;
	int ret;

	ret = kcm_sw_private_slot(s->kvm, p->gfn, &slot);
	if (ret)
		return ret;
	/*
	 * Not newer now is not newer ever (the recorded version only grows):
	 * such a packet needs no lock, and leaves guest memory alone.
	 */
	ret = kcm_seq_check(&sw->map, p->gfn, p->gen);
	if (ret == -ESTALE)
		goto out_superseded;
	if (ret)
		return ret;
	if (p->flags & KCM_PKT_F_ZERO)
		memset(st->plain, 0, PAGE_SIZE);

	/* Authentic and newer: only now does guest memory change. */
	ret = kcm_sw_gmem_page(s->kvm, slot, p->gfn, &page);
	if (ret)
		return ret;
	folio = page_folio(page);
	folio_lock(folio);
	kcm_seq_lock(&sw->map, p->gfn);
	ret = kcm_seq_check(&sw->map, p->gfn, p->gen);
	resent = kcm_seq_has(&sw->map, p->gfn);
	/* Recorded first: the copy that follows cannot fail. */
	if (!ret)
		ret = kcm_seq_record(&sw->map, p->gfn, p->gen);
	kcm_seq_unlock(&sw->map, p->gfn);
	if (!ret) {
		if (resent) {
			/* A pre-copy round sent it again: did it change? */
			b->resent++;
			if (!memcmp(page_address(page), st->plain, PAGE_SIZE))
				b->unchanged++;
		}
		memcpy(page_address(page), st->plain, PAGE_SIZE);
	}
	folio_unlock(folio);
	put_page(page);
	if (ret != -ESTALE)
		return ret;
out_superseded:
	/* Another stream brought a newer version first. */
	b->superseded++;
	return 0;
}

static int kcm_sw_receive(struct kcm_session *s, u32 stream,
			  const u8 __user *ubuf, u64 len, u32 nr,
			  struct kcm_batch *b)
{
	struct kcm_sw *sw = to_sw(s);
	struct kcm_sw_stream *st = &sw->streams[stream];
	struct kvm *kvm = s->kvm;
	struct kcm_pkt p;
	int idx, ret = 0;
	long n;
	u32 i;

	idx = srcu_read_lock(&kvm->srcu);
	for (i = 0; i < nr; i++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (READ_ONCE(s->state) == KVM_COCO_MIG_STATE_FAILED) {
			ret = -EIO;
			break;
		}
		n = kcm_sw_take(sw, st, ubuf, len, b->bytes, &p);
		if (n == -EBADMSG || n == -EPROTONOSUPPORT) {
			/*
			 * Tampering, another session's packet, or one this
			 * version does not make: poison.
			 */
			b->refused++;
			kcm_session_fail(s);
			ret = n;
			break;
		}
		if (n < 0) {
			ret = n;
			break;
		}
		/* Authentic, and as this version makes it? */
		if ((p.flags & KCM_PKT_F_ZERO) ? p.len : p.len != PAGE_SIZE) {
			b->refused++;
			kcm_session_fail(s);
			ret = -EBADMSG;
			break;
		}
		/*
		 * Authentic: another stream's packet (misrouted), a replay
		 * or one taken out of the stream's order, a gfn the target
		 * lacks.
		 */
		if (p.stream != stream)
			ret = -EINVAL;
		else if (p.seq <= st->seq)
			ret = -ESTALE;
		else
			ret = kcm_sw_install(s, st, &p, b);
		if (ret) {
			b->refused++;
			break;
		}
		st->seq = p.seq;
		b->done = i + 1;
		b->bytes += n;
		cond_resched();
	}
	kcm_window_unpin(&st->win);
	memzero_explicit(st->plain, PAGE_SIZE);
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
	struct kcm_pkt p = { .type = KCM_PKT_FINAL, .stream = KCM_PKT_CTL_STREAM };
	struct kcm_sw *sw = to_sw(s);
	struct kcm_sw_final *rec;
	size_t rec_len;
	int ret;

	rec_len = struct_size(rec, vm_state, in_len);
	rec = kzalloc(rec_len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!rec)
		return -ENOMEM;
	rec->pages = cpu_to_le64(kcm_seq_pages(&sw->map));
	rec->vcpus = cpu_to_le32(sw->vcpus);
	kcm_seq_digest(&sw->map, rec->digest);
	ret = kcm_private_digest(kcm_kvm_attrs(s->kvm), rec->private_digest);
	if (ret)
		goto out_free_rec;
	memcpy(rec->vm_state, in, in_len);
	ret = kcm_sw_seal(sw, &sw->ctl, &sw->ctl_seq, &p, rec, rec_len, out);
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
	rec_len = struct_size(rec, vm_state, state_len);
	rec = kzalloc(rec_len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!rec)
		return -ENOMEM;

	ret = kcm_sw_open(sw, &sw->ctl, in, rec_len, rec);
	/* Authentic, but another record of the control stream. */
	if (!ret && ((const struct kcm_pkt_hdr *)in)->type != KCM_PKT_FINAL) {
		ret = -EINVAL;
		goto out;
	}
	if (!ret)
		ret = kcm_pkt_decode(in, in_len, KCM_PKT_FINAL, rec_len, &p);
	if (!ret && rec->reserved)
		ret = -EBADMSG;
	/* The vCPU records: as many as were made, none left out. */
	if (!ret && (p.seq != sw->ctl_in + 1 ||
		     le32_to_cpu(rec->vcpus) != sw->vcpus))
		ret = -ENODATA;
	if (!ret) {
		kcm_seq_digest(&sw->map, digest);
		/* A page missing or out of date? */
		if (le64_to_cpu(rec->pages) != kcm_seq_pages(&sw->map) ||
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

	if (ret) {
		/* Dead; the control key stays for the abort token. */
		kcm_sw_end_streams_keys(sw);
		kcm_session_fail(s);
		goto out;
	}
	/* The target runs: no token may ever come from it. */
	kcm_sw_forget_keys(sw);
	memcpy(out, rec->vm_state, state_len);
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

/*
 * A vCPU's record: its state sealed on the control stream, the vCPU id in
 * the header's gfn field. Source: the next record of the stream. Target:
 * authentic first; then it must be @vcpu's, and the next record the source
 * made: a replay is -ESTALE, a record after one that never came -ENOMSG;
 * neither changes anything. A record that does not authenticate poisons
 * the session.
 */
static int kcm_sw_vcpu(struct kcm_session *s, struct kvm_vcpu *vcpu,
		       const void *in, u32 in_len, void *out)
{
	struct kcm_pkt p = { .type = KCM_PKT_VCPU, .stream = KCM_PKT_CTL_STREAM };
	struct kcm_sw *sw = to_sw(s);
	long state_len;
	int ret;

	if (!sw->keyed)
		return -ENOKEY;
	if (s->role == KVM_COCO_MIG_ROLE_SOURCE) {
		p.gfn = vcpu->vcpu_id;
		ret = kcm_sw_seal(sw, &sw->ctl, &sw->ctl_seq, &p, in, in_len, out);
		if (!ret)
			sw->vcpus++;
		return ret;
	}

	state_len = kcm_sw_record_len(in, in_len, 0);
	if (state_len <= 0)
		return -EINVAL;
	/* @in is the core's copy: the VMM cannot change it under the AEAD. */
	ret = kcm_sw_open(sw, &sw->ctl, in, state_len, out);
	/* Authentic, but another record of the control stream. */
	if (!ret && ((const struct kcm_pkt_hdr *)in)->type != KCM_PKT_VCPU)
		return -EINVAL;
	if (!ret)
		ret = kcm_pkt_decode(in, in_len, KCM_PKT_VCPU, state_len, &p);
	if (ret == -EBADMSG || ret == -EPROTONOSUPPORT) {
		kcm_session_fail(s);
		return ret;
	}
	if (ret)
		return ret;
	if (p.seq <= sw->ctl_in)
		return -ESTALE;
	if (p.seq != sw->ctl_in + 1)
		return -ENOMSG;
	if (p.gfn != vcpu->vcpu_id)
		return -EINVAL;
	sw->ctl_in = p.seq;
	sw->vcpus++;
	return 0;
}

static void kcm_sw_cancel(struct kcm_session *s)
{
	kcm_sw_forget_keys(to_sw(s));
}

static void kcm_sw_end_streams(struct kcm_session *s)
{
	kcm_sw_end_streams_keys(to_sw(s));
}

/*
 * Target: seal the abort token, once; the core kills the VM before it
 * leaves, and a token once made is the only one. Source: the token
 * must open under the control key (only this session's target holds it)
 * and say what a token says. -ENOKEY: no key to make or check one with.
 */
static int kcm_sw_abort(struct kcm_session *s, const void *in, u32 in_len,
			void *out)
{
	struct kcm_pkt p = { .type = KCM_PKT_ABORT, .stream = KCM_PKT_CTL_STREAM };
	struct kcm_sw_abort *ab;
	struct kcm_sw *sw = to_sw(s);
	u8 *buf;
	int ret;

	if (!sw->ctl.tfm)
		return -ENOKEY;
	/* Linear heap copies: the AEAD takes no stack buffers. */
	buf = kzalloc(KCM_SW_TOKEN_SIZE + sizeof(*ab), GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;
	ab = (struct kcm_sw_abort *)(buf + KCM_SW_TOKEN_SIZE);

	if (s->role == KVM_COCO_MIG_ROLE_TARGET) {
		if (!sw->have_token) {
			ab->magic = cpu_to_le32(KCM_SW_ABORT_MAGIC);
			ret = kcm_sw_seal(sw, &sw->ctl, &sw->ctl_seq, &p, ab,
					  sizeof(*ab), buf);
			if (ret)
				goto out_free;
			memcpy(sw->token, buf, sizeof(sw->token));
			sw->have_token = true;
		}
		memcpy(out, sw->token, sizeof(sw->token));
		ret = 0;
		goto out_free;
	}

	ret = -EINVAL;
	if (in_len != KCM_SW_TOKEN_SIZE)
		goto out_free;
	memcpy(buf, in, in_len);
	/* Authentic first; then what it says. */
	ret = kcm_sw_open(sw, &sw->ctl, buf, sizeof(*ab), ab);
	if (!ret)
		ret = kcm_pkt_decode(buf, in_len, KCM_PKT_ABORT, sizeof(*ab), &p);
	if (!ret && (le32_to_cpu(ab->magic) != KCM_SW_ABORT_MAGIC || ab->reserved))
		ret = -EBADMSG;
out_free:
	kfree_sensitive(buf);
	return ret;
}

const struct kcm_backend kcm_sw_backend = {
	.name			= "sw",
	.id			= KVM_COCO_MIG_BACKEND_SW,
	.max_packet		= KCM_SW_PACKET_SIZE,
	.max_streams		= KCM_SW_MAX_STREAMS,
	.max_in_len		= KVM_COCO_MIG_MAX_BLOB,
	.features		= KVM_COCO_MIG_F_DIRTY_TRACKING |
				  KVM_COCO_MIG_F_ZERO_PAGES |
				  KVM_COCO_MIG_F_MUTUAL_AUTH |
				  KVM_COCO_MIG_F_SHARED_DIRTY |
				  KVM_COCO_MIG_F_VCPU_RECORDS,
	.track			= &kcm_gmem_track_ops,
	.max_record_len		= kcm_pkt_wire_size(sizeof(struct kcm_sw_final) +
						    KVM_COCO_MIG_MAX_BLOB),
	.max_vcpu_state		= KVM_COCO_MIG_MAX_VCPU_STATE,
	.max_vcpu_record	= KCM_SW_VCPU_RECORD_MAX,
	.session_init		= kcm_sw_session_init,
	.session_destroy	= kcm_sw_session_destroy,
	.out_size		= kcm_sw_out_size,
	.exchange		= kcm_sw_exchange,
	.package		= kcm_sw_package,
	.receive		= kcm_sw_receive,
	.finish			= kcm_sw_finish,
	.vcpu			= kcm_sw_vcpu,
	.cancel			= kcm_sw_cancel,
	.end_streams		= kcm_sw_end_streams,
	.abort			= kcm_sw_abort,
};
EXPORT_SYMBOL_IF_KUNIT(kcm_sw_backend);
