// SPDX-License-Identifier: MIT
/*
 * The bad-input table (docs/bad-input.md), the rows that are simplest to prove
 * on a DRAM device: corruption met at run time, a corrupt journal record,
 * limits (name length, file size) and junk written to every control file.
 * Each test proves that nothing but the expected bytes changed, by comparing
 * the whole image (or the whole topology) before and after.
 */
#include "fixture.h"

#include "ctl.h"
#include "ctl_int.h"
#include "nd_fake.h"

#define MIB 16

static size_t dev_size(struct fx *f)
{
	return pfs_device_get_info(f->dev)->size;
}

static void *snapshot(struct fx *f)
{
	void *p = malloc(dev_size(f));

	assert_non_null(p);
	memcpy(p, pfs_device_base(f->dev), dev_size(f));
	return p;
}

static void assert_image_is(struct fx *f, const void *snap)
{
	assert_memory_equal(pfs_device_base(f->dev), snap, dev_size(f));
}

/*
 * The same, but for the journal area: a refused operation that had begun a
 * transaction leaves dead undo records there (and a new active_seq), which
 * are no part of the file system's state.
 */
static void assert_state_is(struct fx *f, const char *snap)
{
	const char *img = pfs_device_base(f->dev);
	size_t jlo = f->fs->sb.journal_start << PFS_BLOCK_SHIFT;
	size_t jhi = jlo + (f->fs->sb.journal_blocks << PFS_BLOCK_SHIFT);

	assert_memory_equal(img, snap, jlo);
	assert_memory_equal(img + jhi, snap + jhi, dev_size(f) - jhi);
}

static void assert_reads(struct fx *f, uint64_t ino, const char *want)
{
	char buf[256];
	ssize_t n = fx_read(f, ino, 0, buf, sizeof(buf));

	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(buf, want, strlen(want));
}

/* Two directories with a file each; unmounted and remounted, so all is durable. */
static struct fx *two_files(uint64_t *a, uint64_t *b, uint64_t *da, uint64_t *db)
{
	struct fx *f = fx_new(MIB, 0);

	*da = fx_mkdir(f, f->root, "da");
	*db = fx_mkdir(f, f->root, "db");
	*a = fx_create(f, *da, "a");
	*b = fx_create(f, *db, "b");
	assert_int_equal(fx_write(f, *a, 0, "alpha", 5), 0);
	assert_int_equal(fx_write(f, *b, 0, "bravo", 5), 0);
	fx_remount(f);
	return f;
}

/* After corruption was found: read-only, and no operation stores anything. */
static void assert_readonly_and_unchanged(struct fx *f, uint64_t b, uint64_t db,
					  const void *snap)
{
	struct pfs_attr at;

	assert_true(pfs_is_readonly(f->fs));
	assert_int_equal(pfs_mknod(f->fs, f->root, "new", S_IFREG | 0644, 0, &f->cred, &at),
			 -EROFS);
	assert_int_equal(fx_write(f, b, 0, "x", 1), -EROFS);
	assert_int_equal(pfs_unlink(f->fs, db, "b"), -EROFS);
	/* everything else still reads */
	assert_reads(f, b, "bravo");
	assert_int_equal(pfs_getattr(f->fs, db, &at), 0);
	assert_image_is(f, snap);
}

static void test_corrupt_inode_at_run_time_fails_with_euclean_and_goes_read_only(void **state)
{
	uint64_t a, b, da, db;
	struct fx *f = two_files(&a, &b, &da, &db);
	struct pfs_attr at;
	void *snap;

	pfs_inode_at(f->fs, PFS_SLOT(a))->mode = 0170644; /* no such file type */
	snap = snapshot(f);
	assert_false(pfs_is_readonly(f->fs));
	assert_int_equal(pfs_getattr(f->fs, a, &at), -EUCLEAN);
	assert_int_equal(fx_read(f, a, 0, &at, 1), -EUCLEAN);
	assert_readonly_and_unchanged(f, b, db, snap);
	free(snap);
	fx_free(f);
}

static void test_corrupt_directory_bucket_fails_with_euclean_and_goes_read_only(void **state)
{
	uint64_t a, b, da, db;
	struct fx *f = two_files(&a, &b, &da, &db);
	struct pfs_bucket_hdr_pm *bk;
	struct pfs_inode_pm *dip;
	struct pfs_attr at;
	void *snap;

	assert_int_equal(pfs_inode_get(f->fs, da, &dip), 0);
	assert_int_equal(pfs_dir_bucket(f->fs, dip, 0, &bk), 0);
	bk->used = PFS_BLOCK_SIZE; /* more bytes than a bucket has */
	snap = snapshot(f);
	assert_int_equal(pfs_lookup(f->fs, da, "a", &at), -EUCLEAN);
	assert_readonly_and_unchanged(f, b, db, snap);
	free(snap);
	fx_free(f);
}

static void test_corrupt_extent_fails_the_read_with_euclean_only(void **state)
{
	uint64_t a, b, da, db;
	struct fx *f = two_files(&a, &b, &da, &db);
	char buf[8];
	void *snap;

	pfs_inode_at(f->fs, PFS_SLOT(a))->ext[0].pblk = 1; /* the replica superblock */
	snap = snapshot(f);
	assert_int_equal(fx_read(f, a, 0, buf, sizeof(buf)), -EUCLEAN);
	assert_readonly_and_unchanged(f, b, db, snap);
	free(snap);
	fx_free(f);
}

static void test_corrupt_mode_is_never_written_back_by_a_later_mount(void **state)
{
	uint64_t a, b, da, db;
	struct fx *f = two_files(&a, &b, &da, &db);
	struct pfs_attr at;
	void *snap;

	pfs_inode_at(f->fs, PFS_SLOT(a))->mode = 0;
	pfs_unmount(f->fs);
	snap = snapshot(f);
	/* a read-only mount changes nothing at all */
	assert_int_equal(pfs_mount(f->dev, PFS_MOUNT_RDONLY, &f->fs), 0);
	/* in use in the bitmap with mode 0: corrupt, not a stale id */
	assert_int_equal(pfs_getattr(f->fs, a, &at), -EUCLEAN);
	assert_int_equal(pfs_lookup(f->fs, da, "a", &at), -EUCLEAN);
	assert_true(pfs_is_readonly(f->fs));
	assert_int_equal(pfs_getattr(f->fs, b, &at), 0);
	assert_image_is(f, snap);
	free(snap);
	fx_free(f);
}

/* The journal records of the transaction in the image, by position. */
static struct pfs_jrec_pm *jrec(struct fx *f, char *img, unsigned idx)
{
	uint64_t p = sizeof(struct pfs_jhdr_pm);

	for (unsigned i = 0; i < idx; i++) {
		const struct pfs_jrec_pm *r = (const void *)(img + pfs_off(f->fs, f->fs->jhdr) + p);

		p += sizeof(*r) + ((r->len + 7u) & ~7u);
	}
	return (void *)(img + pfs_off(f->fs, f->fs->jhdr) + p);
}

/*
 * A power cut during a transaction that changed the root's uid and then an
 * inode of the other end of the image; the second record is then damaged.
 * Recovery applies the records before the damaged one and ignores it and all
 * after (a record that fails its checksum is taken as torn), and stores
 * nothing else but the new active_seq.
 */
static void test_corrupt_journal_record_checksum_stops_recovery_there(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t x = fx_create(f, f->root, "x");
	struct pfs_inode_pm *rip = pfs_inode_at(f->fs, PFS_ROOT_SLOT);
	struct pfs_inode_pm *xip = pfs_inode_at(f->fs, PFS_SLOT(x));
	uint64_t roff = pfs_off(f->fs, &rip->uid), xoff = pfs_off(f->fs, &xip->uid);
	uint64_t seqoff = pfs_off(f->fs, &f->fs->jhdr->active_seq);
	uint32_t old_uid = rip->uid;
	struct pfs_device *copy;
	struct pfs_fs *fs2;
	struct pfs_tx *tx;
	char *img, *before;
	size_t size = dev_size(f);

	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	assert_int_equal(pfs_tx_set_u32(tx, &rip->uid, 4242), 0);
	assert_int_equal(pfs_tx_set_u32(tx, &xip->uid, 4343), 0);
	assert_int_equal(pfs_device_dram_copy(pfs_device_base(f->dev), size, &copy), 0);
	pfs_tx_abort(tx);
	img = pfs_device_base(copy);
	assert_int_equal(jrec(f, img, 1)->off, xoff & ~63ull);
	jrec(f, img, 1)->csum ^= 1;
	before = malloc(size);
	assert_non_null(before);
	memcpy(before, img, size);

	assert_int_equal(pfs_mount(copy, PFS_MOUNT_RDONLY, &fs2), 0);
	assert_int_equal(((struct pfs_inode_pm *)(img + roff - offsetof(struct pfs_inode_pm, uid)))
			 ->uid, old_uid);
	assert_int_equal(*(uint32_t *)(img + xoff), 4343);
	/* only the first record's line and active_seq differ */
	for (size_t i = 0; i < size; i++) {
		if (i / 64 == roff / 64 || i / 8 == seqoff / 8)
			continue;
		if (img[i] != before[i])
			fail_msg("byte %zu changed by recovery", i);
	}
	pfs_unmount(fs2);
	pfs_device_close(copy);
	free(before);
	fx_free(f);
}

/* Regression (fuzz_mount): the error path of this refusal read freed memory. */
static void test_journal_record_targeting_the_superblock_refuses_the_mount(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	struct pfs_inode_pm *rip = pfs_inode_at(f->fs, PFS_ROOT_SLOT);
	struct pfs_device *copy;
	struct pfs_jrec_pm *r;
	struct pfs_fs *fs2;
	struct pfs_tx *tx;
	char *img, *before;
	size_t size = dev_size(f);

	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	assert_int_equal(pfs_tx_set_u32(tx, &rip->uid, 4242), 0);
	assert_int_equal(pfs_device_dram_copy(pfs_device_base(f->dev), size, &copy), 0);
	pfs_tx_abort(tx);
	img = pfs_device_base(copy);
	r = jrec(f, img, 0);
	r->off = 0;
	r->csum = pfs_crc32c(pfs_crc32c(0, r, offsetof(struct pfs_jrec_pm, csum)), r + 1, r->len);
	before = malloc(size);
	assert_non_null(before);
	memcpy(before, img, size);
	assert_int_equal(pfs_mount(copy, 0, &fs2), -EUCLEAN);
	assert_memory_equal(img, before, size);
	pfs_device_close(copy);
	free(before);
	fx_free(f);
}

/* Regression (fuzz_mount): an area start near 2^64 wrapped the bounds check. */
static void test_superblock_area_that_wraps_around_is_refused(void **state)
{
	static const size_t offs[] = { offsetof(struct pfs_super_pm, ibitmap_start),
				       offsetof(struct pfs_super_pm, data_start) };
	struct fx *f = fx_new(MIB, 0);
	char *img = pfs_device_base(f->dev);
	struct pfs_super_pm good;
	struct pfs_fs *fs2;

	pfs_unmount(f->fs);
	f->fs = NULL;
	memcpy(&good, img, sizeof(good));
	for (size_t i = 0; i < 2; i++) {
		struct pfs_super_pm sb = good;
		uint64_t wrap = UINT64_MAX;

		memcpy((char *)&sb + offs[i], &wrap, sizeof(wrap));
		if (i == 1)
			sb.data_blocks = good.total_blocks + 1; /* data_start + data_blocks wraps */
		pfs_super_seal(&sb);
		memcpy(img, &sb, sizeof(sb));
		memcpy(img + PFS_BLOCK_SIZE, &sb, sizeof(sb));
		assert_int_equal(pfs_mount(f->dev, 0, &fs2), -EUCLEAN);
	}
	memcpy(img, &good, sizeof(good));
	memcpy(img + PFS_BLOCK_SIZE, &good, sizeof(good));
	assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0);
	fx_free(f);
}

/* Regression (fuzz_check): with active_seq 0 the first transaction never ended. */
static void test_transactions_work_when_the_journal_seq_is_zero(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	struct pfs_jhdr_pm *jh = (void *)((char *)pfs_device_base(f->dev) +
					  (f->fs->sb.journal_start << PFS_BLOCK_SHIFT));
	uint64_t x;

	pfs_unmount(f->fs);
	jh->active_seq = 0;
	assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0); /* bumps mount_count: a tx */
	f->root = pfs_root_ino(f->fs);
	x = fx_create(f, f->root, "x");
	assert_int_equal(fx_write(f, x, 0, "data", 4), 0);
	fx_remount(f);
	assert_reads(f, x, "data");
	fx_free(f);
}

static void test_name_of_256_bytes_is_enametoolong_and_creates_nothing(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	char name[257];
	struct pfs_attr at;
	struct statvfs before, after;
	void *snap;

	memset(name, 'n', 256);
	name[256] = '\0';
	pfs_statfs(f->fs, &before);
	snap = snapshot(f);
	assert_int_equal(pfs_mknod(f->fs, f->root, name, S_IFREG | 0644, 0, &f->cred, &at),
			 -ENAMETOOLONG);
	assert_int_equal(pfs_mkdir(f->fs, f->root, name, 0755, &f->cred, &at), -ENAMETOOLONG);
	assert_int_equal(pfs_symlink(f->fs, f->root, name, "t", &f->cred, &at), -ENAMETOOLONG);
	assert_int_equal(pfs_lookup(f->fs, f->root, name, &at), -ENAMETOOLONG);
	assert_image_is(f, snap);
	pfs_statfs(f->fs, &after);
	assert_int_equal(before.f_ffree, after.f_ffree);
	/* 255 is the limit */
	name[255] = '\0';
	fx_create(f, f->root, name);
	free(snap);
	fx_free(f);
}

static void test_write_past_the_maximum_file_size_is_efbig_and_changes_nothing(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t x = fx_create(f, f->root, "x");
	struct pfs_setattr sa = { .valid = PFS_SET_SIZE, .size = PFS_MAX_FILE_SIZE + 1 };
	struct pfs_attr at;
	void *snap;

	assert_int_equal(fx_write(f, x, 0, "data", 4), 0);
	snap = snapshot(f);
	assert_int_equal(fx_write(f, x, PFS_MAX_FILE_SIZE, "y", 1), -EFBIG);
	assert_int_equal(fx_write(f, x, PFS_MAX_FILE_SIZE - 1, "yz", 2), -EFBIG);
	assert_int_equal(pfs_setattr(f->fs, x, &sa, &at), -EFBIG);
	assert_int_equal(pfs_fallocate(f->fs, x, 0, PFS_MAX_FILE_SIZE, 1), -EFBIG);
	assert_state_is(f, snap);
	assert_reads(f, x, "data");
	free(snap);
	fx_free(f);
}

/* ---- junk written to control files ---- */

static void quiet(enum pfs_log_level lvl, const char *msg)
{
	(void)lvl;
	(void)msg;
}

struct ents {
	char name[32][64];
	struct pfs_ctl_stat st[32];
	unsigned n;
};

static int note(void *arg, const char *name, const struct pfs_ctl_stat *st)
{
	struct ents *e = arg;

	assert_true(e->n < 32);
	snprintf(e->name[e->n], sizeof(e->name[0]), "%s", name);
	e->st[e->n++] = *st;
	return 0;
}

/* Every writable control file under id, as node ids. */
static void writable_files(struct pfs_ctl *ctl, uint64_t id, uint64_t *out, unsigned *n)
{
	struct ents e = { .n = 0 };

	assert_int_equal(pfs_ctl_readdir(ctl, id, note, &e), 0);
	for (unsigned i = 0; i < e.n; i++) {
		if (e.st[i].kind == PFS_CTL_DIR)
			writable_files(ctl, e.st[i].id, out, n);
		else if (e.st[i].kind == PFS_CTL_FILE && (e.st[i].mode & 0200))
			out[(*n)++] = e.st[i].id;
	}
}

static char *topology(struct pfs_ctl *ctl)
{
	struct pfs_ctl_stat st;
	char *text;
	size_t len;

	assert_int_equal(pfs_ctl_lookup(ctl, PFS_CTL_ROOT_ID, "topology.json", &st), 0);
	assert_int_equal(pfs_ctl_read(ctl, st.id, &text, &len), 0);
	return text;
}

static void test_junk_written_to_any_control_file_is_einval_and_changes_nothing(void **state)
{
	static const struct { const char *s; size_t len; } junk[] = {
		{ "", 0 }, { "\n", 1 }, { "   \n", 4 }, { "\0", 1 }, { "1\0" "0", 3 },
		{ "\x01\x02\x03", 3 }, { "\xff\xfe", 2 }, { "1\n1\n", 4 }, { "0x10", 4 },
		{ "-1", 2 }, { "1 2", 3 }, { "fsdax\r\n", 7 }, { "99999999999999999999999", 23 },
		{ "size=", 5 }, { "=1", 2 }, { "size==1", 7 }, { "%s%n%x", 6 },
	};
	uint64_t ids[64];
	unsigned nids = 0;
	struct nd_fake fake;
	struct nd_backend be;
	struct pfs_ctl *ctl;
	char *before, *after, big[8192];

	pfs_log_set_sink(quiet, PFS_LOG_ERR);
	nd_fake_init(&fake);
	nd_fake_backend(&fake, &be);
	assert_int_equal(pfs_ctl_new(&be, "/nonexistent/device", &ctl), 0);
	writable_files(ctl, PFS_CTL_ROOT_ID, ids, &nids);
	assert_true(nids >= 10); /* mode, size, enabled, destroy, create, ... */
	before = topology(ctl);
	memset(big, '1', sizeof(big));
	for (unsigned i = 0; i < nids; i++) {
		for (size_t j = 0; j < sizeof(junk) / sizeof(junk[0]); j++) {
			int rc = pfs_ctl_write(ctl, ids[i], 0, junk[j].s, junk[j].len);

			if (rc != -EINVAL && rc != -EACCES && rc != -EOPNOTSUPP)
				fail_msg("file %llu, junk %zu: %d", (unsigned long long)ids[i], j,
					 rc);
		}
		assert_int_equal(pfs_ctl_write(ctl, ids[i], 0, big, sizeof(big)), -EINVAL);
		assert_int_equal(pfs_ctl_write(ctl, ids[i], 1000, "1", 1), -EACCES);
	}
	assert_int_equal(fake.calls, 0);
	after = topology(ctl);
	assert_string_equal(before, after);
	free(before);
	free(after);
	pfs_ctl_free(ctl);
	nd_fake_fini(&fake);
}

#define T(f) cmocka_unit_test(f)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_corrupt_inode_at_run_time_fails_with_euclean_and_goes_read_only),
		T(test_corrupt_directory_bucket_fails_with_euclean_and_goes_read_only),
		T(test_corrupt_extent_fails_the_read_with_euclean_only),
		T(test_corrupt_mode_is_never_written_back_by_a_later_mount),
		T(test_corrupt_journal_record_checksum_stops_recovery_there),
		T(test_journal_record_targeting_the_superblock_refuses_the_mount),
		T(test_superblock_area_that_wraps_around_is_refused),
		T(test_transactions_work_when_the_journal_seq_is_zero),
		T(test_name_of_256_bytes_is_enametoolong_and_creates_nothing),
		T(test_write_past_the_maximum_file_size_is_efbig_and_changes_nothing),
		T(test_junk_written_to_any_control_file_is_einval_and_changes_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
