// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-coco-mig-bench: the raw cost of the sw backend's AEAD, for make bench.
 *
 * Reading /sys/kernel/debug/kvm-coco-mig-bench/aead measures, there and
 * then, what one page of the sw backend's stream costs the crypto alone:
 * kcm_aead_seal() and kcm_aead_open() (the module's own AES-256-GCM, on
 * the transform the sessions use) of @nr_pages distinct pages of
 * PAGE_SIZE bytes with KCM_PKT_AAD_SIZE bytes of additional data, the
 * sizes of a page packet. As in the sw backend, every seal writes to one
 * reused packet buffer and every open to one reused plaintext buffer. A
 * memcpy() of the same pages to the reused buffer is measured for
 * reference. @nr_pages may be changed between reads (it is writable in
 * /sys/module/kvm_coco_mig_bench/parameters/): make bench takes many
 * short samples, interleaved with what it measures against them. The file
 * reads as "name value" lines:
 *
 *   pages N, page_size, aad_size	what was measured
 *   seal_bytes, seal_ns		plaintext bytes sealed, nanoseconds
 *   open_bytes, open_ns		plaintext bytes opened, nanoseconds
 *   memcpy_bytes, memcpy_ns		bytes copied, nanoseconds
 *
 * Times are ktime_get_ns() around each whole loop. Each read uses a fresh
 * random key; a nonce is never reused under it. The pages hold a fixed
 * pattern: AES-GCM's cost does not depend on the data. Built only with
 * KCM_BENCH=y, against kernels with CONFIG_KUNIT (the kcm_aead_*()
 * functions are exported for tests only).
 */
#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/unaligned.h>

#include "crypto.h"
#include "packet.h"

#define KCM_BENCH_MAX_PAGES	((1U << 30) / PAGE_SIZE)	/* 1 GiB */

static unsigned int nr_pages = 16384;
module_param(nr_pages, uint, 0644);
MODULE_PARM_DESC(nr_pages, "pages sealed and opened per measurement (default 16384: 64 MiB)");

/* One measurement at a time: they would skew each other. */
static DEFINE_MUTEX(kcm_bench_lock);
static struct dentry *kcm_bench_dir;

/**
 * struct kcm_bench - one measurement's buffers
 * @n: pages
 * @src: the plaintext pages
 * @ct: the pages sealed, ciphertext then tag, for the open loop
 * @pkt: where the timed seals write, as the sw backend's packet buffer
 * @plain: where the timed opens and copies write
 * @aead: a freshly keyed context
 */
struct kcm_bench {
	unsigned int n;
	struct page **src;
	u8 **ct;
	u8 *pkt;
	u8 *plain;
	struct kcm_aead aead;
};

static void kcm_bench_free(struct kcm_bench *b)
{
	unsigned int i;

	kcm_aead_destroy(&b->aead);
	/* The first @b->n entries of both arrays are allocated. */
	for (i = 0; i < b->n; i++) {
		__free_page(b->src[i]);
		kfree(b->ct[i]);
	}
	kvfree(b->src);
	kvfree(b->ct);
	kfree(b->pkt);
	kfree(b->plain);
}

static int kcm_bench_alloc(struct kcm_bench *b, unsigned int n)
{
	u8 key[KCM_AEAD_KEY_SIZE];
	unsigned int i;
	int ret;

	memset(b, 0, sizeof(*b));
	b->src = kvcalloc(n, sizeof(*b->src), GFP_KERNEL);
	b->ct = kvcalloc(n, sizeof(*b->ct), GFP_KERNEL);
	b->pkt = kmalloc(PAGE_SIZE + KCM_AEAD_TAG_SIZE, GFP_KERNEL);
	b->plain = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!b->src || !b->ct || !b->pkt || !b->plain)
		goto e_nomem;
	for (b->n = 0; b->n < n; b->n++) {
		b->src[b->n] = alloc_page(GFP_KERNEL);
		b->ct[b->n] = kmalloc(PAGE_SIZE + KCM_AEAD_TAG_SIZE, GFP_KERNEL);
		if (!b->src[b->n] || !b->ct[b->n]) {
			/* Free what this step got: b->n entries are whole. */
			if (b->src[b->n])
				__free_page(b->src[b->n]);
			kfree(b->ct[b->n]);
			goto e_nomem;
		}
		for (i = 0; i < PAGE_SIZE; i += sizeof(u64))
			put_unaligned_le64(b->n * 0x9e3779b97f4a7c15ull + i,
					   page_address(b->src[b->n]) + i);
		cond_resched();
	}

	get_random_bytes(key, sizeof(key));
	ret = kcm_aead_init(&b->aead, key);
	memzero_explicit(key, sizeof(key));
	if (ret)
		kcm_bench_free(b);
	return ret;

e_nomem:
	kcm_bench_free(b);
	return -ENOMEM;
}

/* Nonce number @ctr; numbers are never reused under one key. */
static void kcm_bench_nonce(u8 nonce[KCM_AEAD_NONCE_SIZE], u64 ctr)
{
	memset(nonce, 0, KCM_AEAD_NONCE_SIZE);
	put_unaligned_le64(ctr, nonce);
}

/* A packet's additional data: session id and header; only the gfn varies. */
static void kcm_bench_aad(u8 aad[KCM_PKT_AAD_SIZE], unsigned int i)
{
	memset(aad, 0, KCM_PKT_AAD_SIZE);
	put_unaligned_le64(i, aad + KCM_SESSION_ID_SIZE + 8);
}

/*
 * Seal page @i: into @b's ciphertext array (nonce @i + 1), or into the
 * reused packet buffer (nonce @b->n + @i + 1).
 */
static int kcm_bench_seal(struct kcm_bench *b, unsigned int i, bool to_ct)
{
	u8 aad[KCM_PKT_AAD_SIZE], nonce[KCM_AEAD_NONCE_SIZE];

	kcm_bench_aad(aad, i);
	kcm_bench_nonce(nonce, (to_ct ? 0 : (u64)b->n) + i + 1);
	return kcm_aead_seal(&b->aead, nonce, aad, sizeof(aad),
			     page_address(b->src[i]), PAGE_SIZE,
			     to_ct ? b->ct[i] : b->pkt);
}

static int kcm_bench_open(struct kcm_bench *b, unsigned int i)
{
	u8 aad[KCM_PKT_AAD_SIZE], nonce[KCM_AEAD_NONCE_SIZE];

	kcm_bench_aad(aad, i);
	kcm_bench_nonce(nonce, (u64)i + 1);
	return kcm_aead_open(&b->aead, nonce, aad, sizeof(aad), b->ct[i],
			     PAGE_SIZE, b->plain);
}

enum kcm_bench_op { KCM_BENCH_SEAL, KCM_BENCH_OPEN, KCM_BENCH_MEMCPY };

/* Run @op over every page; the nanoseconds it took in @ns. */
static int kcm_bench_loop(struct kcm_bench *b, enum kcm_bench_op op, u64 *ns)
{
	unsigned int i;
	u64 start;
	int ret = 0;

	start = ktime_get_ns();
	for (i = 0; i < b->n && !ret; i++) {
		if (fatal_signal_pending(current))
			return -EINTR;
		switch (op) {
		case KCM_BENCH_SEAL:
			ret = kcm_bench_seal(b, i, false);
			break;
		case KCM_BENCH_OPEN:
			ret = kcm_bench_open(b, i);
			break;
		case KCM_BENCH_MEMCPY:
			memcpy(b->plain, page_address(b->src[i]), PAGE_SIZE);
			break;
		}
		/* As the sw backend does between pages. */
		cond_resched();
	}
	*ns = ktime_get_ns() - start;
	return ret;
}

static int kcm_bench_aead_show(struct seq_file *m, void *v)
{
	u64 seal_ns, open_ns, memcpy_ns, bytes;
	struct kcm_bench b;
	unsigned int i, n = READ_ONCE(nr_pages);
	int ret;

	if (!n || n > KCM_BENCH_MAX_PAGES)
		return -EINVAL;
	if (mutex_lock_killable(&kcm_bench_lock))
		return -EINTR;
	ret = kcm_bench_alloc(&b, n);
	if (ret)
		goto out_unlock;

	/* The ciphertexts to open, untimed; this also warms the transform. */
	for (i = 0; i < n && !ret; i++) {
		ret = kcm_bench_seal(&b, i, true);
		cond_resched();
	}
	if (!ret)
		ret = kcm_bench_loop(&b, KCM_BENCH_SEAL, &seal_ns);
	if (!ret)
		ret = kcm_bench_loop(&b, KCM_BENCH_OPEN, &open_ns);
	if (!ret)
		ret = kcm_bench_loop(&b, KCM_BENCH_MEMCPY, &memcpy_ns);
	kcm_bench_free(&b);
	if (ret)
		goto out_unlock;

	bytes = (u64)n * PAGE_SIZE;
	seq_printf(m, "pages %u\npage_size %lu\naad_size %zu\n", n, PAGE_SIZE,
		   (size_t)KCM_PKT_AAD_SIZE);
	seq_printf(m, "seal_bytes %llu\nseal_ns %llu\n", bytes, seal_ns);
	seq_printf(m, "open_bytes %llu\nopen_ns %llu\n", bytes, open_ns);
	seq_printf(m, "memcpy_bytes %llu\nmemcpy_ns %llu\n", bytes, memcpy_ns);
out_unlock:
	mutex_unlock(&kcm_bench_lock);
	return ret;
}
DEFINE_SHOW_ATTRIBUTE(kcm_bench_aead);

static int __init kcm_bench_init(void)
{
	kcm_bench_dir = debugfs_create_dir("kvm-coco-mig-bench", NULL);
	debugfs_create_file("aead", 0400, kcm_bench_dir, NULL,
			    &kcm_bench_aead_fops);
	return 0;
}
module_init(kcm_bench_init);

static void __exit kcm_bench_exit(void)
{
	debugfs_remove_recursive(kcm_bench_dir);
}
module_exit(kcm_bench_exit);

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
MODULE_DESCRIPTION("kvm-coco-mig: raw AEAD throughput for make bench");
MODULE_LICENSE("GPL");
