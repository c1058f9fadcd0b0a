// SPDX-License-Identifier: MIT
/* File data, extents and the allocator, on a DRAM device. */
#include "fixture.h"

static void fill_pattern(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)((i * 31 + seed) & 0xff);
}

static void test_write_read_roundtrip_across_blocks(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");
	size_t len = 3 * 4096 + 100;
	char *in = malloc(len), *out = malloc(len);

	fill_pattern(in, len, 7);
	assert_int_equal(fx_write(f, a, 1000, in, len), 0);
	assert_int_equal(fx_read(f, a, 1000, out, len), len);
	assert_memory_equal(in, out, len);
	/* the bytes before the write read as zeros */
	assert_int_equal(fx_read(f, a, 0, out, 1000), 1000);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(out[i], 0);
	fx_remount(f);
	assert_int_equal(fx_read(f, a, 1000, out, len), len);
	assert_memory_equal(in, out, len);
	free(in);
	free(out);
	fx_free(f);
}

static void test_read_past_eof_returns_nothing(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");
	char buf[16];

	assert_int_equal(fx_write(f, a, 0, "abc", 3), 0);
	assert_int_equal(fx_read(f, a, 3, buf, sizeof(buf)), 0);
	assert_int_equal(fx_read(f, a, 1, buf, sizeof(buf)), 2);
	fx_free(f);
}

static void test_sparse_file_holds_no_blocks_and_reads_zero(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");
	struct pfs_setattr sa = { .valid = PFS_SET_SIZE, .size = 1ull << 30 };
	struct pfs_attr at;
	char buf[4096];

	assert_int_equal(pfs_setattr(f->fs, a, &sa, &at), 0);
	assert_int_equal(at.size, 1ull << 30);
	assert_int_equal(at.blocks512, 0);
	assert_int_equal(fx_read(f, a, 12345678, buf, sizeof(buf)), sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(fx_write(f, a, 5ull << 20, "x", 1), 0);
	assert_int_equal(pfs_getattr(f->fs, a, &at), 0);
	assert_int_equal(at.blocks512, 8);
	fx_free(f);
}

static void test_truncate_shrink_then_grow_reads_zeros(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");
	struct pfs_setattr sa = { .valid = PFS_SET_SIZE };
	char buf[10000];

	memset(buf, 'z', sizeof(buf));
	assert_int_equal(fx_write(f, a, 0, buf, sizeof(buf)), 0);
	sa.size = 5000;
	assert_int_equal(pfs_setattr(f->fs, a, &sa, NULL), 0);
	sa.size = 10000;
	assert_int_equal(pfs_setattr(f->fs, a, &sa, NULL), 0);
	assert_int_equal(fx_read(f, a, 0, buf, sizeof(buf)), sizeof(buf));
	for (int i = 0; i < 5000; i++)
		assert_int_equal(buf[i], 'z');
	for (int i = 5000; i < 10000; i++)
		assert_int_equal(buf[i], 0);
	fx_free(f);
}

static void test_unlink_returns_blocks_to_free_space(void **state)
{
	struct fx *f = fx_new(16, 0);
	struct statvfs before, mid, after;
	uint64_t a;
	char *buf = calloc(1, 1 << 20);

	assert_int_equal(pfs_statfs(f->fs, &before), 0);
	a = fx_create(f, f->root, "a");
	assert_int_equal(fx_write(f, a, 0, buf, 1 << 20), 0);
	assert_int_equal(pfs_statfs(f->fs, &mid), 0);
	assert_int_equal(before.f_bfree - mid.f_bfree, 256);
	assert_int_equal(pfs_unlink(f->fs, f->root, "a"), 0);
	pfs_forget(f->fs, a, 1);
	assert_int_equal(pfs_statfs(f->fs, &after), 0);
	assert_int_equal(after.f_bfree, before.f_bfree);
	free(buf);
	fx_free(f);
}

static void test_full_device_gives_enospc_then_recovers(void **state)
{
	struct fx *f = fx_new(8, 0);
	uint64_t a = fx_create(f, f->root, "a");
	char *buf = calloc(1, 1 << 20);
	struct statvfs st;
	uint64_t off = 0;
	int rc;

	while ((rc = fx_write(f, a, off, buf, 1 << 20)) == 0)
		off += 1 << 20;
	assert_int_equal(rc, -ENOSPC);
	/* the failed write changed nothing: the size is what succeeded */
	{
		struct pfs_attr at;

		assert_int_equal(pfs_getattr(f->fs, a, &at), 0);
		assert_int_equal(at.size, off);
	}
	fx_create(f, f->root, "small");
	assert_int_equal(pfs_unlink(f->fs, f->root, "a"), 0);
	pfs_forget(f->fs, a, 1);
	assert_int_equal(pfs_statfs(f->fs, &st), 0);
	assert_true(st.f_bfree * 4096 > off);
	a = fx_create(f, f->root, "again");
	assert_int_equal(fx_write(f, a, 0, buf, 1 << 20), 0);
	free(buf);
	fx_free(f);
}

static void test_fragmented_file_builds_a_tree_and_reads_back(void **state)
{
	struct fx *f = fx_new(64, 0);
	uint64_t a = fx_create(f, f->root, "a");
	uint64_t b = fx_create(f, f->root, "b");
	char blk[4096], out[4096];

	/* interleave two files so no extent can grow: every block is its own extent */
	for (unsigned i = 0; i < 2000; i++) {
		fill_pattern(blk, sizeof(blk), i);
		assert_int_equal(fx_write(f, a, (uint64_t)i * 2 * 4096, blk, sizeof(blk)), 0);
		assert_int_equal(fx_write(f, b, (uint64_t)i * 4096, blk, sizeof(blk)), 0);
	}
	fx_remount(f);
	for (unsigned i = 0; i < 2000; i += 37) {
		fill_pattern(blk, sizeof(blk), i);
		assert_int_equal(fx_read(f, a, (uint64_t)i * 2 * 4096, out, sizeof(out)), 4096);
		assert_memory_equal(blk, out, sizeof(blk));
	}
	/* punch the middle out and check the edges stayed */
	assert_int_equal(pfs_fallocate(f->fs, a, PFS_FALLOC_PUNCH_HOLE | PFS_FALLOC_KEEP_SIZE,
				       4096 * 100, 4096 * 3000), 0);
	assert_int_equal(fx_read(f, a, 4096 * 200, out, sizeof(out)), 4096);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0);
	fill_pattern(blk, sizeof(blk), 2000 - 1);
	assert_int_equal(fx_read(f, a, (uint64_t)(2000 - 1) * 2 * 4096, out, sizeof(out)), 4096);
	assert_memory_equal(blk, out, sizeof(blk));
	fx_free(f);
}

/*
 * Every other block of a sparse file written in a shuffled order: 12,000
 * extents that never merge, inserted all over a depth-2 tree. Exercises the
 * in-place leaf insert and the leaf split; the checker must find the tree
 * sound and every block must read back, before and after a remount.
 */
static void test_random_order_writes_into_holes_split_leaves(void **state)
{
	enum { N = 12000 };
	struct fx *f = fx_new(128, 0);
	uint64_t a = fx_create(f, f->root, "a");
	static unsigned order[N];
	struct pfs_check_result res;
	char blk[4096], out[4096];
	uint64_t seed = 12345;

	for (unsigned i = 0; i < N; i++)
		order[i] = i;
	for (unsigned i = N - 1; i > 0; i--) {
		unsigned j, t;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		j = (unsigned)((seed >> 33) % (i + 1));
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < N; i++) {
		fill_pattern(blk, sizeof(blk), order[i]);
		assert_int_equal(fx_write(f, a, (uint64_t)order[i] * 2 * 4096, blk, sizeof(blk)), 0);
	}
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < N; i++) {
			fill_pattern(blk, sizeof(blk), i);
			assert_int_equal(fx_read(f, a, (uint64_t)i * 2 * 4096, out, sizeof(out)), 4096);
			assert_memory_equal(blk, out, sizeof(blk));
			if (i + 1 == N)
				continue;  /* the file ends with the last block written */
			assert_int_equal(fx_read(f, a, (uint64_t)i * 2 * 4096 + 4096, out,
						 sizeof(out)), 4096);
			assert_int_equal(out[0] | out[4095], 0);
		}
		pfs_unmount(f->fs);
		assert_int_equal(pfs_check(f->dev, PFS_CHECK_QUIET, NULL, NULL, &res), 0);
		assert_int_equal(res.problems, 0);
		assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0);
		f->root = pfs_root_ino(f->fs);
	}
	fx_free(f);
}

static void test_fallocate_allocates_and_keep_size_keeps_size(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");
	struct pfs_attr at;

	assert_int_equal(pfs_fallocate(f->fs, a, PFS_FALLOC_KEEP_SIZE, 0, 1 << 20), 0);
	assert_int_equal(pfs_getattr(f->fs, a, &at), 0);
	assert_int_equal(at.size, 0);
	assert_int_equal(at.blocks512, 2048);
	assert_int_equal(pfs_fallocate(f->fs, a, 0, 0, 2 << 20), 0);
	assert_int_equal(pfs_getattr(f->fs, a, &at), 0);
	assert_int_equal(at.size, 2 << 20);
	assert_int_equal(at.blocks512, 4096);
	fx_free(f);
}

static void test_lseek_finds_data_and_holes(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");
	uint64_t off;

	assert_int_equal(fx_write(f, a, 1 << 20, "x", 1), 0);
	assert_int_equal(pfs_lseek(f->fs, a, 0, SEEK_DATA, &off), 0);
	assert_int_equal(off, 1 << 20);
	assert_int_equal(pfs_lseek(f->fs, a, 0, SEEK_HOLE, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(pfs_lseek(f->fs, a, 1 << 20, SEEK_HOLE, &off), 0);
	assert_int_equal(off, (1 << 20) + 1);
	fx_free(f);
}

static void test_write_past_maximum_size_is_efbig(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");

	assert_int_equal(fx_write(f, a, PFS_MAX_FILE_SIZE, "x", 1), -EFBIG);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_roundtrip_across_blocks),
		cmocka_unit_test(test_read_past_eof_returns_nothing),
		cmocka_unit_test(test_sparse_file_holds_no_blocks_and_reads_zero),
		cmocka_unit_test(test_truncate_shrink_then_grow_reads_zeros),
		cmocka_unit_test(test_unlink_returns_blocks_to_free_space),
		cmocka_unit_test(test_full_device_gives_enospc_then_recovers),
		cmocka_unit_test(test_fragmented_file_builds_a_tree_and_reads_back),
		cmocka_unit_test(test_random_order_writes_into_holes_split_leaves),
		cmocka_unit_test(test_fallocate_allocates_and_keep_size_keeps_size),
		cmocka_unit_test(test_lseek_finds_data_and_holes),
		cmocka_unit_test(test_write_past_maximum_size_is_efbig),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
