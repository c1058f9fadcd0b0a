// SPDX-License-Identifier: MIT
/*
 * File data. Theory of operation:
 *
 * Data is never journalled. An overwrite of mapped blocks copies straight into
 * them (non-temporal on pmem) and only the times change, in place. A write
 * into a hole or past EOF runs in one transaction: allocate, zero the parts of
 * new blocks the write does not cover, copy the data, link the extents, set
 * the size; the commit drains before its commit point, so the metadata never
 * makes bytes reachable that are not durable.
 *
 * Invariant: bytes past EOF inside allocated blocks are zero (new blocks are
 * zeroed at their edges, truncate zeroes the tail under the journal), so
 * growing a file never exposes old bytes.
 *
 * Reads build iovecs straight into the mapping (holes point at a zero buffer)
 * and reply while the lock is held, so blocks cannot be freed under them.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pfs.h"

#define READ_IOV_MAX 512

static uint64_t blk_of(uint64_t off)
{
	return off >> PFS_BLOCK_SHIFT;
}

static uint64_t blk_up(uint64_t off)
{
	return (off + PFS_BLOCK_SIZE - 1) >> PFS_BLOCK_SHIFT;
}

static int regular_get(struct pfs_fs *fs, uint64_t ino, struct pfs_inode_pm **ip)
{
	int rc = pfs_inode_get(fs, ino, ip);

	if (rc)
		return rc;
	if (S_ISDIR((*ip)->mode))
		return -EISDIR;
	if (!S_ISREG((*ip)->mode))
		return -EINVAL;
	return 0;
}

/* ---- read ---- */

static int read_iov(struct pfs_fs *fs, const struct pfs_inode_pm *ip, uint64_t off, size_t len,
		    struct iovec *iov, int *cnt)
{
	int n = 0;

	while (len > 0) {
		uint64_t lblk = blk_of(off), in = off & (PFS_BLOCK_SIZE - 1), pblk, run;
		size_t chunk;
		int rc;

		rc = pfs_ext_map(fs, ip, lblk, blk_up(off + len) - lblk, &pblk, &run);
		if (rc)
			return rc;
		chunk = (size_t)(run << PFS_BLOCK_SHIFT) - in;
		if (chunk > len)
			chunk = len;
		if (pblk == 0 && chunk > PFS_ZERO_LEN)
			chunk = PFS_ZERO_LEN;
		if (n == READ_IOV_MAX)
			break; /* a short read; the kernel asks for the rest */
		iov[n].iov_base = pblk ? (char *)pfs_blk(fs, pblk) + in : fs->zero;
		iov[n].iov_len = chunk;
		n++;
		off += chunk;
		len -= chunk;
	}
	*cnt = n;
	return 0;
}

int pfs_read(struct pfs_fs *fs, uint64_t ino, uint64_t off, size_t len, pfs_reply_iov_fn reply,
	     void *arg)
{
	struct iovec *iov = NULL;
	struct pfs_inode_pm *ip;
	int cnt = 0, rc;

	pthread_rwlock_rdlock(&fs->lock);
	rc = regular_get(fs, ino, &ip);
	if (rc)
		goto out;
	if (off >= ip->size)
		len = 0;
	else if (len > ip->size - off)
		len = (size_t)(ip->size - off);
	if (len) {
		iov = malloc(READ_IOV_MAX * sizeof(*iov));
		if (!iov) {
			rc = -ENOMEM;
			goto out;
		}
		rc = read_iov(fs, ip, off, len, iov, &cnt);
		if (rc)
			goto out;
	}
	rc = reply(arg, iov, cnt);
out:
	pthread_rwlock_unlock(&fs->lock);
	free(iov);
	return rc;
}

/* ---- write ---- */

/* Copies len bytes from an iovec cursor into dst (pmem), advancing the cursor. */
struct iov_cursor {
	const struct iovec *iov;
	int cnt;
	size_t off;
};

static void cursor_copy(struct pfs_pmem *pm, struct iov_cursor *c, char *dst, size_t len)
{
	while (len > 0 && c->cnt > 0) {
		size_t avail = c->iov->iov_len - c->off;
		size_t n = avail < len ? avail : len;

		pfs_pm_copy(pm, dst, (const char *)c->iov->iov_base + c->off, n);
		dst += n;
		len -= n;
		c->off += n;
		if (c->off == c->iov->iov_len) {
			c->iov++;
			c->cnt--;
			c->off = 0;
		}
	}
}

/* New blocks [lblk, lblk+n) for a write of [off, end): zero what it won't cover. */
static void zero_edges(struct pfs_fs *fs, uint64_t pblk, uint64_t lblk, uint64_t n, uint64_t off,
		       uint64_t end)
{
	uint64_t bs = lblk << PFS_BLOCK_SHIFT, be = (lblk + n) << PFS_BLOCK_SHIFT;
	char *p = pfs_blk(fs, pblk);

	if (off > bs)
		pfs_pm_set(fs->pm, p, 0, (off < be ? off : be) - bs);
	if (end < be) {
		uint64_t from = end > bs ? end : bs;

		pfs_pm_set(fs->pm, p + (from - bs), 0, be - from);
	}
}

/* The block after the one backing lblk - 1: lets sequential writes extend an extent. */
static uint64_t alloc_goal(struct pfs_fs *fs, const struct pfs_inode_pm *ip, uint64_t lblk)
{
	uint64_t pblk = 0, run;

	if (lblk == 0 || pfs_ext_map(fs, ip, lblk - 1, 1, &pblk, &run) || pblk == 0)
		return 0;
	return pblk + 1;
}

/* Allocates and links blocks for every hole in [off, end); zeroes uncovered parts. */
static int fill_holes(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t off, uint64_t end,
		      bool zero_all)
{
	uint64_t lblk = blk_of(off), last = blk_up(end);

	while (lblk < last) {
		uint64_t pblk, run, got;
		int rc = pfs_ext_map(tx->fs, ip, lblk, last - lblk, &pblk, &run);

		if (rc)
			return rc;
		if (pblk) {
			lblk += run;
			continue;
		}
		rc = pfs_alloc_blocks(tx, run, alloc_goal(tx->fs, ip, lblk), &pblk, &got);
		if (rc)
			return rc;
		if (zero_all)
			pfs_pm_set(tx->fs->pm, pfs_blk(tx->fs, pblk), 0, got << PFS_BLOCK_SHIFT);
		else
			zero_edges(tx->fs, pblk, lblk, got, off, end);
		rc = pfs_ext_insert(tx, ip, lblk, pblk, got);
		if (rc)
			return rc;
		lblk += got;
	}
	return 0;
}

/* Copies the data into mapped blocks of [off, off+len); all must be mapped. */
static int copy_in(struct pfs_fs *fs, const struct pfs_inode_pm *ip, uint64_t off, size_t len,
		   struct iov_cursor *c)
{
	while (len > 0) {
		uint64_t lblk = blk_of(off), in = off & (PFS_BLOCK_SIZE - 1), pblk, run;
		size_t chunk;
		int rc = pfs_ext_map(fs, ip, lblk, blk_up(off + len) - lblk, &pblk, &run);

		if (rc)
			return rc;
		if (!pblk)
			return pfs_corrupt(fs, "write: block %llu unmapped after allocation",
					   (unsigned long long)lblk);
		chunk = (size_t)(run << PFS_BLOCK_SHIFT) - in;
		if (chunk > len)
			chunk = len;
		cursor_copy(fs->pm, c, (char *)pfs_blk(fs, pblk) + in, chunk);
		off += chunk;
		len -= chunk;
	}
	return 0;
}

static bool range_mapped(struct pfs_fs *fs, const struct pfs_inode_pm *ip, uint64_t off,
			 uint64_t end, int *rc)
{
	uint64_t lblk = blk_of(off), last = blk_up(end);

	while (lblk < last) {
		uint64_t pblk, run;

		*rc = pfs_ext_map(fs, ip, lblk, last - lblk, &pblk, &run);
		if (*rc || !pblk)
			return false;
		lblk += run;
	}
	return true;
}

/*
 * The bytes a write stores past EOF in the old last block are journalled, so a
 * write that fails (or a crash before its commit) leaves them zero, as the
 * zero-past-EOF invariant wants. Called before fill_holes: the blocks it
 * allocates are fresh and need no undo.
 */
static int tail_undo(struct pfs_tx *tx, const struct pfs_inode_pm *ip, uint64_t off, uint64_t end)
{
	uint64_t size = ip->size, tail_end = blk_up(size) << PFS_BLOCK_SHIFT;
	uint64_t s = off > size ? off : size, e = end < tail_end ? end : tail_end;
	uint64_t pblk = 0, run;
	int rc;

	if (s >= e)
		return 0;
	rc = pfs_ext_map(tx->fs, ip, blk_of(size), 1, &pblk, &run);
	if (rc || !pblk)
		return rc;
	return pfs_tx_add(tx, (char *)pfs_blk(tx->fs, pblk) + (s & (PFS_BLOCK_SIZE - 1)), e - s);
}

static int write_locked(struct pfs_fs *fs, struct pfs_inode_pm *ip, uint64_t off, size_t len,
			struct iov_cursor *c)
{
	uint64_t end = off + len;
	struct pfs_tx *tx;
	int rc = 0;

	if (end <= ip->size && range_mapped(fs, ip, off, end, &rc)) {
		rc = copy_in(fs, ip, off, len, c);
		if (!rc)
			pfs_inode_touch_nojournal(fs, ip);
		return rc;
	}
	if (rc)
		return rc;
	rc = pfs_tx_begin(fs, &tx);
	if (rc)
		return rc;
	rc = tail_undo(tx, ip, off, end);
	if (!rc)
		rc = fill_holes(tx, ip, off, end, false);
	if (!rc)
		rc = copy_in(fs, ip, off, len, c);
	if (!rc && end > ip->size)
		rc = pfs_tx_set_u64(tx, &ip->size, end);
	if (!rc)
		rc = pfs_inode_touch(tx, ip, true, true);
	return pfs_tx_end(tx, rc);
}

int pfs_file_write_tx(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t off,
		      const void *buf, size_t len)
{
	struct iovec v = { (void *)buf, len };
	struct iov_cursor c = { &v, 1, 0 };
	uint64_t end = off + len;
	int rc = fill_holes(tx, ip, off, end, false);

	if (!rc)
		rc = copy_in(tx->fs, ip, off, len, &c);
	if (!rc && end > ip->size)
		rc = pfs_tx_set_u64(tx, &ip->size, end);
	return rc;
}

int pfs_write(struct pfs_fs *fs, uint64_t ino, uint64_t off, const struct iovec *iov, int cnt,
	      bool append, bool sync, size_t *written)
{
	struct iov_cursor c = { iov, cnt, 0 };
	struct pfs_inode_pm *ip;
	size_t len = 0;
	int rc;

	for (int i = 0; i < cnt; i++)
		len += iov[i].iov_len;
	*written = 0;
	if (pfs_is_readonly(fs))
		return -EROFS;
	pthread_rwlock_wrlock(&fs->lock);
	rc = regular_get(fs, ino, &ip);
	if (rc)
		goto out;
	if (append)
		off = ip->size;
	if (len == 0)
		goto out;
	if (off >= PFS_MAX_FILE_SIZE || len > PFS_MAX_FILE_SIZE - off) {
		rc = -EFBIG;
		goto out;
	}
	rc = write_locked(fs, ip, off, len, &c);
	if (rc)
		goto out;
	*written = len;
	/* O_SYNC: the data is durable on return, or the caller hears it may not be */
	if (sync)
		rc = pfs_pm_drain(fs->pm);
out:
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

int pfs_fsync(struct pfs_fs *fs, uint64_t ino, bool datasync)
{
	struct pfs_inode_pm *ip;
	int rc;

	/* metadata is durable at each commit; data needs one drain */
	pthread_rwlock_rdlock(&fs->lock);
	rc = pfs_inode_get(fs, ino, &ip);
	pthread_rwlock_unlock(&fs->lock);
	if (rc)
		return rc;
	return pfs_pm_drain(fs->pm);
}

/* ---- truncate, fallocate, lseek ---- */

int pfs_file_truncate(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t size)
{
	int rc = 0;

	if (size > PFS_MAX_FILE_SIZE)
		return -EFBIG;
	if (size < ip->size) {
		uint64_t in = size & (PFS_BLOCK_SIZE - 1);

		rc = pfs_ext_remove(tx, ip, blk_up(size), UINT64_MAX);
		if (!rc && in) {
			uint64_t pblk, run;

			rc = pfs_ext_map(tx->fs, ip, blk_of(size), 1, &pblk, &run);
			/* keep the zero-past-EOF invariant, undoably */
			if (!rc && pblk)
				rc = pfs_tx_zero(tx, (char *)pfs_blk(tx->fs, pblk) + in,
						 PFS_BLOCK_SIZE - in);
		}
	}
	if (!rc)
		rc = pfs_tx_set_u64(tx, &ip->size, size);
	return rc;
}

static int punch_hole(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t off, uint64_t end)
{
	uint64_t first = blk_up(off), last = blk_of(end);
	int rc = 0;

	if (end > ip->size)
		end = ip->size;
	if (off >= end)
		return 0;
	/* partial blocks at the edges are zeroed in place, the rest unmapped */
	for (uint64_t o = off; o < end && !rc;) {
		uint64_t lblk = blk_of(o), pblk, run;
		uint64_t bend = (lblk + 1) << PFS_BLOCK_SHIFT;
		uint64_t stop = bend < end ? bend : end;

		if (lblk >= first && lblk < last) {
			o = last << PFS_BLOCK_SHIFT;
			continue;
		}
		rc = pfs_ext_map(tx->fs, ip, lblk, 1, &pblk, &run);
		if (!rc && pblk)
			rc = pfs_tx_zero(tx, (char *)pfs_blk(tx->fs, pblk) +
					 (o & (PFS_BLOCK_SIZE - 1)), stop - o);
		o = stop;
	}
	if (!rc && first < last)
		rc = pfs_ext_remove(tx, ip, first, last);
	return rc;
}

int pfs_fallocate(struct pfs_fs *fs, uint64_t ino, unsigned mode, uint64_t off, uint64_t len)
{
	struct pfs_inode_pm *ip;
	struct pfs_tx *tx;
	uint64_t end = off + len;
	int rc;

	if (len == 0 || end < off)
		return -EINVAL;
	if ((mode & PFS_FALLOC_PUNCH_HOLE) && !(mode & PFS_FALLOC_KEEP_SIZE))
		return -EOPNOTSUPP;
	if (end > PFS_MAX_FILE_SIZE)
		return -EFBIG;
	if (pfs_is_readonly(fs))
		return -EROFS;
	pthread_rwlock_wrlock(&fs->lock);
	rc = regular_get(fs, ino, &ip);
	if (rc)
		goto out;
	rc = pfs_tx_begin(fs, &tx);
	if (rc)
		goto out;
	if (mode & PFS_FALLOC_PUNCH_HOLE) {
		rc = punch_hole(tx, ip, off, end);
	} else {
		rc = fill_holes(tx, ip, off, end, true);
		if (!rc && !(mode & PFS_FALLOC_KEEP_SIZE) && end > ip->size)
			rc = pfs_tx_set_u64(tx, &ip->size, end);
	}
	if (!rc)
		rc = pfs_inode_touch(tx, ip, !(mode & PFS_FALLOC_KEEP_SIZE) ||
				     (mode & PFS_FALLOC_PUNCH_HOLE), true);
	rc = pfs_tx_end(tx, rc);
out:
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

int pfs_lseek(struct pfs_fs *fs, uint64_t ino, uint64_t off, int whence, uint64_t *out)
{
	struct pfs_inode_pm *ip;
	int rc;

	pthread_rwlock_rdlock(&fs->lock);
	rc = regular_get(fs, ino, &ip);
	if (rc)
		goto out;
	if (off >= ip->size) {
		rc = -ENXIO;
		goto out;
	}
	while (off < ip->size) {
		uint64_t lblk = blk_of(off), pblk, run;

		rc = pfs_ext_map(fs, ip, lblk, UINT64_MAX - lblk, &pblk, &run);
		if (rc)
			goto out;
		if ((whence == SEEK_DATA) == (pblk != 0))
			break;
		off = (lblk + run) << PFS_BLOCK_SHIFT;
		if (run == UINT64_MAX - lblk)
			off = ip->size;
	}
	if (off >= ip->size) {
		if (whence == SEEK_DATA) {
			rc = -ENXIO;
			goto out;
		}
		off = ip->size;
	}
	*out = off;
out:
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}
