/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A window of a user buffer, pinned, so that a batch of packets can be
 * sealed straight into it (or read from it) without a bounce buffer and one
 * user copy per packet.
 */
#ifndef __KVM_COCO_MIG_WINDOW_H
#define __KVM_COCO_MIG_WINDOW_H

#include <linux/types.h>

struct page;
struct scatterlist;

/* Pages pinned at a time: 256 KiB, about 63 page packets. */
#define KCM_WINDOW_PAGES	64

/**
 * struct kcm_window - up to %KCM_WINDOW_PAGES pinned pages of a user buffer
 * @pages: the pinned pages, in address order
 * @uaddr: the user address the window's offset 0 stands for
 * @nr: pages pinned; 0 when the window is empty
 * @write: pinned for writing: the pages are dirtied on unpin
 */
struct kcm_window {
	struct page *pages[KCM_WINDOW_PAGES];
	unsigned long uaddr;
	unsigned int nr;
	bool write;
};

long kcm_window_pin(struct kcm_window *w, unsigned long uaddr, size_t len,
		    bool write);
void kcm_window_unpin(struct kcm_window *w);
unsigned int kcm_window_sg(const struct kcm_window *w, size_t off, size_t len,
			   struct scatterlist *sg, unsigned int max);
void kcm_window_read(const struct kcm_window *w, size_t off, void *dst,
		     size_t len);
void kcm_window_write(const struct kcm_window *w, size_t off, const void *src,
		      size_t len);

#endif /* __KVM_COCO_MIG_WINDOW_H */
