// SPDX-License-Identifier: MIT
/*
 * Allocators for data blocks and inode slots. Theory of operation:
 *
 * Both are persistent bitmaps changed only inside a transaction, with their
 * free counts in the state block (also journalled), so nothing at mount has to
 * count or scan them. A DRAM cursor remembers where the last search ended;
 * searches start there and wrap, so they are lazy, not done at mount.
 *
 * Large requests (>= 2 MiB) first look for 2 MiB-aligned free runs (mkfs
 * aligns the data area), so big files get runs that can later be handed out
 * as huge-page mappings. Smaller requests take the first free run.
 */
#include "pfs.h"

#define HUGE_BLOCKS 512u
#define WORD_BITS   64u

static bool bit_get(const uint64_t *w, uint64_t bit)
{
	return (w[bit / WORD_BITS] >> (bit % WORD_BITS)) & 1u;
}

bool pfs_block_in_use(const struct pfs_fs *fs, uint64_t pblk)
{
	if (pblk < fs->sb.data_start || pblk >= fs->sb.total_blocks)
		return true;
	return bit_get(fs->bbitmap, pblk - fs->sb.data_start);
}

bool pfs_slot_in_use(const struct pfs_fs *fs, uint32_t slot)
{
	if (slot >= fs->sb.inode_count)
		return false;
	return bit_get(fs->ibitmap, slot);
}

/* Sets or clears bits [bit, bit+n) in a journalled bitmap. */
static int bits_update(struct pfs_tx *tx, uint64_t *map, uint64_t bit, uint64_t n, bool set)
{
	uint64_t *first = &map[bit / WORD_BITS];
	size_t bytes = ((bit + n - 1) / WORD_BITS - bit / WORD_BITS + 1) * 8;
	/* never change a block whose checksum says it lies (fs/bmap.c) */
	int rc = pfs_bmap_verify(tx->fs, first, bytes);

	/* one undo record for the whole word range instead of one per word */
	if (!rc)
		rc = pfs_tx_add(tx, first, bytes);
	if (rc)
		return rc;
	while (n > 0) {
		uint64_t w = bit / WORD_BITS, b = bit % WORD_BITS;
		uint64_t k = WORD_BITS - b < n ? WORD_BITS - b : n;
		uint64_t mask = (k == WORD_BITS ? ~0ull : ((1ull << k) - 1)) << b;
		uint64_t v = set ? (map[w] | mask) : (map[w] & ~mask);

		if (set ? (map[w] & mask) : ((map[w] & mask) != mask))
			return pfs_corrupt(tx->fs, "bitmap word %llu: bits already %s",
					   (unsigned long long)w, set ? "set" : "clear");
		rc = pfs_tx_set_u64(tx, &map[w], v);
		if (rc)
			return rc;
		bit += k;
		n -= k;
	}
	return pfs_bmap_reseal(tx, first, bytes);
}

/* Length of the free run starting at bit, up to max. */
static uint64_t run_len(const uint64_t *map, uint64_t bit, uint64_t limit, uint64_t max)
{
	uint64_t n = 0;

	while (n < max && bit + n < limit && !bit_get(map, bit + n)) {
		if ((bit + n) % WORD_BITS == 0 && max - n >= WORD_BITS &&
		    bit + n + WORD_BITS <= limit && map[(bit + n) / WORD_BITS] == 0) {
			n += WORD_BITS;
			continue;
		}
		n++;
	}
	return n;
}

/* First free bit at or after start (below limit), or limit. */
static uint64_t next_free(const uint64_t *map, uint64_t start, uint64_t limit)
{
	uint64_t bit = start;

	while (bit < limit) {
		uint64_t w = map[bit / WORD_BITS] | ((1ull << (bit % WORD_BITS)) - 1);

		if (w != ~0ull) {
			uint64_t found = (bit & ~(uint64_t)(WORD_BITS - 1)) +
					 (uint64_t)__builtin_ctzll(~w);

			return found < limit ? found : limit;
		}
		bit = (bit | (WORD_BITS - 1)) + 1;
	}
	return limit;
}

/* A fully free, 2 MiB-aligned group at or after start, or limit. */
static uint64_t next_free_huge(const struct pfs_fs *fs, uint64_t start, uint64_t limit)
{
	const uint64_t words = HUGE_BLOCKS / WORD_BITS;
	uint64_t base = fs->sb.data_start;
	uint64_t bit = start;

	/* bit b is block base + b: align the block number, not the bit */
	bit += (HUGE_BLOCKS - (base + bit) % HUGE_BLOCKS) % HUGE_BLOCKS;
	if ((base % WORD_BITS) != 0)
		return limit;
	for (; bit + HUGE_BLOCKS <= limit; bit += HUGE_BLOCKS) {
		const uint64_t *w = &fs->bbitmap[bit / WORD_BITS];
		uint64_t i;

		for (i = 0; i < words && w[i] == 0; i++)
			;
		if (i == words)
			return bit;
	}
	return limit;
}

static uint64_t search(const struct pfs_fs *fs, uint64_t from, uint64_t want, bool huge,
		       uint64_t *len)
{
	uint64_t limit = fs->sb.data_blocks;
	uint64_t bit = huge ? next_free_huge(fs, from, limit) : next_free(fs->bbitmap, from, limit);

	if (bit >= limit)
		return limit;
	*len = run_len(fs->bbitmap, bit, limit, want);
	return bit;
}

int pfs_alloc_blocks(struct pfs_tx *tx, uint64_t want, uint64_t goal, uint64_t *pblk,
		     uint64_t *got)
{
	struct pfs_fs *fs = tx->fs;
	uint64_t limit = fs->sb.data_blocks, len = 0, bit = limit;
	uint64_t from = fs->alloc_cursor;
	int rc;

	if (want == 0)
		return -EINVAL;
	if (pfs_fault_hit(fs->fault, PFS_FAULT_SPACE))
		return -ENOSPC;
	/* a full device, or a damaged count: a free bit tells them apart */
	if (fs->state->free_blocks == 0)
		return next_free(fs->bbitmap, 0, limit) < limit ?
		       pfs_corrupt(fs, "state block: free block count 0, but the bitmap has "
				   "free blocks") : -ENOSPC;
	if (want > 0xffffffffull)
		want = 0xffffffffull;
	if (goal >= fs->sb.data_start && goal < fs->sb.total_blocks &&
	    !pfs_block_in_use(fs, goal)) {
		bit = goal - fs->sb.data_start;
		len = run_len(fs->bbitmap, bit, limit, want);
	}
	if (bit >= limit && want >= HUGE_BLOCKS) {
		bit = search(fs, from, want, true, &len);
		if (bit >= limit)
			bit = search(fs, 0, want, true, &len);
	}
	if (bit >= limit)
		bit = search(fs, from, want, false, &len);
	if (bit >= limit)
		bit = search(fs, 0, want, false, &len);
	if (bit >= limit || len == 0)
		return pfs_corrupt(fs, "free block count %llu but no free bit in the bitmap",
				   (unsigned long long)fs->state->free_blocks);
	if (len > fs->state->free_blocks)
		len = fs->state->free_blocks; /* never below zero; see the count's check */
	rc = bits_update(tx, fs->bbitmap, bit, len, true);
	if (rc)
		return rc;
	rc = pfs_tx_set_u64(tx, &fs->state->free_blocks, fs->state->free_blocks - len);
	if (rc)
		return rc;
	fs->alloc_cursor = bit + len < limit ? bit + len : 0;
	*pblk = fs->sb.data_start + bit;
	*got = len;
	return 0;
}

int pfs_free_blocks_now(struct pfs_tx *tx, uint64_t pblk, uint64_t len)
{
	struct pfs_fs *fs = tx->fs;
	int rc;

	if (!pfs_blk_is_data(fs, pblk, len))
		return pfs_corrupt(fs, "freeing blocks %llu+%llu outside the data area",
				   (unsigned long long)pblk, (unsigned long long)len);
	rc = bits_update(tx, fs->bbitmap, pblk - fs->sb.data_start, len, false);
	if (rc)
		return rc;
	return pfs_tx_set_u64(tx, &fs->state->free_blocks, fs->state->free_blocks + len);
}

int pfs_alloc_inode(struct pfs_tx *tx, uint32_t *slot)
{
	struct pfs_fs *fs = tx->fs;
	uint64_t limit = fs->sb.inode_count, s;
	int rc;

	if (pfs_fault_hit(fs->fault, PFS_FAULT_SPACE))
		return -ENOSPC;
	if (fs->state->free_inodes == 0)
		return next_free(fs->ibitmap, PFS_FIRST_FREE_SLOT, limit) < limit ?
		       pfs_corrupt(fs, "state block: free inode count 0, but the bitmap has "
				   "free slots") : -ENOSPC;
	s = next_free(fs->ibitmap, fs->inode_cursor, limit);
	if (s >= limit)
		s = next_free(fs->ibitmap, PFS_FIRST_FREE_SLOT, limit);
	if (s >= limit)
		return pfs_corrupt(fs, "free inode count %llu but no free slot",
				   (unsigned long long)fs->state->free_inodes);
	rc = bits_update(tx, fs->ibitmap, s, 1, true);
	if (rc)
		return rc;
	rc = pfs_tx_set_u64(tx, &fs->state->free_inodes, fs->state->free_inodes - 1);
	if (rc)
		return rc;
	fs->inode_cursor = s + 1 < limit ? s + 1 : PFS_FIRST_FREE_SLOT;
	*slot = (uint32_t)s;
	return 0;
}

int pfs_free_inode_slot(struct pfs_tx *tx, uint32_t slot)
{
	struct pfs_fs *fs = tx->fs;
	int rc;

	if (slot < PFS_FIRST_FREE_SLOT || slot >= fs->sb.inode_count)
		return pfs_corrupt(fs, "freeing inode slot %u out of range", slot);
	rc = bits_update(tx, fs->ibitmap, slot, 1, false);
	if (rc)
		return rc;
	return pfs_tx_set_u64(tx, &fs->state->free_inodes, fs->state->free_inodes + 1);
}
