/* SPDX-License-Identifier: MIT */
/* Shared set-up for the core unit tests: a formatted DRAM device, mounted. */
#ifndef PFS_TEST_FIXTURE_H
#define PFS_TEST_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "pfs.h"

struct fx {
	struct pfs_device *dev;
	struct pfs_fs *fs;
	uint64_t root;
	struct pfs_cred cred;
};

static inline void fx_quiet_log(enum pfs_log_level lvl, const char *msg)
{
	(void)lvl;
	(void)msg;
}

/* A DRAM device of mib MiB, formatted with fixed parameters and mounted. */
static inline struct fx *fx_new(size_t mib, uint64_t inodes)
{
	static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	struct pfs_format_opts o = { .label = "test", .inode_count = inodes, .uuid = uuid,
				     .mkfs_time = 1700000000, .hash_seed = 42 };
	struct fx *f = calloc(1, sizeof(*f));

	pfs_log_set_sink(fx_quiet_log, PFS_LOG_ERR);
	assert_non_null(f);
	assert_int_equal(pfs_device_dram(mib << 20, &f->dev), 0);
	assert_int_equal(pfs_format(f->dev, &o, NULL), 0);
	assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0);
	f->root = pfs_root_ino(f->fs);
	f->cred = (struct pfs_cred){ .uid = 1000, .gid = 1000, .umask = 022 };
	return f;
}

static inline void fx_remount(struct fx *f)
{
	pfs_unmount(f->fs);
	assert_int_equal(pfs_mount(f->dev, 0, &f->fs), 0);
	f->root = pfs_root_ino(f->fs);
}

static inline void fx_free(struct fx *f)
{
	pfs_unmount(f->fs);
	pfs_device_close(f->dev);
	free(f);
}

static inline uint64_t fx_create(struct fx *f, uint64_t dir, const char *name)
{
	struct pfs_attr a;

	assert_int_equal(pfs_mknod(f->fs, dir, name, S_IFREG | 0644, 0, &f->cred, &a), 0);
	return a.ino;
}

static inline uint64_t fx_mkdir(struct fx *f, uint64_t dir, const char *name)
{
	struct pfs_attr a;

	assert_int_equal(pfs_mkdir(f->fs, dir, name, 0755, &f->cred, &a), 0);
	return a.ino;
}

static inline int fx_write(struct fx *f, uint64_t ino, uint64_t off, const void *buf, size_t len)
{
	struct iovec v = { (void *)buf, len };
	size_t done;

	return pfs_write(f->fs, ino, off, &v, 1, false, false, &done);
}

struct fx_readbuf {
	char *buf;
	size_t len;
};

static inline int fx_read_cb(void *arg, const struct iovec *iov, int cnt)
{
	struct fx_readbuf *r = arg;

	r->len = 0;
	for (int i = 0; i < cnt; i++) {
		memcpy(r->buf + r->len, iov[i].iov_base, iov[i].iov_len);
		r->len += iov[i].iov_len;
	}
	return 0;
}

/* Reads into buf; returns bytes read or -errno. */
static inline ssize_t fx_read(struct fx *f, uint64_t ino, uint64_t off, void *buf, size_t len)
{
	struct fx_readbuf r = { buf, 0 };
	int rc = pfs_read(f->fs, ino, off, len, fx_read_cb, &r);

	return rc ? rc : (ssize_t)r.len;
}

static inline uint64_t fx_lookup(struct fx *f, uint64_t dir, const char *name, int *rc)
{
	struct pfs_attr a = { 0 };

	*rc = pfs_lookup(f->fs, dir, name, &a);
	return a.ino;
}

#endif
