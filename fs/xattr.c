// SPDX-License-Identifier: MIT
/*
 * Extended attributes: one block per inode, rewritten copy-on-write. A change
 * builds the new block in DRAM, writes it into a fresh block and swaps the
 * inode's pointer in a transaction; the old block is freed at commit.
 * Namespaces user., trusted. and security. are stored; others are refused.
 */
#include <stdlib.h>
#include <sys/xattr.h>

#include "pfs.h"

#define XATTR_SPACE (PFS_BLOCK_SIZE - sizeof(struct pfs_xattr_hdr_pm))

static int name_ok(const char *name)
{
	size_t len = strnlen(name, 256);

	if (len == 0 || len > 255)
		return -ERANGE;
	if (strncmp(name, "user.", 5) && strncmp(name, "trusted.", 8) &&
	    strncmp(name, "security.", 9))
		return -EOPNOTSUPP;
	return 0;
}

/*
 * Copies the inode's xattr block into buf, checks the copy and points *out at
 * it (NULL if the inode has none). Walks and lookups then read the copy, which
 * no store to the media can change between the check and the use.
 */
static int xblock(struct pfs_fs *fs, const struct pfs_inode_pm *ip,
		  struct pfs_xattr_hdr_pm *buf, const struct pfs_xattr_hdr_pm **out)
{
	uint64_t blk = PFS_LOAD(ip->xattr_blk);
	const char *p = (const char *)(buf + 1);
	uint32_t off = 0, i;

	*out = NULL;
	if (!blk)
		return 0;
	if (pfs_fault_hit(fs->fault, PFS_FAULT_READ))
		return -EIO;
	if (!pfs_blk_is_data(fs, blk, 1))
		goto bad;
	memcpy(buf, pfs_blk(fs, blk), PFS_BLOCK_SIZE);
	if (buf->magic != PFS_XATTR_MAGIC || buf->used > XATTR_SPACE)
		goto bad;
	for (i = 0; i < buf->count && off < buf->used; i++) {
		const struct pfs_xattr_ent_pm *e = (const void *)(p + off);

		if (buf->used - off < sizeof(*e) || e->name_len == 0 ||
		    PFS_XATTR_ENT_LEN(e->name_len, e->value_len) > buf->used - off)
			goto bad;
		off += PFS_XATTR_ENT_LEN(e->name_len, e->value_len);
	}
	if (i != buf->count || off != buf->used)
		goto bad;
	*out = buf;
	return 0;
bad:
	return pfs_corrupt(fs, "inode %u: xattr block %llu (offset %llu) is malformed",
			   (uint32_t)(ip - fs->itable), (unsigned long long)blk,
			   (unsigned long long)(blk << PFS_BLOCK_SHIFT));
}

typedef int (*xent_fn)(void *arg, const struct pfs_xattr_ent_pm *e);

static int xforeach(const struct pfs_xattr_hdr_pm *h, xent_fn fn, void *arg)
{
	const char *p;
	uint32_t off = 0;

	if (!h)
		return 0;
	p = (const char *)(h + 1);
	for (uint32_t i = 0; i < h->count; i++) {
		const struct pfs_xattr_ent_pm *e = (const void *)(p + off);
		int rc = fn(arg, e);

		if (rc)
			return rc;
		off += PFS_XATTR_ENT_LEN(e->name_len, e->value_len);
	}
	return 0;
}

struct xfind {
	const char *name;
	size_t len;
	const struct pfs_xattr_ent_pm *found;
};

static int xfind_fn(void *arg, const struct pfs_xattr_ent_pm *e)
{
	struct xfind *f = arg;

	if (e->name_len == f->len && memcmp(e->data, f->name, f->len) == 0) {
		f->found = e;
		return 1;
	}
	return 0;
}

/* Builds the new block image: every entry but name, plus name=value if given. */
struct xbuild {
	char img[PFS_BLOCK_SIZE];
	const char *skip;
	size_t skiplen;
};

static int xbuild_add(struct xbuild *b, const char *name, size_t nlen, const void *val,
		      size_t vlen)
{
	struct pfs_xattr_hdr_pm *h = (void *)b->img;
	struct pfs_xattr_ent_pm *e;
	uint32_t need = PFS_XATTR_ENT_LEN(nlen, vlen);

	if (h->used + need > XATTR_SPACE)
		return -ENOSPC;
	e = (void *)(b->img + sizeof(*h) + h->used);
	e->name_len = (uint16_t)nlen;
	e->value_len = (uint16_t)vlen;
	memcpy(e->data, name, nlen);
	memcpy(e->data + nlen, val, vlen);
	h->used += need;
	h->count++;
	return 0;
}

static int xbuild_fn(void *arg, const struct pfs_xattr_ent_pm *e)
{
	struct xbuild *b = arg;

	if (e->name_len == b->skiplen && memcmp(e->data, b->skip, b->skiplen) == 0)
		return 0;
	return xbuild_add(b, e->data, e->name_len, e->data + e->name_len, e->value_len);
}

static int xswap(struct pfs_tx *tx, struct pfs_inode_pm *ip, const struct xbuild *b)
{
	const struct pfs_xattr_hdr_pm *h = (const void *)b->img;
	uint64_t old = ip->xattr_blk, pblk = 0, got;
	int64_t delta = -(old != 0);
	int rc = 0;

	if (h->count) {
		rc = pfs_alloc_blocks(tx, 1, 0, &pblk, &got);
		if (rc)
			return rc;
		pfs_pm_copy(tx->fs->pm, pfs_blk(tx->fs, pblk), b->img, PFS_BLOCK_SIZE);
		delta++;
	}
	if (old)
		rc = pfs_tx_free_later(tx, old, 1);
	if (!rc)
		rc = pfs_tx_set_u64(tx, &ip->xattr_blk, pblk);
	if (!rc)
		rc = pfs_tx_set_u64(tx, &ip->blocks, ip->blocks + (uint64_t)delta);
	if (!rc)
		rc = pfs_inode_touch(tx, ip, false, true);
	return rc;
}

static int xupdate(struct pfs_fs *fs, uint64_t ino, const char *name, const void *value,
		   size_t size, unsigned flags, bool remove)
{
	_Alignas(8) char copy[PFS_BLOCK_SIZE];
	const struct pfs_xattr_hdr_pm *h;
	struct pfs_inode_pm *ip;
	struct xfind f = { name, strlen(name), NULL };
	struct xbuild *b = NULL;
	struct pfs_tx *tx;
	int rc;

	pthread_rwlock_wrlock(&fs->lock);
	rc = pfs_inode_get(fs, ino, &ip);
	if (!rc)
		rc = xblock(fs, ip, (void *)copy, &h);
	if (rc)
		goto out;
	xforeach(h, xfind_fn, &f);
	if ((remove || (flags & PFS_XATTR_REPLACE)) && !f.found) {
		rc = -ENODATA;
		goto out;
	}
	if ((flags & PFS_XATTR_CREATE) && f.found) {
		rc = -EEXIST;
		goto out;
	}
	b = pfs_calloc(fs, 1, sizeof(*b));
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	((struct pfs_xattr_hdr_pm *)b->img)->magic = PFS_XATTR_MAGIC;
	b->skip = name;
	b->skiplen = f.len;
	rc = xforeach(h, xbuild_fn, b);
	if (!rc && !remove)
		rc = xbuild_add(b, name, f.len, value, size);
	if (rc)
		goto out;
	rc = pfs_tx_begin(fs, &tx);
	if (!rc)
		rc = pfs_tx_end(tx, xswap(tx, ip, b));
out:
	pthread_rwlock_unlock(&fs->lock);
	free(b);
	return rc;
}

int pfs_setxattr(struct pfs_fs *fs, uint64_t ino, const char *name, const void *value,
		 size_t size, unsigned flags)
{
	int rc = name_ok(name);

	if (rc)
		return rc;
	if (size > XATTR_SPACE)
		return -E2BIG;
	if (pfs_is_readonly(fs))
		return -EROFS;
	return xupdate(fs, ino, name, value, size, flags, false);
}

int pfs_removexattr(struct pfs_fs *fs, uint64_t ino, const char *name)
{
	int rc = name_ok(name);

	if (rc == -EOPNOTSUPP)
		return -ENODATA;
	if (rc)
		return rc;
	if (pfs_is_readonly(fs))
		return -EROFS;
	return xupdate(fs, ino, name, NULL, 0, 0, true);
}

int pfs_getxattr(struct pfs_fs *fs, uint64_t ino, const char *name, void *buf, size_t size,
		 size_t *len)
{
	_Alignas(8) char copy[PFS_BLOCK_SIZE];
	const struct pfs_xattr_hdr_pm *h;
	struct pfs_inode_pm *ip;
	struct xfind f = { name, strlen(name), NULL };
	int rc;

	pthread_rwlock_rdlock(&fs->lock);
	rc = pfs_inode_get(fs, ino, &ip);
	if (!rc)
		rc = xblock(fs, ip, (void *)copy, &h);
	if (rc)
		goto out;
	xforeach(h, xfind_fn, &f);
	if (!f.found) {
		rc = -ENODATA;
		goto out;
	}
	*len = f.found->value_len;
	if (size == 0)
		goto out;
	if (size < *len) {
		rc = -ERANGE;
		goto out;
	}
	memcpy(buf, f.found->data + f.found->name_len, *len);
out:
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

struct xlist {
	char *buf;
	size_t size, len;
};

static int xlist_fn(void *arg, const struct pfs_xattr_ent_pm *e)
{
	struct xlist *l = arg;

	if (l->size && l->len + e->name_len + 1 <= l->size) {
		memcpy(l->buf + l->len, e->data, e->name_len);
		l->buf[l->len + e->name_len] = '\0';
	}
	l->len += e->name_len + 1u;
	return 0;
}

int pfs_listxattr(struct pfs_fs *fs, uint64_t ino, char *buf, size_t size, size_t *len)
{
	_Alignas(8) char copy[PFS_BLOCK_SIZE];
	const struct pfs_xattr_hdr_pm *h;
	struct pfs_inode_pm *ip;
	struct xlist l = { buf, size, 0 };
	int rc;

	pthread_rwlock_rdlock(&fs->lock);
	rc = pfs_inode_get(fs, ino, &ip);
	if (!rc)
		rc = xblock(fs, ip, (void *)copy, &h);
	if (!rc)
		xforeach(h, xlist_fn, &l);
	pthread_rwlock_unlock(&fs->lock);
	if (rc)
		return rc;
	*len = l.len;
	return size && l.len > size ? -ERANGE : 0;
}
