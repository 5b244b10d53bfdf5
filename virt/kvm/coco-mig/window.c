// SPDX-License-Identifier: GPL-2.0
/*
 * Pinned windows of user buffers.
 *
 * PACKAGE_PAGES seals each packet straight into the VMM's buffer: the
 * buffer is pinned %KCM_WINDOW_PAGES pages at a time (one
 * pin_user_pages_fast() per window, not one user copy per packet) and the
 * AEAD writes into its pages through a scatterlist. RECEIVE_PAGES reads
 * through a window too, but copies each packet into a kernel buffer before
 * it looks at it: the VMM could otherwise change the ciphertext between the
 * AEAD's authentication and its decryption of the same bytes.
 *
 * Offsets are relative to the address the window was pinned at.
 */
#include <linux/highmem.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>

#include "window.h"

/**
 * kcm_window_pin - pin the start of a user buffer
 * @w: an empty window
 * @uaddr: the user address of the buffer
 * @len: the buffer's length; only its first %KCM_WINDOW_PAGES pages (fewer
 *	when @uaddr is not page aligned) are pinned
 * @write: the kernel is going to write to the buffer
 *
 * Context: process context; may sleep.
 * Return: the bytes from @uaddr on that are pinned, at most @len and at
 * least one; -EFAULT when not even the first byte could be pinned; or the
 * error of pin_user_pages_fast().
 */
long kcm_window_pin(struct kcm_window *w, unsigned long uaddr, size_t len,
		    bool write)
{
	unsigned long first = uaddr & PAGE_MASK;
	size_t head = uaddr - first;
	unsigned int want;
	int ret;

	if (!len)
		return -EINVAL;
	want = min_t(size_t, KCM_WINDOW_PAGES, DIV_ROUND_UP(head + len, PAGE_SIZE));
	ret = pin_user_pages_fast(first, want, write ? FOLL_WRITE : 0, w->pages);
	if (ret <= 0)
		return ret ? ret : -EFAULT;
	w->uaddr = uaddr;
	w->nr = ret;
	w->write = write;
	return min_t(size_t, len, (size_t)ret * PAGE_SIZE - head);
}

/**
 * kcm_window_unpin - release a window's pages, marking them dirty if the
 * window was pinned for writing
 * @w: the window; empty on return. An empty window is a no-op.
 */
void kcm_window_unpin(struct kcm_window *w)
{
	if (!w->nr)
		return;
	if (w->write)
		unpin_user_pages_dirty_lock(w->pages, w->nr, true);
	else
		unpin_user_pages(w->pages, w->nr);
	w->nr = 0;
}

/* The page and offset in it of window offset @off. */
static struct page *kcm_window_at(const struct kcm_window *w, size_t off,
				  size_t *in_page)
{
	size_t pos = offset_in_page(w->uaddr) + off;

	*in_page = offset_in_page(pos);
	return w->pages[pos >> PAGE_SHIFT];
}

/**
 * kcm_window_sg - describe a range of a window in a scatterlist
 * @w: a pinned window
 * @off: the range's offset
 * @len: its length; the range must lie within the pinned bytes
 * @sg: receives one entry per page the range touches; not initialised or
 *	terminated here
 * @max: the entries @sg has room for
 *
 * Return: the entries used, or 0 if @max is too small.
 */
unsigned int kcm_window_sg(const struct kcm_window *w, size_t off, size_t len,
			   struct scatterlist *sg, unsigned int max)
{
	unsigned int n = 0;

	while (len) {
		size_t in_page, chunk;
		struct page *page = kcm_window_at(w, off, &in_page);

		if (n == max)
			return 0;
		chunk = min(len, PAGE_SIZE - in_page);
		sg_set_page(&sg[n++], page, chunk, in_page);
		off += chunk;
		len -= chunk;
	}
	return n;
}

/* Copy @len bytes between @buf and the window at @off, page by page. */
static void kcm_window_copy(const struct kcm_window *w, size_t off, void *buf,
			    size_t len, bool to_window)
{
	while (len) {
		size_t in_page, chunk;
		struct page *page = kcm_window_at(w, off, &in_page);

		chunk = min(len, PAGE_SIZE - in_page);
		if (to_window)
			memcpy_to_page(page, in_page, buf, chunk);
		else
			memcpy_from_page(buf, page, in_page, chunk);
		buf += chunk;
		off += chunk;
		len -= chunk;
	}
}

/**
 * kcm_window_read - copy bytes out of a window
 * @w: a pinned window
 * @off: offset of the first byte
 * @dst: where to
 * @len: bytes; the range must lie within the pinned bytes
 */
void kcm_window_read(const struct kcm_window *w, size_t off, void *dst,
		     size_t len)
{
	kcm_window_copy(w, off, dst, len, false);
}

/**
 * kcm_window_write - copy bytes into a window pinned for writing
 * @w: the window
 * @off: offset of the first byte
 * @src: where from
 * @len: bytes; the range must lie within the pinned bytes
 */
void kcm_window_write(const struct kcm_window *w, size_t off, const void *src,
		      size_t len)
{
	kcm_window_copy(w, off, (void *)src, len, true);
}
