// SPDX-License-Identifier: MIT
/* Hashed directories: growth, lookups and readdir cookies, on a DRAM device. */
#include <stdio.h>

#include "fixture.h"

struct seen {
	unsigned char *mark;
	unsigned n, count, dots;
	unsigned stop_after;
	uint64_t last_cookie;
	int dup;
};

static int fill_mark(void *arg, const char *name, const struct pfs_attr *a, uint64_t next)
{
	struct seen *s = arg;
	unsigned i;

	if (s->stop_after && s->count >= s->stop_after)
		return 1;
	s->last_cookie = next;
	s->count++;
	if (name[0] == '.') {
		s->dots++;
		return 0;
	}
	if (sscanf(name, "file-%u", &i) != 1 || i >= s->n)
		return 0;
	if (s->mark[i])
		s->dup = 1;
	s->mark[i] = 1;
	return 0;
}

static void make_files(struct fx *f, uint64_t dir, unsigned n)
{
	char name[64];

	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "file-%u", i);
		fx_create(f, dir, name);
	}
}

static void test_large_directory_finds_every_name(void **state)
{
	struct fx *f = fx_new(128, 20000);
	uint64_t d = fx_mkdir(f, f->root, "d");
	const unsigned n = 10000;
	char name[64];
	int rc;

	make_files(f, d, n);
	fx_remount(f);
	d = fx_lookup(f, f->root, "d", &rc);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "file-%u", i);
		assert_int_not_equal(fx_lookup(f, d, name, &rc), 0);
		assert_int_equal(rc, 0);
	}
	fx_lookup(f, d, "file-10000", &rc);
	assert_int_equal(rc, -ENOENT);
	fx_free(f);
}

static void test_readdir_lists_every_entry_once_across_resumes(void **state)
{
	struct fx *f = fx_new(64, 8000);
	uint64_t d = fx_mkdir(f, f->root, "d");
	const unsigned n = 3000;
	struct seen s = { .n = n };
	uint64_t cookie = 0;
	unsigned total = 0;

	make_files(f, d, n);
	s.mark = calloc(n, 1);
	/* resume every 50 entries, and grow the table in the middle of the walk */
	for (int round = 0;; round++) {
		s.count = 0;
		s.stop_after = 50;
		assert_int_equal(pfs_readdir(f->fs, d, cookie, false, fill_mark, &s), 0);
		total += s.count;
		if (s.count == 0)
			break;
		cookie = s.last_cookie;
		if (round == 10)
			make_files(f, f->root, 10); /* unrelated change between calls */
	}
	assert_int_equal(s.dup, 0);
	assert_int_equal(s.dots, 2);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(s.mark[i], 1);
	assert_int_equal(total, n + 2);
	free(s.mark);
	fx_free(f);
}

/* 100,000 entries: every one found after a remount (the table doubled ~10 times) */
static void test_hundred_thousand_entries_are_all_found(void **state)
{
	struct fx *f = fx_new(256, 110000);
	uint64_t d = fx_mkdir(f, f->root, "d");
	const unsigned n = 100000;
	struct pfs_attr a;
	char name[64];
	int rc;

	make_files(f, d, n);
	fx_remount(f);
	d = fx_lookup(f, f->root, "d", &rc);
	for (unsigned i = 0; i < n; i += 7) {
		snprintf(name, sizeof(name), "file-%u", i);
		assert_int_not_equal(fx_lookup(f, d, name, &rc), 0);
		assert_int_equal(rc, 0);
	}
	assert_int_equal(pfs_getattr(f->fs, d, &a), 0);
	assert_true(a.size >= (n / 170) * 4096ull);
	fx_free(f);
}

static int refuse_files(void *arg, const char *name, const struct pfs_attr *a, uint64_t next)
{
	(void)a;
	(void)next;
	if (name[0] == '.')
		return 0;
	*(int *)arg += 1;
	return 1; /* "the reply buffer is full" */
}

static int accept_all(void *arg, const char *name, const struct pfs_attr *a, uint64_t next)
{
	(void)name;
	(void)a;
	(void)next;
	*(int *)arg += 1;
	return 0;
}

/* readdirplus takes a reference per entry, and keeps none for a refused one */
static void test_readdirplus_refused_entry_keeps_no_reference(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");
	int n = 0;

	pfs_forget(f->fs, a, 1);
	assert_false(pfs_icache_has_refs(&f->fs->icache, a));
	assert_int_equal(pfs_readdir(f->fs, f->root, 0, true, refuse_files, &n), 0);
	assert_int_equal(n, 1);
	assert_false(pfs_icache_has_refs(&f->fs->icache, a));
	n = 0;
	assert_int_equal(pfs_readdir(f->fs, f->root, 0, true, accept_all, &n), 0);
	assert_int_equal(n, 3);
	assert_true(pfs_icache_has_refs(&f->fs->icache, a));
	pfs_forget(f->fs, a, 1);
	assert_false(pfs_icache_has_refs(&f->fs->icache, a));
	fx_free(f);
}

static void test_unlink_all_leaves_directory_removable(void **state)
{
	struct fx *f = fx_new(64, 4000);
	uint64_t d = fx_mkdir(f, f->root, "d");
	char name[64];

	make_files(f, d, 2000);
	for (unsigned i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "file-%u", i);
		assert_int_equal(pfs_unlink(f->fs, d, name), 0);
	}
	assert_int_equal(pfs_rmdir(f->fs, f->root, "d"), 0);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_directory_finds_every_name),
		cmocka_unit_test(test_readdir_lists_every_entry_once_across_resumes),
		cmocka_unit_test(test_hundred_thousand_entries_are_all_found),
		cmocka_unit_test(test_readdirplus_refused_entry_keeps_no_reference),
		cmocka_unit_test(test_unlink_all_leaves_directory_removable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
