// SPDX-License-Identifier: MIT
/*
 * Mount ("soft init"): validate the superblock (falling back to the replica),
 * the state block and the journal header; roll back an interrupted
 * transaction; reclaim orphans; set up the DRAM state. Nothing here walks a
 * structure sized by the device, so mount time is flat in device size.
 *
 * Also the one place that turns a corrupt-media finding into -EUCLEAN and a
 * read-only file system.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "pfs.h"
#include "media_fault.h"

void pfs_super_seal(struct pfs_super_pm *sb)
{
	sb->csum = pfs_crc32c(0, sb, offsetof(struct pfs_super_pm, csum));
}

/* Written so that no sum can wrap: every field comes from the media. */
static bool area_ok(uint64_t start, uint64_t len, uint64_t next, uint64_t total)
{
	return len > 0 && start <= total && len <= total - start && start + len <= next;
}

/* nbits bits fit in blocks bitmap blocks (no multiplication to overflow). */
static bool bits_fit(uint64_t nbits, uint64_t blocks)
{
	const uint64_t per = PFS_BLOCK_SIZE * 8ull;

	return nbits / per + (nbits % per != 0) <= blocks;
}

int pfs_super_validate(const struct pfs_super_pm *sb, size_t dev_size, const char **why)
{
	if (sb->magic != PFS_MAGIC) {
		*why = "no pmemfs signature";
		return -EINVAL;
	}
	if (sb->csum != pfs_crc32c(0, sb, offsetof(struct pfs_super_pm, csum))) {
		*why = "superblock checksum mismatch";
		return -EUCLEAN;
	}
	if (sb->version_major != PFS_VERSION_MAJOR ||
	    (sb->feature_incompat & ~PFS_FEATURE_INCOMPAT_SUPP)) {
		*why = "format version or incompatible features not supported by this pmemfs";
		return -EOPNOTSUPP;
	}
	if (sb->block_size != PFS_BLOCK_SIZE || sb->inode_size != PFS_INODE_SIZE ||
	    sb->total_blocks != sb->device_size >> PFS_BLOCK_SHIFT ||
	    sb->journal_start != PFS_FIRST_AREA_BLOCK ||
	    !area_ok(sb->journal_start, sb->journal_blocks, sb->ibitmap_start, sb->total_blocks) ||
	    !area_ok(sb->ibitmap_start, sb->ibitmap_blocks, sb->bbitmap_start, sb->total_blocks) ||
	    !area_ok(sb->bbitmap_start, sb->bbitmap_blocks, sb->itable_start, sb->total_blocks) ||
	    !area_ok(sb->itable_start, sb->itable_blocks, sb->data_start, sb->total_blocks) ||
	    sb->data_start > sb->total_blocks ||
	    sb->data_blocks != sb->total_blocks - sb->data_start ||
	    sb->inode_count <= PFS_ROOT_SLOT || sb->inode_count > 0xffffffffull ||
	    sb->inode_count > sb->itable_blocks * PFS_INODES_PER_BLOCK ||
	    !bits_fit(sb->inode_count, sb->ibitmap_blocks) ||
	    !bits_fit(sb->data_blocks, sb->bbitmap_blocks)) {
		*why = "superblock geometry is inconsistent";
		return -EUCLEAN;
	}
	if ((sb->feature_ro_compat & PFS_FEATURE_RO_COMPAT_BMAP_CSUM) &&
	    (sb->bcsum_start != sb->bbitmap_start + sb->bbitmap_blocks ||
	     !area_ok(sb->bcsum_start, sb->bcsum_blocks, sb->itable_start, sb->total_blocks) ||
	     sb->bcsum_blocks < (sb->ibitmap_blocks + sb->bbitmap_blocks +
				 PFS_BCSUM_PER_BLOCK - 1) / PFS_BCSUM_PER_BLOCK)) {
		*why = "bitmap checksum area is inconsistent";
		return -EUCLEAN;
	}
	if (sb->device_size > dev_size) {
		*why = "device is smaller than the file system on it (truncated?)";
		return -EUCLEAN;
	}
	return 0;
}

/*
 * Picks the superblock to trust: the primary if valid, else the replica.
 * *which: 0 primary, 1 replica. On failure returns the primary's error.
 */
int pfs_super_pick(const char *base, size_t size, struct pfs_super_pm *out, int *which)
{
	const char *why = NULL, *why2 = NULL;
	int rc, rc2;

	if (size < 2 * PFS_BLOCK_SIZE) {
		pfs_log(PFS_LOG_ERR, "device too small (%zu bytes) for pmemfs", size);
		return -EINVAL;
	}
	memcpy(out, base, sizeof(*out));
	rc = pfs_super_validate(out, size, &why);
	if (rc == 0) {
		*which = 0;
		return 0;
	}
	if (rc == -EOPNOTSUPP) {
		/* a newer pmemfs wrote it: falling back would downgrade the format */
		pfs_log(PFS_LOG_ERR, "superblock: %s", why);
		return rc;
	}
	memcpy(out, base + PFS_BLOCK_SIZE, sizeof(*out));
	rc2 = pfs_super_validate(out, size, &why2);
	if (rc2 == 0) {
		pfs_log(PFS_LOG_WARN, "primary superblock: %s; using the replica", why);
		*which = 1;
		return 0;
	}
	if (rc == -EINVAL && rc2 == -EINVAL) {
		pfs_log(PFS_LOG_ERR, "not a pmemfs device (no pmemfs signature); "
			"format it with mkfs.pmemfs");
		return -EINVAL;
	}
	pfs_log(PFS_LOG_ERR, "superblock: %s; replica: %s", why, why2);
	return rc == -EINVAL ? rc2 : rc;
}

int pfs_corrupt(struct pfs_fs *fs, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	time_t now;

	/* read-only first: no writer may start on what was just found damaged */
	atomic_store(&fs->readonly, true);
	/* readers find damage too, under the shared lock: one of them logs it */
	if (atomic_exchange(&fs->corrupt_logged, true))
		return -EUCLEAN;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(fs->corrupt_first, msg, sizeof(fs->corrupt_first) - 1);
	fs->corrupt_first[sizeof(fs->corrupt_first) - 1] = '\0';
	now = time(NULL);
	atomic_store(&fs->corrupt_time, now > 0 ? (int64_t)now : 1);
	pfs_log(PFS_LOG_ERR, "%s: corrupt metadata: %s; file system is now read-only, "
		"run fsck.pmemfs", fs->dev->info.path, msg);
	return -EUCLEAN;
}

bool pfs_blk_is_data(const struct pfs_fs *fs, uint64_t blk, uint64_t len)
{
	return len > 0 && blk >= fs->sb.data_start && blk < fs->sb.total_blocks &&
	       len <= fs->sb.total_blocks - blk;
}

int pfs_now(struct timespec *ts)
{
	return clock_gettime(CLOCK_REALTIME, ts) ? -errno : 0;
}

int pfs_fs_setup(struct pfs_fs *fs, struct pfs_device *dev, const struct pfs_super_pm *sb)
{
	int rc;

	memset(fs, 0, sizeof(*fs));
	fs->dev = dev;
	fs->pm = &dev->pm;
	fs->base = dev->base;
	fs->sb = *sb;
	fs->state = pfs_blk(fs, PFS_STATE_BLOCK);
	fs->jhdr = pfs_blk(fs, sb->journal_start);
	fs->jbytes = sb->journal_blocks << PFS_BLOCK_SHIFT;
	fs->ibitmap = pfs_blk(fs, sb->ibitmap_start);
	fs->bbitmap = pfs_blk(fs, sb->bbitmap_start);
	fs->itable = pfs_blk(fs, sb->itable_start);
	atomic_init(&fs->readonly, dev->readonly);
	rc = pfs_bmap_setup(fs);
	if (rc)
		return rc;
	pthread_rwlock_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->tx_lock, NULL);
	rc = pfs_icache_init(&fs->icache);
	if (rc)
		goto out_bmap;
	rc = pfs_journal_init(fs);
	if (rc)
		goto out_icache;
	fs->zero = calloc(1, PFS_ZERO_LEN);
	if (!fs->zero) {
		rc = -ENOMEM;
		goto out_journal;
	}
	fs->inode_cursor = PFS_FIRST_FREE_SLOT;
	fs->media_slot = pfs_media_fault_register(dev->base, dev->size, &fs->readonly,
						  dev->info.path);
	return 0;

out_journal:
	pfs_journal_fini(fs);
out_icache:
	pfs_icache_fini(&fs->icache);
out_bmap:
	pfs_bmap_teardown(fs);
	return rc;
}

void pfs_fs_teardown(struct pfs_fs *fs)
{
	pfs_media_fault_unregister(fs->media_slot);
	free(fs->zero);
	pfs_journal_fini(fs);
	pfs_icache_fini(&fs->icache);
	pfs_bmap_teardown(fs);
	pthread_mutex_destroy(&fs->tx_lock);
	pthread_rwlock_destroy(&fs->lock);
}

static int check_state(struct pfs_fs *fs)
{
	const struct pfs_state_pm *st = fs->state;

	if (st->magic != PFS_STATE_MAGIC)
		return pfs_corrupt(fs, "state block has a bad signature");
	if (fs->jhdr->magic != PFS_JOURNAL_MAGIC)
		return pfs_corrupt(fs, "journal header has a bad signature");
	if (st->free_blocks > fs->sb.data_blocks || st->free_inodes > fs->sb.inode_count)
		return pfs_corrupt(fs, "free counts exceed the device");
	if (st->orphan_head >= fs->sb.inode_count)
		return pfs_corrupt(fs, "orphan list head %llu out of range",
				   (unsigned long long)st->orphan_head);
	return 0;
}

static int repair_primary_sb(struct pfs_fs *fs, int which)
{
	if (which == 0 || fs->dev->private_map)
		return 0;
	pfs_pm_copy(fs->pm, fs->base, &fs->sb, sizeof(fs->sb));
	pfs_pm_drain(fs->pm);
	pfs_log(PFS_LOG_WARN, "%s: primary superblock rewritten from the replica",
		fs->dev->info.path);
	return 0;
}

static int bump_mount_count(struct pfs_fs *fs)
{
	struct pfs_tx *tx;
	struct timespec now;
	int rc;

	if (fs->dev->private_map)
		return 0;
	rc = pfs_tx_begin(fs, &tx);
	if (rc)
		return rc;
	pfs_now(&now);
	rc = pfs_tx_set_u64(tx, &fs->state->mount_count, fs->state->mount_count + 1);
	if (!rc)
		rc = pfs_tx_set_u64(tx, (uint64_t *)&fs->state->last_mount_time,
				    (uint64_t)now.tv_sec);
	return pfs_tx_end(tx, rc);
}

static int mount_recover(struct pfs_fs *fs)
{
	unsigned nrecs = 0, norphans = 0;
	int rc;

	if (fs->dev->readonly && fs->dev->info.kind == PFS_DEV_DAX) {
		/* a read-only devdax mapping cannot even be rolled back in memory */
		if (pfs_journal_recover(fs, NULL) == -EROFS) {
			pfs_log(PFS_LOG_ERR, "%s: the journal holds an interrupted transaction; "
				"mount read-write once to recover it", fs->dev->info.path);
			return -EROFS;
		}
		return 0;
	}
	rc = pfs_journal_recover(fs, &nrecs);
	if (rc)
		return rc;
	if (nrecs)
		pfs_log(PFS_LOG_INFO, "%s: rolled back an interrupted transaction (%u records)",
			fs->dev->info.path, nrecs);
	rc = pfs_orphans_reclaim(fs, &norphans);
	if (rc)
		return rc;
	if (norphans)
		pfs_log(PFS_LOG_INFO, "%s: freed %u orphaned inodes", fs->dev->info.path,
			norphans);
	return 0;
}

/*
 * A mount whose root directory is unusable would come up and answer every
 * request with EUCLEAN: refuse it instead, naming the repair.
 */
static int check_root(struct pfs_fs *fs)
{
	const struct pfs_inode_pm *ip = pfs_inode_at(fs, PFS_ROOT_SLOT);
	char why[128];

	if (!pfs_slot_in_use(fs, PFS_ROOT_SLOT))
		snprintf(why, sizeof(why), "its inode is not marked in use");
	else if (!S_ISDIR(ip->mode))
		snprintf(why, sizeof(why), "not a directory (mode 0%o)", ip->mode);
	else if (pfs_inode_check(fs, ip, why, sizeof(why)))
		return 0;
	/* the caller names the device and the repair */
	pfs_log(PFS_LOG_ERR, "the root directory (inode 1) is damaged: %s", why);
	return -EUCLEAN;
}

int pfs_mount(struct pfs_device *dev, unsigned flags, struct pfs_fs **out)
{
	struct pfs_super_pm sb;
	struct pfs_fs *fs;
	int which, rc;

	rc = pfs_super_pick(dev->base, dev->size, &sb, &which);
	if (rc)
		return rc;
	fs = malloc(sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	rc = pfs_fs_setup(fs, dev, &sb);
	if (rc)
		goto out_free;
	rc = check_state(fs);
	if (rc)
		goto out_teardown;
	rc = repair_primary_sb(fs, which);
	if (rc)
		goto out_teardown;
	rc = mount_recover(fs);
	if (rc)
		goto out_teardown;
	rc = check_root(fs);
	if (rc)
		goto out_teardown;
	if (!(flags & PFS_MOUNT_RDONLY)) {
		rc = bump_mount_count(fs);
		if (rc)
			goto out_teardown;
	}
	if (flags & PFS_MOUNT_RDONLY)
		atomic_store(&fs->readonly, true);
	if (sb.feature_ro_compat & ~PFS_FEATURE_RO_COMPAT_SUPP) {
		pfs_log(PFS_LOG_WARN, "%s: read-only compatible features 0x%llx unknown to this "
			"pmemfs: mounted read-only", dev->info.path,
			(unsigned long long)(sb.feature_ro_compat & ~PFS_FEATURE_RO_COMPAT_SUPP));
		atomic_store(&fs->readonly, true);
	}
	*out = fs;
	return 0;

out_teardown:
	pfs_fs_teardown(fs);
out_free:
	free(fs);
	return rc;
}

void pfs_unmount(struct pfs_fs *fs)
{
	if (!fs)
		return;
	pthread_rwlock_wrlock(&fs->lock);
	pfs_pm_drain(fs->pm);
	pthread_rwlock_unlock(&fs->lock);
	pfs_fs_teardown(fs);
	free(fs);
}

uint64_t pfs_root_ino(const struct pfs_fs *fs)
{
	return pfs_inode_ino(fs, pfs_inode_at(fs, PFS_ROOT_SLOT));
}

bool pfs_is_readonly(const struct pfs_fs *fs)
{
	return atomic_load(&((struct pfs_fs *)fs)->readonly);
}

const struct pfs_device_info *pfs_fs_device_info(const struct pfs_fs *fs)
{
	return &fs->dev->info;
}

int pfs_statfs(struct pfs_fs *fs, struct statvfs *out)
{
	memset(out, 0, sizeof(*out));
	out->f_bsize = PFS_BLOCK_SIZE;
	out->f_frsize = PFS_BLOCK_SIZE;
	out->f_blocks = fs->sb.data_blocks;
	/* the counts change in transactions, under the exclusive lock */
	pthread_rwlock_rdlock(&fs->lock);
	out->f_bfree = PFS_LOAD(fs->state->free_blocks);
	out->f_ffree = PFS_LOAD(fs->state->free_inodes);
	pthread_rwlock_unlock(&fs->lock);
	out->f_files = fs->sb.inode_count - PFS_FIRST_FREE_SLOT + 1;
	/* counts from the media: never more than there is (df would say nonsense) */
	if (out->f_bfree > out->f_blocks || out->f_ffree > out->f_files) {
		pfs_corrupt(fs, "state block (offset %u): free counts %llu blocks, %llu inodes "
			    "exceed the device", PFS_STATE_BLOCK << PFS_BLOCK_SHIFT,
			    (unsigned long long)out->f_bfree, (unsigned long long)out->f_ffree);
		if (out->f_bfree > out->f_blocks)
			out->f_bfree = out->f_blocks;
		if (out->f_ffree > out->f_files)
			out->f_ffree = out->f_files;
	}
	out->f_bavail = out->f_bfree;
	out->f_favail = out->f_ffree;
	memcpy(&out->f_fsid, fs->sb.uuid, sizeof(out->f_fsid));
	out->f_namemax = PFS_NAME_MAX;
	if (pfs_is_readonly(fs))
		out->f_flag |= ST_RDONLY;
	return 0;
}
