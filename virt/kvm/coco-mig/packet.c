// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig wire format: header encoding, validation, nonce and
 * additional-data construction. Pure functions, no state.
 */
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <kunit/visibility.h>

#include "packet.h"

/**
 * kcm_pkt_encode - write a packet header in wire order
 * @h: destination, in the output buffer
 * @p: the header's fields
 */
void kcm_pkt_encode(struct kcm_pkt_hdr *h, const struct kcm_pkt *p)
{
	h->version = KCM_WIRE_VERSION;
	h->type = p->type;
	h->flags = cpu_to_le16(p->flags);
	h->len = cpu_to_le32(p->len);
	h->gfn = cpu_to_le64(p->gfn);
	h->seq = cpu_to_le64(p->seq);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_pkt_encode);

/**
 * kcm_pkt_decode - parse and validate the packet at the head of a buffer
 * @buf: the packet (kernel copy; may be unaligned)
 * @avail: bytes available at @buf
 * @type: the packet type expected here (KCM_PKT_*)
 * @len: the payload length that type has
 * @p: the decoded header, valid only on success
 *
 * Only the framing is checked here; authenticity is the AEAD's job.
 *
 * Return: 0; -EINVAL if @avail cannot hold the header or the packet it
 * announces; -EPROTONOSUPPORT for another wire version; -EBADMSG for a
 * header that this version does not produce (type, flags, length,
 * sequence number), which is what a tampered header looks like.
 */
int kcm_pkt_decode(const void *buf, size_t avail, u8 type, u32 len,
		   struct kcm_pkt *p)
{
	const struct kcm_pkt_hdr *h = buf;

	if (avail < sizeof(*h))
		return -EINVAL;
	if (h->version != KCM_WIRE_VERSION)
		return -EPROTONOSUPPORT;

	p->type = h->type;
	p->flags = get_unaligned_le16(&h->flags);
	p->len = get_unaligned_le32(&h->len);
	p->gfn = get_unaligned_le64(&h->gfn);
	p->seq = get_unaligned_le64(&h->seq);

	if (p->type != type ||
	    p->flags & ~(type == KCM_PKT_PAGE ? KCM_PKT_F_ZERO : 0) ||
	    p->len != len || !p->seq || p->seq > KCM_SEQ_MAX)
		return -EBADMSG;
	if (avail < kcm_pkt_wire_size(p->len))
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_pkt_decode);

/**
 * kcm_pkt_nonce - the AES-GCM nonce of a packet
 * @nonce: output
 * @type: packet type, as a domain separator
 * @seq: the packet's sequence number
 *
 * The source gives every packet of a session a new sequence number, from
 * one counter, and the key is unique to the session: a (key, nonce) pair is
 * never used twice. The target rebuilds the nonce from the header, so a
 * renumbered packet fails to open.
 */
void kcm_pkt_nonce(u8 nonce[KCM_PKT_NONCE_SIZE], u8 type, u64 seq)
{
	memset(nonce, 0, KCM_PKT_NONCE_SIZE);
	nonce[0] = 'K';
	nonce[1] = 'C';
	nonce[2] = 'M';
	nonce[3] = type;
	put_unaligned_le64(seq, nonce + 4);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_pkt_nonce);

/**
 * kcm_pkt_aad - the additional authenticated data of a packet
 * @aad: output: session id, then the header as sent
 * @session_id: agreed at key exchange, never on the wire
 * @h: the header
 */
void kcm_pkt_aad(u8 aad[KCM_PKT_AAD_SIZE],
		 const u8 session_id[KCM_SESSION_ID_SIZE],
		 const struct kcm_pkt_hdr *h)
{
	memcpy(aad, session_id, KCM_SESSION_ID_SIZE);
	memcpy(aad + KCM_SESSION_ID_SIZE, h, sizeof(*h));
}
EXPORT_SYMBOL_IF_KUNIT(kcm_pkt_aad);
