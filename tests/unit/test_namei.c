// SPDX-License-Identifier: MIT
/* Namespace operations of the core on a DRAM device. */
#include "fixture.h"

static void test_fresh_root_is_empty_directory(void **state)
{
	struct fx *f = fx_new(16, 0);
	struct pfs_attr a;

	assert_int_equal(pfs_getattr(f->fs, f->root, &a), 0);
	assert_true(S_ISDIR(a.mode));
	assert_int_equal(a.nlink, 2);
	fx_free(f);
}

static void test_create_then_lookup_finds_same_inode(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t ino = fx_create(f, f->root, "a");
	struct pfs_attr a;
	int rc;

	assert_int_equal(fx_lookup(f, f->root, "a", &rc), ino);
	assert_int_equal(rc, 0);
	assert_int_equal(pfs_getattr(f->fs, ino, &a), 0);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.mode, S_IFREG | 0644);
	fx_free(f);
}

static void test_create_existing_returns_eexist(void **state)
{
	struct fx *f = fx_new(16, 0);
	struct pfs_attr a;

	fx_create(f, f->root, "a");
	assert_int_equal(pfs_mknod(f->fs, f->root, "a", S_IFREG | 0644, 0, &f->cred, &a), -EEXIST);
	fx_free(f);
}

static void test_name_of_256_bytes_is_too_long(void **state)
{
	struct fx *f = fx_new(16, 0);
	char name[257];
	struct pfs_attr a;

	memset(name, 'x', 256);
	name[256] = '\0';
	assert_int_equal(pfs_mknod(f->fs, f->root, name, S_IFREG | 0644, 0, &f->cred, &a),
			 -ENAMETOOLONG);
	name[255] = '\0';
	assert_int_equal(pfs_mknod(f->fs, f->root, name, S_IFREG | 0644, 0, &f->cred, &a), 0);
	fx_free(f);
}

static void test_lookup_missing_returns_enoent(void **state)
{
	struct fx *f = fx_new(16, 0);
	int rc;

	fx_lookup(f, f->root, "nope", &rc);
	assert_int_equal(rc, -ENOENT);
	fx_free(f);
}

static void test_rmdir_nonempty_returns_enotempty(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t d = fx_mkdir(f, f->root, "d");
	struct pfs_attr a;

	fx_create(f, d, "x");
	assert_int_equal(pfs_rmdir(f->fs, f->root, "d"), -ENOTEMPTY);
	assert_int_equal(pfs_unlink(f->fs, d, "x"), 0);
	assert_int_equal(pfs_rmdir(f->fs, f->root, "d"), 0);
	assert_int_equal(pfs_getattr(f->fs, f->root, &a), 0);
	assert_int_equal(a.nlink, 2);
	fx_free(f);
}

static void test_mkdir_counts_links_in_parent(void **state)
{
	struct fx *f = fx_new(16, 0);
	struct pfs_attr a;

	fx_mkdir(f, f->root, "a");
	fx_mkdir(f, f->root, "b");
	assert_int_equal(pfs_getattr(f->fs, f->root, &a), 0);
	assert_int_equal(a.nlink, 4);
	fx_free(f);
}

static void test_rename_over_existing_replaces_target(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");
	int rc;

	fx_create(f, f->root, "b");
	assert_int_equal(pfs_rename(f->fs, f->root, "a", f->root, "b", 0), 0);
	assert_int_equal(fx_lookup(f, f->root, "b", &rc), a);
	fx_lookup(f, f->root, "a", &rc);
	assert_int_equal(rc, -ENOENT);
	fx_free(f);
}

static void test_rename_noreplace_refuses_existing(void **state)
{
	struct fx *f = fx_new(16, 0);

	fx_create(f, f->root, "a");
	fx_create(f, f->root, "b");
	assert_int_equal(pfs_rename(f->fs, f->root, "a", f->root, "b", PFS_RENAME_NOREPLACE),
			 -EEXIST);
	fx_free(f);
}

static void test_rename_exchange_swaps_entries(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");
	uint64_t d = fx_mkdir(f, f->root, "d");
	uint64_t sub = fx_mkdir(f, d, "sub");
	int rc;

	assert_int_equal(pfs_rename(f->fs, f->root, "a", d, "sub", PFS_RENAME_EXCHANGE), 0);
	assert_int_equal(fx_lookup(f, d, "sub", &rc), a);
	assert_int_equal(fx_lookup(f, f->root, "a", &rc), sub);
	assert_int_equal(fx_lookup(f, sub, "..", &rc), f->root);
	fx_free(f);
}

static void test_rename_dir_into_own_subtree_is_einval(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t d = fx_mkdir(f, f->root, "d");
	uint64_t e = fx_mkdir(f, d, "e");

	assert_int_equal(pfs_rename(f->fs, f->root, "d", e, "x", 0), -EINVAL);
	fx_free(f);
}

static void test_rename_dir_moves_dotdot_and_links(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_mkdir(f, f->root, "a");
	uint64_t b = fx_mkdir(f, f->root, "b");
	uint64_t c = fx_mkdir(f, a, "c");
	struct pfs_attr at;
	int rc;

	assert_int_equal(pfs_rename(f->fs, a, "c", b, "c", 0), 0);
	assert_int_equal(fx_lookup(f, c, "..", &rc), b);
	assert_int_equal(pfs_getattr(f->fs, a, &at), 0);
	assert_int_equal(at.nlink, 2);
	assert_int_equal(pfs_getattr(f->fs, b, &at), 0);
	assert_int_equal(at.nlink, 3);
	fx_free(f);
}

static void test_hard_link_counts_and_survives_unlink(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");
	struct pfs_attr at;

	assert_int_equal(pfs_link(f->fs, a, f->root, "b", &at), 0);
	assert_int_equal(at.nlink, 2);
	assert_int_equal(fx_write(f, a, 0, "hello", 5), 0);
	assert_int_equal(pfs_unlink(f->fs, f->root, "a"), 0);
	assert_int_equal(pfs_getattr(f->fs, a, &at), 0);
	assert_int_equal(at.nlink, 1);
	assert_int_equal(at.size, 5);
	fx_free(f);
}

static void test_symlink_reads_back_target(void **state)
{
	struct fx *f = fx_new(16, 0);
	struct pfs_attr a;
	char buf[64];

	assert_int_equal(pfs_symlink(f->fs, f->root, "l", "some/where", &f->cred, &a), 0);
	assert_true(S_ISLNK(a.mode));
	assert_int_equal(pfs_readlink(f->fs, a.ino, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "some/where");
	fx_free(f);
}

static void test_setgid_directory_passes_group_on(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t d = fx_mkdir(f, f->root, "d");
	struct pfs_setattr sa = { .valid = PFS_SET_MODE | PFS_SET_GID, .mode = 02775, .gid = 50 };
	struct pfs_attr a;

	assert_int_equal(pfs_setattr(f->fs, d, &sa, NULL), 0);
	assert_int_equal(pfs_mkdir(f->fs, d, "sub", 0755, &f->cred, &a), 0);
	assert_int_equal(a.gid, 50);
	assert_true(a.mode & S_ISGID);
	assert_int_equal(pfs_mknod(f->fs, d, "file", S_IFREG | 0644, 0, &f->cred, &a), 0);
	assert_int_equal(a.gid, 50);
	fx_free(f);
}

static void test_stale_node_id_returns_estale(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");
	struct pfs_attr at;

	assert_int_equal(pfs_unlink(f->fs, f->root, "a"), 0);
	/* still referenced by the lookup that created it: an orphan */
	assert_int_equal(pfs_getattr(f->fs, a, &at), 0);
	assert_int_equal(at.nlink, 0);
	pfs_forget(f->fs, a, 1);
	assert_int_equal(pfs_getattr(f->fs, a, &at), -ESTALE);
	/* the slot is reused with a new generation: the old id stays stale */
	fx_create(f, f->root, "b");
	assert_int_equal(pfs_getattr(f->fs, a, &at), -ESTALE);
	assert_int_equal(pfs_getattr(f->fs, 12345, &at), -ESTALE);
	fx_free(f);
}

static void test_orphan_is_freed_at_next_mount(void **state)
{
	struct fx *f = fx_new(16, 0);
	char buf[8192] = { 1 };
	struct statvfs before, after;
	struct pfs_attr at;
	uint64_t a;

	assert_int_equal(pfs_statfs(f->fs, &before), 0);
	a = fx_create(f, f->root, "a");
	assert_int_equal(fx_write(f, a, 0, buf, sizeof(buf)), 0);
	assert_int_equal(pfs_unlink(f->fs, f->root, "a"), 0);
	fx_remount(f); /* the kernel's reference died with the old mount */
	assert_int_equal(pfs_getattr(f->fs, a, &at), -ESTALE);
	assert_int_equal(pfs_statfs(f->fs, &after), 0);
	assert_int_equal(after.f_bfree, before.f_bfree);
	assert_int_equal(after.f_ffree, before.f_ffree);
	fx_free(f);
}

static void test_xattr_set_get_list_remove(void **state)
{
	struct fx *f = fx_new(16, 0);
	uint64_t a = fx_create(f, f->root, "a");
	char buf[64];
	size_t len;

	assert_int_equal(pfs_setxattr(f->fs, a, "user.k", "v1", 2, 0), 0);
	assert_int_equal(pfs_setxattr(f->fs, a, "user.k", "v2", 2, PFS_XATTR_CREATE), -EEXIST);
	assert_int_equal(pfs_setxattr(f->fs, a, "user.j", "vv", 2, PFS_XATTR_REPLACE), -ENODATA);
	assert_int_equal(pfs_setxattr(f->fs, a, "user.j", "value", 5, 0), 0);
	assert_int_equal(pfs_getxattr(f->fs, a, "user.k", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(buf, "v1", 2);
	assert_int_equal(pfs_getxattr(f->fs, a, "user.j", NULL, 0, &len), 0);
	assert_int_equal(len, 5);
	assert_int_equal(pfs_listxattr(f->fs, a, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, sizeof("user.k") + sizeof("user.j"));
	assert_int_equal(pfs_removexattr(f->fs, a, "user.k"), 0);
	assert_int_equal(pfs_getxattr(f->fs, a, "user.k", buf, sizeof(buf), &len), -ENODATA);
	assert_int_equal(pfs_setxattr(f->fs, a, "os2.x", "v", 1, 0), -EOPNOTSUPP);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_root_is_empty_directory),
		cmocka_unit_test(test_create_then_lookup_finds_same_inode),
		cmocka_unit_test(test_create_existing_returns_eexist),
		cmocka_unit_test(test_name_of_256_bytes_is_too_long),
		cmocka_unit_test(test_lookup_missing_returns_enoent),
		cmocka_unit_test(test_rmdir_nonempty_returns_enotempty),
		cmocka_unit_test(test_mkdir_counts_links_in_parent),
		cmocka_unit_test(test_rename_over_existing_replaces_target),
		cmocka_unit_test(test_rename_noreplace_refuses_existing),
		cmocka_unit_test(test_rename_exchange_swaps_entries),
		cmocka_unit_test(test_rename_dir_into_own_subtree_is_einval),
		cmocka_unit_test(test_rename_dir_moves_dotdot_and_links),
		cmocka_unit_test(test_hard_link_counts_and_survives_unlink),
		cmocka_unit_test(test_symlink_reads_back_target),
		cmocka_unit_test(test_setgid_directory_passes_group_on),
		cmocka_unit_test(test_stale_node_id_returns_estale),
		cmocka_unit_test(test_orphan_is_freed_at_next_mount),
		cmocka_unit_test(test_xattr_set_get_list_remove),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
