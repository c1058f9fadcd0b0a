// SPDX-License-Identifier: MIT
/*
 * Stages: zero-copy landing zones for large writes. Theory of operation:
 *
 * A FUSE write reaches the server as bytes the kernel copies into whatever
 * buffer the server reads /dev/fuse into. Read into an ordinary buffer, the
 * data then needs a second copy into pmem. A stage is a set of free device
 * blocks the server reads the request into directly, so that a large,
 * block-aligned write becomes the file's data by relinking blocks instead
 * of copying them (pfs_stage_adopt).
 *
 * A stage is an inode of its own: unlinked, on the persistent orphan list,
 * size 0 (nothing can read it), holding the stage's blocks in its extent
 * map. So its blocks are allocated and counted like any others, and a crash
 * or an unclean unmount frees them at the next mount with the other orphans.
 *
 * Adopting n blocks is one transaction: the written range's old blocks are
 * removed from the file (freed at commit), the stage's first n blocks are
 * inserted in their place, the stage's map is rebuilt from its remaining
 * blocks plus n fresh ones, and the size and times move. The data is
 * flushed before the commit, whose drain makes it durable together with
 * the metadata that reaches it: after a crash the write is whole or absent.
 *
 * The blocks a stage hands out are written by the kernel, not through the
 * pmem-ops layer; pfs_stage_adopt flushes them explicitly.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "pfs.h"

struct pfs_stage {
	uint64_t ino;
	uint64_t nblk;
	struct pfs_extvec map;         /* lblk 0..nblk-1, as the stage inode maps them */
};

/* Allocates n blocks, appending them to vec from lblk *next on. */
static int stage_alloc(struct pfs_tx *tx, uint64_t n, uint64_t *next, struct pfs_extvec *vec)
{
	while (n > 0) {
		uint64_t pblk, got;
		int rc = pfs_alloc_blocks(tx, n, 0, &pblk, &got);

		if (!rc)
			rc = pfs_extvec_push(vec, *next, pblk, got);
		if (rc)
			return rc;
		*next += got;
		n -= got;
	}
	return 0;
}

static int stage_create_tx(struct pfs_tx *tx, uint64_t nblk, struct pfs_stage *st)
{
	struct pfs_fs *fs = tx->fs;
	uint32_t root = (uint32_t)pfs_root_ino(fs), slot;
	struct pfs_inode_pm *ip;
	uint64_t next = 0;
	int rc;

	rc = pfs_alloc_inode(tx, &slot);
	if (!rc)
		rc = pfs_inode_init(tx, slot, S_IFREG | 0600, 0, 0, root, 0, &ip);
	if (!rc)
		rc = pfs_tx_set_u32(tx, &ip->nlink, 0);
	if (!rc)
		rc = stage_alloc(tx, nblk, &next, &st->map);
	for (size_t i = 0; !rc && i < st->map.n; i++)
		rc = pfs_ext_insert(tx, ip, st->map.v[i].lblk, st->map.v[i].pblk,
				    st->map.v[i].len);
	if (!rc)
		rc = pfs_orphan_add(tx, ip);
	if (!rc)
		st->ino = pfs_inode_ino(fs, ip);
	return rc;
}

int pfs_stage_new(struct pfs_fs *fs, uint64_t nblk, struct pfs_stage **out)
{
	struct pfs_stage *st;
	struct pfs_tx *tx;
	int rc;

	if (nblk == 0)
		return -EINVAL;
	if (pfs_is_readonly(fs))
		return -EROFS;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->nblk = nblk;
	pthread_rwlock_wrlock(&fs->lock);
	rc = pfs_tx_begin(fs, &tx);
	if (!rc)
		rc = pfs_tx_end(tx, stage_create_tx(tx, nblk, st));
	/* an open reference: the orphan lives until pfs_stage_free */
	if (!rc)
		rc = pfs_icache_ref(&fs->icache, st->ino, 0, 1);
	pthread_rwlock_unlock(&fs->lock);
	if (rc) {
		/* a committed stage without its reference is reclaimed at the next mount */
		pfs_extvec_free(&st->map);
		free(st);
		return rc;
	}
	*out = st;
	return 0;
}

void pfs_stage_free(struct pfs_fs *fs, struct pfs_stage *st)
{
	if (!st)
		return;
	pfs_release(fs, st->ino);
	pfs_extvec_free(&st->map);
	free(st);
}

int pfs_stage_iov(struct pfs_fs *fs, const struct pfs_stage *st, struct iovec *iov, int max)
{
	if (st->map.n > (size_t)max)
		return -E2BIG;
	for (size_t i = 0; i < st->map.n; i++) {
		iov[i].iov_base = pfs_blk(fs, st->map.v[i].pblk);
		iov[i].iov_len = st->map.v[i].len << PFS_BLOCK_SHIFT;
	}
	return (int)st->map.n;
}

/*
 * Splits the stage's map after n blocks: take gets the first n (lblk in the
 * file, from lblk on), rest the others (lblk from 0 again).
 */
static int stage_split(const struct pfs_stage *st, uint64_t n, uint64_t lblk,
		       struct pfs_extvec *take, struct pfs_extvec *rest, uint64_t *next)
{
	uint64_t done = 0;
	int rc = 0;

	*next = 0;
	for (size_t i = 0; !rc && i < st->map.n; i++) {
		const struct pfs_extent_pm *e = &st->map.v[i];
		uint64_t give = done < n ? (n - done < e->len ? n - done : e->len) : 0;

		if (give)
			rc = pfs_extvec_push(take, lblk + done, e->pblk, give);
		if (!rc && give < e->len) {
			rc = pfs_extvec_push(rest, *next, e->pblk + give, e->len - give);
			*next += e->len - give;
		}
		done += give;
	}
	return rc;
}

/* The kernel's stores into the first n blocks, flushed (the commit drains them). */
static void stage_flush(struct pfs_fs *fs, const struct pfs_stage *st, uint64_t n)
{
	for (size_t i = 0; i < st->map.n && n > 0; i++) {
		uint64_t len = st->map.v[i].len < n ? st->map.v[i].len : n;

		pfs_pm_flush(fs->pm, pfs_blk(fs, st->map.v[i].pblk), len << PFS_BLOCK_SHIFT);
		n -= len;
	}
}

static int adopt_tx(struct pfs_tx *tx, struct pfs_stage *st, struct pfs_inode_pm *ip,
		    uint64_t off, uint64_t n, struct pfs_extvec *rest)
{
	struct pfs_fs *fs = tx->fs;
	struct pfs_extvec take = { 0 };
	struct pfs_inode_pm *sip;
	uint64_t lblk = off >> PFS_BLOCK_SHIFT, next, end = off + (n << PFS_BLOCK_SHIFT);
	int rc = pfs_inode_get(fs, st->ino, &sip);

	if (!rc)
		rc = stage_split(st, n, lblk, &take, rest, &next);
	if (!rc)
		rc = pfs_ext_remove(tx, ip, lblk, lblk + n);
	for (size_t i = 0; !rc && i < take.n; i++)
		rc = pfs_ext_insert(tx, ip, take.v[i].lblk, take.v[i].pblk, take.v[i].len);
	if (!rc)
		rc = stage_alloc(tx, n, &next, rest);
	if (!rc)
		rc = pfs_ext_rebuild(tx, sip, rest);
	if (!rc && end > ip->size)
		rc = pfs_tx_set_u64(tx, &ip->size, end);
	if (!rc)
		rc = pfs_inode_touch(tx, ip, true, true);
	pfs_extvec_free(&take);
	return rc;
}

int pfs_stage_adopt(struct pfs_fs *fs, struct pfs_stage *st, uint64_t ino, uint64_t off,
		    size_t len)
{
	struct pfs_extvec rest = { 0 };
	struct pfs_inode_pm *ip;
	struct pfs_tx *tx;
	int rc;

	if (len == 0 || (off | len) & (PFS_BLOCK_SIZE - 1) ||
	    len > st->nblk << PFS_BLOCK_SHIFT)
		return -EINVAL;
	if (pfs_is_readonly(fs))
		return -EROFS;
	if (off >= PFS_MAX_FILE_SIZE || len > PFS_MAX_FILE_SIZE - off)
		return -EFBIG;
	if (ino == st->ino)
		return -EINVAL;
	/* the stage is this caller's alone: flush before taking the lock */
	stage_flush(fs, st, len >> PFS_BLOCK_SHIFT);
	pthread_rwlock_wrlock(&fs->lock);
	rc = pfs_inode_get(fs, ino, &ip);
	if (!rc && !S_ISREG(ip->mode))
		rc = S_ISDIR(ip->mode) ? -EISDIR : -EINVAL;
	if (!rc)
		rc = pfs_tx_begin(fs, &tx);
	if (!rc)
		rc = pfs_tx_end(tx, adopt_tx(tx, st, ip, off, len >> PFS_BLOCK_SHIFT, &rest));
	if (!rc) {
		pfs_extvec_free(&st->map);
		st->map = rest;
		rest = (struct pfs_extvec){ 0 };
	}
	pthread_rwlock_unlock(&fs->lock);
	pfs_extvec_free(&rest);
	return rc;
}
