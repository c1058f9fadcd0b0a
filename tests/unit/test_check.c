// SPDX-License-Identifier: MIT
/* The checker on DRAM images: clean after a workload, finds and repairs damage. */
#include "fixture.h"

static void count_report(void *arg, const char *object, const char *problem, bool repaired)
{
	if (getenv("PFS_TEST_VERBOSE"))
		fprintf(stderr, "%s: %s%s\n", object, problem, repaired ? " [fixed]" : "");
	(*(unsigned *)arg)++;
}

/* Unmounts, checks with flags, and remounts. */
static struct pfs_check_result check_now(struct fx *f, unsigned flags)
{
	struct pfs_check_result res = { 0 };
	unsigned lines = 0;

	pfs_unmount(f->fs);
	assert_int_equal(pfs_check(f->dev, flags | PFS_CHECK_QUIET, count_report, &lines, &res), 0);
	assert_true(lines >= res.problems);
	assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0);
	f->root = pfs_root_ino(f->fs);
	return res;
}

static void workload(struct fx *f)
{
	uint64_t d = fx_mkdir(f, f->root, "d");
	uint64_t a = fx_create(f, d, "a");
	char buf[20000] = { 7 };
	struct pfs_attr at;

	assert_int_equal(fx_write(f, a, 0, buf, sizeof(buf)), 0);
	assert_int_equal(pfs_link(f->fs, a, f->root, "hard", &at), 0);
	assert_int_equal(pfs_symlink(f->fs, d, "s", "a", &f->cred, &at), 0);
	assert_int_equal(pfs_setxattr(f->fs, a, "user.x", "1", 1, 0), 0);
	for (int i = 0; i < 300; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%d", i);
		fx_create(f, d, name);
	}
	assert_int_equal(pfs_rename(f->fs, d, "f1", f->root, "moved", 0), 0);
	assert_int_equal(pfs_unlink(f->fs, d, "f2"), 0);
}

static void test_check_after_workload_is_clean(void **state)
{
	struct fx *f = fx_new(32, 0);

	workload(f);
	assert_int_equal(check_now(f, 0).problems, 0);
	fx_free(f);
}

static void test_check_finds_and_repairs_a_wrong_link_count(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t a = fx_create(f, f->root, "a");
	struct pfs_inode_pm *ip = pfs_inode_at(f->fs, PFS_SLOT(a));
	struct pfs_check_result res;

	ip->nlink = 5; /* damage behind the journal's back */
	res = check_now(f, 0);
	assert_true(res.problems > 0);
	assert_int_equal(res.repaired, 0);
	res = check_now(f, PFS_CHECK_REPAIR);
	assert_int_equal(res.repaired, res.problems);
	assert_int_equal(check_now(f, 0).problems, 0);
	fx_free(f);
}

static void test_check_finds_a_leaked_block(void **state)
{
	struct fx *f = fx_new(32, 0);
	struct pfs_check_result res;

	f->fs->bbitmap[10] |= 1; /* a block marked used that nothing owns */
	res = check_now(f, PFS_CHECK_REPAIR);
	assert_true(res.problems > 0);
	assert_int_equal(res.repaired, res.problems);
	assert_int_equal(check_now(f, 0).problems, 0);
	fx_free(f);
}

static void test_check_repairs_primary_superblock_from_replica(void **state)
{
	struct fx *f = fx_new(32, 0);
	char *base = pfs_device_base(f->dev);
	struct pfs_check_result res;

	pfs_unmount(f->fs);
	memset(base + 64, 0xab, 64);
	assert_int_equal(pfs_check(f->dev, PFS_CHECK_REPAIR | PFS_CHECK_QUIET, NULL, NULL, &res), 0);
	assert_true(res.problems > 0);
	assert_memory_equal(base, base + 4096, 512);
	assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0);
	fx_free(f);
}

static void test_check_keeps_a_named_inode_whose_bitmap_bit_is_clear(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t d = fx_mkdir(f, f->root, "d");
	uint64_t a = fx_create(f, d, "a");
	char buf[9000] = { 3 }, out[9000];
	struct pfs_check_result res;

	assert_int_equal(fx_write(f, a, 0, buf, sizeof(buf)), 0);
	/* both the directory's and the file's bits lost */
	f->fs->ibitmap[0] &= ~((1ull << PFS_SLOT(d)) | (1ull << PFS_SLOT(a)));
	res = check_now(f, 0);
	assert_true(res.problems > 0);
	res = check_now(f, PFS_CHECK_REPAIR);
	assert_int_equal(res.repaired, res.problems);
	assert_int_equal(check_now(f, 0).problems, 0);
	assert_int_equal(fx_read(f, a, 0, out, sizeof(out)), (int)sizeof(out));
	assert_memory_equal(buf, out, sizeof(buf));
	fx_free(f);
}

static void test_check_leaves_an_unnamed_inode_of_a_rolled_back_create_free(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t a = fx_create(f, f->root, "a");
	uint32_t slot = PFS_SLOT(a);

	/* what a crash between pfs_inode_init and the commit leaves: no name, no bit */
	assert_int_equal(pfs_unlink(f->fs, f->root, "a"), 0);
	pfs_inode_at(f->fs, slot)->mode = S_IFREG | 0644;
	assert_int_equal(check_now(f, PFS_CHECK_REPAIR).problems, 0);
	assert_false(pfs_slot_in_use(f->fs, slot));
	fx_free(f);
}

static void test_check_moves_an_unnamed_file_to_lost_and_found(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t d = fx_mkdir(f, f->root, "d");
	uint64_t a = fx_create(f, d, "a"), lf;
	struct pfs_inode_pm *dip = pfs_inode_at(f->fs, PFS_SLOT(d));
	struct pfs_bucket_hdr_pm *b;
	struct pfs_attr at;
	char name[32], buf[100] = "kept", out[100];
	struct pfs_check_result res;

	assert_int_equal(fx_write(f, a, 0, buf, sizeof(buf)), 0);
	/* the directory loses its only entry, and the file its name */
	assert_int_equal(pfs_dir_bucket(f->fs, dip, 0, &b), 0);
	b->used = 0;
	dip->nentries = 0;
	res = check_now(f, 0);
	assert_true(res.problems > 0);
	res = check_now(f, PFS_CHECK_REPAIR);
	assert_int_equal(res.repaired, res.problems);
	assert_int_equal(check_now(f, 0).problems, 0);
	assert_int_equal(pfs_lookup(f->fs, f->root, "lost+found", &at), 0);
	lf = at.ino;
	snprintf(name, sizeof(name), "#%u", PFS_SLOT(a));
	assert_int_equal(pfs_lookup(f->fs, lf, name, &at), 0);
	assert_int_equal(at.ino, a);
	assert_int_equal(at.nlink, 1);
	assert_int_equal(fx_read(f, a, 0, out, sizeof(out)), (int)sizeof(out));
	assert_memory_equal(buf, out, sizeof(buf));
	fx_free(f);
}

static void test_check_moves_an_unnamed_directory_to_lost_and_found(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t d = fx_mkdir(f, f->root, "d"), lf;
	uint64_t e = fx_mkdir(f, d, "e");
	uint64_t a = fx_create(f, e, "a");
	struct pfs_inode_pm *dip = pfs_inode_at(f->fs, PFS_SLOT(d));
	struct pfs_bucket_hdr_pm *b;
	struct pfs_attr at;
	char name[32];

	assert_int_equal(pfs_dir_bucket(f->fs, dip, 0, &b), 0);
	b->used = 0;
	dip->nentries = 0;
	check_now(f, PFS_CHECK_REPAIR);
	assert_int_equal(check_now(f, 0).problems, 0);
	assert_int_equal(pfs_lookup(f->fs, f->root, "lost+found", &at), 0);
	lf = at.ino;
	snprintf(name, sizeof(name), "#%u", PFS_SLOT(e));
	assert_int_equal(pfs_lookup(f->fs, lf, name, &at), 0);
	assert_int_equal(pfs_lookup(f->fs, e, "a", &at), 0);
	assert_int_equal(at.ino, a);
	assert_int_equal(pfs_lookup(f->fs, e, "..", &at), 0);
	assert_int_equal(at.ino, lf);
	fx_free(f);
}

static void test_bitmap_checksum_mismatch_fails_the_allocation_and_fsck_repairs_it(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t a = fx_create(f, f->root, "a"), b;
	char buf[3 * 4096], out[sizeof(buf)];
	struct pfs_check_result res;

	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(fx_write(f, a, 0, buf, sizeof(buf)), 0);
	fx_remount(f);
	/* a's blocks look free: only the checksum tells */
	f->fs->bbitmap[0] = 1;
	b = fx_create(f, f->root, "b");
	assert_int_equal(fx_write(f, b, 0, buf, sizeof(buf)), -EUCLEAN);
	assert_true(pfs_is_readonly(f->fs));
	res = check_now(f, 0);
	assert_true(res.problems > 0);
	res = check_now(f, PFS_CHECK_REPAIR);
	assert_int_equal(res.repaired, res.problems);
	assert_int_equal(check_now(f, 0).problems, 0);
	assert_false(pfs_is_readonly(f->fs));
	assert_int_equal(fx_write(f, b, 0, buf, sizeof(buf)), 0);
	assert_int_equal(fx_read(f, a, 0, out, sizeof(out)), (int)sizeof(out));
	assert_memory_equal(buf, out, sizeof(buf));
	fx_free(f);
}

static void test_check_repairs_a_zeroed_checksum_area(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t bcsum_start = f->fs->sb.bcsum_start; /* f->fs is freed at unmount */
	struct pfs_check_result res;

	fx_create(f, f->root, "a");
	pfs_unmount(f->fs);
	memset((char *)pfs_device_base(f->dev) + (bcsum_start << PFS_BLOCK_SHIFT), 0,
	       PFS_BLOCK_SIZE);
	assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0);
	res = check_now(f, PFS_CHECK_REPAIR);
	assert_true(res.problems >= 2);
	assert_int_equal(res.repaired, res.problems);
	assert_int_equal(check_now(f, 0).problems, 0);
	fx_create(f, f->root, "b");
	fx_free(f);
}

static void test_a_1_0_image_without_bitmap_checksums_mounts_and_checks_clean(void **state)
{
	static const uint8_t uuid[16] = { 1 };
	struct pfs_format_opts o = { .uuid = uuid, .mkfs_time = 1700000000, .hash_seed = 42,
				     .format_1_0 = true };
	struct fx *f = calloc(1, sizeof(*f));
	const struct pfs_super_pm *sb;

	assert_non_null(f);
	assert_int_equal(pfs_device_dram(32 << 20, &f->dev), 0);
	assert_int_equal(pfs_format(f->dev, &o, NULL), 0);
	sb = pfs_device_base(f->dev);
	assert_int_equal(sb->version_minor, 0);
	assert_int_equal(sb->feature_ro_compat, 0);
	assert_int_equal(sb->bcsum_blocks, 0);
	assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0);
	f->root = pfs_root_ino(f->fs);
	f->cred = (struct pfs_cred){ .uid = 1000, .gid = 1000, .umask = 022 };
	workload(f);
	assert_int_equal(check_now(f, 0).problems, 0);
	/* damage is still found and repaired, from the inodes */
	f->fs->bbitmap[10] |= 1;
	check_now(f, PFS_CHECK_REPAIR);
	assert_int_equal(check_now(f, 0).problems, 0);
	fx_free(f);
}

/* Repairs, then a clean check; returns the first repair's result. */
static struct pfs_check_result repair_then_clean(struct fx *f)
{
	struct pfs_check_result res = check_now(f, PFS_CHECK_REPAIR);

	assert_true(res.problems > 0);
	assert_int_equal(res.repaired, res.problems);
	assert_int_equal(check_now(f, 0).problems, 0);
	return res;
}

static void assert_content(struct fx *f, uint64_t ino, const char *buf, size_t len)
{
	char out[16384];

	assert_true(len <= sizeof(out));
	assert_int_equal(fx_read(f, ino, 0, out, len), (int)len);
	assert_memory_equal(buf, out, len);
}

static void test_check_gives_the_second_claimant_of_a_block_its_own_copy(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t a = fx_create(f, f->root, "a"), b = fx_create(f, f->root, "b");
	struct pfs_inode_pm *ia = pfs_inode_at(f->fs, PFS_SLOT(a));
	struct pfs_inode_pm *ib = pfs_inode_at(f->fs, PFS_SLOT(b));
	char abuf[8192], bbuf[8192];

	memset(abuf, 'a', sizeof(abuf));
	memset(bbuf, 'b', sizeof(bbuf));
	assert_int_equal(fx_write(f, a, 0, abuf, sizeof(abuf)), 0);
	assert_int_equal(fx_write(f, b, 0, bbuf, sizeof(bbuf)), 0);
	/* b's extent now points at a's blocks */
	ib->ext[0].pblk = ia->ext[0].pblk;
	repair_then_clean(f);
	ia = pfs_inode_at(f->fs, PFS_SLOT(a));
	ib = pfs_inode_at(f->fs, PFS_SLOT(b));
	assert_true(ib->ext[0].pblk != ia->ext[0].pblk);
	assert_content(f, a, abuf, sizeof(abuf));
	assert_content(f, b, abuf, sizeof(abuf)); /* what b's extent said */
	assert_int_equal(fx_write(f, b, 0, bbuf, sizeof(bbuf)), 0);
	assert_content(f, a, abuf, sizeof(abuf));
	fx_free(f);
}

static void test_check_rewrites_a_corrupt_bucket_and_keeps_the_files(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t d = fx_mkdir(f, f->root, "d"), a, lf;
	struct pfs_bucket_hdr_pm *b;
	struct pfs_attr at;
	char name[32];

	a = fx_create(f, d, "a");
	fx_create(f, d, "b");
	assert_int_equal(pfs_dir_bucket(f->fs, pfs_inode_at(f->fs, PFS_SLOT(d)), 0, &b), 0);
	memset(b, 0xee, 64); /* header and the first entry */
	repair_then_clean(f);
	assert_int_equal(pfs_lookup(f->fs, f->root, "lost+found", &at), 0);
	lf = at.ino;
	snprintf(name, sizeof(name), "#%u", PFS_SLOT(a));
	assert_int_equal(pfs_lookup(f->fs, lf, name, &at), 0);
	assert_int_equal(at.ino, a);
	fx_create(f, d, "c");
	fx_free(f);
}

static void test_check_inserts_an_entry_with_a_hash_of_all_ones_again(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t a = fx_create(f, f->root, "a");
	struct pfs_dirloc loc;
	struct pfs_attr at;

	assert_int_equal(pfs_dir_find(f->fs, pfs_inode_at(f->fs, PFS_ROOT_SLOT), "a", &loc), 0);
	loc.de->hash = ~0ull; /* readdir's cookie hash + 1 wraps to 0 */
	repair_then_clean(f);
	assert_int_equal(pfs_lookup(f->fs, f->root, "a", &at), 0);
	assert_int_equal(at.ino, a);
	assert_int_equal(at.nlink, 1);
	fx_free(f);
}

static void test_check_rebuilds_an_extent_tree_from_its_sound_nodes(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t a = fx_create(f, f->root, "a");
	struct pfs_inode_pm *ip = pfs_inode_at(f->fs, PFS_SLOT(a));
	char blk[4096], out[4096];

	/* every other block: more extents than the inode holds, a tree */
	for (int i = 0; i < 200; i++) {
		memset(blk, 'A' + i % 26, sizeof(blk));
		assert_int_equal(fx_write(f, a, (uint64_t)i * 8192, blk, sizeof(blk)), 0);
	}
	assert_true(ip->ext_depth > 0 && ip->ext_count > 1);
	memset(pfs_blk(f->fs, ip->ext[0].pblk), 0, 4096); /* the first leaf of two */
	repair_then_clean(f);
	ip = pfs_inode_at(f->fs, PFS_SLOT(a));
	assert_int_equal(ip->size, 199 * 8192 + 4096);
	/* what the lost leaf mapped is a hole now; the last block is still there */
	assert_int_equal(fx_read(f, a, 199 * 8192, out, sizeof(out)), (int)sizeof(out));
	memset(blk, 'A' + 199 % 26, sizeof(blk));
	assert_memory_equal(blk, out, sizeof(out));
	fx_free(f);
}

static void test_check_restores_a_named_file_whose_mode_word_is_zero(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t a = fx_create(f, f->root, "a");
	char buf[12000] = { 5 };
	struct pfs_attr at;

	assert_int_equal(fx_write(f, a, 0, buf, sizeof(buf)), 0);
	/* a live inode, not a freed one: the entry gives its type back */
	pfs_inode_at(f->fs, PFS_SLOT(a))->mode = 0;
	repair_then_clean(f);
	assert_int_equal(pfs_getattr(f->fs, a, &at), 0);
	assert_true(S_ISREG(at.mode));
	assert_content(f, a, buf, sizeof(buf));
	fx_free(f);
}

static void test_check_drops_a_zeroed_xattr_block_and_keeps_the_data(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t a = fx_create(f, f->root, "a");
	char buf[100] = "data";
	char v[8];
	size_t vlen;

	assert_int_equal(fx_write(f, a, 0, buf, sizeof(buf)), 0);
	assert_int_equal(pfs_setxattr(f->fs, a, "user.x", "1", 1, 0), 0);
	memset(pfs_blk(f->fs, pfs_inode_at(f->fs, PFS_SLOT(a))->xattr_blk), 0, 4096);
	repair_then_clean(f);
	assert_content(f, a, buf, sizeof(buf));
	assert_int_equal(pfs_getxattr(f->fs, a, "user.x", v, sizeof(v), &vlen), -ENODATA);
	fx_free(f);
}

static void test_check_makes_a_zeroed_root_again_and_moves_its_children(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t d = fx_mkdir(f, f->root, "d"), a = fx_create(f, d, "a"), lf;
	struct pfs_attr at;
	char name[32];

	memset(pfs_inode_at(f->fs, PFS_ROOT_SLOT), 0, sizeof(struct pfs_inode_pm));
	pfs_unmount(f->fs);
	assert_int_equal(pfs_check(f->dev, PFS_CHECK_REPAIR | PFS_CHECK_QUIET, NULL, NULL, NULL), 0);
	assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0);
	f->root = pfs_root_ino(f->fs);
	assert_int_equal(check_now(f, 0).problems, 0);
	assert_int_equal(pfs_lookup(f->fs, f->root, "lost+found", &at), 0);
	lf = at.ino;
	snprintf(name, sizeof(name), "#%u", PFS_SLOT(d));
	assert_int_equal(pfs_lookup(f->fs, lf, name, &at), 0);
	assert_int_equal(pfs_lookup(f->fs, at.ino, "a", &at), 0);
	assert_int_equal(at.ino, a);
	fx_free(f);
}

static void test_check_lays_out_a_directory_with_an_unmapped_bucket_again(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t d = fx_mkdir(f, f->root, "d"), a = fx_create(f, d, "a"), lf;
	struct pfs_attr at;
	char name[32];

	/* bucket 0's extent now says file block 5: bucket 0 unmapped, a block past the end */
	pfs_inode_at(f->fs, PFS_SLOT(d))->ext[0].lblk = 5;
	repair_then_clean(f);
	assert_int_equal(pfs_lookup(f->fs, f->root, "lost+found", &at), 0);
	lf = at.ino;
	snprintf(name, sizeof(name), "#%u", PFS_SLOT(a));
	assert_int_equal(pfs_lookup(f->fs, lf, name, &at), 0);
	assert_int_equal(at.ino, a);
	fx_create(f, d, "b");
	assert_int_equal(check_now(f, 0).problems, 0);
	fx_free(f);
}

static void test_check_breaks_a_loop_of_directories_into_lost_and_found(void **state)
{
	struct fx *f = fx_new(32, 0);
	uint64_t a = fx_mkdir(f, f->root, "a"), b = fx_mkdir(f, a, "b"), lf;
	struct pfs_inode_pm *root = pfs_inode_at(f->fs, PFS_ROOT_SLOT);
	struct pfs_dirloc loc;
	struct pfs_attr at;
	struct pfs_tx *tx;
	char name[32];

	/* b names a and the root no longer does: a and b only reach each other */
	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	assert_int_equal(pfs_dir_find(f->fs, root, "a", &loc), 0);
	assert_int_equal(pfs_dir_remove(tx, root, &loc), 0);
	assert_int_equal(pfs_dir_add(tx, pfs_inode_at(f->fs, PFS_SLOT(b)), "up", a,
				     pfs_mode_to_dtype(S_IFDIR)), 0);
	assert_int_equal(pfs_tx_end(tx, 0), 0);
	repair_then_clean(f);
	assert_int_equal(pfs_lookup(f->fs, f->root, "lost+found", &at), 0);
	lf = at.ino;
	snprintf(name, sizeof(name), "#%u", PFS_SLOT(a));
	if (pfs_lookup(f->fs, lf, name, &at) != 0) {
		snprintf(name, sizeof(name), "#%u", PFS_SLOT(b));
		assert_int_equal(pfs_lookup(f->fs, lf, name, &at), 0);
	}
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_after_workload_is_clean),
		cmocka_unit_test(test_check_finds_and_repairs_a_wrong_link_count),
		cmocka_unit_test(test_check_finds_a_leaked_block),
		cmocka_unit_test(test_check_repairs_primary_superblock_from_replica),
		cmocka_unit_test(test_check_keeps_a_named_inode_whose_bitmap_bit_is_clear),
		cmocka_unit_test(test_check_leaves_an_unnamed_inode_of_a_rolled_back_create_free),
		cmocka_unit_test(test_check_moves_an_unnamed_file_to_lost_and_found),
		cmocka_unit_test(test_check_moves_an_unnamed_directory_to_lost_and_found),
		cmocka_unit_test(test_bitmap_checksum_mismatch_fails_the_allocation_and_fsck_repairs_it),
		cmocka_unit_test(test_check_repairs_a_zeroed_checksum_area),
		cmocka_unit_test(test_a_1_0_image_without_bitmap_checksums_mounts_and_checks_clean),
		cmocka_unit_test(test_check_gives_the_second_claimant_of_a_block_its_own_copy),
		cmocka_unit_test(test_check_rewrites_a_corrupt_bucket_and_keeps_the_files),
		cmocka_unit_test(test_check_inserts_an_entry_with_a_hash_of_all_ones_again),
		cmocka_unit_test(test_check_rebuilds_an_extent_tree_from_its_sound_nodes),
		cmocka_unit_test(test_check_restores_a_named_file_whose_mode_word_is_zero),
		cmocka_unit_test(test_check_drops_a_zeroed_xattr_block_and_keeps_the_data),
		cmocka_unit_test(test_check_makes_a_zeroed_root_again_and_moves_its_children),
		cmocka_unit_test(test_check_lays_out_a_directory_with_an_unmapped_bucket_again),
		cmocka_unit_test(test_check_breaks_a_loop_of_directories_into_lost_and_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
