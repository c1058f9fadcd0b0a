// SPDX-License-Identifier: MIT
/*
 * Fault injection over every namespace operation: for each operation and each
 * kind of fault (fs/fault.h: the Nth heap allocation, block/inode allocation,
 * persist or media read failing), fail the 1st, 2nd, ... event until the
 * operation runs without reaching the injection. After each injected failure:
 * the operation returned an error, the namespace (names, attributes, times,
 * contents, the zero tail past EOF, xattrs, free counts) is exactly the one
 * before, live and after a remount, the checker finds the image clean, and the
 * file system still performs the operation. Where a failure latched the mount
 * read-only, the image is clean after recovery and holds the namespace from
 * before or after the operation. Leaks are LeakSanitizer's (the ASan phase).
 */
#include <dirent.h>
#include <fcntl.h>

#include "fixture.h"

#define DEV_MIB 4
#define INODES 512
#define FRAG_EXTENTS 6

static const char *kind_name[PFS_FAULT_KINDS] = { "alloc", "space", "persist", "read" };

/* ---- a textual dump of the namespace ---- */

struct dump {
	char *s;
	size_t len, cap;
};

static void dump_add(struct dump *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dump_add(struct dump *d, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(line));
	if (d->len + (size_t)n + 1 > d->cap) {
		d->cap = (d->len + (size_t)n + 1) * 2;
		d->s = realloc(d->s, d->cap);
		assert_non_null(d->s);
	}
	memcpy(d->s + d->len, line, (size_t)n + 1);
	d->len += (size_t)n;
}

struct names {
	char **v;
	size_t n;
};

static int names_fill(void *arg, const char *name, const struct pfs_attr *a, uint64_t next)
{
	struct names *nm = arg;

	(void)a;
	(void)next;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	nm->v = realloc(nm->v, (nm->n + 1) * sizeof(*nm->v));
	assert_non_null(nm->v);
	nm->v[nm->n] = strdup(name);
	assert_non_null(nm->v[nm->n]);
	nm->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int crc_cb(void *arg, const struct iovec *iov, int cnt)
{
	uint32_t *crc = arg;

	for (int i = 0; i < cnt; i++)
		*crc = pfs_crc32c(*crc, iov[i].iov_base, iov[i].iov_len);
	return 0;
}

/* Are the bytes past EOF in the last block zero (the zero-past-EOF invariant)? */
static bool tail_zero(struct pfs_fs *fs, uint64_t ino, uint64_t size)
{
	struct pfs_inode_pm *ip;
	uint64_t pblk = 0, run;
	size_t in = size & (PFS_BLOCK_SIZE - 1);
	const char *b;

	if (in == 0)
		return true;
	assert_int_equal(pfs_inode_get(fs, ino, &ip), 0);
	assert_int_equal(pfs_ext_map(fs, ip, size >> PFS_BLOCK_SHIFT, 1, &pblk, &run), 0);
	if (!pblk)
		return true;
	b = pfs_blk(fs, pblk);
	for (size_t i = in; i < PFS_BLOCK_SIZE; i++)
		if (b[i])
			return false;
	return true;
}

static void dump_xattrs(struct pfs_fs *fs, uint64_t ino, struct dump *d)
{
	char list[4096], val[4096];
	size_t len = 0, vlen;

	assert_int_equal(pfs_listxattr(fs, ino, list, sizeof(list), &len), 0);
	for (size_t o = 0; o < len; o += strlen(list + o) + 1) {
		assert_int_equal(pfs_getxattr(fs, ino, list + o, val, sizeof(val), &vlen), 0);
		dump_add(d, " x:%s=%08x", list + o, pfs_crc32c(0, val, vlen));
	}
}

static void dump_tree(struct pfs_fs *fs, uint64_t dir, const char *path, bool times,
		      struct dump *d)
{
	struct names nm = { 0 };

	assert_int_equal(pfs_readdir(fs, dir, 0, false, names_fill, &nm), 0);
	if (nm.n)
		qsort(nm.v, nm.n, sizeof(*nm.v), cmp_str);
	for (size_t i = 0; i < nm.n; i++) {
		char sub[1024], link[PFS_SYMLINK_MAX + 1];
		struct pfs_attr a;
		uint32_t crc = 0;

		snprintf(sub, sizeof(sub), "%s/%s", path, nm.v[i]);
		assert_int_equal(pfs_lookup(fs, dir, nm.v[i], &a), 0);
		dump_add(d, "%s mode=%o nlink=%u uid=%u gid=%u size=%llu blocks=%llu", sub, a.mode,
			 a.nlink, a.uid, a.gid, (unsigned long long)a.size,
			 (unsigned long long)a.blocks512);
		/* a failed create may leave its free slot's generation advanced */
		if (times)
			dump_add(d, " ino=%llx", (unsigned long long)a.ino);
		if (times)
			dump_add(d, " m=%lld.%ld c=%lld.%ld a=%lld.%ld", (long long)a.mtime.tv_sec,
				 a.mtime.tv_nsec, (long long)a.ctime.tv_sec, a.ctime.tv_nsec,
				 (long long)a.atime.tv_sec, a.atime.tv_nsec);
		if (S_ISREG(a.mode)) {
			assert_int_equal(pfs_read(fs, a.ino, 0, a.size, crc_cb, &crc), 0);
			dump_add(d, " data=%08x tail0=%d", crc, tail_zero(fs, a.ino, a.size));
		}
		if (S_ISLNK(a.mode)) {
			assert_int_equal(pfs_readlink(fs, a.ino, link, sizeof(link)), 0);
			dump_add(d, " -> %s", link);
		}
		dump_xattrs(fs, a.ino, d);
		dump_add(d, "\n");
		if (S_ISDIR(a.mode))
			dump_tree(fs, a.ino, sub, times, d);
		pfs_forget(fs, a.ino, 1);
		free(nm.v[i]);
	}
	free(nm.v);
}

static char *dump_fs(struct pfs_fs *fs, bool times)
{
	struct dump d = { 0 };
	struct statvfs sv;
	struct pfs_attr a;

	assert_int_equal(pfs_statfs(fs, &sv), 0);
	assert_int_equal(pfs_getattr(fs, pfs_root_ino(fs), &a), 0);
	dump_add(&d, "bfree=%llu ffree=%llu root nlink=%u\n", (unsigned long long)sv.f_bfree,
		 (unsigned long long)sv.f_ffree, a.nlink);
	if (times)
		dump_add(&d, "root m=%lld.%ld\n", (long long)a.mtime.tv_sec, a.mtime.tv_nsec);
	dump_tree(fs, pfs_root_ino(fs), "", times, &d);
	return d.s;
}

/* ---- the base image ---- */

struct ctx {
	uint64_t root, d1, d2, big, e, sub, f, f1, g, frag, s;
	struct pfs_stage *st;          /* stage-adopt's stage */
};

static unsigned big_entries; /* entries of big/ one short of doubling its table */

static void big_name(char *buf, size_t size, unsigned i)
{
	snprintf(buf, size, "entry-%04u", i);
}

static unsigned find_big_entries(void)
{
	struct fx *f = fx_new(DEV_MIB, INODES);
	uint64_t big = fx_mkdir(f, f->root, "big");
	struct pfs_attr a;
	uint64_t size0;
	unsigned i;

	assert_int_equal(pfs_getattr(f->fs, big, &a), 0);
	size0 = a.size;
	for (i = 0;; i++) {
		char name[32];

		big_name(name, sizeof(name), i);
		fx_create(f, big, name);
		assert_int_equal(pfs_getattr(f->fs, big, &a), 0);
		if (a.size != size0)
			break;
	}
	fx_free(f);
	return i;
}

static void fill(char *buf, size_t len, int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i * 31 + (size_t)seed);
}

static uint64_t base_build(void **image)
{
	struct fx *f = fx_new(DEV_MIB, INODES);
	uint64_t d1 = fx_mkdir(f, f->root, "d1"), d2 = fx_mkdir(f, f->root, "d2");
	uint64_t big = fx_mkdir(f, f->root, "big"), file, g, frag;
	static char buf[3 * PFS_BLOCK_SIZE];
	struct pfs_attr a;
	uint64_t size;

	fx_mkdir(f, f->root, "e");
	fx_mkdir(f, d1, "sub");
	fill(buf, sizeof(buf), 1);
	assert_int_equal(fx_write(f, fx_create(f, d1, "f1"), 0, buf, PFS_BLOCK_SIZE), 0);
	g = fx_create(f, d2, "g");
	assert_int_equal(fx_write(f, g, 0, buf, 3 * PFS_BLOCK_SIZE), 0);
	assert_int_equal(pfs_setxattr(f->fs, g, "user.a", "va", 2, 0), 0);
	file = fx_create(f, f->root, "f");
	assert_int_equal(fx_write(f, file, 0, buf, 10000), 0);
	assert_int_equal(pfs_setxattr(f->fs, file, "user.x", "1", 1, 0), 0);
	assert_int_equal(pfs_link(f->fs, file, f->root, "hl", &a), 0);
	assert_int_equal(pfs_symlink(f->fs, f->root, "s", "d1/f1", &f->cred, &a), 0);
	frag = fx_create(f, f->root, "frag");
	for (int i = 0; i < FRAG_EXTENTS; i++)
		assert_int_equal(fx_write(f, frag, (uint64_t)i * 2 * PFS_BLOCK_SIZE, buf,
					  PFS_BLOCK_SIZE), 0);
	for (unsigned i = 0; i < big_entries; i++) {
		char name[32];

		big_name(name, sizeof(name), i);
		fx_create(f, big, name);
	}
	pfs_unmount(f->fs);
	f->fs = NULL;
	size = pfs_device_get_info(f->dev)->size;
	*image = malloc(size);
	assert_non_null(*image);
	memcpy(*image, pfs_device_base(f->dev), size);
	pfs_device_close(f->dev);
	free(f);
	return size;
}

static uint64_t lk(struct pfs_fs *fs, uint64_t dir, const char *name)
{
	struct pfs_attr a;

	assert_int_equal(pfs_lookup(fs, dir, name, &a), 0);
	pfs_forget(fs, a.ino, 1);
	return a.ino;
}

static void ctx_resolve(struct pfs_fs *fs, struct ctx *c)
{
	c->root = pfs_root_ino(fs);
	c->d1 = lk(fs, c->root, "d1");
	c->d2 = lk(fs, c->root, "d2");
	c->big = lk(fs, c->root, "big");
	c->e = lk(fs, c->root, "e");
	c->sub = lk(fs, c->d1, "sub");
	c->f = lk(fs, c->root, "f");
	c->f1 = lk(fs, c->d1, "f1");
	c->g = lk(fs, c->d2, "g");
	c->frag = lk(fs, c->root, "frag");
	c->s = lk(fs, c->root, "s");
}

/* ---- the operations ---- */

static const struct pfs_cred cred = { .uid = 1000, .gid = 1000, .umask = 022 };

/* Creation ops take a reference, dropped by forget_created outside the injection. */
static uint64_t created_ino;

static int created(struct pfs_fs *fs, int rc, const struct pfs_attr *a)
{
	(void)fs;
	if (rc == 0)
		created_ino = a->ino;
	return rc;
}

static void forget_created(struct pfs_fs *fs)
{
	if (created_ino)
		pfs_forget(fs, created_ino, 1);
	created_ino = 0;
}

static int op_create(struct pfs_fs *fs, const struct ctx *c)
{
	struct pfs_attr a;

	return created(fs, pfs_mknod(fs, c->root, "new", S_IFREG | 0644, 0, &cred, &a), &a);
}

static int op_create_grow(struct pfs_fs *fs, const struct ctx *c)
{
	struct pfs_attr a;
	char name[32];

	big_name(name, sizeof(name), big_entries);
	return created(fs, pfs_mknod(fs, c->big, name, S_IFREG | 0644, 0, &cred, &a), &a);
}

static int op_mkdir(struct pfs_fs *fs, const struct ctx *c)
{
	struct pfs_attr a;

	return created(fs, pfs_mkdir(fs, c->d1, "newdir", 0755, &cred, &a), &a);
}

static int op_symlink(struct pfs_fs *fs, const struct ctx *c)
{
	struct pfs_attr a;

	return created(fs, pfs_symlink(fs, c->d2, "sl", "../d1/f1", &cred, &a), &a);
}

static int op_link(struct pfs_fs *fs, const struct ctx *c)
{
	struct pfs_attr a;

	return created(fs, pfs_link(fs, c->g, c->d1, "g2", &a), &a);
}

static int op_unlink_last(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_unlink(fs, c->d2, "g");
}

static int op_unlink_linked(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_unlink(fs, c->root, "hl");
}

static int op_unlink_symlink(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_unlink(fs, c->root, "s");
}

static int op_rmdir(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_rmdir(fs, c->root, "e");
}

static int op_rename_move(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_rename(fs, c->d1, "f1", c->d2, "moved", 0);
}

static int op_rename_replace(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_rename(fs, c->root, "frag", c->d2, "g", 0);
}

static int op_rename_dir(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_rename(fs, c->d1, "sub", c->d2, "sub", 0);
}

static int op_rename_dir_replace(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_rename(fs, c->d1, "sub", c->root, "e", 0);
}

static int op_rename_exchange(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_rename(fs, c->d1, "sub", c->root, "f", PFS_RENAME_EXCHANGE);
}

static int op_rename_noreplace(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_rename(fs, c->root, "s", c->big, "s2", PFS_RENAME_NOREPLACE);
}

static int op_chmod(struct pfs_fs *fs, const struct ctx *c)
{
	struct pfs_setattr sa = { .valid = PFS_SET_MODE | PFS_SET_UID, .mode = 0600, .uid = 7 };

	return pfs_setattr(fs, c->f, &sa, NULL);
}

static int op_truncate_shrink(struct pfs_fs *fs, const struct ctx *c)
{
	struct pfs_setattr sa = { .valid = PFS_SET_SIZE, .size = 100 };

	return pfs_setattr(fs, c->frag, &sa, NULL);
}

static int op_truncate_partial(struct pfs_fs *fs, const struct ctx *c)
{
	struct pfs_setattr sa = { .valid = PFS_SET_SIZE, .size = 5000 };

	return pfs_setattr(fs, c->f, &sa, NULL);
}

static int op_truncate_grow(struct pfs_fs *fs, const struct ctx *c)
{
	struct pfs_setattr sa = { .valid = PFS_SET_SIZE, .size = 100000 };

	return pfs_setattr(fs, c->f, &sa, NULL);
}

static int op_write_append(struct pfs_fs *fs, const struct ctx *c)
{
	static char buf[9000];
	struct iovec v = { buf, sizeof(buf) };
	size_t done;

	fill(buf, sizeof(buf), 7);
	return pfs_write(fs, c->f, 10000, &v, 1, false, false, &done);
}

static int op_write_hole(struct pfs_fs *fs, const struct ctx *c)
{
	static char buf[PFS_BLOCK_SIZE];
	struct iovec v = { buf, sizeof(buf) };
	size_t done;

	fill(buf, sizeof(buf), 9);
	return pfs_write(fs, c->frag, 3 * PFS_BLOCK_SIZE, &v, 1, false, false, &done);
}

static int op_setxattr_new(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_setxattr(fs, c->f1, "user.n", "value", 5, PFS_XATTR_CREATE);
}

static int op_setxattr_replace(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_setxattr(fs, c->f, "user.x", "22", 2, PFS_XATTR_REPLACE);
}

static int op_removexattr(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_removexattr(fs, c->g, "user.a");
}

static int op_unlink_open(struct pfs_fs *fs, const struct ctx *c)
{
	/* open, then lose the last name: the inode becomes an orphan */
	int rc = pfs_open(fs, c->f1, O_RDONLY);

	return rc ? rc : pfs_unlink(fs, c->d1, "f1");
}

static int op_unlink_in_big(struct pfs_fs *fs, const struct ctx *c)
{
	char name[32];

	big_name(name, sizeof(name), 7);
	return pfs_unlink(fs, c->big, name);
}

static int op_rename_in_big(struct pfs_fs *fs, const struct ctx *c)
{
	char name[32];

	big_name(name, sizeof(name), 3);
	return pfs_rename(fs, c->big, name, c->big, "renamed", 0);
}

static int op_fallocate(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_fallocate(fs, c->f1, 0, 0, 6 * PFS_BLOCK_SIZE);
}

static int op_punch_hole(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_fallocate(fs, c->g, PFS_FALLOC_PUNCH_HOLE | PFS_FALLOC_KEEP_SIZE, 100,
			     2 * PFS_BLOCK_SIZE);
}

static int op_write_extend_tree(struct pfs_fs *fs, const struct ctx *c)
{
	static char buf[2 * PFS_BLOCK_SIZE];
	struct iovec v = { buf, sizeof(buf) };
	size_t done;

	fill(buf, sizeof(buf), 11);
	return pfs_write(fs, c->frag, 14 * PFS_BLOCK_SIZE, &v, 1, false, false, &done);
}

/* A large write as the adapter does it: read into a stage, adopt its blocks. */
static void stage_prepare(struct pfs_fs *fs, struct ctx *c)
{
	struct iovec iov[4];
	int n;

	assert_int_equal(pfs_stage_new(fs, 4, &c->st), 0);
	n = pfs_stage_iov(fs, c->st, iov, 4);
	assert_true(n > 0);
	for (int i = 0; i < n; i++)
		fill(iov[i].iov_base, iov[i].iov_len, 13 + i);
}

static void stage_cleanup(struct pfs_fs *fs, struct ctx *c)
{
	pfs_stage_free(fs, c->st);
	c->st = NULL;
}

static int op_stage_adopt(struct pfs_fs *fs, const struct ctx *c)
{
	return pfs_stage_adopt(fs, c->st, c->g, PFS_BLOCK_SIZE, 3 * PFS_BLOCK_SIZE);
}

struct op {
	const char *name;
	int (*run)(struct pfs_fs *fs, const struct ctx *c);
	/* outside the injection, around run: set-up the call needs, its undoing */
	void (*prepare)(struct pfs_fs *fs, struct ctx *c);
	void (*cleanup)(struct pfs_fs *fs, struct ctx *c);
};

static const struct op ops[] = {
	{ .name = "create", .run = op_create },
	{ .name = "create-grow-dir", .run = op_create_grow },
	{ .name = "mkdir", .run = op_mkdir },
	{ .name = "symlink", .run = op_symlink },
	{ .name = "link", .run = op_link },
	{ .name = "unlink-last-link", .run = op_unlink_last },
	{ .name = "unlink-one-of-two", .run = op_unlink_linked },
	{ .name = "unlink-symlink", .run = op_unlink_symlink },
	{ .name = "unlink-open-file", .run = op_unlink_open },
	{ .name = "unlink-in-big-dir", .run = op_unlink_in_big },
	{ .name = "rmdir", .run = op_rmdir },
	{ .name = "rename-move", .run = op_rename_move },
	{ .name = "rename-replace", .run = op_rename_replace },
	{ .name = "rename-dir", .run = op_rename_dir },
	{ .name = "rename-dir-replace", .run = op_rename_dir_replace },
	{ .name = "rename-exchange", .run = op_rename_exchange },
	{ .name = "rename-noreplace", .run = op_rename_noreplace },
	{ .name = "rename-in-big-dir", .run = op_rename_in_big },
	{ .name = "setattr-chmod-chown", .run = op_chmod },
	{ .name = "truncate-shrink", .run = op_truncate_shrink },
	{ .name = "truncate-partial", .run = op_truncate_partial },
	{ .name = "truncate-grow", .run = op_truncate_grow },
	{ .name = "write-append", .run = op_write_append },
	{ .name = "write-fill-hole", .run = op_write_hole },
	{ .name = "write-extend-tree", .run = op_write_extend_tree },
	{ .name = "stage-adopt", .run = op_stage_adopt, .prepare = stage_prepare,
	  .cleanup = stage_cleanup },
	{ .name = "fallocate", .run = op_fallocate },
	{ .name = "punch-hole", .run = op_punch_hole },
	{ .name = "setxattr-new", .run = op_setxattr_new },
	{ .name = "setxattr-replace", .run = op_setxattr_replace },
	{ .name = "removexattr", .run = op_removexattr },
};

/* ---- one run ---- */

static void op_before(const struct op *op, struct pfs_fs *fs, struct ctx *c)
{
	if (op->prepare)
		op->prepare(fs, c);
}

static void op_after(const struct op *op, struct pfs_fs *fs, struct ctx *c)
{
	forget_created(fs);
	if (op->cleanup)
		op->cleanup(fs, c);
}

static const char *cur_op, *cur_kind;
static uint64_t cur_n;

static void check_report(void *arg, const char *object, const char *problem, bool repaired)
{
	(void)arg;
	(void)repaired;
	print_message("[%s %s #%llu] check: %s: %s\n", cur_op, cur_kind,
		      (unsigned long long)cur_n, object, problem);
}

static void assert_clean(struct pfs_device *dev)
{
	struct pfs_check_result res = { 0 };

	assert_int_equal(pfs_check(dev, PFS_CHECK_QUIET, check_report, NULL, &res), 0);
	assert_int_equal(res.problems, 0);
}

/* Prints the first line that differs. */
static void assert_same(const char *want, const char *got)
{
	size_t i = 0, ls = 0;

	if (strcmp(want, got) == 0)
		return;
	for (; want[i] && want[i] == got[i]; i++)
		if (want[i] == '\n')
			ls = i + 1;
	print_message("[%s %s #%llu] namespace differs\nwant: %.*s\ngot:  %.*s\n", cur_op,
		      cur_kind, (unsigned long long)cur_n, (int)strcspn(want + ls, "\n"), want + ls,
		      (int)strcspn(got + ls, "\n"), got + ls);
	fail();
}

static struct pfs_fs *mount_dev(struct pfs_device *dev, struct ctx *c)
{
	struct pfs_fs *fs;

	assert_int_equal(pfs_mount(dev, 0, &fs), 0);
	ctx_resolve(fs, c);
	return fs;
}

/* A latched mount writes nothing more: a change is refused and no byte moves. */
static void assert_latched(struct pfs_fs *fs, struct pfs_device *dev, const struct ctx *c)
{
	size_t size = pfs_device_get_info(dev)->size;
	struct pfs_setattr sa = { .valid = PFS_SET_MODE, .mode = 0 };
	char *before = malloc(size);
	struct pfs_attr a;

	assert_non_null(before);
	memcpy(before, pfs_device_base(dev), size);
	assert_int_equal(pfs_mknod(fs, c->root, "after", S_IFREG | 0644, 0, &cred, &a), -EROFS);
	assert_int_equal(pfs_setattr(fs, c->root, &sa, NULL), -EROFS);
	assert_int_equal(pfs_unlink(fs, c->root, "f"), -EROFS);
	assert_true(memcmp(before, pfs_device_base(dev), size) == 0);
	free(before);
}

struct expect {
	char *pre;                     /* with times */
	char *pre_nt, *post_nt;        /* without times and inode numbers */
	char *post_rm;                 /* post_nt after a remount (orphans reclaimed) */
	uint64_t events[PFS_FAULT_KINDS];
};

/* The operation on an untouched copy: what it leaves, how many events it has. */
static void reference_run(const void *image, size_t size, const struct op *op, struct expect *x)
{
	struct pfs_fault fault = { 0 };
	struct pfs_device *dev;
	struct pfs_fs *fs;
	struct ctx c;

	assert_int_equal(pfs_device_dram_copy(image, size, &dev), 0);
	fs = mount_dev(dev, &c);
	/* "before" includes what prepare and cleanup leave (a stage's inode generation) */
	op_before(op, fs, &c);
	op_after(op, fs, &c);
	x->pre = dump_fs(fs, true);
	x->pre_nt = dump_fs(fs, false);
	op_before(op, fs, &c);
	pfs_fault_attach(fs, &fault);
	pfs_fault_arm(&fault, PFS_FAULT_ALLOC, 0, false);
	assert_int_equal(op->run(fs, &c), 0);
	pfs_fault_attach(fs, NULL);
	op_after(op, fs, &c);
	memcpy(x->events, fault.seen, sizeof(x->events));
	x->post_nt = dump_fs(fs, false);
	pfs_unmount(fs);
	assert_clean(dev);
	assert_int_equal(pfs_mount(dev, 0, &fs), 0);
	x->post_rm = dump_fs(fs, false);
	pfs_unmount(fs);
	pfs_device_close(dev);
}

/* Fails the nth event of kind k in op. Returns false when op never reached it. */
static bool inject_once(const void *image, size_t size, const struct op *op, enum pfs_fault_kind k,
			uint64_t n, bool sticky, const struct expect *x, unsigned *latched,
			unsigned *absorbed)
{
	struct pfs_fault fault = { 0 };
	struct pfs_device *dev;
	struct pfs_fs *fs;
	struct ctx c;
	char *got;
	int rc;

	cur_n = n;
	assert_int_equal(pfs_device_dram_copy(image, size, &dev), 0);
	fs = mount_dev(dev, &c);
	op_before(op, fs, &c);
	pfs_fault_attach(fs, &fault);
	pfs_fault_arm(&fault, k, n, sticky);
	rc = op->run(fs, &c);
	pfs_fault_attach(fs, NULL);
	op_after(op, fs, &c);
	if (!fault.fired[k]) {
		assert_int_equal(rc, 0);
		pfs_unmount(fs);
		assert_clean(dev);
		pfs_device_close(dev);
		return false;
	}
	if (rc == 0) {
		/* tolerated (a read for an allocation hint): then the operation is whole */
		(*absorbed)++;
		print_message("[%s %s #%llu] tolerated by the operation\n", op->name, kind_name[k],
			      (unsigned long long)n);
		got = dump_fs(fs, false);
		assert_same(x->post_nt, got);
		free(got);
		pfs_unmount(fs);
		assert_clean(dev);
		pfs_device_close(dev);
		return true;
	}
	if (pfs_is_readonly(fs)) {
		/* latched: nothing more written; recovery leaves before or after */
		(*latched)++;
		print_message("[%s %s #%llu] latched read-only\n", op->name, kind_name[k],
			      (unsigned long long)n);
		assert_latched(fs, dev, &c);
		pfs_unmount(fs);
		assert_int_equal(pfs_mount(dev, 0, &fs), 0);
		got = dump_fs(fs, false);
		if (strcmp(got, x->post_nt) != 0 && strcmp(got, x->post_rm) != 0)
			assert_same(x->pre_nt, got);
		free(got);
		pfs_unmount(fs);
		assert_clean(dev);
		pfs_device_close(dev);
		return true;
	}
	got = dump_fs(fs, true);
	assert_same(x->pre, got);
	free(got);
	pfs_unmount(fs);
	assert_clean(dev);
	fs = mount_dev(dev, &c);
	got = dump_fs(fs, true);
	assert_same(x->pre, got);
	free(got);
	/* nothing stale in DRAM: the same operation now succeeds */
	op_before(op, fs, &c);
	assert_int_equal(op->run(fs, &c), 0);
	op_after(op, fs, &c);
	got = dump_fs(fs, false);
	assert_same(x->post_nt, got);
	free(got);
	pfs_unmount(fs);
	assert_clean(dev);
	pfs_device_close(dev);
	return true;
}

static void run_all(bool sticky)
{
	uint64_t points[PFS_FAULT_KINDS] = { 0 }, total = 0;
	unsigned latched = 0, absorbed = 0;
	void *image;
	size_t size;

	big_entries = find_big_entries();
	size = base_build(&image);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct expect x = { 0 };

		cur_op = ops[i].name;
		cur_kind = "none";
		cur_n = 0;
		reference_run(image, size, &ops[i], &x);
		for (int k = 0; k < PFS_FAULT_KINDS; k++) {
			uint64_t n = 1;

			cur_kind = kind_name[k];
			while (inject_once(image, size, &ops[i], (enum pfs_fault_kind)k, n, sticky,
					   &x, &latched, &absorbed))
				n++;
			/* the operation is deterministic: every counted event was tried */
			assert_int_equal(n - 1, x.events[k]);
			points[k] += n - 1;
			total += n - 1;
		}
		print_message("  %-20s alloc %2llu  space %2llu  persist %2llu  read %2llu\n",
			      ops[i].name, (unsigned long long)x.events[0],
			      (unsigned long long)x.events[1], (unsigned long long)x.events[2],
			      (unsigned long long)x.events[3]);
		free(x.pre);
		free(x.pre_nt);
		free(x.post_nt);
		free(x.post_rm);
	}
	print_message("%s: %zu operations, %llu injection points (alloc %llu, space %llu, "
		      "persist %llu, read %llu), %u latched read-only, %u tolerated\n",
		      sticky ? "sticky" : "once", sizeof(ops) / sizeof(ops[0]),
		      (unsigned long long)total, (unsigned long long)points[0],
		      (unsigned long long)points[1], (unsigned long long)points[2],
		      (unsigned long long)points[3], latched, absorbed);
	free(image);
}

/* The Nth event fails once: every operation fails whole, or latches at its commit point. */
static void test_every_injected_failure_leaves_the_namespace_unchanged(void **state)
{
	(void)state;
	run_all(false);
}

/* Every event from the Nth on fails: a rollback that cannot persist latches read-only. */
static void test_media_that_stays_broken_rolls_back_or_latches(void **state)
{
	(void)state;
	run_all(true);
}

/* fsync and O_SYNC writes report a persist that failed (a failed msync, say). */
static void test_fsync_and_sync_write_report_a_failed_persist(void **state)
{
	struct fx *f = fx_new(DEV_MIB, INODES);
	uint64_t ino = fx_create(f, f->root, "a");
	struct pfs_fault fault = { 0 };
	struct iovec v = { "data", 4 };
	size_t done;

	(void)state;
	assert_int_equal(fx_write(f, ino, 0, "1234", 4), 0);
	pfs_fault_attach(f->fs, &fault);
	pfs_fault_arm(&fault, PFS_FAULT_PERSIST, 1, false);
	assert_int_equal(pfs_fsync(f->fs, ino, false), -EIO);
	assert_int_equal(pfs_fsync(f->fs, ino, false), 0);
	/* an overwrite in place: no transaction, the O_SYNC drain is the only one */
	pfs_fault_arm(&fault, PFS_FAULT_PERSIST, 1, false);
	assert_int_equal(pfs_write(f->fs, ino, 0, &v, 1, false, true, &done), -EIO);
	pfs_fault_attach(f->fs, NULL);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_injected_failure_leaves_the_namespace_unchanged),
		cmocka_unit_test(test_media_that_stays_broken_rolls_back_or_latches),
		cmocka_unit_test(test_fsync_and_sync_write_report_a_failed_persist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
