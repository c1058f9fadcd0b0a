// SPDX-License-Identifier: MIT
/* Snapshots of a mounted file system through the core API (see snapshot.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pmemfs/pmemfs.h"
#include "snapshot.h"

#define PATH_MAX_LEN 4096

struct names {
	char **v;
	uint64_t *ino;
	size_t n, cap;
};

static int names_fill(void *arg, const char *name, const struct pfs_attr *attr,
		      uint64_t next_cookie)
{
	struct names *nm = arg;

	(void)next_cookie;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	if (nm->n == nm->cap) {
		size_t ncap = nm->cap ? nm->cap * 2 : 16;
		char **nv = realloc(nm->v, ncap * sizeof(*nv));
		uint64_t *ni;

		if (!nv)
			return -ENOMEM;
		nm->v = nv;
		ni = realloc(nm->ino, ncap * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		nm->ino = ni;
		nm->cap = ncap;
	}
	nm->v[nm->n] = strdup(name);
	if (!nm->v[nm->n])
		return -ENOMEM;
	nm->ino[nm->n++] = attr->ino;
	return 0;
}

static void names_free(struct names *nm)
{
	for (size_t i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
	free(nm->ino);
}

struct rbuf {
	uint8_t *buf;
	size_t len;
};

static int read_cb(void *arg, const struct iovec *iov, int cnt)
{
	struct rbuf *r = arg;

	r->len = 0;
	for (int i = 0; i < cnt; i++) {
		memcpy(r->buf + r->len, iov[i].iov_base, iov[i].iov_len);
		r->len += iov[i].iov_len;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "name=hexvalue\n" per attribute, sorted. */
static int read_xattrs(struct pfs_fs *fs, uint64_t ino, char **out)
{
	char list[8192], *lines[256], *res;
	size_t len = 0, n = 0, total = 1;
	int rc = pfs_listxattr(fs, ino, list, sizeof(list), &len);

	*out = NULL;
	if (rc)
		return rc;
	for (size_t off = 0; off < len && n < 256; off += strlen(list + off) + 1) {
		uint8_t val[4096];
		size_t vlen = 0;
		char *line;

		rc = pfs_getxattr(fs, ino, list + off, val, sizeof(val), &vlen);
		if (rc)
			goto out;
		line = malloc(strlen(list + off) + 2 * vlen + 3);
		if (!line) {
			rc = -ENOMEM;
			goto out;
		}
		char *p = line + sprintf(line, "%s=", list + off);

		for (size_t i = 0; i < vlen; i++)
			p += sprintf(p, "%02x", val[i]);
		strcpy(p, "\n");
		total += strlen(line);
		lines[n++] = line;
	}
	qsort(lines, n, sizeof(lines[0]), cmp_str);
	res = malloc(total);
	if (!res) {
		rc = -ENOMEM;
		goto out;
	}
	res[0] = '\0';
	for (size_t i = 0; i < n; i++)
		strcat(res, lines[i]);
	*out = res;
out:
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	return rc;
}

static int ent_push(struct snap *s, struct snap_ent *e)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 32;
		struct snap_ent *ne = realloc(s->e, ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		s->e = ne;
		s->cap = ncap;
	}
	s->e[s->n++] = *e;
	return 0;
}

static int take_one(struct pfs_fs *fs, const char *path, const struct pfs_attr *a, struct snap *s,
		    char *why, size_t whylen)
{
	struct snap_ent e = { .ino = a->ino, .mode = a->mode, .nlink = a->nlink, .uid = a->uid,
			      .gid = a->gid, .size = a->size };
	int rc;

	e.path = strdup(path);
	if (!e.path)
		return -ENOMEM;
	if (S_ISREG(a->mode) && a->size) {
		struct rbuf r;

		e.data = malloc(a->size);
		if (!e.data) {
			rc = -ENOMEM;
			goto fail;
		}
		r.buf = e.data;
		for (e.dlen = 0; e.dlen < a->size;) {
			r.buf = e.data + e.dlen;
			r.len = 0;
			rc = pfs_read(fs, a->ino, e.dlen, a->size - e.dlen, read_cb, &r);
			if (rc || r.len == 0) {
				snprintf(why, whylen, "%s: read at %zu: %s", path, e.dlen,
					 rc ? strerror(-rc) : "short read");
				rc = rc ? rc : -EIO;
				goto fail;
			}
			e.dlen += r.len;
		}
	} else if (S_ISLNK(a->mode)) {
		char t[4097];

		rc = pfs_readlink(fs, a->ino, t, sizeof(t));
		if (rc) {
			snprintf(why, whylen, "%s: readlink: %s", path, strerror(-rc));
			goto fail;
		}
		e.dlen = strlen(t);
		e.data = (uint8_t *)strdup(t);
	}
	rc = read_xattrs(fs, a->ino, &e.xattrs);
	if (rc) {
		snprintf(why, whylen, "%s: xattrs: %s", path, strerror(-rc));
		goto fail;
	}
	rc = ent_push(s, &e);
	if (rc)
		goto fail;
	return 0;
fail:
	free(e.path);
	free(e.data);
	free(e.xattrs);
	return rc;
}

static int walk(struct pfs_fs *fs, uint64_t dir, const char *path, struct snap *s, char *why,
		size_t whylen, unsigned depth)
{
	struct names nm = { 0 };
	int rc;

	if (depth > 64) {
		snprintf(why, whylen, "%s: directory tree deeper than 64", path);
		return -ELOOP;
	}
	rc = pfs_readdir(fs, dir, 0, false, names_fill, &nm);
	if (rc) {
		snprintf(why, whylen, "%s: readdir: %s", path, strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < nm.n; i++) {
		char child[PATH_MAX_LEN];
		struct pfs_attr a;

		snprintf(child, sizeof(child), "%s%s%s", path, strcmp(path, "/") ? "/" : "",
			 nm.v[i]);
		rc = pfs_lookup(fs, dir, nm.v[i], &a);
		if (rc) {
			snprintf(why, whylen, "%s: listed but lookup fails: %s", child,
				 strerror(-rc));
			goto out;
		}
		pfs_forget(fs, a.ino, 1);
		if (a.ino != nm.ino[i]) {
			snprintf(why, whylen, "%s: readdir says inode %#llx, lookup %#llx", child,
				 (unsigned long long)nm.ino[i], (unsigned long long)a.ino);
			rc = -EUCLEAN;
			goto out;
		}
		rc = take_one(fs, child, &a, s, why, whylen);
		if (!rc && S_ISDIR(a.mode))
			rc = walk(fs, a.ino, child, s, why, whylen, depth + 1);
		if (rc)
			goto out;
	}
out:
	names_free(&nm);
	return rc;
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct snap_ent *)a)->path, ((const struct snap_ent *)b)->path);
}

int snap_take(struct pfs_fs *fs, struct snap *s, char *why, size_t whylen)
{
	uint64_t root = pfs_root_ino(fs);
	struct pfs_attr a;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = pfs_getattr(fs, root, &a);
	if (rc) {
		snprintf(why, whylen, "root: getattr: %s", strerror(-rc));
		return rc;
	}
	rc = take_one(fs, "/", &a, s, why, whylen);
	if (!rc)
		rc = walk(fs, root, "/", s, why, whylen, 0);
	if (rc) {
		snap_free(s);
		return rc;
	}
	qsort(s->e, s->n, sizeof(s->e[0]), cmp_ent);
	return 0;
}

void snap_free(struct snap *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->e[i].path);
		free(s->e[i].data);
		free(s->e[i].xattrs);
	}
	free(s->e);
	memset(s, 0, sizeof(*s));
}

const struct snap_ent *snap_find_ino(const struct snap *s, uint64_t ino)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].ino == ino)
			return &s->e[i];
	return NULL;
}

bool snap_struct_equal(const struct snap *a, const struct snap *b, char *why, size_t whylen)
{
	size_t i = 0, j = 0;

	while (i < a->n || j < b->n) {
		const struct snap_ent *x, *y;

		if (j >= b->n || (i < a->n && strcmp(a->e[i].path, b->e[j].path) < 0)) {
			snprintf(why, whylen, "%s exists, expected absent", a->e[i].path);
			return false;
		}
		if (i >= a->n || strcmp(a->e[i].path, b->e[j].path) > 0) {
			snprintf(why, whylen, "%s missing", b->e[j].path);
			return false;
		}
		x = &a->e[i];
		y = &b->e[j];
		if (x->ino != y->ino || x->mode != y->mode || x->nlink != y->nlink ||
		    x->uid != y->uid || x->gid != y->gid || x->size != y->size) {
			snprintf(why, whylen,
				 "%s: ino %#llx mode 0%o nlink %u uid %u gid %u size %llu, expected "
				 "ino %#llx mode 0%o nlink %u uid %u gid %u size %llu", x->path,
				 (unsigned long long)x->ino, x->mode, x->nlink, x->uid, x->gid,
				 (unsigned long long)x->size, (unsigned long long)y->ino, y->mode,
				 y->nlink, y->uid, y->gid, (unsigned long long)y->size);
			return false;
		}
		if (S_ISLNK(x->mode) && (x->dlen != y->dlen || memcmp(x->data, y->data, x->dlen))) {
			snprintf(why, whylen, "%s: symlink target '%s', expected '%s'", x->path,
				 (const char *)x->data, (const char *)y->data);
			return false;
		}
		if (strcmp(x->xattrs ? x->xattrs : "", y->xattrs ? y->xattrs : "")) {
			snprintf(why, whylen, "%s: xattrs {%s}, expected {%s}", x->path,
				 x->xattrs ? x->xattrs : "", y->xattrs ? y->xattrs : "");
			return false;
		}
		i++;
		j++;
	}
	return true;
}

static bool byte_possible(size_t off, uint8_t v, const struct snap_ent *const *ce, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (ce[k] && off < ce[k]->dlen && ce[k]->data[off] == v)
			return true;
	return false;
}

bool snap_data_possible(const struct snap *got, const struct snap *const *cand, size_t n,
			char *why, size_t whylen)
{
	const struct snap *last = cand[n - 1];
	const struct snap_ent **ce = calloc(n, sizeof(*ce));
	bool ok = true;

	if (!ce) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	for (size_t i = 0; ok && i < got->n; i++) {
		const struct snap_ent *g = &got->e[i];
		const struct snap_ent *l = &last->e[i];

		if (!S_ISREG(g->mode) || g->dlen == 0)
			continue;
		if (l->dlen == g->dlen && memcmp(l->data, g->data, g->dlen) == 0)
			continue;
		for (size_t k = 0; k < n; k++) {
			const struct snap_ent *c = snap_find_ino(cand[k], g->ino);

			ce[k] = c && S_ISREG(c->mode) ? c : NULL;
		}
		for (size_t off = 0; off < g->dlen; off++) {
			if (byte_possible(off, g->data[off], ce, n))
				continue;
			snprintf(why, whylen, "%s: byte %zu is 0x%02x, which no write gave it "
				 "(expected 0x%02x)", g->path, off, g->data[off],
				 off < l->dlen ? l->data[off] : 0);
			ok = false;
			break;
		}
	}
	free(ce);
	return ok;
}
