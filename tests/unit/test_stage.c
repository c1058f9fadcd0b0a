// SPDX-License-Identifier: MIT
/* Stages: large writes read into device blocks and relinked into the file. */
#include "fixture.h"

#include <sys/statvfs.h>

#define SBLK 64u                      /* stage blocks */
#define SLEN ((size_t)SBLK * 4096)

/* The kernel's part: the request's data lands in the stage's blocks. */
static void stage_fill(struct fx *f, struct pfs_stage *st, size_t len, unsigned seed)
{
	struct iovec iov[16];
	int n = pfs_stage_iov(f->fs, st, iov, 16);
	size_t k = 0;

	assert_true(n > 0);
	for (int i = 0; i < n && k < len; i++)
		for (size_t j = 0; j < iov[i].iov_len && k < len; j++, k++)
			((char *)iov[i].iov_base)[j] = (char)((k * 7 + seed) & 0xff);
	assert_int_equal(k, len);
}

static void expect_data(struct fx *f, uint64_t ino, uint64_t off, size_t len, unsigned seed)
{
	char *buf = malloc(len);

	assert_non_null(buf);
	assert_int_equal(fx_read(f, ino, off, buf, len), (ssize_t)len);
	for (size_t k = 0; k < len; k++)
		if (buf[k] != (char)((k * 7 + seed) & 0xff))
			fail_msg("byte %zu of [%llu, +%zu) is wrong", k, (unsigned long long)off, len);
	free(buf);
}

static uint64_t free_blocks(struct fx *f)
{
	struct statvfs sv;

	assert_int_equal(pfs_statfs(f->fs, &sv), 0);
	return sv.f_bfree;
}

static void check_clean(struct fx *f)
{
	struct pfs_check_result res;

	pfs_unmount(f->fs);
	assert_int_equal(pfs_check(f->dev, PFS_CHECK_QUIET, NULL, NULL, &res), 0);
	assert_int_equal(res.problems, 0);
	assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0);
	f->root = pfs_root_ino(f->fs);
}

static void test_adopt_overwrite_and_extend(void **state)
{
	struct fx *f = fx_new(64, 0);
	uint64_t a = fx_create(f, f->root, "a"), before = free_blocks(f), held;
	struct pfs_stage *st;
	struct pfs_attr at;
	char zero[4096] = { 0 }, out[4096];

	assert_int_equal(pfs_stage_new(f->fs, SBLK, &st), 0);
	held = before - free_blocks(f);
	assert_true(held >= SBLK);
	stage_fill(f, st, SLEN, 1);
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, 0, SLEN), 0);
	expect_data(f, a, 0, SLEN, 1);
	assert_int_equal(free_blocks(f), before - held - SBLK);

	/* overwrite: the old blocks go back, the space used stays the same */
	stage_fill(f, st, SLEN, 2);
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, 0, SLEN), 0);
	expect_data(f, a, 0, SLEN, 2);
	assert_int_equal(free_blocks(f), before - held - SBLK);

	/* part of the stage, past EOF with a hole before it */
	stage_fill(f, st, 16 * 4096, 3);
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, SLEN + 8 * 4096, 16 * 4096), 0);
	expect_data(f, a, SLEN + 8 * 4096, 16 * 4096, 3);
	assert_int_equal(fx_read(f, a, SLEN + 4096, out, sizeof(out)), 4096);
	assert_memory_equal(out, zero, sizeof(out));
	assert_int_equal(pfs_getattr(f->fs, a, &at), 0);
	assert_int_equal(at.size, SLEN + 24 * 4096);
	expect_data(f, a, 0, SLEN, 2);

	/* the stage is whole again: a full-size adopt still works */
	stage_fill(f, st, SLEN, 4);
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, 4096, SLEN), 0);
	expect_data(f, a, 4096, SLEN, 4);
	pfs_stage_free(f->fs, st);
	assert_int_equal(pfs_getattr(f->fs, a, &at), 0);
	assert_int_equal(free_blocks(f), before - at.blocks512 / 8);
	check_clean(f);
	expect_data(f, a, 4096, SLEN, 4);
	fx_free(f);
}

static void test_adopt_refuses_bad_requests_and_changes_nothing(void **state)
{
	struct fx *f = fx_new(64, 0);
	uint64_t a = fx_create(f, f->root, "a"), d = fx_mkdir(f, f->root, "d");
	struct pfs_stage *st;

	assert_int_equal(pfs_stage_new(f->fs, SBLK, &st), 0);
	stage_fill(f, st, SLEN, 5);
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, 100, 4096), -EINVAL);
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, 0, 4000), -EINVAL);
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, 0, SLEN + 4096), -EINVAL);
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, 0, 0), -EINVAL);
	assert_int_equal(pfs_stage_adopt(f->fs, st, d, 0, 4096), -EISDIR);
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, PFS_MAX_FILE_SIZE, 4096), -EFBIG);
	assert_int_equal(pfs_stage_new(f->fs, 0, &(struct pfs_stage *){ NULL }), -EINVAL);
	/* the stage is untouched by the refusals */
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, 0, SLEN), 0);
	expect_data(f, a, 0, SLEN, 5);
	pfs_stage_free(f->fs, st);
	check_clean(f);
	fx_free(f);
}

/* No room for the stage's fresh blocks: ENOSPC, the file and the stage unchanged. */
static void test_adopt_on_a_full_device_gives_enospc(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a"), fill = fx_create(f, f->root, "fill");
	struct pfs_stage *st;
	char blk[4096];
	uint64_t off = 0;

	assert_int_equal(pfs_stage_new(f->fs, SBLK, &st), 0);
	stage_fill(f, st, SLEN, 6);
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, 0, SLEN), 0);
	memset(blk, 0x5a, sizeof(blk));
	while (fx_write(f, fill, off, blk, sizeof(blk)) == 0)
		off += sizeof(blk);
	stage_fill(f, st, SLEN, 7);
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, 0, SLEN), -ENOSPC);
	expect_data(f, a, 0, SLEN, 6);
	/* space back: the same stage works */
	assert_int_equal(pfs_unlink(f->fs, f->root, "fill"), 0);
	pfs_forget(f->fs, fill, 1);
	stage_fill(f, st, SLEN, 8);
	assert_int_equal(pfs_stage_adopt(f->fs, st, a, 0, SLEN), 0);
	expect_data(f, a, 0, SLEN, 8);
	pfs_stage_free(f->fs, st);
	check_clean(f);
	fx_free(f);
}

/* A stage still held at unmount (a crash, say) is an orphan: the next mount frees it. */
static void test_stage_left_behind_is_reclaimed_at_mount(void **state)
{
	struct fx *f = fx_new(64, 0);
	uint64_t before = free_blocks(f);
	struct pfs_stage *st;

	assert_int_equal(pfs_stage_new(f->fs, SBLK, &st), 0);
	assert_true(free_blocks(f) < before);
	fx_remount(f);
	assert_int_equal(free_blocks(f), before);
	pfs_stage_free(f->fs, st); /* its inode went with the old mount: only DRAM is freed */
	check_clean(f);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adopt_overwrite_and_extend),
		cmocka_unit_test(test_adopt_refuses_bad_requests_and_changes_nothing),
		cmocka_unit_test(test_adopt_on_a_full_device_gives_enospc),
		cmocka_unit_test(test_stage_left_behind_is_reclaimed_at_mount),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
