// SPDX-License-Identifier: GPL-2.0
/*
 * The sev backend: SEV and SEV-ES guests, migrated through the SEV
 * firmware's SEND_* and RECEIVE_* commands (coco_mig_sev.h: the seam).
 *
 * What comes from where.
 * - The firmware: confidentiality and integrity of each page and VMSA
 *   against the host. A page leaves the source only as the firmware's
 *   packet (header and ciphertext under the transport keys TEK/TIK that
 *   SEND_START made and wrapped to the target's PDH); the host never
 *   reads or writes a guest page itself, and the target's firmware checks
 *   each packet's MAC before it writes the page (BAD_MEASUREMENT
 *   otherwise). With policy bits SEV or DOMAIN set, SEND_START also
 *   authenticates the target platform (its PDH chain).
 * - The module's own channel (channel.c), for what the firmware lacks:
 *   its packets carry no sequence number, their MAC does not cover the
 *   gfn, RECEIVE_FINISH counts nothing, and the receiver never
 *   authenticates the sender. Each firmware packet travels as the payload
 *   of a module packet (gfn, stream, sequence number, page version) sealed
 *   under a transport key the two modules agree in the exchange, MACed
 *   with the hosts' platform key, exactly as the sw backend's; the target
 *   opens and checks it before RECEIVE_UPDATE_DATA runs, and the final
 *   record proves completeness. These hold against the network, not
 *   against a malicious host kernel, which holds the module's keys.
 *
 * Exchange, three messages: the target's evidence (its PDH certificate and
 * platform chain from PDH_CERT_EXPORT, the AMD chain its VMM passes in, and
 * an ephemeral ECDH key), the source's transport (the SEV session blob
 * SEND_START made for that PDH, the guest's policy, the source's own PDH
 * certificate, and the module's transport key wrapped to the target's
 * ECDH key), nothing (the target's RECEIVE_START and ACTIVATE).
 *
 * Source's firmware state: SEND_START moves the guest to SUPDATE, in which
 * it runs on. CANCEL and a verified abort token issue SEND_CANCEL (RUNNING
 * again). FINISH leaves it in SUPDATE, because the target may still refuse
 * the final record; SEND_FINISH (SENT, which ACTIVATE refuses from then
 * on) comes only when the session closes on a sealed source, right after
 * the core made the VM dead. Target: RECEIVE_FINISH comes in FINISH after
 * every check of the final record passed.
 */
#include <crypto/algapi.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/psp-sev.h>
#include <linux/psp.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
#include <asm/cacheflush.h>
#include <kunit/visibility.h>

#include "channel.h"
#include "coco_mig.h"
#include "coco_mig_sev.h"
#include "packet.h"
#include "replay.h"
#include "window.h"

#define KCM_SEV_EVIDENCE_MAGIC	0x53434d4b	/* "KMCS" */
#define KCM_SEV_TRANSPORT_MAGIC	0x54434d4b	/* "KMCT" */
#define KCM_SEV_BLOB_VERSION	1
#define KCM_SEV_KEK_INFO	"kvm-coco-mig v1 sev kek"

/* Firmware sizes (sev-firmware.md §1, §4). */
#define KCM_SEV_CERT_LEN	2084
#define KCM_SEV_PLAT_CHAIN_LEN	(3 * KCM_SEV_CERT_LEN)
#define KCM_SEV_AMD_CHAIN_MAX	3200
#define KCM_SEV_SESSION_LEN	128
#define KCM_SEV_HDR_LEN		52

/* Policy bits (sev-firmware.md §6). */
#define KCM_SEV_POLICY_NOSEND	BIT(3)
#define KCM_SEV_POLICY_ES	BIT(2)

/* Guest states of GUEST_STATUS. */
#define KCM_SEV_STATE_RUNNING	3
#define KCM_SEV_STATE_SUPDATE	4

/* SEND_UPDATE_VMSA: prime-and-issue attempts before giving up. */
#define KCM_SEV_VMSA_TRIES	8

/* The target's evidence, little endian. */
struct kcm_sev_evidence {
	__le32 magic;
	u8 version;
	u8 backend;
	__le16 nr_streams;	/* the target's */
	u8 nonce[KCM_CHAN_NONCE_SIZE];
	u8 pub[KCM_ECDH_PUB_SIZE];
	__le32 amd_len;		/* bytes of @amd used */
	__le32 reserved;
	u8 pdh[KCM_SEV_CERT_LEN];
	u8 plat[KCM_SEV_PLAT_CHAIN_LEN];
	u8 amd[KCM_SEV_AMD_CHAIN_MAX];
	u8 mac[SHA256_DIGEST_SIZE];	/* HMAC(platform key, all above) */
} __packed;

/* The source's answer. */
struct kcm_sev_transport {
	__le32 magic;
	u8 version;
	u8 reserved;
	__le16 nr_streams;	/* the source's */
	u8 sid[KCM_SESSION_ID_SIZE];
	u8 pub[KCM_ECDH_PUB_SIZE];
	__le32 policy;		/* the guest's, as SEND_START reported it */
	__le32 reserved2;
	u8 session[KCM_SEV_SESSION_LEN];
	u8 pdh[KCM_SEV_CERT_LEN];	/* the source platform's */
	/*
	 * HMAC(platform key, all above, then SHA-256 of the evidence this
	 * answers); @wrapped is bound to the same bytes by its own AEAD.
	 */
	u8 mac[SHA256_DIGEST_SIZE];
	u8 wrapped[KCM_AEAD_KEY_SIZE + KCM_AEAD_TAG_SIZE];
} __packed;

/*
 * A module packet's payload: the firmware's packet. @hdr and @trans are
 * where SEND_UPDATE_* writes them (so they are sealed in place) and where
 * RECEIVE_UPDATE_* reads them; @pad keeps @trans 16-byte aligned and must
 * be zero.
 */
struct kcm_sev_fw_pkt {
	u8 hdr[KCM_SEV_HDR_LEN];
	u8 pad[12];
	u8 trans[PAGE_SIZE];
} __packed;

#define KCM_SEV_PACKET_SIZE	kcm_pkt_wire_size(sizeof(struct kcm_sev_fw_pkt))

/* The final record: as the sw backend's, without the private-view digest. */
struct kcm_sev_final {
	__le64 pages;
	__le32 vcpus;
	__le32 reserved;
	u8 digest[KCM_DIGEST_SIZE];
	u8 vm_state[];
};

struct kcm_sev_abort {
	__le32 magic;
	__le32 reserved;
};

#define KCM_SEV_ABORT_MAGIC	0x41434d4b	/* "KMCA" */
#define KCM_SEV_TOKEN_SIZE	kcm_pkt_wire_size(sizeof(struct kcm_sev_abort))

/* An SEV-ES vCPU record's payload: the VMSA packet, then the VMM's state. */
struct kcm_sev_vcpu_rec {
	struct kcm_sev_fw_pkt vmsa;
	u8 vmm_state[];
};

/**
 * struct kcm_sev_stream - one stream; the core's stream lock protects it
 * @aead: the module's transport key, the stream's instance
 * @seq: source: the last sequence number used; target: the last taken
 * @pkt: the module packet being made or taken, in kernel memory
 * @fw: the firmware packet inside it (@pkt's payload)
 * @win: the pinned part of the user buffer
 * @win_off: the offset into the user buffer @win starts at
 * @win_len: the bytes @win holds
 */
struct kcm_sev_stream {
	struct kcm_aead aead;
	u64 seq;
	u8 *pkt;
	struct kcm_sev_fw_pkt *fw;
	struct kcm_window win;
	u64 win_off;
	u64 win_len;
};

/**
 * struct kcm_sev - the sev backend's half of a session
 * @fw: the firmware, with a reference on its module
 * @vm: the VM as the firmware describes it; a target's @vm.handle is set
 *	once RECEIVE_START and ACTIVATE succeeded
 * @policy: the guest's policy
 * @sending: source: SEND_START succeeded and neither SEND_CANCEL nor
 *	SEND_FINISH followed
 * @receiving: target: the handle is bound, RECEIVE_FINISH not yet issued
 * @ecdh: the module's ephemeral key pair, until the key is agreed
 * @evidence: target: the evidence, made once
 * @have_evidence: @evidence is valid
 * @ev_digest: target: SHA-256 of @evidence
 * @ctl: the module's transport key for the control stream
 * @ctl_seq: the last sequence number this side sealed on it
 * @ctl_in: target: the last one of a vCPU record it took
 * @vcpus: vCPU records made (source) or installed (target)
 * @token: target: the abort token, once made
 * @have_token: @token is valid
 * @keyed: the module's transport key is agreed
 * @sid: the session id
 * @gen: source: the last page version handed out
 * @map: newest version per gfn sent (source) or installed (target)
 * @nr_streams: entries of @streams
 * @streams: the data streams
 *
 * All but @gen, @map and @streams are used with every stream excluded.
 */
struct kcm_sev {
	const struct kcm_sev_fw *fw;
	struct kcm_sev_vm vm;
	u32 policy;
	bool sending;
	bool receiving;
	struct kcm_ecdh ecdh;
	struct kcm_sev_evidence *evidence;
	bool have_evidence;
	u8 ev_digest[SHA256_DIGEST_SIZE];
	struct kcm_aead ctl;
	u64 ctl_seq;
	u64 ctl_in;
	u32 vcpus;
	u8 token[KCM_SEV_TOKEN_SIZE];
	bool have_token;
	bool keyed;
	u8 sid[KCM_SESSION_ID_SIZE];
	atomic64_t gen;
	struct kcm_seq_map map;
	u32 nr_streams;
	struct kcm_sev_stream streams[] __counted_by(nr_streams);
};

static struct kcm_sev *to_sev(struct kcm_session *s)
{
	return s->priv;
}

/**
 * kcm_sev_errno - the errno for a firmware command that failed
 * @ret: what do_cmd() returned: -EIO with a status, or the PSP's own error
 * @status: the firmware's status
 *
 * The status itself goes to STATUS (fw_status). BAD_MEASUREMENT (a packet
 * whose MAC does not verify) is EBADMSG, which the callers treat as
 * tampering.
 */
VISIBLE_IF_KUNIT int kcm_sev_errno(int ret, int status)
{
	if (ret != -EIO)
		return ret == -EBUSY ? -ETIMEDOUT : ret;
	switch (status) {
	case SEV_RET_BAD_MEASUREMENT:
		return -EBADMSG;
	case SEV_RET_INVALID_CERTIFICATE:
	case SEV_RET_BAD_SIGNATURE:
		return -EKEYREJECTED;
	case SEV_RET_POLICY_FAILURE:
		return -EPERM;
	case SEV_RET_INVALID_GUEST_STATE:
		return -EBUSY;
	case SEV_RET_INVALID_PLATFORM_STATE:
	case SEV_RET_INACTIVE:
		return -ENXIO;
	case SEV_RET_UNSUPPORTED:
		return -EOPNOTSUPP;
	case SEV_RET_RESOURCE_LIMIT:
		return -ENOSPC;
	case SEV_RET_INVALID_GUEST:
		return -ENOENT;
	default:
		return -EPROTO;
	}
}
EXPORT_SYMBOL_IF_KUNIT(kcm_sev_errno);

/*
 * A command of the session's VM failed with @ret and the firmware's
 * @status: record both for STATUS and return the errno.
 */
static int kcm_sev_failed(struct kcm_session *s, int cmd, int ret, int status)
{
	WRITE_ONCE(s->fw_cmd, cmd);
	WRITE_ONCE(s->fw_status, status);
	ret = kcm_sev_errno(ret, status);
	/* A PSP that stopped answering may still act on the command. */
	if (ret == -ETIMEDOUT)
		kcm_session_fail(s);
	return ret;
}

/* Issue @cmd for the session's VM. */
static int kcm_sev_cmd(struct kcm_session *s, int cmd, void *data)
{
	int status = 0, ret;

	ret = to_sev(s)->fw->do_cmd(s->kvm, cmd, data, &status);
	return ret ? kcm_sev_failed(s, cmd, ret, status) : 0;
}

static int kcm_sev_handle_cmd(struct kcm_session *s, int cmd)
{
	struct sev_data_send_finish data = { .handle = to_sev(s)->vm.handle };

	/* SEND_FINISH, SEND_CANCEL and RECEIVE_FINISH take only the handle. */
	return kcm_sev_cmd(s, cmd, &data);
}

static void kcm_sev_free(struct kcm_sev *sev)
{
	u32 i;

	for (i = 0; i < sev->nr_streams; i++)
		kfree_sensitive(sev->streams[i].pkt);
	kcm_seq_map_destroy(&sev->map);
	kfree_sensitive(sev->evidence);
	kfree_sensitive(sev);
}

static int kcm_sev_session_init(struct kcm_session *s)
{
	const struct kcm_sev_fw *fw;
	struct kcm_sev_stream *st;
	struct kcm_sev_vm vm;
	struct kcm_sev *sev;
	bool src;
	u32 i;

	fw = kcm_sev_fw_get(s->kvm, &vm);
	if (IS_ERR(fw))
		return PTR_ERR(fw);
	/* A source has a guest to send, a target none yet. */
	src = s->role == KVM_COCO_MIG_ROLE_SOURCE;
	if (!vm.asid || src != !!vm.handle) {
		kcm_sev_fw_put(fw);
		return -EINVAL;
	}
	sev = kzalloc(struct_size(sev, streams, s->nr_streams), GFP_KERNEL_ACCOUNT);
	if (!sev)
		goto e_put_fw;
	sev->fw = fw;
	sev->vm = vm;
	sev->nr_streams = s->nr_streams;
	kcm_seq_map_init(&sev->map);
	atomic64_set(&sev->gen, 0);
	for (i = 0; i < sev->nr_streams; i++) {
		st = &sev->streams[i];
		st->pkt = kzalloc(KCM_SEV_PACKET_SIZE, GFP_KERNEL_ACCOUNT);
		if (!st->pkt)
			goto e_free_sev;
		st->fw = (struct kcm_sev_fw_pkt *)(st->pkt + sizeof(struct kcm_pkt_hdr));
	}
	s->priv = sev;
	return 0;

e_free_sev:
	kcm_sev_free(sev);
e_put_fw:
	kcm_sev_fw_put(fw);
	return -ENOMEM;
}

static void kcm_sev_end_streams_keys(struct kcm_sev *sev)
{
	u32 i;

	kcm_ecdh_destroy(&sev->ecdh);
	for (i = 0; i < sev->nr_streams; i++)
		kcm_aead_destroy(&sev->streams[i].aead);
}

static void kcm_sev_forget_keys(struct kcm_sev *sev)
{
	kcm_sev_end_streams_keys(sev);
	kcm_aead_destroy(&sev->ctl);
	sev->keyed = false;
	memzero_explicit(sev->sid, sizeof(sev->sid));
}

static int kcm_sev_set_keys(struct kcm_sev *sev, const u8 tk[KCM_AEAD_KEY_SIZE],
			    const u8 sid[KCM_SESSION_ID_SIZE])
{
	int ret;
	u32 i;

	ret = kcm_aead_init(&sev->ctl, tk);
	for (i = 0; !ret && i < sev->nr_streams; i++) {
		ret = kcm_aead_init(&sev->streams[i].aead, tk);
		sev->streams[i].seq = 0;
	}
	if (ret) {
		kcm_aead_destroy(&sev->ctl);
		for (i = 0; i < sev->nr_streams; i++)
			kcm_aead_destroy(&sev->streams[i].aead);
		return ret;
	}
	memcpy(sev->sid, sid, sizeof(sev->sid));
	sev->ctl_seq = 0;
	sev->ctl_in = 0;
	sev->vcpus = 0;
	sev->keyed = true;
	return 0;
}

/* The guest's firmware state ends with the session. */
static void kcm_sev_session_destroy(struct kcm_session *s)
{
	struct kcm_sev *sev = to_sev(s);

	if (sev->sending)
		/*
		 * A sealed source is dead now (the core made it so): SENT
		 * keeps the firmware from ever activating it again. Any
		 * other source runs on.
		 */
		kcm_sev_handle_cmd(s, s->sealed ? SEV_CMD_SEND_FINISH :
						  SEV_CMD_SEND_CANCEL);
	/*
	 * A target's handle stays with the VM (set_handle): its teardown
	 * deactivates and decommissions it; a target that never ran is dead.
	 */
	kcm_sev_forget_keys(sev);
	kcm_sev_fw_put(sev->fw);
	kcm_sev_free(sev);
	s->priv = NULL;
}

static long kcm_sev_record_len(const void *in, u32 in_len, size_t fixed)
{
	const struct kcm_pkt_hdr *h = in;

	if (in_len < kcm_pkt_wire_size(fixed))
		return -EINVAL;
	if (get_unaligned_le32(&h->len) != in_len)
		return -EINVAL;
	return in_len - kcm_pkt_wire_size(fixed);
}

static size_t kcm_sev_vcpu_fixed(struct kcm_sev *sev)
{
	return sev->vm.es ? sizeof(struct kcm_sev_vcpu_rec) : 0;
}

static long kcm_sev_out_size(struct kcm_session *s, enum kcm_op op,
			     const void *in, u32 in_len)
{
	struct kcm_sev *sev = to_sev(s);
	long n;

	switch (op) {
	case KCM_OP_EXCHANGE:
		if (s->role == KVM_COCO_MIG_ROLE_SOURCE)
			return in_len ? sizeof(struct kcm_sev_transport) : -EINVAL;
		/* The target's first round takes the AMD chain, if any. */
		return sev->have_evidence ? 0 : sizeof(struct kcm_sev_evidence);
	case KCM_OP_ABORT:
		return s->role == KVM_COCO_MIG_ROLE_TARGET ? KCM_SEV_TOKEN_SIZE : 0;
	case KCM_OP_FINISH:
		if (s->role == KVM_COCO_MIG_ROLE_SOURCE)
			return kcm_pkt_wire_size(sizeof(struct kcm_sev_final) + in_len);
		n = kcm_sev_record_len(in, in_len, sizeof(struct kcm_sev_final));
		return n ?: -EINVAL;
	case KCM_OP_PACKAGE_VCPU:
		return in_len ? kcm_pkt_wire_size(kcm_sev_vcpu_fixed(sev) + in_len) :
				-EINVAL;
	case KCM_OP_RECEIVE_VCPU:
		n = kcm_sev_record_len(in, in_len, kcm_sev_vcpu_fixed(sev));
		return n ?: -EINVAL;
	default:
		return 0;
	}
}

/* Target's first round: the evidence, made once. */
static int kcm_sev_evidence(struct kcm_session *s, const void *in, u32 in_len,
			    void *out)
{
	struct kcm_sev *sev = to_sev(s);
	struct sev_data_pdh_cert_export pdh = {};
	struct kcm_sev_evidence *ev;
	int ret;

	if (sev->have_evidence)
		goto out_copy;
	if (in_len > KCM_SEV_AMD_CHAIN_MAX)
		return -EINVAL;
	ev = kzalloc(sizeof(*ev), GFP_KERNEL_ACCOUNT);
	if (!ev)
		return -ENOMEM;
	ev->magic = cpu_to_le32(KCM_SEV_EVIDENCE_MAGIC);
	ev->version = KCM_SEV_BLOB_VERSION;
	ev->backend = KVM_COCO_MIG_BACKEND_SEV;
	ev->nr_streams = cpu_to_le16(s->nr_streams);
	ev->amd_len = cpu_to_le32(in_len);
	memcpy(ev->amd, in, in_len);
	get_random_bytes(ev->nonce, sizeof(ev->nonce));

	/* The PDH and its platform chain, PEK || OCA || CEK. */
	pdh.pdh_cert_address = __psp_pa(ev->pdh);
	pdh.pdh_cert_len = sizeof(ev->pdh);
	pdh.cert_chain_address = __psp_pa(ev->plat);
	pdh.cert_chain_len = sizeof(ev->plat);
	ret = kcm_sev_cmd(s, SEV_CMD_PDH_CERT_EXPORT, &pdh);
	if (ret)
		goto e_free_ev;

	ret = kcm_ecdh_generate(&sev->ecdh, ev->pub);
	if (ret)
		goto e_free_ev;
	ret = kcm_platform_mac(ev, offsetof(struct kcm_sev_evidence, mac), ev->mac);
	if (ret)
		goto e_destroy_ecdh;
	sha256((const u8 *)ev, sizeof(*ev), sev->ev_digest);
	sev->evidence = ev;
	sev->have_evidence = true;
out_copy:
	memcpy(out, sev->evidence, sizeof(*sev->evidence));
	return 0;

e_destroy_ecdh:
	kcm_ecdh_destroy(&sev->ecdh);
e_free_ev:
	kfree_sensitive(ev);
	return ret;
}

/*
 * The transport's MAC: every field before @mac, then the digest of the
 * evidence it answers.
 */
static int kcm_sev_transport_mac(const struct kcm_sev_transport *t,
				 const u8 ev_digest[SHA256_DIGEST_SIZE],
				 u8 mac[SHA256_DIGEST_SIZE])
{
	size_t off = offsetof(struct kcm_sev_transport, mac);
	u8 *buf;
	int ret;

	buf = kmalloc(off + SHA256_DIGEST_SIZE, GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, t, off);
	memcpy(buf + off, ev_digest, SHA256_DIGEST_SIZE);
	ret = kcm_platform_mac(buf, off + SHA256_DIGEST_SIZE, mac);
	kfree(buf);
	return ret;
}

/* The guest's policy and firmware state. */
static int kcm_sev_guest_status(struct kcm_session *s, u32 *policy, u8 *state)
{
	struct sev_data_guest_status st = { .handle = to_sev(s)->vm.handle };
	int ret;

	ret = kcm_sev_cmd(s, SEV_CMD_GUEST_STATUS, &st);
	if (!ret) {
		*policy = st.policy;
		*state = st.state;
	}
	return ret;
}

/*
 * Source: check the evidence, then SEND_START to the target's PDH and wrap
 * the module's transport key to its ECDH key. Every failure after
 * SEND_START cancels it: the guest runs on as it was.
 */
static int kcm_sev_start(struct kcm_session *s, const void *in, u32 in_len,
			 void *out)
{
	const struct kcm_sev_evidence *ev = in;
	struct kcm_sev_transport *t = out;
	struct kcm_sev *sev = to_sev(s);
	struct sev_data_pdh_cert_export pdh = {};
	struct sev_data_send_start *start;
	u8 secret[KCM_ECDH_SECRET_SIZE], kek[KCM_AEAD_KEY_SIZE];
	u8 tk[KCM_AEAD_KEY_SIZE], mac[SHA256_DIGEST_SIZE];
	u8 ev_digest[SHA256_DIGEST_SIZE];
	u32 amd_len, policy;
	u8 state;
	int ret;

	/* Authentic first: the MAC under our platform key, then the fields. */
	if (in_len != sizeof(*ev))
		return -EINVAL;
	ret = kcm_platform_mac(ev, offsetof(struct kcm_sev_evidence, mac), mac);
	if (ret)
		return ret;
	if (crypto_memneq(mac, ev->mac, sizeof(mac)))
		return -EKEYREJECTED;
	amd_len = le32_to_cpu(ev->amd_len);
	if (le32_to_cpu(ev->magic) != KCM_SEV_EVIDENCE_MAGIC ||
	    ev->version != KCM_SEV_BLOB_VERSION ||
	    ev->backend != KVM_COCO_MIG_BACKEND_SEV || ev->reserved ||
	    amd_len > KCM_SEV_AMD_CHAIN_MAX)
		return -EINVAL;
	if (le16_to_cpu(ev->nr_streams) != s->nr_streams)
		return -ECHRNG;

	/* The guest's own policy decides before any command changes it. */
	ret = kcm_sev_guest_status(s, &policy, &state);
	if (ret)
		return ret;
	if (policy & KCM_SEV_POLICY_NOSEND)
		return -EACCES;
	if (state != KCM_SEV_STATE_RUNNING)
		return -EBUSY;

	start = kzalloc(sizeof(*start), GFP_KERNEL_ACCOUNT);
	if (!start)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->magic = cpu_to_le32(KCM_SEV_TRANSPORT_MAGIC);
	t->version = KCM_SEV_BLOB_VERSION;
	t->nr_streams = cpu_to_le16(s->nr_streams);
	get_random_bytes(t->sid, sizeof(t->sid));
	get_random_bytes(tk, sizeof(tk));

	/* Our PDH, which the target's RECEIVE_START takes. */
	pdh.pdh_cert_address = __psp_pa(t->pdh);
	pdh.pdh_cert_len = sizeof(t->pdh);
	ret = kcm_sev_cmd(s, SEV_CMD_PDH_CERT_EXPORT, &pdh);
	if (ret)
		goto out;

	/* The firmware reads the certificates from kernel memory: a copy. */
	start->handle = sev->vm.handle;
	start->pdh_cert_address = __psp_pa(ev->pdh);
	start->pdh_cert_len = sizeof(ev->pdh);
	start->plat_certs_address = __psp_pa(ev->plat);
	start->plat_certs_len = sizeof(ev->plat);
	start->amd_certs_address = amd_len ? __psp_pa(ev->amd) : 0;
	start->amd_certs_len = amd_len;
	start->session_address = __psp_pa(t->session);
	start->session_len = sizeof(t->session);
	ret = kcm_sev_cmd(s, SEV_CMD_SEND_START, start);
	if (ret)
		goto out;
	sev->sending = true;
	sev->policy = start->policy;
	t->policy = cpu_to_le32(start->policy);

	ret = kcm_ecdh_generate(&sev->ecdh, t->pub);
	if (!ret)
		ret = kcm_ecdh_shared(&sev->ecdh, ev->pub, secret);
	kcm_ecdh_destroy(&sev->ecdh);
	if (!ret)
		ret = kcm_chan_kek(KCM_SEV_KEK_INFO, secret, ev->nonce, t->sid, kek);
	if (!ret)
		ret = kcm_chan_wrap(true, kek, t, offsetof(struct kcm_sev_transport, mac),
				    t->wrapped, tk);
	if (!ret) {
		sha256(in, in_len, ev_digest);
		ret = kcm_sev_transport_mac(t, ev_digest, t->mac);
	}
	if (!ret)
		ret = kcm_sev_set_keys(sev, tk, t->sid);
	if (ret) {
		kcm_sev_handle_cmd(s, SEV_CMD_SEND_CANCEL);
		sev->sending = false;
	}
out:
	memzero_explicit(secret, sizeof(secret));
	memzero_explicit(kek, sizeof(kek));
	memzero_explicit(tk, sizeof(tk));
	kfree(start);
	return ret;
}

/*
 * Target: check the transport, unwrap the module's key, then RECEIVE_START
 * with the source's PDH and session blob, and ACTIVATE the new handle with
 * the VM's ASID. A transport that does not unwrap, or a session blob the
 * firmware refuses as not authentic, poisons the session.
 */
static int kcm_sev_accept(struct kcm_session *s, const void *in, u32 in_len)
{
	struct kcm_sev *sev = to_sev(s);
	struct sev_data_receive_start *rs;
	struct sev_data_activate act = {};
	struct sev_data_decommission dc = {};
	struct kcm_sev_transport *t;
	u8 secret[KCM_ECDH_SECRET_SIZE], kek[KCM_AEAD_KEY_SIZE];
	u8 tk[KCM_AEAD_KEY_SIZE], mac[SHA256_DIGEST_SIZE];
	int ret;

	if (in_len != sizeof(*t))
		return -EINVAL;
	t = kmemdup(in, sizeof(*t), GFP_KERNEL_ACCOUNT);
	rs = kzalloc(sizeof(*rs), GFP_KERNEL_ACCOUNT);
	ret = -ENOMEM;
	if (!t || !rs)
		goto out_free;
	ret = kcm_sev_transport_mac(t, sev->ev_digest, mac);
	if (ret)
		goto out_free;
	ret = -EKEYREJECTED;
	if (crypto_memneq(mac, t->mac, sizeof(mac)))
		goto out_free;
	ret = -EINVAL;
	if (le32_to_cpu(t->magic) != KCM_SEV_TRANSPORT_MAGIC ||
	    t->version != KCM_SEV_BLOB_VERSION || t->reserved || t->reserved2)
		goto out_free;
	ret = -ECHRNG;
	if (le16_to_cpu(t->nr_streams) != s->nr_streams)
		goto out_free;

	ret = kcm_ecdh_shared(&sev->ecdh, t->pub, secret);
	if (!ret)
		ret = kcm_chan_kek(KCM_SEV_KEK_INFO, secret, sev->evidence->nonce,
				   t->sid, kek);
	if (!ret)
		ret = kcm_chan_wrap(false, kek, t, offsetof(struct kcm_sev_transport, mac),
				    t->wrapped, tk);
	if (ret == -EBADMSG)
		goto out_fail;
	if (ret)
		goto out_wipe;

	rs->handle = 0;		/* a new guest key */
	rs->policy = le32_to_cpu(t->policy);
	rs->pdh_cert_address = __psp_pa(t->pdh);
	rs->pdh_cert_len = sizeof(t->pdh);
	rs->session_address = __psp_pa(t->session);
	rs->session_len = sizeof(t->session);
	ret = kcm_sev_cmd(s, SEV_CMD_RECEIVE_START, rs);
	if (ret == -EBADMSG)
		goto out_fail;
	if (ret)
		goto out_wipe;

	act.handle = rs->handle;
	act.asid = sev->vm.asid;
	ret = kcm_sev_cmd(s, SEV_CMD_ACTIVATE, &act);
	if (ret) {
		dc.handle = rs->handle;
		kcm_sev_cmd(s, SEV_CMD_DECOMMISSION, &dc);
		goto out_wipe;
	}
	ret = kcm_sev_set_keys(sev, tk, t->sid);
	if (ret) {
		/* The VM's teardown decommissions it; nothing runs on it. */
		mutex_lock(&s->kvm->lock);
		sev->fw->set_handle(s->kvm, rs->handle);
		mutex_unlock(&s->kvm->lock);
		goto out_wipe;
	}
	mutex_lock(&s->kvm->lock);
	sev->fw->set_handle(s->kvm, rs->handle);
	mutex_unlock(&s->kvm->lock);
	sev->vm.handle = rs->handle;
	sev->policy = rs->policy;
	sev->receiving = true;
	kcm_ecdh_destroy(&sev->ecdh);
	goto out_wipe;

out_fail:
	/* Not for us, or tampered with: the target can never run. */
	kcm_sev_forget_keys(sev);
	kcm_session_fail(s);
out_wipe:
	memzero_explicit(secret, sizeof(secret));
	memzero_explicit(kek, sizeof(kek));
	memzero_explicit(tk, sizeof(tk));
out_free:
	kfree(rs);
	kfree_sensitive(t);
	return ret;
}

static int kcm_sev_exchange(struct kcm_session *s, const void *in, u32 in_len,
			    void *out, bool *done)
{
	struct kcm_sev *sev = to_sev(s);
	int ret;

	if (s->role == KVM_COCO_MIG_ROLE_SOURCE) {
		ret = kcm_sev_start(s, in, in_len, out);
		*done = !ret;
		return ret;
	}
	if (!sev->have_evidence) {
		*done = false;
		return kcm_sev_evidence(s, in, in_len, out);
	}
	ret = kcm_sev_accept(s, in, in_len);
	*done = !ret;
	return ret;
}

/* The page behind @gfn, pinned (for writing on the target). */
static int kcm_sev_pin_gfn(struct kcm_session *s, u64 gfn, bool write,
			   struct page **page)
{
	struct kvm_memory_slot *slot;
	unsigned long hva;
	int ret;

	slot = gfn_to_memslot(s->kvm, gfn);
	if (!slot || kvm_slot_can_be_private(slot) ||
	    (write && (slot->flags & KVM_MEM_READONLY)))
		return -ENOENT;
	hva = gfn_to_hva_memslot(slot, gfn);
	if (kvm_is_error_hva(hva))
		return -ENOENT;
	ret = pin_user_pages_fast(hva, 1, write ? FOLL_WRITE : 0, page);
	if (ret == 1)
		return 0;
	return ret < 0 ? ret : -EFAULT;
}

/* The system physical address of a page, as the firmware takes it. */
static u64 kcm_sev_page_pa(struct kcm_sev *sev, struct page *page)
{
	return page_to_phys(page) | sev->fw->c_bit;
}

static long kcm_sev_window(struct kcm_sev_stream *st, const void __user *ubuf,
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
		kcm_window_unpin(&st->win);
		return -EFAULT;
	}
	return 0;
}

/*
 * SEND_UPDATE_DATA of the page at @pa into the stream's firmware packet.
 * The header and the ciphertext are written to kernel memory, never to
 * the VMM's buffer, and sealed from there.
 */
static int kcm_sev_send_data(struct kcm_session *s, struct kcm_sev_stream *st,
			     u64 pa)
{
	struct sev_data_send_update_data d = {
		.handle = to_sev(s)->vm.handle,
		.hdr_address = __psp_pa(st->fw->hdr),
		.hdr_len = KCM_SEV_HDR_LEN,
		.guest_address = pa,
		.guest_len = PAGE_SIZE,
		.trans_address = __psp_pa(st->fw->trans),
		.trans_len = PAGE_SIZE,
	};

	return kcm_sev_cmd(s, SEV_CMD_SEND_UPDATE_DATA, &d);
}

/*
 * Package @gfn as its next version: the version is taken, the firmware
 * reads the page and the version is recorded with every other stream kept
 * off the gfn (its hashed lock), so that of two streams packaging one gfn
 * the newer version read the page later. Then the packet is copied out.
 */
static long kcm_sev_package_one(struct kcm_session *s, u32 stream, u64 gfn,
				u8 __user *ubuf, u64 len, u64 off)
{
	struct kcm_sev *sev = to_sev(s);
	struct kcm_sev_stream *st = &sev->streams[stream];
	struct kcm_pkt p = { .type = KCM_PKT_PAGE, .gfn = gfn, .stream = stream };
	struct page *page;
	long woff;
	int ret;

	ret = kcm_sev_pin_gfn(s, gfn, false, &page);
	if (ret)
		return ret;
	kcm_seq_lock(&sev->map, gfn);
	p.gen = atomic64_inc_return(&sev->gen);
	ret = p.gen > KCM_SEQ_MAX ? -EOVERFLOW : 0;
	if (!ret)
		ret = kcm_sev_send_data(s, st, kcm_sev_page_pa(sev, page));
	if (!ret)
		ret = kcm_chan_seal(&st->aead, sev->sid, &st->seq, &p, st->fw,
				    sizeof(*st->fw), st->pkt);
	if (!ret)
		ret = kcm_seq_record(&sev->map, gfn, p.gen);
	kcm_seq_unlock(&sev->map, gfn);
	unpin_user_page(page);
	if (ret)
		return ret;
	woff = kcm_sev_window(st, ubuf, len, off, KCM_SEV_PACKET_SIZE, true);
	if (woff < 0)
		return woff;
	kcm_window_write(&st->win, woff, st->pkt, KCM_SEV_PACKET_SIZE);
	return KCM_SEV_PACKET_SIZE;
}

static int kcm_sev_package(struct kcm_session *s, u32 stream, const u64 *gfns,
			   u32 nr, u8 __user *ubuf, struct kcm_batch *b)
{
	struct kcm_sev *sev = to_sev(s);
	u64 len = (u64)nr * KCM_SEV_PACKET_SIZE;
	struct kvm *kvm = s->kvm;
	int idx, ret = 0;
	long n;
	u32 i;

	/* Guest pages are pinned through the VM's own address space. */
	if (current->mm != kvm->mm)
		return -EIO;
	if (!sev->keyed)
		return -ENOKEY;
	idx = srcu_read_lock(&kvm->srcu);
	/* Refuse the whole batch before producing anything. */
	for (i = 0; i < nr; i++) {
		struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfns[i]);

		if (!slot || kvm_slot_can_be_private(slot)) {
			ret = -ENOENT;
			goto out;
		}
	}
	for (i = 0; i < nr; i++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (kcm_session_failed(s)) {
			ret = -EIO;
			break;
		}
		n = kcm_sev_package_one(s, stream, gfns[i], ubuf, len, b->bytes);
		if (n < 0) {
			ret = n;
			break;
		}
		b->done = i + 1;
		b->bytes += n;
		cond_resched();
	}
	kcm_window_unpin(&sev->streams[stream].win);
out:
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

/*
 * Copy the next module packet into the stream's kernel buffer and open it:
 * -EINVAL if it runs past the buffer, -EBADMSG or -EPROTONOSUPPORT if it
 * is not authentic or not one this version makes. Return its length.
 */
static long kcm_sev_take(struct kcm_sev *sev, struct kcm_sev_stream *st,
			 const u8 __user *ubuf, u64 len, u64 off,
			 struct kcm_pkt *p)
{
	size_t hlen = sizeof(struct kcm_pkt_hdr);
	u32 wire_len;
	long woff;
	int ret;

	if (len - off < hlen)
		return -EINVAL;
	woff = kcm_sev_window(st, ubuf, len, off, hlen, false);
	if (woff < 0)
		return woff;
	kcm_window_read(&st->win, woff, st->pkt, hlen);
	ret = kcm_pkt_frame(st->pkt, len - off, KCM_SEV_PACKET_SIZE, &wire_len);
	if (ret)
		return ret;
	if (wire_len != KCM_SEV_PACKET_SIZE)
		return -EBADMSG;
	woff = kcm_sev_window(st, ubuf, len, off, wire_len, false);
	if (woff < 0)
		return woff;
	/* A private copy: the VMM cannot change it under the AEAD. */
	kcm_window_read(&st->win, woff, st->pkt, wire_len);
	/* Opened in place: the firmware packet is the payload. */
	ret = kcm_chan_open(&st->aead, sev->sid, st->pkt, sizeof(*st->fw),
			    st->pkt + hlen);
	if (!ret)
		ret = kcm_pkt_decode(st->pkt, wire_len, KCM_PKT_PAGE,
				     sizeof(*st->fw), p);
	if (ret)
		return ret;
	return wire_len;
}

/*
 * RECEIVE_UPDATE_DATA of the stream's firmware packet into the page at
 * @page, with the cache flush KVM does before it.
 */
static int kcm_sev_receive_data(struct kcm_session *s, struct kcm_sev_stream *st,
				struct page *page)
{
	struct kcm_sev *sev = to_sev(s);
	struct sev_data_receive_update_data d = {
		.handle = sev->vm.handle,
		.hdr_address = __psp_pa(st->fw->hdr),
		.hdr_len = KCM_SEV_HDR_LEN,
		.guest_address = kcm_sev_page_pa(sev, page),
		.guest_len = PAGE_SIZE,
		.trans_address = __psp_pa(st->fw->trans),
		.trans_len = PAGE_SIZE,
	};
	void *va;

	if (!boot_cpu_has(X86_FEATURE_SME_COHERENT)) {
		va = kmap_local_page(page);
		clflush_cache_range(va, PAGE_SIZE);
		kunmap_local(va);
	}
	return kcm_sev_cmd(s, SEV_CMD_RECEIVE_UPDATE_DATA, &d);
}

/*
 * Install version @p->gen of @p->gfn if it is newer than the one the
 * target holds; the firmware checks the page's own MAC. The check, the
 * command and the record are made under the gfn's hashed lock.
 */
static int kcm_sev_install(struct kcm_session *s, struct kcm_sev_stream *st,
			   const struct kcm_pkt *p, struct kcm_batch *b)
{
	struct kcm_sev *sev = to_sev(s);
	struct page *page;
	bool resent;
	int ret;

	ret = kcm_seq_check(&sev->map, p->gfn, p->gen);
	if (ret == -ESTALE)
		goto out_superseded;
	if (ret)
		return ret;
	ret = kcm_sev_pin_gfn(s, p->gfn, true, &page);
	if (ret)
		return ret;
	kcm_seq_lock(&sev->map, p->gfn);
	ret = kcm_seq_check(&sev->map, p->gfn, p->gen);
	resent = kcm_seq_has(&sev->map, p->gfn);
	if (!ret)
		ret = kcm_sev_receive_data(s, st, page);
	if (!ret)
		ret = kcm_seq_record(&sev->map, p->gfn, p->gen);
	kcm_seq_unlock(&sev->map, p->gfn);
	unpin_user_pages_dirty_lock(&page, 1, true);
	if (!ret && resent)
		b->resent++;
	if (ret != -ESTALE)
		return ret;
out_superseded:
	b->superseded++;
	return 0;
}

static int kcm_sev_receive(struct kcm_session *s, u32 stream,
			   const u8 __user *ubuf, u64 len, u32 nr,
			   struct kcm_batch *b)
{
	struct kcm_sev *sev = to_sev(s);
	struct kcm_sev_stream *st = &sev->streams[stream];
	struct kvm *kvm = s->kvm;
	struct kcm_pkt p;
	int idx, ret = 0;
	long n;
	u32 i;

	if (current->mm != kvm->mm)
		return -EIO;
	if (!sev->keyed)
		return -ENOKEY;
	idx = srcu_read_lock(&kvm->srcu);
	for (i = 0; i < nr; i++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (kcm_session_failed(s)) {
			ret = -EIO;
			break;
		}
		n = kcm_sev_take(sev, st, ubuf, len, b->bytes, &p);
		/* Authentic, but not as this version makes it? */
		if (n > 0 && (p.flags || memchr_inv(st->fw->pad, 0,
						    sizeof(st->fw->pad))))
			n = -EBADMSG;
		if (n == -EBADMSG || n == -EPROTONOSUPPORT) {
			b->refused++;
			kcm_session_fail(s);
			ret = n;
			break;
		}
		if (n < 0) {
			ret = n;
			break;
		}
		if (p.stream != stream)
			ret = -EINVAL;
		else if (p.seq <= st->seq)
			ret = -ESTALE;
		else
			ret = kcm_sev_install(s, st, &p, b);
		if (ret == -EBADMSG)
			/* The firmware's MAC failed: tampering. */
			kcm_session_fail(s);
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
	memzero_explicit(st->pkt, KCM_SEV_PACKET_SIZE);
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

static int kcm_sev_finish_source(struct kcm_session *s, const void *in,
				 u32 in_len, void *out)
{
	struct kcm_pkt p = { .type = KCM_PKT_FINAL, .stream = KCM_PKT_CTL_STREAM };
	struct kcm_sev *sev = to_sev(s);
	struct kcm_sev_final *rec;
	size_t rec_len;
	int ret;

	if (!sev->keyed)
		return -ENOKEY;
	rec_len = struct_size(rec, vm_state, in_len);
	rec = kzalloc(rec_len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!rec)
		return -ENOMEM;
	rec->pages = cpu_to_le64(kcm_seq_pages(&sev->map));
	rec->vcpus = cpu_to_le32(sev->vcpus);
	kcm_seq_digest(&sev->map, rec->digest);
	memcpy(rec->vm_state, in, in_len);
	ret = kcm_chan_seal(&sev->ctl, sev->sid, &sev->ctl_seq, &p, rec, rec_len,
			    out);
	kfree_sensitive(rec);
	return ret;
}

/*
 * Target: authenticate the final record, check it against what was
 * installed, and only then RECEIVE_FINISH. A record that fails, or a
 * RECEIVE_FINISH the firmware refuses, poisons the session.
 */
static int kcm_sev_finish_target(struct kcm_session *s, const void *in,
				 u32 in_len, void *out)
{
	struct kcm_sev *sev = to_sev(s);
	u8 digest[KCM_DIGEST_SIZE];
	struct kcm_sev_final *rec;
	size_t rec_len;
	struct kcm_pkt p;
	long state_len;
	int ret;

	if (!sev->keyed)
		return -ENOKEY;
	state_len = kcm_sev_record_len(in, in_len, sizeof(*rec));
	if (state_len <= 0)
		return -EINVAL;
	rec_len = struct_size(rec, vm_state, state_len);
	rec = kzalloc(rec_len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!rec)
		return -ENOMEM;

	ret = kcm_chan_open(&sev->ctl, sev->sid, in, rec_len, rec);
	if (!ret && ((const struct kcm_pkt_hdr *)in)->type != KCM_PKT_FINAL) {
		ret = -EINVAL;
		goto out;
	}
	if (!ret)
		ret = kcm_pkt_decode(in, in_len, KCM_PKT_FINAL, rec_len, &p);
	if (!ret && rec->reserved)
		ret = -EBADMSG;
	if (!ret && (p.seq != sev->ctl_in + 1 ||
		     le32_to_cpu(rec->vcpus) != sev->vcpus))
		ret = -ENODATA;
	if (!ret) {
		kcm_seq_digest(&sev->map, digest);
		if (le64_to_cpu(rec->pages) != kcm_seq_pages(&sev->map) ||
		    crypto_memneq(digest, rec->digest, sizeof(digest)))
			ret = -ENODATA;
	}
	if (!ret) {
		ret = kcm_sev_handle_cmd(s, SEV_CMD_RECEIVE_FINISH);
		if (!ret)
			sev->receiving = false;
	}
	if (ret) {
		kcm_sev_end_streams_keys(sev);
		kcm_session_fail(s);
		goto out;
	}
	kcm_sev_forget_keys(sev);
	memcpy(out, rec->vm_state, state_len);
out:
	kfree_sensitive(rec);
	return ret;
}

static int kcm_sev_finish(struct kcm_session *s, const void *in, u32 in_len,
			  void *out)
{
	if (s->role == KVM_COCO_MIG_ROLE_SOURCE)
		return kcm_sev_finish_source(s, in, in_len, out);
	return kcm_sev_finish_target(s, in, in_len, out);
}

/**
 * kcm_sev_send_vmsa - SEND_UPDATE_VMSA of the VMSA at @pa into @fw
 * @s: the session
 * @fw: the firmware packet to fill
 * @pa: the VMSA's system physical address, C-bit included
 *
 * On 6.12 sev_do_cmd() copies 48 bytes of this command to the PSP, so the
 * firmware never sees the trans_len we set and reads whatever the previous
 * command left in bytes 48-51 of the PSP's command buffer; it copies 48
 * bytes back. The firmware checks only that trans_len is at least guest_len
 * and writes guest_len bytes, which our buffer has room for whatever the
 * stale value is. So the command is primed: a SEND_UPDATE_DATA size query
 * (hdr_len 0; the firmware refuses it with INVALID_LENGTH before looking
 * at anything else, and changes nothing) puts our 52 bytes, trans_len =
 * PAGE_SIZE included, into the command buffer, and the VMSA command right
 * after it finds them there. Another user of the PSP may issue a command
 * between the two (sev_do_cmd() takes the PSP's mutex for each): then the
 * stale trans_len may be short, the firmware refuses the command with
 * INVALID_LENGTH, also before any change, and it is primed and issued
 * again, up to KCM_SEV_VMSA_TRIES times (-EAGAIN).
 */
static int kcm_sev_send_vmsa(struct kcm_session *s, struct kcm_sev_fw_pkt *fw,
			     u64 pa)
{
	struct kcm_sev *sev = to_sev(s);
	struct sev_data_send_update_data d;
	int i, ret, status;

	/* Written back by the guest's last VMEXIT: from the cache to memory. */
	if (!boot_cpu_has(X86_FEATURE_SME_COHERENT))
		clflush_cache_range(__va(pa & ~sev->fw->c_bit), PAGE_SIZE);
	for (i = 0; i < KCM_SEV_VMSA_TRIES; i++) {
		struct sev_data_send_update_data q = {
			.handle = sev->vm.handle,
			.trans_len = PAGE_SIZE,
		};

		status = 0;
		ret = sev->fw->do_cmd(s->kvm, SEV_CMD_SEND_UPDATE_DATA, &q, &status);
		if (ret != -EIO || status != SEV_RET_INVALID_LEN)
			return kcm_sev_failed(s, SEV_CMD_SEND_UPDATE_DATA,
					      ret ?: -EIO, status);

		/* Laid out as the firmware reads it: 52 bytes, as for DATA. */
		d = (struct sev_data_send_update_data) {
			.handle = sev->vm.handle,
			.hdr_address = __psp_pa(fw->hdr),
			.hdr_len = KCM_SEV_HDR_LEN,
			.guest_address = pa,
			.guest_len = PAGE_SIZE,
			.trans_address = __psp_pa(fw->trans),
			.trans_len = PAGE_SIZE,
		};
		status = 0;
		ret = sev->fw->do_cmd(s->kvm, SEV_CMD_SEND_UPDATE_VMSA, &d, &status);
		if (!ret)
			return 0;
		if (ret != -EIO || status != SEV_RET_INVALID_LEN)
			return kcm_sev_failed(s, SEV_CMD_SEND_UPDATE_VMSA, ret, status);
		cond_resched();
	}
	kcm_sev_failed(s, SEV_CMD_SEND_UPDATE_VMSA, ret, status);
	return -EAGAIN;
}

static int kcm_sev_receive_vmsa(struct kcm_session *s,
				struct kcm_sev_fw_pkt *fw, u64 pa)
{
	struct sev_data_receive_update_vmsa d = {
		.handle = to_sev(s)->vm.handle,
		.hdr_address = __psp_pa(fw->hdr),
		.hdr_len = KCM_SEV_HDR_LEN,
		.guest_address = pa,
		.guest_len = PAGE_SIZE,
		.trans_address = __psp_pa(fw->trans),
		.trans_len = PAGE_SIZE,
	};

	if (!boot_cpu_has(X86_FEATURE_SME_COHERENT))
		clflush_cache_range(__va(pa & ~to_sev(s)->fw->c_bit), PAGE_SIZE);
	return kcm_sev_cmd(s, SEV_CMD_RECEIVE_UPDATE_VMSA, &d);
}

/*
 * A vCPU's record on the control stream, the vCPU id in the header's gfn
 * field: the VMM's state, and for SEV-ES first the firmware's VMSA packet.
 * The target checks it as the sw backend does (authentic, @vcpu's, next in
 * the stream), then, for SEV-ES, RECEIVE_UPDATE_VMSA writes the VMSA.
 */
static int kcm_sev_vcpu(struct kcm_session *s, struct kvm_vcpu *vcpu,
			const void *in, u32 in_len, void *out)
{
	struct kcm_pkt p = { .type = KCM_PKT_VCPU, .stream = KCM_PKT_CTL_STREAM };
	struct kcm_sev *sev = to_sev(s);
	size_t fixed = kcm_sev_vcpu_fixed(sev);
	struct kcm_sev_vcpu_rec *rec = NULL;
	long rec_len;
	u64 pa = 0;
	int ret;

	if (!sev->keyed)
		return -ENOKEY;
	if (sev->vm.es) {
		pa = sev->fw->vmsa_pa(vcpu);
		if (!pa)
			return -ENXIO;
	}

	if (s->role == KVM_COCO_MIG_ROLE_SOURCE) {
		rec_len = fixed + in_len;
		rec = kzalloc(rec_len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!rec)
			return -ENOMEM;
		ret = 0;
		if (sev->vm.es)
			ret = kcm_sev_send_vmsa(s, &rec->vmsa, pa);
		memcpy((u8 *)rec + fixed, in, in_len);
		p.gfn = vcpu->vcpu_id;
		if (!ret)
			ret = kcm_chan_seal(&sev->ctl, sev->sid, &sev->ctl_seq, &p,
					    rec, rec_len, out);
		if (!ret)
			sev->vcpus++;
		goto out_free;
	}

	rec_len = kcm_sev_record_len(in, in_len, 0);
	if (rec_len <= (long)fixed)
		return -EINVAL;
	rec = kzalloc(rec_len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!rec)
		return -ENOMEM;
	ret = kcm_chan_open(&sev->ctl, sev->sid, in, rec_len, rec);
	if (!ret && ((const struct kcm_pkt_hdr *)in)->type != KCM_PKT_VCPU) {
		ret = -EINVAL;
		goto out_free;
	}
	if (!ret)
		ret = kcm_pkt_decode(in, in_len, KCM_PKT_VCPU, rec_len, &p);
	if (!ret && sev->vm.es && memchr_inv(rec->vmsa.pad, 0, sizeof(rec->vmsa.pad)))
		ret = -EBADMSG;
	if (ret == -EBADMSG || ret == -EPROTONOSUPPORT) {
		kcm_session_fail(s);
		goto out_free;
	}
	if (ret)
		goto out_free;
	ret = -ESTALE;
	if (p.seq <= sev->ctl_in)
		goto out_free;
	ret = -ENOMSG;
	if (p.seq != sev->ctl_in + 1)
		goto out_free;
	ret = -EINVAL;
	if (p.gfn != vcpu->vcpu_id)
		goto out_free;
	if (sev->vm.es) {
		ret = kcm_sev_receive_vmsa(s, &rec->vmsa, pa);
		if (ret == -EBADMSG)
			kcm_session_fail(s);
		if (ret)
			goto out_free;
		sev->fw->vmsa_received(vcpu);
	}
	memcpy(out, (u8 *)rec + fixed, rec_len - fixed);
	sev->ctl_in = p.seq;
	sev->vcpus++;
	ret = 0;
out_free:
	kfree_sensitive(rec);
	return ret;
}

/* Source: CANCEL or a verified abort token; the guest runs on. */
static void kcm_sev_cancel(struct kcm_session *s)
{
	struct kcm_sev *sev = to_sev(s);

	if (sev->sending && !kcm_sev_handle_cmd(s, SEV_CMD_SEND_CANCEL))
		sev->sending = false;
	kcm_sev_forget_keys(sev);
}

static void kcm_sev_end_streams(struct kcm_session *s)
{
	kcm_sev_end_streams_keys(to_sev(s));
}

/* The abort token, as the sw backend's (sw.c, kcm_sw_abort()). */
static int kcm_sev_abort(struct kcm_session *s, const void *in, u32 in_len,
			 void *out)
{
	struct kcm_pkt p = { .type = KCM_PKT_ABORT, .stream = KCM_PKT_CTL_STREAM };
	struct kcm_sev *sev = to_sev(s);
	struct kcm_sev_abort *ab;
	u8 *buf;
	int ret;

	if (!sev->ctl.tfm)
		return -ENOKEY;
	buf = kzalloc(KCM_SEV_TOKEN_SIZE + sizeof(*ab), GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;
	ab = (struct kcm_sev_abort *)(buf + KCM_SEV_TOKEN_SIZE);

	if (s->role == KVM_COCO_MIG_ROLE_TARGET) {
		if (!sev->have_token) {
			ab->magic = cpu_to_le32(KCM_SEV_ABORT_MAGIC);
			ret = kcm_chan_seal(&sev->ctl, sev->sid, &sev->ctl_seq, &p,
					    ab, sizeof(*ab), buf);
			if (ret)
				goto out_free;
			memcpy(sev->token, buf, sizeof(sev->token));
			sev->have_token = true;
		}
		memcpy(out, sev->token, sizeof(sev->token));
		ret = 0;
		goto out_free;
	}

	ret = -EINVAL;
	if (in_len != KCM_SEV_TOKEN_SIZE)
		goto out_free;
	memcpy(buf, in, in_len);
	ret = kcm_chan_open(&sev->ctl, sev->sid, buf, sizeof(*ab), ab);
	if (!ret)
		ret = kcm_pkt_decode(buf, in_len, KCM_PKT_ABORT, sizeof(*ab), &p);
	if (!ret && (le32_to_cpu(ab->magic) != KCM_SEV_ABORT_MAGIC || ab->reserved))
		ret = -EBADMSG;
out_free:
	kfree_sensitive(buf);
	return ret;
}

const struct kcm_backend kcm_sev_backend = {
	.name			= "sev",
	.id			= KVM_COCO_MIG_BACKEND_SEV,
	.max_packet		= KCM_SEV_PACKET_SIZE,
	.max_streams		= KVM_COCO_MIG_MAX_STREAMS,
	.max_in_len		= KVM_COCO_MIG_MAX_BLOB,
	.features		= KVM_COCO_MIG_F_DIRTY_TRACKING |
				  KVM_COCO_MIG_F_MUTUAL_AUTH |
				  KVM_COCO_MIG_F_SHARED_DIRTY |
				  KVM_COCO_MIG_F_VCPU_RECORDS,
	.track			= &kcm_log_all_track_ops,
	.max_record_len		= kcm_pkt_wire_size(sizeof(struct kcm_sev_final) +
						    KVM_COCO_MIG_MAX_BLOB),
	.max_vcpu_state		= KVM_COCO_MIG_MAX_VCPU_STATE,
	.max_vcpu_record	= kcm_pkt_wire_size(sizeof(struct kcm_sev_vcpu_rec) +
						    KVM_COCO_MIG_MAX_VCPU_STATE),
	.session_init		= kcm_sev_session_init,
	.session_destroy	= kcm_sev_session_destroy,
	.out_size		= kcm_sev_out_size,
	.exchange		= kcm_sev_exchange,
	.package		= kcm_sev_package,
	.receive		= kcm_sev_receive,
	.finish			= kcm_sev_finish,
	.vcpu			= kcm_sev_vcpu,
	.cancel			= kcm_sev_cancel,
	.end_streams		= kcm_sev_end_streams,
	.abort			= kcm_sev_abort,
};
EXPORT_SYMBOL_IF_KUNIT(kcm_sev_backend);
