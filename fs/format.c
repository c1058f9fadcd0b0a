// SPDX-License-Identifier: MIT
/*
 * Format ("hard init"): computes the area map for a device size and writes an
 * empty file system: superblock and replica, state, an empty journal, the
 * bitmaps, the root directory of pools/ and (on request) its lost+found.
 * The inode table is not zeroed:
 * a slot's contents matter only while its bitmap bit is set, and a slot's
 * generation only has to grow, so mkfs stays O(bitmaps), not O(device).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pfs.h"

#define DEFAULT_BYTES_PER_INODE 16384u
#define ALIGN_DATA_MIN_DEVICE   (64ull << 20)
#define HUGE_BLOCKS             512u /* 2 MiB */

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

static uint64_t journal_blocks_for(uint64_t total, uint64_t bbitmap_blocks)
{
	uint64_t base = total / 64;

	if (base < 64)
		base = 64;
	if (base > 256)
		base = 256;
	/* worst case: every bitmap line snapshotted once, plus record headers */
	return base + bbitmap_blocks + div_up(bbitmap_blocks, 2);
}

static int geometry(struct pfs_super_pm *sb, uint64_t size, const struct pfs_format_opts *o)
{
	uint64_t total = size >> PFS_BLOCK_SHIFT;
	uint64_t bpi = o->bytes_per_inode ? o->bytes_per_inode : DEFAULT_BYTES_PER_INODE;
	uint64_t icount = o->inode_count ? o->inode_count : size / bpi;
	uint64_t data = total, meta = 0;

	if (size < PFS_MIN_DEVICE_SIZE)
		return -ENOSPC;
	if (icount < 64)
		icount = 64;
	icount = (icount + PFS_INODES_PER_BLOCK - 1) & ~(uint64_t)(PFS_INODES_PER_BLOCK - 1);
	if (icount > 0xffffffffull)
		icount = 0xfffffff0ull;
	sb->inode_count = icount;
	sb->ibitmap_blocks = div_up(icount, PFS_BLOCK_SIZE * 8);
	sb->itable_blocks = icount / PFS_INODES_PER_BLOCK;
	/* the bitmap size depends on the data size and the other way round */
	for (int i = 0; i < 3; i++) {
		sb->bbitmap_blocks = div_up(data, PFS_BLOCK_SIZE * 8);
		if (!o->format_1_0)
			sb->bcsum_blocks = div_up(sb->ibitmap_blocks + sb->bbitmap_blocks,
						  PFS_BCSUM_PER_BLOCK);
		/* the checksum lines a transaction snapshots, beside the bitmap lines */
		sb->journal_blocks = journal_blocks_for(total, sb->bbitmap_blocks) +
				     2 * sb->bcsum_blocks;
		meta = PFS_FIRST_AREA_BLOCK + sb->journal_blocks + sb->ibitmap_blocks +
		       sb->bbitmap_blocks + sb->bcsum_blocks + sb->itable_blocks;
		if (size >= ALIGN_DATA_MIN_DEVICE)
			meta = div_up(meta, HUGE_BLOCKS) * HUGE_BLOCKS;
		if (meta + 64 > total)
			return -ENOSPC;
		data = total - meta;
	}
	sb->total_blocks = total;
	sb->journal_start = PFS_FIRST_AREA_BLOCK;
	sb->ibitmap_start = sb->journal_start + sb->journal_blocks;
	sb->bbitmap_start = sb->ibitmap_start + sb->ibitmap_blocks;
	sb->bcsum_start = sb->bcsum_blocks ? sb->bbitmap_start + sb->bbitmap_blocks : 0;
	sb->itable_start = sb->bbitmap_start + sb->bbitmap_blocks + sb->bcsum_blocks;
	sb->data_start = meta;
	sb->data_blocks = data;
	if (sb->bbitmap_blocks * PFS_BLOCK_SIZE * 8 < data)
		return -EINVAL;
	return 0;
}

static void fill_identity(struct pfs_super_pm *sb, uint64_t size, const struct pfs_format_opts *o)
{
	sb->magic = PFS_MAGIC;
	sb->version_major = PFS_VERSION_MAJOR;
	sb->version_minor = o->format_1_0 ? 0 : PFS_VERSION_MINOR;
	if (!o->format_1_0)
		sb->feature_ro_compat = PFS_FEATURE_RO_COMPAT_BMAP_CSUM;
	sb->block_size = PFS_BLOCK_SIZE;
	sb->inode_size = PFS_INODE_SIZE;
	sb->device_size = size;
	if (o->uuid)
		memcpy(sb->uuid, o->uuid, sizeof(sb->uuid));
	else if (getrandom(sb->uuid, sizeof(sb->uuid), 0) != sizeof(sb->uuid))
		memset(sb->uuid, 0x5a, sizeof(sb->uuid));
	sb->uuid[6] = (uint8_t)((sb->uuid[6] & 0x0f) | 0x40); /* version 4 */
	sb->uuid[8] = (uint8_t)((sb->uuid[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	if (o->label)
		strncpy(sb->label, o->label, sizeof(sb->label) - 1);
	sb->hash_seed = o->hash_seed;
	if (!sb->hash_seed && getrandom(&sb->hash_seed, sizeof(sb->hash_seed), 0) != 8)
		sb->hash_seed = 0x9e3779b97f4a7c15ull;
	sb->mkfs_time = o->mkfs_time ? o->mkfs_time : (int64_t)time(NULL);
}

#define ZERO_CHUNK (16ull << 20)

/*
 * Zeroes [off, off + len) of the device. With a progress hook it goes in
 * chunks and reports after each; the stores are the same either way.
 */
static void zero_meta(struct pfs_pmem *pm, char *base, uint64_t off, uint64_t len,
		      const struct pfs_format_opts *o)
{
	if (!o->progress) {
		pfs_pm_set(pm, base + off, 0, len);
		return;
	}
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < ZERO_CHUNK ? len - done : ZERO_CHUNK;

		pfs_pm_set(pm, base + off + done, 0, n);
		done += n;
		o->progress(o->progress_arg, "zeroing metadata", done, len + 1);
	}
}

static void set_bit(uint64_t *words, uint64_t bit)
{
	words[bit / 64] |= 1ull << (bit % 64);
}

/* The empty root directory: slot 1, one empty bucket in the first data block. */
static void write_root(struct pfs_pmem *pm, char *base, const struct pfs_super_pm *sb,
		       unsigned subdirs)
{
	struct pfs_inode_pm *root = (struct pfs_inode_pm *)(base +
		(sb->itable_start << PFS_BLOCK_SHIFT)) + PFS_ROOT_SLOT;
	struct pfs_bucket_hdr_pm bucket = { .magic = PFS_BUCKET_MAGIC };
	struct pfs_inode_pm ri = {
		.mode = 040755, .nlink = 2 + subdirs, .gen = 1, .nentries = subdirs, .size = PFS_BLOCK_SIZE, .blocks = 1,
		.parent = PFS_ROOT_SLOT, .ext_count = 1,
	};

	ri.atime_sec = ri.mtime_sec = ri.ctime_sec = ri.btime_sec = sb->mkfs_time;
	ri.ext[0] = (struct pfs_extent_pm){ .lblk = 0, .pblk = sb->data_start, .len = 1 };
	pfs_pm_copy(pm, base + (sb->data_start << PFS_BLOCK_SHIFT), &bucket, sizeof(bucket));
	pfs_pm_copy(pm, root, &ri, sizeof(ri));
}

/*
 * pools/lost+found (slot 2, one empty bucket in the second data block), named
 * in the root's bucket, as mke2fs makes it: fsck puts the inodes no directory
 * names there, and would otherwise have to allocate while repairing.
 */
static int write_lost_found(struct pfs_pmem *pm, char *base, const struct pfs_super_pm *sb)
{
	static const char name[] = "lost+found";
	const uint32_t slot = PFS_FIRST_FREE_SLOT;
	struct pfs_inode_pm *itable = (struct pfs_inode_pm *)(base +
		(sb->itable_start << PFS_BLOCK_SHIFT));
	struct pfs_bucket_hdr_pm bucket = { .magic = PFS_BUCKET_MAGIC };
	struct pfs_inode_pm li = {
		.mode = 040700, .nlink = 2, .gen = itable[slot].gen + 1 ? itable[slot].gen + 1 : 1,
		.size = PFS_BLOCK_SIZE, .blocks = 1, .parent = PFS_ROOT_SLOT, .ext_count = 1,
	};
	char ent[PFS_DIRENT_LEN(sizeof(name) - 1)] = { 0 };
	struct pfs_dirent_pm *de = (void *)ent;
	struct pfs_fs *tmp = calloc(1, sizeof(*tmp));

	if (!tmp)
		return -ENOMEM;
	tmp->sb = *sb;
	de->hash = pfs_dir_hash(tmp, name, sizeof(name) - 1);
	free(tmp);
	de->ino = PFS_INO(li.gen, slot);
	de->rec_len = sizeof(ent);
	de->name_len = sizeof(name) - 1;
	de->type = pfs_mode_to_dtype(S_IFDIR);
	memcpy(de->name, name, sizeof(name) - 1);
	li.atime_sec = li.mtime_sec = li.ctime_sec = li.btime_sec = sb->mkfs_time;
	li.ext[0] = (struct pfs_extent_pm){ .lblk = 0, .pblk = sb->data_start + 1, .len = 1 };
	pfs_pm_copy(pm, base + ((sb->data_start + 1) << PFS_BLOCK_SHIFT), &bucket,
		    sizeof(bucket));
	pfs_pm_copy(pm, &itable[slot], &li, sizeof(li));
	/* the root's bucket (written just before) gets the one entry */
	bucket.used = sizeof(ent);
	pfs_pm_copy(pm, base + (sb->data_start << PFS_BLOCK_SHIFT) + sizeof(bucket), ent,
		    sizeof(ent));
	pfs_pm_copy(pm, base + (sb->data_start << PFS_BLOCK_SHIFT), &bucket, sizeof(bucket));
	return 0;
}

static void write_bitmaps(struct pfs_pmem *pm, char *base, const struct pfs_super_pm *sb,
			  unsigned extra)
{
	uint64_t first[2] = { 0, 0 };

	set_bit(first, 0);             /* slot 0 is "none" */
	set_bit(first, PFS_ROOT_SLOT);
	for (unsigned i = 0; i < extra; i++)
		set_bit(first, PFS_FIRST_FREE_SLOT + i);
	pfs_pm_copy(pm, base + (sb->ibitmap_start << PFS_BLOCK_SHIFT), first, 8);
	first[0] = (1ull << (1 + extra)) - 1; /* the root's bucket, then lost+found's */
	pfs_pm_copy(pm, base + (sb->bbitmap_start << PFS_BLOCK_SHIFT), first, 8);
}

/* The checksum of every bitmap block, once the bitmaps are written. */
static void write_bitmap_csums(struct pfs_pmem *pm, char *base, const struct pfs_super_pm *sb)
{
	uint64_t n = sb->ibitmap_blocks + sb->bbitmap_blocks;
	uint32_t *csum = (uint32_t *)(base + (sb->bcsum_start << PFS_BLOCK_SHIFT));

	for (uint64_t i = 0; i < n; i++) {
		uint64_t blk = sb->ibitmap_start + i;
		uint32_t crc = pfs_crc32c((uint32_t)blk, base + (blk << PFS_BLOCK_SHIFT),
					  PFS_BLOCK_SIZE);

		pfs_pm_copy(pm, &csum[i], &crc, sizeof(crc));
	}
}

int pfs_format(struct pfs_device *dev, const struct pfs_format_opts *opts,
	       struct pfs_format_info *info)
{
	static const struct pfs_format_opts no_opts;
	struct pfs_super_pm sb = { 0 };
	struct pfs_state_pm st = { .magic = PFS_STATE_MAGIC };
	struct pfs_jhdr_pm jh = { .magic = PFS_JOURNAL_MAGIC, .active_seq = 1 };
	struct pfs_pmem *pm = &dev->pm;
	char *base = dev->base;
	uint64_t size = dev->size & ~(uint64_t)(PFS_BLOCK_SIZE - 1);
	unsigned extra;                /* lost+found: one inode, one block */
	int rc;

	if (dev->private_map)
		return -EROFS;
	if (!opts)
		opts = &no_opts;
	extra = opts->lost_found ? 1 : 0;
	rc = geometry(&sb, size, opts);
	if (rc) {
		pfs_log(PFS_LOG_ERR, "%s: %llu bytes is too small for pmemfs (minimum %u MiB)",
			dev->info.path, (unsigned long long)size, PFS_MIN_DEVICE_SIZE >> 20);
		return rc;
	}
	fill_identity(&sb, size, opts);
	pfs_super_seal(&sb);

	/* Invalidate any old superblock first, so a torn format is never mounted. */
	pfs_pm_set(pm, base, 0, PFS_BLOCK_SIZE * 2);
	pfs_pm_drain(pm);
	/* everything below the inode table: state, journal, bitmaps */
	zero_meta(pm, base, PFS_BLOCK_SIZE * PFS_STATE_BLOCK,
		  (sb.itable_start - PFS_STATE_BLOCK) << PFS_BLOCK_SHIFT, opts);
	st.free_blocks = sb.data_blocks - 1 - extra;
	st.free_inodes = sb.inode_count - 2 - extra;
	pfs_pm_copy(pm, base + PFS_BLOCK_SIZE * PFS_STATE_BLOCK, &st, sizeof(st));
	pfs_pm_copy(pm, base + (sb.journal_start << PFS_BLOCK_SHIFT), &jh, sizeof(jh));
	write_bitmaps(pm, base, &sb, extra);
	write_root(pm, base, &sb, extra);
	if (extra) {
		rc = write_lost_found(pm, base, &sb);
		if (rc)
			return rc;
	}
	if (sb.bcsum_blocks)
		write_bitmap_csums(pm, base, &sb);
	pfs_pm_drain(pm);
	/* the superblocks last: they make the rest a file system */
	pfs_pm_copy(pm, base + PFS_BLOCK_SIZE * PFS_SB_REPLICA_BLOCK, &sb, sizeof(sb));
	pfs_pm_copy(pm, base, &sb, sizeof(sb));
	pfs_pm_drain(pm);
	if (opts->progress)
		opts->progress(opts->progress_arg, "done", 1, 1);

	if (info) {
		info->device_size = size;
		info->total_blocks = sb.total_blocks;
		info->data_blocks = sb.data_blocks;
		info->inode_count = sb.inode_count;
		info->journal_blocks = sb.journal_blocks;
		memcpy(info->uuid, sb.uuid, sizeof(info->uuid));
	}
	return 0;
}

/* Signatures mkfs will not overwrite without -f. */
int pfs_probe_signature(const void *base, size_t size, const char **what)
{
	const uint8_t *p = base;
	uint64_t magic;

	*what = NULL;
	if (size >= 8) {
		memcpy(&magic, p, 8);
		if (magic == PFS_MAGIC) {
			*what = "pmemfs";
			return 1;
		}
	}
	if (size >= 2 * PFS_BLOCK_SIZE) {
		memcpy(&magic, p + PFS_BLOCK_SIZE, 8);
		if (magic == PFS_MAGIC) {
			*what = "pmemfs (replica superblock)";
			return 1;
		}
	}
	if (size >= 1024 + 0x3a && p[1024 + 0x38] == 0x53 && p[1024 + 0x39] == 0xef)
		*what = "ext2/3/4";
	else if (size >= 4 && memcmp(p, "XFSB", 4) == 0)
		*what = "xfs";
	else if (size >= 0x10048 && memcmp(p + 0x10040, "_BHRfS_M", 8) == 0)
		*what = "btrfs";
	else if (size >= 4096 && memcmp(p + 4086, "SWAPSPACE2", 10) == 0)
		*what = "swap";
	else if (size >= 16 && memcmp(p, "PMEMPOOLSET", 11) == 0)
		*what = "PMDK poolset";
	else if (size >= 8 && (memcmp(p, "PMEMOBJ", 7) == 0 || memcmp(p, "PMEMBLK", 7) == 0 ||
			       memcmp(p, "PMEMLOG", 7) == 0))
		*what = "PMDK pool";
	else if (size >= 4096 + 16 && memcmp(p + 4096, "NAMESPACE_INDEX", 15) == 0)
		*what = "nvdimm label index";
	else if (size >= 4096 + 16 && (memcmp(p + 4096, "BTT_ARENA_INFO", 14) == 0 ||
				       memcmp(p + 4096, "NVDIMM_PFN_INFO", 15) == 0 ||
				       memcmp(p + 4096, "NVDIMM_DAX_INFO", 15) == 0))
		*what = "nvdimm info block";
	return *what ? 1 : 0;
}
