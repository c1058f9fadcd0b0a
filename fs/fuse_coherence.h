/* SPDX-License-Identifier: MIT */
/*
 * fuse_coherence.c: direct_io writes kept coherent with a shared mapping of
 * the same file (the theory is at the top of fuse_coherence.c).
 */
#ifndef PMEMFS_FUSE_COHERENCE_H
#define PMEMFS_FUSE_COHERENCE_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A direct write in progress, on the writer's stack. */
struct pmemfs_coh_write {
	uint64_t ino, off, end;
	struct pmemfs_coh_write *next;
};

/* Before a direct write's data is stored: open its window. */
void pmemfs_coh_write_begin(struct pmemfs_coh_write *w, uint64_t ino, uint64_t off,
			    size_t len);

/*
 * After the store (stored: bytes stored, 0 for none): when the inode may
 * have pages in the kernel's page cache, has the kernel invalidate them
 * over the range (laundering dirty ones), then closes the window. Call it
 * before the reply, holding no lock a write-back needs. When too many
 * requests already wait so, a helper thread does it after the reply,
 * the window staying open until then.
 */
void pmemfs_coh_write_end(struct fuse_session *se, fuse_req_t req, struct pmemfs_coh_write *w,
			  size_t stored);

/* The server's /dev/fuse loop: max_threads workers, or a single thread. */
void pmemfs_coh_set_workers(int max_threads, bool single);

/* At the end of the session: stop the helper thread. */
void pmemfs_coh_stop(void);

/* A READ that fills the page cache (no lock owner): the inode has pages. */
void pmemfs_coh_note_cached(uint64_t ino);

/*
 * A write-back of cached pages (FUSE_WRITE_CACHE) of len bytes at off:
 * apply(ctx, off, skip, n) is called for each part that no open window
 * covers (skip: its distance from off), with new windows held off until it
 * returns. Returns 0 or the first apply's -errno.
 */
typedef int (*pmemfs_coh_apply_fn)(void *ctx, uint64_t off, uint64_t skip, uint64_t n);
int pmemfs_coh_write_back(uint64_t ino, uint64_t off, size_t len, pmemfs_coh_apply_fn apply,
			  void *ctx);

/* The kernel forgot the inode: its page cache is gone. */
void pmemfs_coh_forget(uint64_t ino);

#endif /* PMEMFS_FUSE_COHERENCE_H */
