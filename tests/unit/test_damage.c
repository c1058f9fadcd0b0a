// SPDX-License-Identifier: MIT
/*
 * Damage met at run time (issue 11, findings 5 and 6): a field of a mounted
 * DRAM image is overwritten, the operation that reads it must fail with
 * -EUCLEAN (never crash, never loop), the mount must latch read-only, the
 * first finding must be kept for the status file, and a later change must get
 * -EROFS.
 */
#include <dirent.h>
#include <sys/statvfs.h>

#include "fixture.h"

#define MIB 16

/* After a finding: read-only, the finding recorded, and changes refused. */
static void assert_latched(struct fx *f, const char *what)
{
	struct pfs_fs_stats st;
	struct pfs_attr at;

	assert_true(pfs_is_readonly(f->fs));
	pfs_fs_get_stats(f->fs, &st);
	assert_true(st.readonly);
	assert_true(st.corrupt_time > 0);
	if (what && !strstr(st.corrupt_first, what))
		fail_msg("first finding '%s' does not mention '%s'", st.corrupt_first, what);
	assert_int_equal(pfs_mknod(f->fs, f->root, "later", S_IFREG | 0644, 0, &f->cred, &at),
			 -EROFS);
}

static void assert_not_latched(struct fx *f)
{
	struct pfs_fs_stats st;

	pfs_fs_get_stats(f->fs, &st);
	assert_false(pfs_is_readonly(f->fs));
	assert_int_equal(st.corrupt_time, 0);
}

static void test_orphan_head_out_of_range_fails_unlink_of_an_open_file(void **state)
{
	struct fx *f = fx_new(MIB, 0);

	/* created, so the kernel holds a reference: the unlink parks it as an orphan */
	fx_create(f, f->root, "victim");
	/* issue 11 finding 5: "\xff\xff\xff\x7f" at the orphan-list head */
	f->fs->state->orphan_head = 0x7fffffffull;
	assert_not_latched(f);
	assert_int_equal(pfs_unlink(f->fs, f->root, "victim"), -EUCLEAN);
	assert_latched(f, "orphan list head");
	fx_free(f);
}

static void test_orphan_head_naming_a_file_not_on_the_list_fails_unlink(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t other = fx_create(f, f->root, "other");

	fx_create(f, f->root, "victim");
	f->fs->state->orphan_head = PFS_SLOT(other); /* in range, in use, not an orphan */
	assert_int_equal(pfs_unlink(f->fs, f->root, "victim"), -EUCLEAN);
	assert_latched(f, "orphan list head");
	fx_free(f);
}

static struct pfs_dirent_pm *first_entry(struct fx *f, uint64_t dir)
{
	struct pfs_bucket_hdr_pm *b;
	struct pfs_inode_pm *dip;

	assert_int_equal(pfs_inode_get(f->fs, dir, &dip), 0);
	assert_int_equal(pfs_dir_bucket(f->fs, dip, 0, &b), 0);
	assert_true(b->used > 0);
	return (struct pfs_dirent_pm *)(b + 1);
}

struct rd_count {
	unsigned n;
	uint64_t last;
};

static int count_fill(void *arg, const char *name, const struct pfs_attr *a, uint64_t next)
{
	struct rd_count *c = arg;

	(void)name;
	(void)a;
	c->n++;
	c->last = next;
	return c->n > 1000; /* a loop shows as "buffer full" forever: stop it */
}

/* Reads the directory as the kernel does: cookie after cookie, until nothing comes. */
static int readdir_all(struct fx *f, uint64_t dir, unsigned *entries)
{
	uint64_t cookie = 0;
	unsigned rounds = 0;

	*entries = 0;
	for (;;) {
		struct rd_count c = { 0, 0 };
		int rc = pfs_readdir(f->fs, dir, cookie, false, count_fill, &c);

		if (rc)
			return rc;
		if (c.n == 0)
			return 0;
		*entries += c.n;
		cookie = c.last;
		if (++rounds > 100 || *entries > 1000)
			fail_msg("readdir does not terminate (cookie %llu)",
				 (unsigned long long)cookie);
	}
}

static void test_readdir_of_an_entry_hash_of_all_ones_terminates_with_euclean(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t d = fx_mkdir(f, f->root, "d");
	unsigned n;

	fx_create(f, d, "x");
	assert_int_equal(readdir_all(f, d, &n), 0);
	assert_int_equal(n, 3);
	/* issue 11 finding 6: the cookie hash + 1 wrapped to 0 and ls looped */
	first_entry(f, d)->hash = UINT64_MAX;
	assert_int_equal(readdir_all(f, d, &n), -EUCLEAN);
	assert_latched(f, "hash");
	fx_free(f);
}

static void test_readdir_of_an_entry_in_the_wrong_bucket_fails_with_euclean(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t d = fx_mkdir(f, f->root, "d");
	struct pfs_inode_pm *dip;
	char name[16];
	unsigned n;

	/* enough names for the table to double: bucket 0 holds the low half of hashes */
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		fx_create(f, d, name);
	}
	assert_int_equal(pfs_inode_get(f->fs, d, &dip), 0);
	assert_true(dip->size > PFS_BLOCK_SIZE);
	first_entry(f, d)->hash = (1ull << PFS_HASH_BITS) - 1; /* the last bucket's */
	assert_int_equal(readdir_all(f, d, &n), -EUCLEAN);
	assert_latched(f, "bucket 0");
	fx_free(f);
}

static void test_lookup_in_a_bucket_with_a_zero_rec_len_fails_with_euclean(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t d = fx_mkdir(f, f->root, "d");
	int rc;

	fx_create(f, d, "x");
	first_entry(f, d)->rec_len = 0;
	fx_lookup(f, d, "x", &rc);
	assert_int_equal(rc, -EUCLEAN);
	assert_latched(f, "bucket at offset");
	fx_free(f);
}

static void test_getxattr_of_a_malformed_xattr_block_fails_with_euclean(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t a = fx_create(f, f->root, "a");
	struct pfs_xattr_hdr_pm *h;
	struct pfs_inode_pm *ip;
	char buf[64];
	size_t len;

	assert_int_equal(pfs_setxattr(f->fs, a, "user.k", "v", 1, 0), 0);
	assert_int_equal(pfs_inode_get(f->fs, a, &ip), 0);
	h = pfs_blk(f->fs, ip->xattr_blk);
	((struct pfs_xattr_ent_pm *)(h + 1))->value_len = 0xffff; /* past the block */
	assert_int_equal(pfs_getxattr(f->fs, a, "user.k", buf, sizeof(buf), &len), -EUCLEAN);
	assert_int_equal(pfs_listxattr(f->fs, a, buf, sizeof(buf), &len), -EUCLEAN);
	assert_latched(f, "xattr block");
	fx_free(f);
}

static void test_read_through_an_extent_beyond_the_device_fails_with_euclean(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t a = fx_create(f, f->root, "a");
	struct pfs_inode_pm *ip;
	char buf[8];

	assert_int_equal(fx_write(f, a, 0, "alpha", 5), 0);
	assert_int_equal(pfs_inode_get(f->fs, a, &ip), 0);
	ip->ext[0].pblk = 1ull << 40;
	assert_int_equal(fx_read(f, a, 0, buf, 5), -EUCLEAN);
	assert_latched(f, "extent");
	fx_free(f);
}

static void test_lseek_over_index_keys_out_of_order_terminates(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t a = fx_create(f, f->root, "a"), out, second;
	struct pfs_inode_pm *ip;

	/* every other block, 200 times: two leaves (127 + 73) below the index */
	for (int i = 0; i < 200; i++)
		assert_int_equal(fx_write(f, a, (uint64_t)i * 2 * PFS_BLOCK_SIZE, "z", 1), 0);
	assert_int_equal(pfs_inode_get(f->fs, a, &ip), 0);
	assert_int_equal(ip->ext_depth, 1);
	assert_int_equal(ip->ext_count, 2);
	second = ip->ext[1].lblk;
	/*
	 * The first key now lies after the second: a search for the second's first
	 * block descends into the first leaf and meets a hole of no length, on
	 * which SEEK_DATA used to spin forever.
	 */
	ip->ext[0].lblk = 1u << 20;
	assert_int_equal(pfs_lseek(f->fs, a, second << PFS_BLOCK_SHIFT, SEEK_DATA, &out),
			 -EUCLEAN);
	assert_latched(f, "out of order");
	fx_free(f);
}

static void test_extent_node_with_a_count_beyond_its_block_fails_with_euclean(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t a = fx_create(f, f->root, "a");
	struct pfs_inode_pm *ip;
	struct pfs_node_pm *n;
	char buf[8];

	/* every other block: more extents than the inode holds, so a node below */
	for (int i = 0; i < 8; i++)
		assert_int_equal(fx_write(f, a, (uint64_t)i * 2 * PFS_BLOCK_SIZE, "z", 1), 0);
	assert_int_equal(pfs_inode_get(f->fs, a, &ip), 0);
	assert_int_equal(ip->ext_depth, 1);
	n = pfs_blk(f->fs, ip->ext[0].pblk);
	n->count = 0xffff;
	assert_int_equal(fx_read(f, a, 0, buf, 1), -EUCLEAN);
	assert_latched(f, "extent node");
	fx_free(f);
}

static void test_readlink_of_a_symlink_longer_than_a_block_fails_with_euclean(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	struct pfs_inode_pm *ip;
	struct pfs_attr at;
	char buf[64];

	assert_int_equal(pfs_symlink(f->fs, f->root, "l", "target", &f->cred, &at), 0);
	assert_int_equal(pfs_inode_get(f->fs, at.ino, &ip), 0);
	ip->size = 1ull << 20;
	assert_int_equal(pfs_readlink(f->fs, at.ino, buf, sizeof(buf)), -EUCLEAN);
	assert_latched(f, "symlink");
	fx_free(f);
}

static void test_a_transaction_store_outside_the_metadata_areas_is_refused(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	struct pfs_tx *tx;
	uint64_t v = 1;

	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	/* a slot read unchecked from the media: an "inode" far past the mapping */
	assert_int_equal(pfs_tx_set(tx, (char *)f->fs->itable + (1ull << 40), &v, sizeof(v)),
			 -EUCLEAN);
	pfs_tx_abort(tx);
	assert_latched(f, "outside the metadata areas");
	fx_free(f);
}

static void test_a_transaction_store_into_the_journal_is_refused(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	struct pfs_tx *tx;
	uint64_t v = 1;

	assert_int_equal(pfs_tx_begin(f->fs, &tx), 0);
	assert_int_equal(pfs_tx_set(tx, &f->fs->jhdr->reserved[0], &v, sizeof(v)), -EUCLEAN);
	pfs_tx_abort(tx);
	assert_latched(f, NULL);
	fx_free(f);
}

static void test_statfs_of_free_counts_beyond_the_device_clamps_and_latches(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	struct statvfs vfs;

	f->fs->state->free_blocks = UINT64_MAX;
	assert_int_equal(pfs_statfs(f->fs, &vfs), 0);
	assert_true(vfs.f_bfree <= vfs.f_blocks);
	assert_true(vfs.f_flag & ST_RDONLY);
	assert_latched(f, "free counts");
	fx_free(f);
}

static void test_an_inode_free_in_the_bitmap_but_with_a_mode_is_euclean(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t a = fx_create(f, f->root, "a");
	struct pfs_attr at;

	f->fs->ibitmap[PFS_SLOT(a) / 64] &= ~(1ull << (PFS_SLOT(a) % 64));
	assert_int_equal(pfs_getattr(f->fs, a, &at), -EUCLEAN);
	assert_latched(f, "inode bitmap");
	fx_free(f);
}

static void test_a_free_block_count_of_zero_beside_free_blocks_is_euclean(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t a = fx_create(f, f->root, "a");

	f->fs->state->free_blocks = 0;
	assert_int_equal(fx_write(f, a, 0, "x", 1), -EUCLEAN);
	assert_latched(f, "free block count");
	fx_free(f);
}

static void test_only_the_first_finding_is_kept(void **state)
{
	struct fx *f = fx_new(MIB, 0);
	uint64_t d = fx_mkdir(f, f->root, "d");
	char buf[64];
	struct pfs_attr at;
	int rc;

	fx_create(f, d, "x");
	assert_int_equal(pfs_symlink(f->fs, f->root, "l", "target", &f->cred, &at), 0);
	first_entry(f, d)->rec_len = 0;
	fx_lookup(f, d, "x", &rc);
	assert_int_equal(rc, -EUCLEAN);
	{
		struct pfs_inode_pm *ip;

		assert_int_equal(pfs_inode_get(f->fs, at.ino, &ip), 0);
		ip->size = 0;
	}
	assert_int_equal(pfs_readlink(f->fs, at.ino, buf, sizeof(buf)), -EUCLEAN);
	assert_latched(f, "bucket at offset");
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orphan_head_out_of_range_fails_unlink_of_an_open_file),
		cmocka_unit_test(test_orphan_head_naming_a_file_not_on_the_list_fails_unlink),
		cmocka_unit_test(test_readdir_of_an_entry_hash_of_all_ones_terminates_with_euclean),
		cmocka_unit_test(test_readdir_of_an_entry_in_the_wrong_bucket_fails_with_euclean),
		cmocka_unit_test(test_lookup_in_a_bucket_with_a_zero_rec_len_fails_with_euclean),
		cmocka_unit_test(test_getxattr_of_a_malformed_xattr_block_fails_with_euclean),
		cmocka_unit_test(test_read_through_an_extent_beyond_the_device_fails_with_euclean),
		cmocka_unit_test(test_lseek_over_index_keys_out_of_order_terminates),
		cmocka_unit_test(test_extent_node_with_a_count_beyond_its_block_fails_with_euclean),
		cmocka_unit_test(test_readlink_of_a_symlink_longer_than_a_block_fails_with_euclean),
		cmocka_unit_test(test_a_transaction_store_outside_the_metadata_areas_is_refused),
		cmocka_unit_test(test_a_transaction_store_into_the_journal_is_refused),
		cmocka_unit_test(test_statfs_of_free_counts_beyond_the_device_clamps_and_latches),
		cmocka_unit_test(test_an_inode_free_in_the_bitmap_but_with_a_mode_is_euclean),
		cmocka_unit_test(test_a_free_block_count_of_zero_beside_free_blocks_is_euclean),
		cmocka_unit_test(test_only_the_first_finding_is_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
