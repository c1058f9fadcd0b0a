// SPDX-License-Identifier: MIT
/*
 * Freezes the media layout: struct sizes, the offsets recovery trusts, and the
 * checksum of the metadata of an image formatted with fixed parameters. A
 * change here is a format change: bump PFS_VERSION_* and say so in the commit.
 */
#include "fixture.h"

/* crc32c of the metadata of the image below; changes only with the format */
#define PFS_TEST_LAYOUT_CRC 0x4d20bb24u

static void test_struct_sizes_are_frozen(void **state)
{
	assert_int_equal(sizeof(struct pfs_super_pm), 512);
	assert_int_equal(sizeof(struct pfs_state_pm), 256);
	assert_int_equal(sizeof(struct pfs_jhdr_pm), 64);
	assert_int_equal(sizeof(struct pfs_jrec_pm), 24);
	assert_int_equal(sizeof(struct pfs_inode_pm), 256);
	assert_int_equal(sizeof(struct pfs_extent_pm), 24);
	assert_int_equal(sizeof(struct pfs_node_pm), 4096);
	assert_int_equal(sizeof(struct pfs_bucket_hdr_pm), 16);
	assert_int_equal(sizeof(struct pfs_dirent_pm), 24);
	assert_int_equal(sizeof(struct pfs_xattr_hdr_pm), 16);
	assert_int_equal(sizeof(struct pfs_xattr_ent_pm), 8);
}

static void test_offsets_are_frozen(void **state)
{
	assert_int_equal(offsetof(struct pfs_super_pm, csum), 508);
	assert_int_equal(offsetof(struct pfs_super_pm, data_start), 216);
	assert_int_equal(offsetof(struct pfs_super_pm, hash_seed), 232);
	assert_int_equal(offsetof(struct pfs_super_pm, bcsum_start), 248);
	assert_int_equal(offsetof(struct pfs_super_pm, bcsum_blocks), 256);
	assert_int_equal(PFS_FEATURE_RO_COMPAT_BMAP_CSUM, 1);
	assert_int_equal(PFS_VERSION_MINOR, 1);
	assert_int_equal(offsetof(struct pfs_state_pm, orphan_head), 24);
	assert_int_equal(offsetof(struct pfs_jhdr_pm, active_seq), 8);
	assert_int_equal(offsetof(struct pfs_inode_pm, gen), 16);
	assert_int_equal(offsetof(struct pfs_inode_pm, size), 24);
	assert_int_equal(offsetof(struct pfs_inode_pm, mtime_sec), 48);
	assert_int_equal(offsetof(struct pfs_inode_pm, parent), 88);
	assert_int_equal(offsetof(struct pfs_inode_pm, orphan_prev), 104);
	assert_int_equal(offsetof(struct pfs_inode_pm, nentries), 128);
	assert_int_equal(offsetof(struct pfs_inode_pm, ext_depth), 136);
	assert_int_equal(offsetof(struct pfs_inode_pm, ext), 144);
	assert_int_equal(offsetof(struct pfs_dirent_pm, name), 20);
	assert_int_equal(PFS_DIRENT_LEN(1), 24);
	assert_int_equal(PFS_DIRENT_LEN(255), 280);
}

static void test_formatted_image_checksum_is_frozen(void **state)
{
	static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	struct pfs_format_opts o = { .label = "frozen", .uuid = uuid, .mkfs_time = 1700000000,
				     .hash_seed = 42 };
	struct pfs_format_info info;
	struct pfs_device *dev;
	const struct pfs_super_pm *sb;
	uint32_t crc;

	assert_int_equal(pfs_device_dram(64 << 20, &dev), 0);
	assert_int_equal(pfs_format(dev, &o, &info), 0);
	sb = pfs_device_base(dev);
	assert_int_equal(sb->total_blocks, 16384);
	assert_int_equal(sb->inode_count, 4096);
	assert_int_equal(sb->journal_start, 3);
	assert_int_equal(sb->data_start % 512, 0);
	assert_int_equal(sb->feature_ro_compat, PFS_FEATURE_RO_COMPAT_BMAP_CSUM);
	assert_int_equal(sb->bcsum_start, sb->bbitmap_start + sb->bbitmap_blocks);
	assert_int_equal(sb->bcsum_blocks, 1);
	assert_int_equal(sb->itable_start, sb->bcsum_start + 1);
	/* everything before the inode table, plus the root inode and its bucket */
	crc = pfs_crc32c(0, sb, sb->itable_start << PFS_BLOCK_SHIFT);
	crc = pfs_crc32c(crc, (const char *)sb + (sb->itable_start << PFS_BLOCK_SHIFT) +
			 PFS_ROOT_SLOT * PFS_INODE_SIZE, PFS_INODE_SIZE);
	crc = pfs_crc32c(crc, (const char *)sb + (sb->data_start << PFS_BLOCK_SHIFT), 4096);
	print_message("layout checksum 0x%08x (data_start %llu)\n", crc,
		      (unsigned long long)sb->data_start);
	assert_int_equal(crc, PFS_TEST_LAYOUT_CRC);
	pfs_device_close(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_struct_sizes_are_frozen),
		cmocka_unit_test(test_offsets_are_frozen),
		cmocka_unit_test(test_formatted_image_checksum_is_frozen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
