/* SPDX-License-Identifier: MIT */
/*
 * Fault injection for tests: the Nth event of a kind fails, once. Kinds:
 *
 *  - ALLOC:   a heap allocation in the journal, allocator, directory, extent,
 *             xattr and inode-reference paths returns NULL (-ENOMEM).
 *  - SPACE:   pfs_alloc_blocks or pfs_alloc_inode finds no room (-ENOSPC).
 *  - PERSIST: a drain reports that what was flushed may not be durable
 *             (-EIO). On real pmem a fence cannot fail; with msync emulation
 *             msync can. The journal treats a failed drain before its commit
 *             point as a failed transaction (abort) and one at or after it as
 *             "durability unknown" (latch read-only, report -EIO). Crashes,
 *             i.e. stores that never reach the media, are the crash tester's.
 *  - READ:    a metadata read from the media (inode, directory bucket, extent
 *             node, xattr block) fails with -EIO, as unreadable media would.
 *
 * The state hangs off struct pfs_fs (and its pmem seam); NULL, the default,
 * costs one predictable branch per event. Not thread-safe beyond atomic
 * counters: meant for single-threaded unit tests.
 */
#ifndef PFS_FAULT_H
#define PFS_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pfs_fault_kind {
	PFS_FAULT_ALLOC,
	PFS_FAULT_SPACE,
	PFS_FAULT_PERSIST,
	PFS_FAULT_READ,
	PFS_FAULT_KINDS
};

struct pfs_fault {
	uint64_t seen[PFS_FAULT_KINDS];    /* events counted so far */
	uint64_t fail_at[PFS_FAULT_KINDS]; /* event number that fails; 0: none */
	uint64_t fired[PFS_FAULT_KINDS];   /* failures injected */
	bool sticky;                       /* every event from fail_at on fails */
};

struct pfs_fs;

/* Counts one event of kind k; true when it is the one to fail. */
bool pfs_fault_fire(struct pfs_fault *f, enum pfs_fault_kind k);

static inline bool pfs_fault_hit(struct pfs_fault *f, enum pfs_fault_kind k)
{
	return __builtin_expect(f != NULL, 0) && pfs_fault_fire(f, k);
}

/* Attach (f) or detach (NULL) the injection state of a mounted file system. */
void pfs_fault_attach(struct pfs_fs *fs, struct pfs_fault *f);
/*
 * Arms kind k to fail at its nth event from now (0: disarm), and with sticky
 * every later one too (media that stays broken); clears the counts.
 */
void pfs_fault_arm(struct pfs_fault *f, enum pfs_fault_kind k, uint64_t nth, bool sticky);

/* Allocators of the metadata paths: NULL on an injected ALLOC failure. */
void *pfs_malloc(struct pfs_fs *fs, size_t size);
void *pfs_calloc(struct pfs_fs *fs, size_t n, size_t size);

#endif /* PFS_FAULT_H */
