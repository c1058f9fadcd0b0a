// SPDX-License-Identifier: MIT
/*
 * Direct writes kept coherent with shared mappings (direct_io mode).
 *
 * The problem. With FOPEN_DIRECT_IO and FUSE_DIRECT_IO_ALLOW_MMAP the
 * kernel writes back and drops the cached pages of a write's range BEFORE
 * it sends the WRITE, and does nothing after. A page fault in between
 * reads the page from us with the old bytes; a store through the mapping
 * dirties it; we store the write's bytes; later the page is written back
 * (a WRITE with FUSE_WRITE_CACHE) as a whole, old bytes included, over the
 * direct write: a byte written and acknowledged is undone. A clean stale
 * page is not lost data but shows old bytes through the mapping.
 *
 * The fix, for inodes that may have cached pages:
 *  1. a direct write opens a window over its range before its data is
 *     stored (pmemfs_coh_write_begin);
 *  2. after storing, the adapter has the kernel invalidate the pages of the
 *     range (notify_inval_inode); a dirty page is laundered first, i.e.
 *     written back to us synchronously, and any write-back in flight on
 *     those pages is waited for;
 *  3. write-backs that arrive while a window is open skip the window's
 *     bytes (pmemfs_coh_write_back): whatever the page held there was read
 *     before the direct write's bytes were stored, or raced with them;
 *  4. the window closes and the write is answered. Every page of the range
 *     cached from then on was read after the store, so a store made through
 *     the mapping after write() returned is never skipped.
 * Write-backs hold off new windows while they store (the stripe lock), so a
 * write-back checked against no window is stored before the write that
 * opens one.
 *
 * Which inodes: the page cache of a direct_io inode is only filled by
 * faults on a mapping, i.e. READs without a lock owner (direct reads carry
 * the caller's) and FUSE_WRITE_CACHE write-backs. Such an inode is noted
 * before its data is read, and a direct write checks for the note after its
 * store: a read that the check missed was noted after it, so read the new
 * bytes. Inodes never mapped pay two uncontended lock pairs per write and no
 * system call. FORGET drops the note (the kernel's inode, and its cache,
 * are gone).
 *
 * The invalidation must not be sent from a thread that has to serve the
 * laundering WRITE, nor under the file system's locks: the adapter sends
 * it after pfs_write returned, through the ring (fuse_uring.c) on a ring
 * thread, which serves its queue meanwhile.
 */
#define FUSE_USE_VERSION 314

#include "fuse_coherence.h"
#include "fuse_uring.h"

#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pmemfs/pmemfs.h"

#define STRIPES 64

struct coh_stripe {
	pthread_mutex_t lock;
	struct pmemfs_coh_write *windows;   /* open windows of this stripe's inodes */
	uint64_t *cached;                   /* inodes that may have cached pages */
	size_t ncached, cap;
};

static struct coh_stripe stripes[STRIPES] = {
	[0 ... STRIPES - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER },
};

static struct coh_stripe *stripe_of(uint64_t ino)
{
	return &stripes[(ino * 0x9e3779b97f4a7c15ULL) >> 58];
}

_Static_assert(STRIPES == 64, "stripe_of takes the top 6 bits");

static size_t cached_find(const struct coh_stripe *s, uint64_t ino)
{
	size_t i;

	for (i = 0; i < s->ncached && s->cached[i] != ino; i++)
		;
	return i;
}

/* Called with the stripe locked. Failing to note costs coherence: keep trying. */
static void cached_add(struct coh_stripe *s, uint64_t ino)
{
	if (cached_find(s, ino) < s->ncached)
		return;
	if (s->ncached == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		uint64_t *p = realloc(s->cached, cap * sizeof(*p));

		if (!p)
			return;
		s->cached = p;
		s->cap = cap;
	}
	s->cached[s->ncached++] = ino;
}

void pmemfs_coh_note_cached(uint64_t ino)
{
	struct coh_stripe *s = stripe_of(ino);

	pthread_mutex_lock(&s->lock);
	cached_add(s, ino);
	pthread_mutex_unlock(&s->lock);
}

void pmemfs_coh_forget(uint64_t ino)
{
	struct coh_stripe *s = stripe_of(ino);
	size_t i;

	pthread_mutex_lock(&s->lock);
	i = cached_find(s, ino);
	if (i < s->ncached)
		s->cached[i] = s->cached[--s->ncached];
	pthread_mutex_unlock(&s->lock);
}

void pmemfs_coh_write_begin(struct pmemfs_coh_write *w, uint64_t ino, uint64_t off,
			    size_t len)
{
	struct coh_stripe *s = stripe_of(ino);

	w->ino = ino;
	w->off = off;
	w->end = len > UINT64_MAX - off ? UINT64_MAX : off + len;
	pthread_mutex_lock(&s->lock);
	w->next = s->windows;
	s->windows = w;
	pthread_mutex_unlock(&s->lock);
}

bool pmemfs_coh_write_cached(const struct pmemfs_coh_write *w)
{
	struct coh_stripe *s = stripe_of(w->ino);
	bool cached;

	pthread_mutex_lock(&s->lock);
	cached = cached_find(s, w->ino) < s->ncached;
	pthread_mutex_unlock(&s->lock);
	return cached;
}

void pmemfs_coh_write_end(struct pmemfs_coh_write *w)
{
	struct coh_stripe *s = stripe_of(w->ino);
	struct pmemfs_coh_write **p;

	pthread_mutex_lock(&s->lock);
	for (p = &s->windows; *p && *p != w; p = &(*p)->next)
		;
	if (*p)
		*p = w->next;
	pthread_mutex_unlock(&s->lock);
}

/*
 * From pos: the end of the window covering pos (*covered), or else the start
 * of the next window before end (or end). Called with the stripe locked.
 */
static uint64_t next_boundary(const struct coh_stripe *s, uint64_t ino, uint64_t pos,
			      uint64_t end, bool *covered)
{
	uint64_t next = end;

	*covered = false;
	for (const struct pmemfs_coh_write *w = s->windows; w; w = w->next) {
		if (w->ino != ino || w->end <= pos || w->off >= end)
			continue;
		if (w->off <= pos) {
			*covered = true;
			return w->end < end ? w->end : end;
		}
		if (w->off < next)
			next = w->off;
	}
	return next;
}

int pmemfs_coh_write_back(uint64_t ino, uint64_t off, size_t len, pmemfs_coh_apply_fn apply,
			  void *ctx)
{
	struct coh_stripe *s = stripe_of(ino);
	uint64_t pos = off, end = off + len;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	cached_add(s, ino);
	while (rc == 0 && pos < end) {
		bool covered;
		uint64_t to = next_boundary(s, ino, pos, end, &covered);

		if (!covered)
			rc = apply(ctx, pos, pos - off, to - pos);
		pos = to;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* notify_inval_inode over the range, by the ring when on a ring thread */
int pmemfs_coh_invalidate(struct fuse_session *se, uint64_t ino, uint64_t off, size_t len)
{
	struct fuse_notify_inval_inode_out arg = {
		.ino = ino, .off = (int64_t)off, .len = (int64_t)len,
	};
	struct fuse_out_header out = {
		.len = sizeof(out) + sizeof(arg), .error = FUSE_NOTIFY_INVAL_INODE,
	};
	struct iovec iov[2] = {
		{ .iov_base = &out, .iov_len = sizeof(out) },
		{ .iov_base = &arg, .iov_len = sizeof(arg) },
	};
	int rc = pmemfs_uring_notify(iov, 2);

	if (rc == -EOPNOTSUPP)
		rc = fuse_lowlevel_notify_inval_inode(se, ino, (off_t)off, (off_t)len);
	/* ENOENT: the kernel holds no inode, so no page either */
	if (rc && rc != -ENOENT)
		pfs_log(PFS_LOG_WARN, "inode %llu: invalidating cached pages [%llu, +%zu): %s",
			(unsigned long long)ino, (unsigned long long)off, len, strerror(-rc));
	return rc == -ENOENT ? 0 : rc;
}
