// SPDX-License-Identifier: MIT
/*
 * Checksums of the bitmap blocks (ro_compat BMAP_CSUM, layout.h): one crc32c
 * per inode- or block-bitmap block. The allocator verifies a block before it
 * changes it, the first time in a mount (a DRAM bit per block remembers it;
 * nothing is read at mount, so mount time stays flat in device size), and
 * reseals it in the same transaction as the change, so the undo journal rolls
 * bitmap and checksum back together. A mismatch fails the allocation with
 * EUCLEAN and latches the mount read-only: a bitmap that lies could hand out
 * a block some file still uses.
 */
#include <stdlib.h>

#include "pfs.h"

#define WORD_BITS 64u

uint64_t pfs_bmap_blocks(const struct pfs_fs *fs)
{
	return fs->bcsum ? fs->sb.ibitmap_blocks + fs->sb.bbitmap_blocks : 0;
}

int pfs_bmap_setup(struct pfs_fs *fs)
{
	uint64_t n;

	fs->bcsum = NULL;
	fs->bcsum_ok = NULL;
	if (!(fs->sb.feature_ro_compat & PFS_FEATURE_RO_COMPAT_BMAP_CSUM))
		return 0;
	fs->bcsum = pfs_blk(fs, fs->sb.bcsum_start);
	n = pfs_bmap_blocks(fs);
	fs->bcsum_ok = calloc((n + WORD_BITS - 1) / WORD_BITS, sizeof(*fs->bcsum_ok));
	return fs->bcsum_ok ? 0 : -ENOMEM;
}

void pfs_bmap_teardown(struct pfs_fs *fs)
{
	free(fs->bcsum_ok);
	fs->bcsum_ok = NULL;
}

/* What the checksum of bitmap block i (0: the first inode-bitmap block) should be. */
uint32_t pfs_bmap_csum(const struct pfs_fs *fs, uint64_t i)
{
	uint64_t blk = fs->sb.ibitmap_start + i;

	return pfs_crc32c((uint32_t)blk, pfs_blk(fs, blk), PFS_BLOCK_SIZE);
}

/* Bitmap blocks [*first, *last] holding [p, p+len). */
static void bmap_range(const struct pfs_fs *fs, const void *p, size_t len, uint64_t *first,
		       uint64_t *last)
{
	uint64_t off = pfs_off(fs, p);

	*first = (off >> PFS_BLOCK_SHIFT) - fs->sb.ibitmap_start;
	*last = ((off + len - 1) >> PFS_BLOCK_SHIFT) - fs->sb.ibitmap_start;
}

int pfs_bmap_verify(struct pfs_fs *fs, const void *p, size_t len)
{
	uint64_t first, last;

	if (!fs->bcsum || len == 0)
		return 0;
	bmap_range(fs, p, len, &first, &last);
	for (uint64_t i = first; i <= last; i++) {
		uint64_t bit = 1ull << (i % WORD_BITS);

		if (fs->bcsum_ok[i / WORD_BITS] & bit)
			continue;
		if (fs->bcsum[i] != pfs_bmap_csum(fs, i))
			return pfs_corrupt(fs, "%s bitmap block %llu: checksum mismatch",
					   i < fs->sb.ibitmap_blocks ? "inode" : "block",
					   (unsigned long long)(fs->sb.ibitmap_start + i));
		fs->bcsum_ok[i / WORD_BITS] |= bit;
	}
	return 0;
}

int pfs_bmap_reseal(struct pfs_tx *tx, const void *p, size_t len)
{
	struct pfs_fs *fs = tx->fs;
	uint64_t first, last;
	int rc = 0;

	if (!fs->bcsum || len == 0)
		return 0;
	bmap_range(fs, p, len, &first, &last);
	for (uint64_t i = first; i <= last && !rc; i++)
		rc = pfs_tx_set_u32(tx, &fs->bcsum[i], pfs_bmap_csum(fs, i));
	return rc;
}
