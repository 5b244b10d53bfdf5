/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's own channel between two kvm-coco-mig modules, whatever the
 * backend: the platform key that authenticates the two hosts' exchange
 * messages, the wrapping of a transport key to an ECDH key pair, and the
 * sealing of packets under the transport key (header, stream and sequence
 * number bound to the ciphertext). The sw backend uses it for everything;
 * the sev backend for what the firmware's own packets lack (placement,
 * freshness, completeness).
 */
#ifndef __KVM_COCO_MIG_CHANNEL_H
#define __KVM_COCO_MIG_CHANNEL_H

#include <linux/types.h>
#include <crypto/sha2.h>

#include "crypto.h"
#include "packet.h"

#define KCM_CHAN_NONCE_SIZE	16

int kcm_chan_module_init(void);
void kcm_chan_module_exit(void);

int kcm_platform_mac(const void *data, size_t len, u8 mac[SHA256_DIGEST_SIZE]);
int kcm_chan_kek(const char *info, const u8 secret[KCM_ECDH_SECRET_SIZE],
		 const u8 nonce[KCM_CHAN_NONCE_SIZE],
		 const u8 sid[KCM_SESSION_ID_SIZE], u8 kek[KCM_AEAD_KEY_SIZE]);
int kcm_chan_wrap(bool seal, const u8 kek[KCM_AEAD_KEY_SIZE],
		  const void *bound, size_t bound_len,
		  u8 wrapped[KCM_AEAD_KEY_SIZE + KCM_AEAD_TAG_SIZE],
		  u8 tk[KCM_AEAD_KEY_SIZE]);
int kcm_chan_seal(struct kcm_aead *aead, const u8 sid[KCM_SESSION_ID_SIZE],
		  u64 *seq, struct kcm_pkt *p, const void *src, u32 len,
		  u8 *dst);
int kcm_chan_open(struct kcm_aead *aead, const u8 sid[KCM_SESSION_ID_SIZE],
		  const u8 *pkt, u32 len, void *dst);

#endif /* __KVM_COCO_MIG_CHANNEL_H */
