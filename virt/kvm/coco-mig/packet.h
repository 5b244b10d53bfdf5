/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-coco-mig wire format, version 1 (see "Wire format" in
 * Documentation/virt/kvm/coco-migration.rst).
 *
 * A page packet is a 24-byte header, the page's ciphertext and a 16-byte
 * AES-256-GCM tag: 40 bytes of overhead per 4096-byte page (0.98 %). The
 * header is authenticated as additional data, together with the session
 * id, which is agreed at key exchange and never sent: a packet moved to
 * another gfn, renumbered, or taken from another session fails to open.
 */
#ifndef __KVM_COCO_MIG_PACKET_H
#define __KVM_COCO_MIG_PACKET_H

#include <linux/build_bug.h>
#include <linux/types.h>

#define KCM_WIRE_VERSION	1
#define KCM_PKT_PAGE		1	/* a private page, len PAGE_SIZE */
#define KCM_PKT_FINAL		2	/* the source's final record */
/*
 * Header flags. ZERO: a page packet of a page the guest never touched; its
 * payload is a page of zeros, still sealed (the v1 wire has one packet
 * size), and the source did not allocate the page to send it.
 */
#define KCM_PKT_F_ZERO		0x0001
#define KCM_PKT_TAG_SIZE	16
#define KCM_SESSION_ID_SIZE	16
/* Sequence numbers start at 1 and stay below 2^62 (they are xarray values). */
#define KCM_SEQ_MAX		((1ULL << 62) - 1)

/* On the wire, little endian. */
struct kcm_pkt_hdr {
	u8 version;
	u8 type;
	__le16 flags;
	__le32 len;
	__le64 gfn;
	__le64 seq;
};

static_assert(sizeof(struct kcm_pkt_hdr) == 24);

/* A decoded, validated header. */
struct kcm_pkt {
	u8 type;
	u16 flags;
	u32 len;
	u64 gfn;
	u64 seq;
};

#define KCM_PKT_AAD_SIZE	(KCM_SESSION_ID_SIZE + sizeof(struct kcm_pkt_hdr))
#define KCM_PKT_NONCE_SIZE	12

/* Wire bytes of a packet with @len bytes of payload; a constant expression. */
#define kcm_pkt_wire_size(len) \
	(sizeof(struct kcm_pkt_hdr) + (size_t)(len) + KCM_PKT_TAG_SIZE)

void kcm_pkt_encode(struct kcm_pkt_hdr *h, const struct kcm_pkt *p);
int kcm_pkt_decode(const void *buf, size_t avail, u8 type, u32 len,
		   struct kcm_pkt *p);
void kcm_pkt_nonce(u8 nonce[KCM_PKT_NONCE_SIZE], u8 type, u64 seq);
void kcm_pkt_aad(u8 aad[KCM_PKT_AAD_SIZE],
		 const u8 session_id[KCM_SESSION_ID_SIZE],
		 const struct kcm_pkt_hdr *h);

#endif /* __KVM_COCO_MIG_PACKET_H */
