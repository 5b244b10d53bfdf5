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
 * @p: the header's fields; @p->len is the payload's length
 */
void kcm_pkt_encode(struct kcm_pkt_hdr *h, const struct kcm_pkt *p)
{
	memset(h, 0, sizeof(*h));
	h->version = KCM_WIRE_VERSION;
	h->type = p->type;
	h->flags = cpu_to_le16(p->flags);
	h->len = cpu_to_le32(kcm_pkt_wire_size(p->len));
	h->gfn = cpu_to_le64(p->gfn);
	h->seq = cpu_to_le64(p->seq);
	h->gen = cpu_to_le64(p->gen);
	h->stream = cpu_to_le16(p->stream);
}
EXPORT_SYMBOL_IF_KUNIT(kcm_pkt_encode);

/**
 * kcm_pkt_frame - the length of the packet at the head of a buffer
 * @buf: the packet (kernel copy of at least its header, or @avail bytes)
 * @avail: bytes of the buffer from @buf on
 * @max: the largest packet the receiver takes
 * @wire_len: the packet's length, header and tag included
 *
 * The one field read before the packet is authenticated: it only says
 * which bytes to authenticate. A changed length fails the AEAD like any
 * other changed byte of the header.
 *
 * Return: 0; -EINVAL if @avail cannot hold the header or the packet;
 * -EPROTONOSUPPORT for another wire version; -EBADMSG for a length below
 * a header and tag or above @max.
 */
int kcm_pkt_frame(const void *buf, size_t avail, size_t max, u32 *wire_len)
{
	const struct kcm_pkt_hdr *h = buf;
	u32 len;

	if (avail < sizeof(*h))
		return -EINVAL;
	if (h->version != KCM_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	len = get_unaligned_le32(&h->len);
	if (len < kcm_pkt_wire_size(0) || len > max)
		return -EBADMSG;
	if (avail < len)
		return -EINVAL;
	*wire_len = len;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_pkt_frame);

/**
 * kcm_pkt_decode - parse and validate the packet at the head of a buffer
 * @buf: the packet (kernel copy; may be unaligned)
 * @avail: bytes available at @buf
 * @type: the packet type expected here (KCM_PKT_*)
 * @len: the payload length that type has (a page packet with
 *	%KCM_PKT_F_ZERO has none)
 * @p: the decoded header, valid only on success
 *
 * Only the framing is checked here; authenticity is the AEAD's job.
 *
 * Return: 0; -EINVAL if @avail cannot hold the header or the packet it
 * announces; -EPROTONOSUPPORT for another wire version; -EBADMSG for a
 * header that this version does not produce (type, flags, length,
 * sequence number, version, stream, reserved bytes), which is what a
 * tampered header looks like.
 */
int kcm_pkt_decode(const void *buf, size_t avail, u8 type, u32 len,
		   struct kcm_pkt *p)
{
	const struct kcm_pkt_hdr *h = buf;
	bool page = type == KCM_PKT_PAGE;
	u32 wire_len;

	if (avail < sizeof(*h))
		return -EINVAL;
	if (h->version != KCM_WIRE_VERSION)
		return -EPROTONOSUPPORT;

	p->type = h->type;
	p->flags = get_unaligned_le16(&h->flags);
	wire_len = get_unaligned_le32(&h->len);
	p->gfn = get_unaligned_le64(&h->gfn);
	p->seq = get_unaligned_le64(&h->seq);
	p->gen = get_unaligned_le64(&h->gen);
	p->stream = get_unaligned_le16(&h->stream);
	if (page && (p->flags & KCM_PKT_F_ZERO))
		len = 0;

	if (p->type != type || p->flags & ~(page ? KCM_PKT_F_ZERO : 0) ||
	    wire_len != kcm_pkt_wire_size(len) || !p->seq || p->seq > KCM_SEQ_MAX ||
	    memchr_inv(h->reserved, 0, sizeof(h->reserved)))
		return -EBADMSG;
	if (page ? !p->gen || p->gen > KCM_SEQ_MAX || p->stream == KCM_PKT_CTL_STREAM :
		   p->gen || (p->gfn && type != KCM_PKT_VCPU) ||
		   p->stream != KCM_PKT_CTL_STREAM)
		return -EBADMSG;
	if (avail < wire_len)
		return -EINVAL;
	p->len = len;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kcm_pkt_decode);

/**
 * kcm_pkt_nonce - the AES-GCM nonce of a packet
 * @nonce: output
 * @type: packet type, as a domain separator
 * @stream: the stream that makes the packet
 * @seq: the packet's sequence number in @stream
 *
 * Every stream numbers its packets from its own counter, and the key is
 * unique to the session: with the stream in the nonce, a (key, nonce) pair
 * is never used twice, whatever the streams do at once. The target
 * rebuilds the nonce from the header, so a renumbered packet, or one moved
 * to another stream, fails to open.
 */
void kcm_pkt_nonce(u8 nonce[KCM_PKT_NONCE_SIZE], u8 type, u16 stream, u64 seq)
{
	nonce[0] = 'K';
	nonce[1] = type;
	put_unaligned_le16(stream, nonce + 2);
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
