// SPDX-License-Identifier: MIT
/*
 * The media fuzzers' image: a 4 MiB device formatted with fixed parameters and
 * populated with every kind of object the format has (a directory of several
 * buckets, an extent tree of depth 1, inline extents, a symlink, an xattr
 * block, a hard-linked file, a FIFO, an orphan), kept in two variants: as
 * committed, and with a transaction interrupted after it journalled changes to
 * the state block, a bitmap, an inode and a directory bucket. Each input is
 * applied as patches to a fresh copy (see fuzz_image.h for the format).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fuzz_image.h"

#define DATA_AREA_BLOCKS 128u
#define WALK_DEPTH       6
#define WALK_NODES       256
#define DIR_NAMES        64
#define READ_MAX         (64u << 10)

static uint8_t *base_img[2];           /* committed; interrupted transaction */
static struct pfs_device *fz_dev;
static struct pfs_super_pm geo;        /* the base image's geometry */

static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz image: %s: %s\n", what, strerror(-rc));
	abort();
}

static void quiet(enum pfs_log_level lvl, const char *msg)
{
	(void)lvl;
	(void)msg;
}

static uint64_t must_lookup(struct pfs_fs *fs, uint64_t dir, const char *name)
{
	struct pfs_attr a;
	int rc = pfs_lookup(fs, dir, name, &a);

	if (rc)
		die(name, rc);
	return a.ino;
}

static void must_write(struct pfs_fs *fs, uint64_t ino, uint64_t off, const void *buf,
		       size_t len)
{
	struct iovec v = { (void *)buf, len };
	size_t done;
	int rc = pfs_write(fs, ino, off, &v, 1, false, false, &done);

	if (rc)
		die("write", rc);
}

static void populate(struct pfs_fs *fs, const struct pfs_cred *cr)
{
	uint64_t root = pfs_root_ino(fs), d, e, f, a, b, big, o;
	char block[PFS_BLOCK_SIZE], name[64];
	struct pfs_attr at;
	int rc = 0;

	memset(block, 'x', sizeof(block));
	rc |= pfs_mkdir(fs, root, "d", 0755, cr, &at);
	d = at.ino;
	rc |= pfs_mkdir(fs, d, "e", 0700, cr, &at);
	e = at.ino;
	rc |= pfs_mknod(fs, d, "a", S_IFREG | 0644, 0, cr, &at);
	a = at.ino;
	rc |= pfs_mknod(fs, d, "b", S_IFREG | 0600, 0, cr, &at);
	b = at.ino;
	rc |= pfs_symlink(fs, d, "l", "a", cr, &at);
	rc |= pfs_mknod(fs, e, "fifo", S_IFIFO | 0600, 0, cr, &at);
	rc |= pfs_mknod(fs, e, "f", S_IFREG | 0644, 0, cr, &at);
	f = at.ino;
	rc |= pfs_setxattr(fs, a, "user.k", "value", 5, 0);
	rc |= pfs_setxattr(fs, d, "user.dir", "1", 1, 0);
	rc |= pfs_mkdir(fs, root, "big", 0755, cr, &at);
	big = at.ino;
	if (rc)
		die("populate", -EIO);
	must_write(fs, a, 0, "hello, pmemfs\n", 14);
	must_write(fs, f, 0, block, 3000);
	/* every other block: more runs than the inode holds inline, so a tree node */
	for (unsigned i = 0; i < 12; i++)
		must_write(fs, b, (uint64_t)i * 2 * PFS_BLOCK_SIZE, block, sizeof(block));
	/* enough names to double the bucket table a few times */
	for (unsigned i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "link-%03u-of-a-with-a-name-long-enough", i);
		rc = pfs_link(fs, a, big, name, &at);
		if (rc)
			die("link", rc);
	}
	/* an orphan: unlinked while open */
	rc = pfs_mknod(fs, root, "o", S_IFREG | 0644, 0, cr, &at);
	if (rc)
		die("orphan", rc);
	o = at.ino;
	must_write(fs, o, 0, block, sizeof(block));
	if (pfs_open(fs, o, 0) || pfs_unlink(fs, root, "o"))
		die("orphan", -EIO);
}

/* A transaction left open: records journalled, in-place stores made. */
static void interrupt_tx(struct pfs_fs *fs, uint8_t *snap)
{
	struct pfs_tx *tx;
	struct pfs_inode_pm *ip;
	struct pfs_attr at;
	struct pfs_bucket_hdr_pm *bk;
	uint64_t d = must_lookup(fs, pfs_root_ino(fs), "big");
	int rc = pfs_tx_begin(fs, &tx);

	if (rc)
		die("tx", rc);
	if (pfs_inode_get(fs, d, &ip) || pfs_dir_bucket(fs, ip, 0, &bk))
		die("tx bucket", -EIO);
	rc |= pfs_tx_set_u64(tx, &fs->state->free_blocks, 7);
	rc |= pfs_tx_set_u64(tx, &fs->ibitmap[0], ~0ull);
	rc |= pfs_tx_set_u64(tx, &fs->bbitmap[1], 0);
	rc |= pfs_tx_set_u64(tx, &ip->nentries, 3);
	rc |= pfs_tx_set_u32(tx, &bk->used, 8);
	rc |= pfs_getattr(fs, must_lookup(fs, must_lookup(fs, pfs_root_ino(fs), "d"), "b"), &at);
	if (!rc && !pfs_inode_get(fs, at.ino, &ip))
		rc |= pfs_tx_set_u16(tx, &ip->ext_count, 0);
	if (rc)
		die("tx set", -EIO);
	memcpy(snap, pfs_device_base(fs->dev), FZ_DEV_SIZE);
	pfs_tx_abort(tx);
}

/* PROT_NONE pages on both sides of the device, so a stray access faults. */
static void guard(struct pfs_device *dev)
{
	char *p = pfs_device_base(dev);

	mmap(p - 4096, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	mmap(p + FZ_DEV_SIZE, 4096, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
}

void fz_init(void)
{
	static const uint8_t uuid[16] = { 0xf0, 0x22, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
	struct pfs_format_opts o = { .label = "fuzz", .uuid = uuid, .mkfs_time = 1700000000,
				     .hash_seed = 0x5eed };
	struct pfs_cred cr = { .uid = 1000, .gid = 1000, .umask = 022 };
	struct pfs_device *dev;
	struct pfs_fs *fs;
	int rc;

	if (fz_dev)
		return;
	pfs_log_set_sink(quiet, PFS_LOG_ERR);
	base_img[0] = malloc(FZ_DEV_SIZE);
	base_img[1] = malloc(FZ_DEV_SIZE);
	if (!base_img[0] || !base_img[1])
		die("malloc", -ENOMEM);
	rc = pfs_device_dram(FZ_DEV_SIZE, &dev);
	if (!rc)
		rc = pfs_format(dev, &o, NULL);
	if (!rc)
		rc = pfs_mount(dev, 0, &fs);
	if (rc)
		die("format", rc);
	populate(fs, &cr);
	memcpy(base_img[0], pfs_device_base(dev), FZ_DEV_SIZE);
	interrupt_tx(fs, base_img[1]);
	pfs_unmount(fs);
	pfs_device_close(dev);
	memcpy(&geo, base_img[0], sizeof(geo));
	rc = pfs_device_dram(FZ_DEV_SIZE, &fz_dev);
	if (rc)
		die("device", rc);
	guard(fz_dev);
}

static void area(unsigned a, uint64_t *start, uint64_t *len)
{
	switch (a) {
	case 0: *start = PFS_SB_BLOCK; *len = 1; break;
	case 1: *start = PFS_SB_REPLICA_BLOCK; *len = 1; break;
	case 2: *start = PFS_STATE_BLOCK; *len = 1; break;
	case 3: *start = geo.journal_start; *len = geo.journal_blocks; break;
	case 4: *start = geo.ibitmap_start; *len = geo.ibitmap_blocks; break;
	case 5: *start = geo.bbitmap_start; *len = geo.bbitmap_blocks; break;
	case 6: *start = geo.itable_start; *len = geo.itable_blocks; break;
	default: *start = geo.data_start; *len = DATA_AREA_BLOCKS; break;
	}
	*start <<= PFS_BLOCK_SHIFT;
	*len <<= PFS_BLOCK_SHIFT;
}

static void reseal_supers(uint8_t *img)
{
	for (unsigned i = 0; i < 2; i++) {
		struct pfs_super_pm sb;

		memcpy(&sb, img + i * PFS_BLOCK_SIZE, sizeof(sb));
		pfs_super_seal(&sb);
		memcpy(img + i * PFS_BLOCK_SIZE, &sb, sizeof(sb));
	}
}

/* Walks the records as recovery would, ignoring seq and checksum, and seals each. */
static void reseal_journal(uint8_t *img)
{
	uint64_t jbytes = geo.journal_blocks << PFS_BLOCK_SHIFT;
	uint8_t *j = img + (geo.journal_start << PFS_BLOCK_SHIFT);
	uint64_t p = sizeof(struct pfs_jhdr_pm);

	while (p + sizeof(struct pfs_jrec_pm) <= jbytes) {
		struct pfs_jrec_pm r;
		uint32_t c;

		memcpy(&r, j + p, sizeof(r));
		if (r.len == 0 || r.len > jbytes - p - sizeof(r))
			break;
		c = pfs_crc32c(0, &r, offsetof(struct pfs_jrec_pm, csum));
		r.csum = pfs_crc32c(c, j + p + sizeof(r), r.len);
		memcpy(j + p, &r, sizeof(r));
		p += sizeof(r) + ((r.len + 7u) & ~7u);
	}
}

struct pfs_device *fz_load(const uint8_t *data, size_t size, unsigned *flags)
{
	uint8_t *img = pfs_device_base(fz_dev);
	size_t i = 1;

	*flags = size ? data[0] : 0;
	memcpy(img, base_img[*flags & FZ_FLAG_TX], FZ_DEV_SIZE);
	while (i < size) {
		unsigned op = data[i++], kind = (op >> 3) & 3;
		uint64_t start, len, off;
		size_t n;

		if (kind == 2) {
			reseal_supers(img);
			continue;
		}
		if (kind == 3) {
			reseal_journal(img);
			continue;
		}
		if (size - i < 4)
			break;
		area(op & 7, &start, &len);
		off = (data[i] | (uint64_t)data[i + 1] << 8 | (uint64_t)data[i + 2] << 16) % len;
		n = 1 + data[i + 3] % 64u;
		i += 4;
		if (n > size - i)
			n = size - i;
		if (n > len - off)
			n = (size_t)(len - off);
		for (size_t k = 0; k < n; k++) {
			if (kind == 0)
				img[start + off + k] = data[i + k];
			else
				img[start + off + k] ^= data[i + k];
		}
		i += n;
	}
	return fz_dev;
}

/* ---- the walk ---- */

struct names {
	char name[DIR_NAMES][PFS_NAME_MAX + 1];
	uint64_t ino[DIR_NAMES];
	uint64_t cookie[DIR_NAMES];
	bool plus;
	unsigned n;
};

static int collect(void *arg, const char *name, const struct pfs_attr *attr, uint64_t next)
{
	struct names *nm = arg;

	if (nm->n == DIR_NAMES)
		return 1;
	snprintf(nm->name[nm->n], sizeof(nm->name[0]), "%s", name);
	nm->ino[nm->n] = attr->ino;
	nm->cookie[nm->n] = next;
	nm->n++;
	return 0;
}

static int sum_iov(void *arg, const struct iovec *iov, int cnt)
{
	volatile uint8_t *acc = arg;

	for (int i = 0; i < cnt; i++)
		for (size_t k = 0; k < iov[i].iov_len; k++)
			*acc ^= ((const uint8_t *)iov[i].iov_base)[k];
	return 0;
}

static void forget_plus(struct pfs_fs *fs, const struct names *nm)
{
	for (unsigned i = 0; i < nm->n; i++)
		if (strcmp(nm->name[i], ".") && strcmp(nm->name[i], ".."))
			pfs_forget(fs, nm->ino[i], 1);
}

static void visit_file(struct pfs_fs *fs, const struct pfs_attr *a)
{
	uint8_t acc = 0;
	char buf[PFS_BLOCK_SIZE + 1];
	size_t len;
	uint64_t out;

	if (S_ISREG(a->mode)) {
		pfs_read(fs, a->ino, 0, READ_MAX, sum_iov, &acc);
		if (a->size > READ_MAX)
			pfs_read(fs, a->ino, a->size - READ_MAX / 2, READ_MAX, sum_iov, &acc);
		pfs_lseek(fs, a->ino, 0, SEEK_DATA, &out);
		pfs_lseek(fs, a->ino, 0, SEEK_HOLE, &out);
	}
	if (S_ISLNK(a->mode))
		pfs_readlink(fs, a->ino, buf, sizeof(buf));
	if (pfs_listxattr(fs, a->ino, buf, sizeof(buf), &len) == 0 && len <= sizeof(buf)) {
		char val[PFS_BLOCK_SIZE];
		size_t vlen;

		for (size_t p = 0; p < len && buf[len - 1] == '\0'; p += strlen(buf + p) + 1)
			pfs_getxattr(fs, a->ino, buf + p, val, sizeof(val), &vlen);
	}
}

static void walk_dir(struct pfs_fs *fs, uint64_t dir, unsigned depth, unsigned *budget)
{
	struct names *nm = calloc(1, sizeof(*nm)), *again = calloc(1, sizeof(*again));

	if (!nm || !again)
		goto out;
	if (pfs_readdir(fs, dir, 0, true, collect, nm) == 0)
		forget_plus(fs, nm);
	/* resume from a cookie in the middle, as the kernel does */
	if (nm->n > 3)
		pfs_readdir(fs, dir, nm->cookie[2], false, collect, again);
	for (unsigned i = 0; i < nm->n && *budget; i++) {
		struct pfs_attr a;

		if (!strcmp(nm->name[i], ".") || !strcmp(nm->name[i], ".."))
			continue;
		(*budget)--;
		if (pfs_lookup(fs, dir, nm->name[i], &a))
			continue;
		pfs_getattr(fs, a.ino, &a);
		visit_file(fs, &a);
		if (S_ISDIR(a.mode) && depth < WALK_DEPTH)
			walk_dir(fs, a.ino, depth + 1, budget);
		pfs_forget(fs, a.ino, 1);
	}
out:
	free(nm);
	free(again);
}

void fz_walk(struct pfs_fs *fs)
{
	unsigned budget = WALK_NODES;
	struct statvfs sv;
	struct pfs_attr a;

	pfs_statfs(fs, &sv);
	if (pfs_getattr(fs, pfs_root_ino(fs), &a) == 0)
		visit_file(fs, &a);
	walk_dir(fs, pfs_root_ino(fs), 0, &budget);
}

void fz_mutate(struct pfs_fs *fs)
{
	struct pfs_cred cr = { .uid = 0, .gid = 0, .umask = 022 };
	uint64_t root = pfs_root_ino(fs);
	char block[2 * PFS_BLOCK_SIZE + 100];
	struct pfs_setattr sa = { .valid = PFS_SET_SIZE, .size = 5000 };
	struct pfs_attr a, d;
	struct iovec v = { block, sizeof(block) };
	size_t done;

	memset(block, 'y', sizeof(block));
	if (pfs_mknod(fs, root, "new", S_IFREG | 0644, 0, &cr, &a) == 0) {
		pfs_write(fs, a.ino, 1000, &v, 1, false, false, &done);
		pfs_setattr(fs, a.ino, &sa, &a);
		pfs_setxattr(fs, a.ino, "user.n", "v", 1, 0);
		pfs_forget(fs, a.ino, 1);
	}
	pfs_rename(fs, root, "new", root, "renamed", 0);
	if (pfs_lookup(fs, root, "d", &d) == 0) {
		if (pfs_lookup(fs, d.ino, "b", &a) == 0) {
			pfs_write(fs, a.ino, 3 * PFS_BLOCK_SIZE, &v, 1, false, false, &done);
			pfs_fallocate(fs, a.ino, PFS_FALLOC_PUNCH_HOLE | PFS_FALLOC_KEEP_SIZE,
				      0, 5 * PFS_BLOCK_SIZE);
			pfs_forget(fs, a.ino, 1);
		}
		pfs_rename(fs, d.ino, "a", root, "moved", 0);
		pfs_unlink(fs, d.ino, "l");
		pfs_rmdir(fs, d.ino, "e");
		pfs_forget(fs, d.ino, 1);
	}
	if (pfs_lookup(fs, root, "big", &d) == 0) {
		pfs_unlink(fs, d.ino, "link-007-of-a-with-a-name-long-enough");
		if (pfs_mkdir(fs, d.ino, "sub", 0755, &cr, &a) == 0)
			pfs_forget(fs, a.ino, 1);
		pfs_forget(fs, d.ino, 1);
	}
	pfs_unlink(fs, root, "renamed");
	pfs_unlink(fs, root, "moved");
}
