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
 * laundering WRITE, nor under the file system's locks: it is sent after
 * pfs_write returned, on a thread of the own rings through the ring
 * (fuse_uring.c), which the thread serves meanwhile; else by libfuse to
 * /dev/fuse (fuse_lowlevel_notify_inval_inode), from a /dev/fuse worker
 * while other workers remain to serve the laundering, or from the helper
 * (below). A thread of libfuse's rings (3.18) never waits: it alone serves
 * its queue, so the helper invalidates for it (fuse_compat.h). A waiting
 * write holds its ring entry or /dev/fuse worker, which the laundering
 * WRITE may need, so only a few wait (inval_wait); the others are answered
 * first and the helper invalidates for them (inval_later), their windows
 * open until it is done.
 */
#define FUSE_USE_VERSION 314

#include "fuse_coherence.h"
#include "fuse_compat.h"

#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* ---- the invalidation ---- */

/* Called with the stripe locked. */
static void window_unlink(struct coh_stripe *s, struct pmemfs_coh_write *w)
{
	struct pmemfs_coh_write **p;

	for (p = &s->windows; *p && *p != w; p = &(*p)->next)
		;
	if (*p)
		*p = w->next;
}

static void window_close(struct pmemfs_coh_write *w)
{
	struct coh_stripe *s = stripe_of(w->ino);

	pthread_mutex_lock(&s->lock);
	window_unlink(s, w);
	pthread_mutex_unlock(&s->lock);
}

static bool window_cached(const struct pmemfs_coh_write *w)
{
	struct coh_stripe *s = stripe_of(w->ino);
	bool cached;

	pthread_mutex_lock(&s->lock);
	cached = cached_find(s, w->ino) < s->ncached;
	pthread_mutex_unlock(&s->lock);
	return cached;
}

/*
 * notify_inval_inode through the own ring req came over (ring_req), or
 * through libfuse to /dev/fuse from a thread that serves no request
 * (ring_req NULL).
 */
static int inval_send(struct fuse_session *se, const struct pmemfs_coh_write *w,
		      fuse_req_t ring_req)
{
	uint64_t len = w->end == UINT64_MAX ? 0 : w->end - w->off;   /* 0: to EOF */
	struct fuse_notify_inval_inode_out arg = {
		.ino = w->ino, .off = (int64_t)w->off, .len = (int64_t)len,
	};
	struct fuse_out_header out = {
		.len = sizeof(out) + sizeof(arg), .error = FUSE_NOTIFY_INVAL_INODE,
	};
	struct iovec iov[2] = {
		{ .iov_base = &out, .iov_len = sizeof(out) },
		{ .iov_base = &arg, .iov_len = sizeof(arg) },
	};
	int rc = ring_req ? pmemfs_compat_ring_notify(ring_req, iov, 2) :
		 fuse_lowlevel_notify_inval_inode(se, w->ino, (off_t)w->off, (off_t)len);

	/* ENOENT: the kernel holds no inode, so no page either */
	if (rc && rc != -ENOENT && rc != -EBUSY && rc != -EOPNOTSUPP)
		pfs_log(PFS_LOG_WARN, "inode %llu: invalidating cached pages at %llu: %s",
			(unsigned long long)w->ino, (unsigned long long)w->off, strerror(-rc));
	return rc == -ENOENT ? 0 : rc;
}

/*
 * Waiting for an invalidation holds a request's slot (a ring entry, a
 * worker thread) that the laundering write-back may need. Only a few wait:
 * on a ring thread at most RING_DEPTH - 2 per queue (fuse_uring.c answers
 * -EBUSY beyond), on /dev/fuse workers at most max_threads - 2 (and none
 * single-threaded). Beyond that, a helper thread invalidates after the
 * reply, the window held open until it is done: the write's bytes are
 * safe, but a store through the mapping into those very bytes in the
 * microseconds after write() returned may lose to them.
 */
static atomic_int dev_waiters;
static atomic_int dev_waiters_max = 4;

void pmemfs_coh_set_workers(int max_threads, bool single)
{
	int n = single ? 0 : max_threads - 2;

	atomic_store(&dev_waiters_max, n < 0 ? 0 : n > 4 ? 4 : n);
}

static int inval_wait(struct fuse_session *se, fuse_req_t req, const struct pmemfs_coh_write *w)
{
	int rc = inval_send(se, w, req);

	if (rc != -EOPNOTSUPP)
		return rc;                   /* sent through the ring, or the ring is full */
	if (atomic_fetch_add(&dev_waiters, 1) >= atomic_load(&dev_waiters_max)) {
		atomic_fetch_sub(&dev_waiters, 1);
		return -EBUSY;
	}
	rc = inval_send(se, w, NULL);
	atomic_fetch_sub(&dev_waiters, 1);
	return rc;
}

/* the helper: invalidations after the reply, one at a time */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fuse_session *se;
	pthread_t thread;
	bool started, quit;
} helper = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* A window of the helper's queue: open in its stripe, queued by `queued`. */
struct coh_job {
	struct pmemfs_coh_write w;
	struct coh_job *queued;
};

static struct coh_job *jobs;

static void *helper_main(void *arg)
{
	bool quit;

	(void)arg;
	pthread_mutex_lock(&helper.lock);
	for (;;) {
		struct coh_job *j = jobs;

		if (!j && helper.quit)
			break;
		if (!j) {
			pthread_cond_wait(&helper.cond, &helper.lock);
			continue;
		}
		jobs = j->queued;
		quit = helper.quit;
		pthread_mutex_unlock(&helper.lock);
		if (!quit)
			(void)inval_send(helper.se, &j->w, NULL);
		window_close(&j->w);
		free(j);
		pthread_mutex_lock(&helper.lock);
	}
	pthread_mutex_unlock(&helper.lock);
	return NULL;
}

/* Moves the stack window w into a heap job for the helper; false if it cannot. */
static bool inval_later(struct fuse_session *se, struct pmemfs_coh_write *w)
{
	struct coh_job *j = malloc(sizeof(*j));
	struct coh_stripe *s = stripe_of(w->ino);
	struct coh_job **p = &jobs;
	bool ok;

	if (!j)
		return false;
	pthread_mutex_lock(&helper.lock);
	ok = !helper.quit;
	if (ok && !helper.started) {
		helper.se = se;
		helper.started = pthread_create(&helper.thread, NULL, helper_main, NULL) == 0;
		ok = helper.started;
	}
	if (ok) {
		j->w = *w;
		pthread_mutex_lock(&s->lock);
		window_unlink(s, w);
		j->w.next = s->windows;
		s->windows = &j->w;
		pthread_mutex_unlock(&s->lock);
		j->queued = NULL;
		while (*p)
			p = &(*p)->queued;
		*p = j;
		pthread_cond_signal(&helper.cond);
	}
	pthread_mutex_unlock(&helper.lock);
	if (!ok)
		free(j);
	return ok;
}

void pmemfs_coh_write_end(struct fuse_session *se, fuse_req_t req, struct pmemfs_coh_write *w,
			  size_t stored)
{
	if (stored && se && window_cached(w)) {
		if (w->end != UINT64_MAX) {
			struct coh_stripe *s = stripe_of(w->ino);

			/* write-backs read the window under the stripe lock */
			pthread_mutex_lock(&s->lock);
			w->end = w->off + stored;
			pthread_mutex_unlock(&s->lock);
		}
		if (inval_wait(se, req, w) == -EBUSY && inval_later(se, w))
			return;
	}
	window_close(w);
}

void pmemfs_coh_stop(void)
{
	pthread_mutex_lock(&helper.lock);
	helper.quit = true;
	pthread_cond_signal(&helper.cond);
	pthread_mutex_unlock(&helper.lock);
	if (helper.started)
		pthread_join(helper.thread, NULL);
}
