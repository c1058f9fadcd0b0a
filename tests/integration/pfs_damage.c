// SPDX-License-Identifier: MIT
/*
 * pfs_damage: damages one metadata area of an unmounted image, for the repair
 * test (test_repair.sh). It reads the layout from include/pmemfs/layout.h
 * only, so it finds the structures the way a reader of the format would.
 *
 *   pfs_damage IMAGE AREA flip|zero SEED   damage one block of AREA
 *   pfs_damage IMAGE random SEED           flip bytes in 3 random metadata blocks
 *
 * AREA: super replica state journal ibitmap bbitmap bcsum itable root bucket
 * node xattr. "flip" flips 8 random bits of the block (in the inode table:
 * of one inode in use), "zero" zeroes the block (an inode: its 256 bytes).
 * Prints "damaged AREA block N" and, for each inode whose own inode or
 * extent tree was hit, "lost INO" (st_ino: gen << 32 | slot); those files
 * are not expected to survive. Exit 0, 2 when the image has no such
 * structure, 1 on error.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pmemfs/layout.h"

struct img {
	char *base;
	const struct pfs_super_pm *sb;
	struct pfs_inode_pm *itable;
	uint64_t rng;
};

static uint64_t rnd(struct img *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

static bool slot_used(const struct img *m, uint64_t s)
{
	const uint64_t *ib = (const void *)(m->base + (m->sb->ibitmap_start << PFS_BLOCK_SHIFT));

	return s >= PFS_ROOT_SLOT && s < m->sb->inode_count && ((ib[s / 64] >> (s % 64)) & 1) &&
	       m->itable[s].mode != 0;
}

static bool data_blk(const struct img *m, uint64_t b)
{
	return b >= m->sb->data_start && b < m->sb->total_blocks;
}

static void lost(const struct img *m, uint64_t s)
{
	printf("lost %llu\n", (unsigned long long)(((uint64_t)m->itable[s].gen << 32) | s));
}

/* A random used slot (from PFS_FIRST_FREE_SLOT unless root) satisfying pick, or 0. */
static uint64_t pick_slot(struct img *m, bool (*ok)(const struct img *, uint64_t), bool root)
{
	uint64_t n = 0, k, first = root ? PFS_ROOT_SLOT : PFS_FIRST_FREE_SLOT;

	for (uint64_t s = first; s < m->sb->inode_count; s++)
		n += slot_used(m, s) && ok(m, s);
	if (n == 0)
		return 0;
	k = rnd(m) % n;
	for (uint64_t s = first; s < m->sb->inode_count; s++)
		if (slot_used(m, s) && ok(m, s) && k-- == 0)
			return s;
	return 0;
}

static bool any(const struct img *m, uint64_t s) { (void)m; (void)s; return true; }

static bool is_dir(const struct img *m, uint64_t s)
{
	const struct pfs_inode_pm *ip = &m->itable[s];

	return S_ISDIR(ip->mode) && ip->ext_depth == 0 && ip->ext_count > 0 &&
	       data_blk(m, ip->ext[0].pblk);
}

static bool has_tree(const struct img *m, uint64_t s)
{
	const struct pfs_inode_pm *ip = &m->itable[s];

	return ip->ext_depth > 0 && ip->ext_count > 0 && data_blk(m, ip->ext[0].pblk);
}

static bool has_xattr(const struct img *m, uint64_t s)
{
	return data_blk(m, m->itable[s].xattr_blk);
}

static void hit(struct img *m, char *p, size_t len, bool zero)
{
	if (zero) {
		memset(p, 0, len);
		return;
	}
	for (int i = 0; i < 8; i++) {
		uint64_t r = rnd(m);

		p[(r >> 3) % len] ^= (char)(1u << (r & 7));
	}
}

/* The block to damage for AREA, with the inodes that cannot survive it. */
static int area_block(struct img *m, const char *area, uint64_t *blk, uint64_t *slot)
{
	const struct pfs_super_pm *sb = m->sb;

	*slot = 0;
	if (!strcmp(area, "super"))
		*blk = PFS_SB_BLOCK;
	else if (!strcmp(area, "replica"))
		*blk = PFS_SB_REPLICA_BLOCK;
	else if (!strcmp(area, "state"))
		*blk = PFS_STATE_BLOCK;
	else if (!strcmp(area, "journal"))
		*blk = sb->journal_start;
	else if (!strcmp(area, "ibitmap"))
		*blk = sb->ibitmap_start + rnd(m) % sb->ibitmap_blocks;
	else if (!strcmp(area, "bbitmap"))
		*blk = sb->bbitmap_start + rnd(m) % sb->bbitmap_blocks;
	else if (!strcmp(area, "bcsum") && sb->bcsum_blocks)
		*blk = sb->bcsum_start;
	else if (!strcmp(area, "itable") && (*slot = pick_slot(m, any, false)))
		*blk = sb->itable_start + *slot / PFS_INODES_PER_BLOCK;
	else if (!strcmp(area, "root"))
		*blk = sb->itable_start, *slot = PFS_ROOT_SLOT;
	else if (!strcmp(area, "bucket") && (*slot = pick_slot(m, is_dir, true)))
		*blk = m->itable[*slot].ext[0].pblk + rnd(m) % m->itable[*slot].ext[0].len;
	else if (!strcmp(area, "node") && (*slot = pick_slot(m, has_tree, false)))
		*blk = m->itable[*slot].ext[0].pblk;
	else if (!strcmp(area, "xattr") && (*slot = pick_slot(m, has_xattr, false)))
		*blk = m->itable[*slot].xattr_blk;
	else
		return 2;
	return 0;
}

static int damage_area(struct img *m, const char *area, bool zero)
{
	uint64_t blk, slot;
	char *p;
	int rc = area_block(m, area, &blk, &slot);

	if (rc)
		return rc;
	p = m->base + (blk << PFS_BLOCK_SHIFT);
	printf("damaged %s block %llu\n", area, (unsigned long long)blk);
	if (!strcmp(area, "itable") || !strcmp(area, "root")) {
		/* one inode: the others in its block stay whole */
		lost(m, slot);
		hit(m, (char *)&m->itable[slot], PFS_INODE_SIZE, zero);
		return 0;
	}
	if (!strcmp(area, "node"))
		lost(m, slot);
	hit(m, p, PFS_BLOCK_SIZE, zero);
	return 0;
}

/* Three blocks among every metadata block an image of this kind has. */
static int damage_random(struct img *m)
{
	static const char *const areas[] = { "super", "replica", "state", "journal", "ibitmap",
		"bbitmap", "bcsum", "itable", "bucket", "node", "xattr" };

	for (int i = 0; i < 3; i++) {
		uint64_t blk, slot;
		const char *a = areas[rnd(m) % (sizeof(areas) / sizeof(areas[0]))];

		if (area_block(m, a, &blk, &slot))
			continue;
		if (!strcmp(a, "itable"))
			lost(m, slot);
		printf("damaged %s block %llu\n", a, (unsigned long long)blk);
		for (int k = 0; k < 8; k++) {
			uint64_t r = rnd(m);

			m->base[(blk << PFS_BLOCK_SHIFT) + r % PFS_BLOCK_SIZE] = (char)(r >> 32);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct img m;
	struct stat st;
	bool random = argc == 4 && !strcmp(argv[2], "random");
	int fd, rc;

	if (!random && (argc != 5 || (strcmp(argv[3], "flip") && strcmp(argv[3], "zero")))) {
		fprintf(stderr, "usage: pfs_damage IMAGE AREA flip|zero SEED | IMAGE random SEED\n");
		return 1;
	}
	fd = open(argv[1], O_RDWR);
	if (fd < 0 || fstat(fd, &st) || st.st_size < (off_t)(3 * PFS_BLOCK_SIZE)) {
		perror(argv[1]);
		return 1;
	}
	m.base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m.base == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	/* the replica may be the one to trust once the primary is damaged */
	m.sb = (const void *)m.base;
	if (m.sb->magic != PFS_MAGIC)
		m.sb = (const void *)(m.base + PFS_BLOCK_SIZE);
	m.itable = (void *)(m.base + (m.sb->itable_start << PFS_BLOCK_SHIFT));
	m.rng = strtoull(argv[random ? 3 : 4], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
	rc = random ? damage_random(&m) : damage_area(&m, argv[2], !strcmp(argv[3], "zero"));
	munmap(m.base, (size_t)st.st_size);
	close(fd);
	return rc;
}
