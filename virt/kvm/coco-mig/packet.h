/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-coco-mig wire format, version 3 (see "Wire format" in
 * Documentation/virt/kvm/coco-migration.rst).
 *
 * A packet is the 40-byte common header of the uAPI (struct
 * kvm_coco_mig_pkt_hdr), then the sw backend's payload: the AES-256-GCM
 * ciphertext and a 16-byte tag. A page packet carries 4096 bytes (56 bytes
 * of overhead, 1.37 %), a zero page none. The header is authenticated as
 * additional data, together with the session id, which is agreed at key
 * exchange and never sent: a packet moved to another gfn, stream or
 * version, renumbered, or taken from another session fails to open.
 */
#ifndef __KVM_COCO_MIG_PACKET_H
#define __KVM_COCO_MIG_PACKET_H

#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/kvm_coco_mig.h>

#define KCM_WIRE_VERSION	KVM_COCO_MIG_WIRE_VERSION
#define KCM_PKT_PAGE		KVM_COCO_MIG_PKT_PAGE
#define KCM_PKT_FINAL		KVM_COCO_MIG_PKT_FINAL
#define KCM_PKT_ABORT		KVM_COCO_MIG_PKT_ABORT
#define KCM_PKT_VCPU		KVM_COCO_MIG_PKT_VCPU
/* A page the guest never touched: no payload, not allocated to be sent. */
#define KCM_PKT_F_ZERO		KVM_COCO_MIG_PKT_F_ZERO
#define KCM_PKT_CTL_STREAM	KVM_COCO_MIG_CTL_STREAM
#define KCM_PKT_TAG_SIZE	16
#define KCM_SESSION_ID_SIZE	16
/*
 * Sequence numbers and page versions start at 1 and stay below 2^62 (they
 * are xarray values).
 */
#define KCM_SEQ_MAX		((1ULL << 62) - 1)

/* On the wire, little endian: struct kvm_coco_mig_pkt_hdr. */
struct kcm_pkt_hdr {
	u8 version;
	u8 type;
	__le16 flags;
	__le32 len;
	__le64 gfn;
	__le64 seq;
	__le64 gen;
	__le16 stream;
	__le16 reserved[3];
};

static_assert(sizeof(struct kcm_pkt_hdr) == 40);
static_assert(sizeof(struct kcm_pkt_hdr) == sizeof(struct kvm_coco_mig_pkt_hdr));
static_assert(offsetof(struct kcm_pkt_hdr, len) ==
	      offsetof(struct kvm_coco_mig_pkt_hdr, len));
static_assert(offsetof(struct kcm_pkt_hdr, stream) ==
	      offsetof(struct kvm_coco_mig_pkt_hdr, stream));

/* A decoded, validated header; @len is the payload's length. */
struct kcm_pkt {
	u8 type;
	u16 flags;
	u32 len;
	u64 gfn;
	u64 seq;
	u64 gen;
	u16 stream;
};

#define KCM_PKT_AAD_SIZE	(KCM_SESSION_ID_SIZE + sizeof(struct kcm_pkt_hdr))
#define KCM_PKT_NONCE_SIZE	12

/* Wire bytes of a packet with @len bytes of payload; a constant expression. */
#define kcm_pkt_wire_size(len) \
	(sizeof(struct kcm_pkt_hdr) + (size_t)(len) + KCM_PKT_TAG_SIZE)

void kcm_pkt_encode(struct kcm_pkt_hdr *h, const struct kcm_pkt *p);
int kcm_pkt_frame(const void *buf, size_t avail, size_t max, u32 *wire_len);
int kcm_pkt_decode(const void *buf, size_t avail, u8 type, u32 len,
		   struct kcm_pkt *p);
void kcm_pkt_nonce(u8 nonce[KCM_PKT_NONCE_SIZE], u8 type, u16 stream, u64 seq);
void kcm_pkt_aad(u8 aad[KCM_PKT_AAD_SIZE],
		 const u8 session_id[KCM_SESSION_ID_SIZE],
		 const struct kcm_pkt_hdr *h);

#endif /* __KVM_COCO_MIG_PACKET_H */
