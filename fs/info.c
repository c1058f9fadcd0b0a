// SPDX-License-Identifier: MIT
/*
 * Read-only reports: what a device holds (pfs_info, for pmemfs-info) and the
 * live counters of a mounted file system (pfs_fs_get_stats, for the status
 * file). Nothing here stores to the device: pfs_info only reads, and the
 * journal walk it borrows (pfs_journal_pending) only collects records.
 */
#include <libpmem.h>
#include <stdio.h>
#include <stdlib.h>

#include "media_fault.h"
#include "pfs.h"

static void info_area(struct pfs_info *out, const char *name, uint64_t start, uint64_t blocks)
{
	if (out->nareas < sizeof(out->areas) / sizeof(out->areas[0]))
		out->areas[out->nareas++] = (struct pfs_info_area){ name, start, blocks };
}

static void info_super(struct pfs_info *out, const struct pfs_super_pm *sb)
{
	out->version_major = sb->version_major;
	out->version_minor = sb->version_minor;
	out->feature_compat = sb->feature_compat;
	out->feature_incompat = sb->feature_incompat;
	out->feature_ro_compat = sb->feature_ro_compat;
	memcpy(out->uuid, sb->uuid, sizeof(out->uuid));
	memcpy(out->label, sb->label, sizeof(out->label));
	out->label[sizeof(out->label) - 1] = '\0';
	out->block_size = sb->block_size;
	out->inode_size = sb->inode_size;
	out->device_size = sb->device_size;
	out->total_blocks = sb->total_blocks;
	out->inode_count = sb->inode_count;
	out->data_blocks = sb->data_blocks;
	out->mkfs_time = sb->mkfs_time;
	info_area(out, "superblock", PFS_SB_BLOCK, 1);
	info_area(out, "replica", PFS_SB_REPLICA_BLOCK, 1);
	info_area(out, "state", PFS_STATE_BLOCK, 1);
	info_area(out, "journal", sb->journal_start, sb->journal_blocks);
	info_area(out, "inode bitmap", sb->ibitmap_start, sb->ibitmap_blocks);
	info_area(out, "block bitmap", sb->bbitmap_start, sb->bbitmap_blocks);
	if (sb->bcsum_blocks)
		info_area(out, "bitmap checksums", sb->bcsum_start, sb->bcsum_blocks);
	info_area(out, "inode table", sb->itable_start, sb->itable_blocks);
	info_area(out, "data", sb->data_start, sb->data_blocks);
}

static void info_state(struct pfs_info *out, const struct pfs_state_pm *st)
{
	out->state_valid = st->magic == PFS_STATE_MAGIC && st->free_blocks <= out->data_blocks &&
			   st->free_inodes <= out->inode_count &&
			   st->orphan_head < out->inode_count;
	out->free_blocks = st->free_blocks;
	out->free_inodes = st->free_inodes;
	out->mount_count = st->mount_count;
	out->last_mount_time = st->last_mount_time;
	out->orphan_head = st->orphan_head;
}

/* The records an interrupted transaction left, found as recovery would find them. */
static int info_journal(struct pfs_device *dev, const struct pfs_super_pm *sb,
			struct pfs_info *out)
{
	const struct pfs_jhdr_pm *jh = (const void *)(dev->base +
						      (sb->journal_start << PFS_BLOCK_SHIFT));
	struct pfs_fs *fs;
	int rc;

	out->journal_valid = jh->magic == PFS_JOURNAL_MAGIC;
	out->journal_seq = jh->active_seq;
	if (!out->journal_valid)
		return 0;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	rc = pfs_fs_setup(fs, dev, sb);
	if (!rc) {
		rc = pfs_journal_pending(fs, &out->journal_records);
		pfs_fs_teardown(fs);
	}
	free(fs);
	return rc;
}

/*
 * The superblock is chosen as pfs_super_pick chooses (primary, else the
 * replica unless the primary is from a newer pmemfs), but quietly: the
 * caller reports both verdicts itself.
 */
int pfs_info(struct pfs_device *dev, struct pfs_info *out)
{
	struct pfs_super_pm p, r;
	const struct pfs_super_pm *sb;
	int rc_p, rc_r;

	memset(out, 0, sizeof(*out));
	if (dev->size < 2 * PFS_BLOCK_SIZE) {
		out->primary_why = out->replica_why = "device too small for pmemfs";
		return -EINVAL;
	}
	memcpy(&p, dev->base, sizeof(p));
	memcpy(&r, dev->base + PFS_BLOCK_SIZE, sizeof(r));
	rc_p = pfs_super_validate(&p, dev->size, &out->primary_why);
	rc_r = pfs_super_validate(&r, dev->size, &out->replica_why);
	out->primary_valid = rc_p == 0;
	out->replica_valid = rc_r == 0;
	if (out->primary_valid)
		out->primary_why = NULL;
	if (out->replica_valid)
		out->replica_why = NULL;
	out->replica_matches = !rc_p && !rc_r && memcmp(&p, &r, sizeof(p)) == 0;
	if (!rc_p) {
		sb = &p;
	} else if (rc_p != -EOPNOTSUPP && !rc_r) {
		sb = &r;
		out->which = 1;
	} else {
		return rc_p == -EINVAL && rc_r ? rc_r : rc_p;
	}
	info_super(out, sb);
	info_state(out, (const struct pfs_state_pm *)(dev->base +
		     PFS_STATE_BLOCK * PFS_BLOCK_SIZE));
	return info_journal(dev, sb, out);
}

void pfs_fs_get_stats(const struct pfs_fs *fs, struct pfs_fs_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->journal_commits = atomic_load_explicit(&((struct pfs_fs *)fs)->commits,
						    memory_order_relaxed);
	out->readonly = pfs_is_readonly(fs);
	out->readonly_requested = fs->dev->readonly;
	out->corrupt_time = atomic_load(&((struct pfs_fs *)fs)->corrupt_time);
	if (out->corrupt_time)
		memcpy(out->corrupt_first, fs->corrupt_first, sizeof(out->corrupt_first));
	out->media_errors = pfs_media_fault_count(fs->media_slot);
}

/* libpmem asks the platform (ACPI NFIT, via sysfs) whether caches are persistent. */
const char *pfs_persistence_domain(const struct pfs_device_info *info)
{
	if (!info->is_pmem)
		return info->kind == PFS_DEV_DRAM ? "none (DRAM)" : "none (emulation: msync)";
	return pmem_has_auto_flush() == 1 ? "cpu_cache" : "memory_controller";
}
