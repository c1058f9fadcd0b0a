// SPDX-License-Identifier: MIT
/*
 * The synthetic side of the adapter: the mount's root and the topology tree
 * (fs/ctl.c) under it. Node ids below 2^32 belong here: 1 is the root, the
 * rest are the tree's path ids, but for the two status files of the root
 * (status and status.json, rendered by status.c), whose ids are fixed.
 * "pools" in the root leads into the core.
 *
 * These nodes are live: entry and attribute timeouts are 0 and every call
 * asks the tree again, so a namespace made or destroyed outside pmemfs shows
 * at once. Control files are opened direct_io (their length is whatever the
 * read produces); a write is one control command, applied before it returns.
 * No synthetic node carries a lookup reference.
 */
#define FUSE_USE_VERSION 314

#include "fuse_ops.h"
#include "fuse_reply.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CORE_INO_MIN (1ULL << 32)

bool syn_ino(fuse_ino_t ino)
{
	return ino < CORE_INO_MIN;
}

static mode_t kind_mode(enum pfs_ctl_kind k)
{
	return k == PFS_CTL_DIR ? S_IFDIR : k == PFS_CTL_LINK ? S_IFLNK : S_IFREG;
}

static void stat_from_ctl(const struct pmemfs_server *srv, const struct pfs_ctl_stat *cs,
			  struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = cs->id;
	st->st_mode = kind_mode(cs->kind) | cs->mode;
	st->st_nlink = cs->nlink;
	st->st_size = (off_t)cs->size;
	st->st_blksize = 4096;
	st->st_atim = srv->mount_time;
	st->st_mtim = srv->mount_time;
	st->st_ctim = srv->mount_time;
	if (cs->id == PFS_CTL_ROOT_ID)
		st->st_nlink = cs->nlink; /* includes pools/ */
}

static void entry_from_ctl(const struct pmemfs_server *srv, const struct pfs_ctl_stat *cs,
			   struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = cs->id;
	stat_from_ctl(srv, cs, &e->attr);
}

static bool is_pools(fuse_ino_t parent, const char *name)
{
	return parent == FUSE_ROOT_ID && strcmp(name, "pools") == 0;
}

/* ---- the status files: the root's, not the tree's ---- */

/*
 * The tree hands out ids from 1 up and stops below 2^31; the core's start at
 * 2^32. These sit in between, so neither can ever take them.
 */
#define SYN_STATUS_ID      0xFFFF0001u
#define SYN_STATUS_JSON_ID 0xFFFF0002u

static const struct status_file {
	const char *name;
	fuse_ino_t id;
	bool json;
} status_files[] = {
	{ "status", SYN_STATUS_ID, false },
	{ "status.json", SYN_STATUS_JSON_ID, true },
};

#define NSTATUS (sizeof(status_files) / sizeof(status_files[0]))

static const struct status_file *status_by_name(fuse_ino_t parent, const char *name)
{
	for (size_t i = 0; parent == FUSE_ROOT_ID && i < NSTATUS; i++)
		if (strcmp(name, status_files[i].name) == 0)
			return &status_files[i];
	return NULL;
}

static const struct status_file *status_by_id(fuse_ino_t ino)
{
	for (size_t i = 0; i < NSTATUS; i++)
		if (ino == status_files[i].id)
			return &status_files[i];
	return NULL;
}

/* Read-only to everyone; the size is that of the text a read would get now. */
static int status_stat(struct pmemfs_server *srv, const struct status_file *sf,
		       struct pfs_ctl_stat *cs)
{
	char *text = NULL;
	size_t len = 0;
	int rc = pmemfs_status_text(srv, sf->json, &text, &len);

	free(text);
	if (rc)
		return rc;
	*cs = (struct pfs_ctl_stat){ .id = sf->id, .kind = PFS_CTL_FILE, .mode = 0444,
				     .size = len, .nlink = 1 };
	return 0;
}

int syn_lookup(struct pmemfs_server *srv, fuse_ino_t parent, const char *name,
	       struct fuse_entry_param *e)
{
	const struct status_file *sf = status_by_name(parent, name);
	struct pfs_ctl_stat cs;
	struct pfs_attr attr;
	uint64_t up;
	int rc;

	if (status_by_id(parent))
		return -ENOTDIR;
	if (is_pools(parent, name)) {
		/* "." inside the core takes the lookup reference on its root */
		rc = pfs_lookup(srv->fs, pfs_root_ino(srv->fs), ".", &attr);
		if (!rc)
			pmemfs_entry_from_attr(srv, &attr, e);
		return rc;
	}
	if (sf) {
		rc = status_stat(srv, sf, &cs);
	} else if (strcmp(name, ".") == 0) {
		rc = pfs_ctl_getattr(srv->ctl, parent, &cs);
	} else if (strcmp(name, "..") == 0) {
		rc = pfs_ctl_parent(srv->ctl, parent, &up);
		if (!rc)
			rc = pfs_ctl_getattr(srv->ctl, up, &cs);
	} else {
		rc = pfs_ctl_lookup(srv->ctl, parent, name, &cs);
	}
	if (!rc)
		entry_from_ctl(srv, &cs, e);
	return rc;
}

int syn_getattr(struct pmemfs_server *srv, fuse_ino_t ino, struct stat *st)
{
	const struct status_file *sf = status_by_id(ino);
	struct pfs_ctl_stat cs;
	int rc = sf ? status_stat(srv, sf, &cs) : pfs_ctl_getattr(srv->ctl, ino, &cs);

	if (rc == -ENOENT)
		rc = -ESTALE; /* the object went away under a node the kernel holds */
	if (!rc)
		stat_from_ctl(srv, &cs, st);
	return rc;
}

/* err for an operation the node does not allow, -ESTALE if it is gone. */
int syn_refuse(struct pmemfs_server *srv, fuse_ino_t ino, int err)
{
	struct stat st;
	int rc = syn_getattr(srv, ino, &st);

	return rc ? rc : -err;
}

int syn_modify_err(struct pmemfs_server *srv, fuse_ino_t dir, const char *name)
{
	struct stat st;
	int rc = syn_getattr(srv, dir, &st);

	if (rc)
		return rc;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (name && strcmp(name, ".") && strcmp(name, "..")) {
		struct fuse_entry_param e;

		if (is_pools(dir, name))
			return -EBUSY;
		rc = syn_lookup(srv, dir, name, &e);
		if (rc)
			return rc;
	}
	return -EACCES;
}

/* ---- listing ---- */

struct syn_list {
	char **names;
	mode_t *modes;
	fuse_ino_t *inos;
	size_t n, cap;
};

static int list_push(struct syn_list *l, const char *name, mode_t mode, fuse_ino_t ino)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 32;
		char **nn = realloc(l->names, ncap * sizeof(*nn));
		mode_t *nm = nn ? realloc(l->modes, ncap * sizeof(*nm)) : NULL;
		fuse_ino_t *ni = nm ? realloc(l->inos, ncap * sizeof(*ni)) : NULL;

		if (nn)
			l->names = nn;
		if (nm)
			l->modes = nm;
		if (!ni)
			return -ENOMEM;
		l->inos = ni;
		l->cap = ncap;
	}
	l->names[l->n] = strdup(name);
	if (!l->names[l->n])
		return -ENOMEM;
	l->modes[l->n] = mode;
	l->inos[l->n] = ino;
	l->n++;
	return 0;
}

static void list_free(struct syn_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->modes);
	free(l->inos);
}

static int list_fill(void *arg, const char *name, const struct pfs_ctl_stat *st)
{
	return list_push(arg, name, kind_mode(st->kind), st->id);
}

/*
 * ".", "..", ("pools" and the status files in the root), then the tree's
 * children, in a stable order.
 */
static int syn_list(struct pmemfs_server *srv, fuse_ino_t dir, struct syn_list *l)
{
	uint64_t up;
	int rc = pfs_ctl_parent(srv->ctl, dir, &up);

	if (!rc)
		rc = list_push(l, ".", S_IFDIR, dir);
	if (!rc)
		rc = list_push(l, "..", S_IFDIR, up);
	if (!rc && dir == FUSE_ROOT_ID)
		rc = list_push(l, "pools", S_IFDIR, pfs_root_ino(srv->fs));
	for (size_t i = 0; !rc && dir == FUSE_ROOT_ID && i < NSTATUS; i++)
		rc = list_push(l, status_files[i].name, S_IFREG, status_files[i].id);
	if (!rc)
		rc = pfs_ctl_readdir(srv->ctl, dir, list_fill, l);
	return rc;
}

int syn_readdir(struct dirbuf *db, off_t off)
{
	struct syn_list l = { 0 };
	struct fuse_entry_param e;
	int rc;

	if (off < 0)
		return -EINVAL;
	rc = syn_list(db->srv, db->dir, &l);
	for (size_t i = (size_t)off; !rc && i < l.n; i++) {
		/* node id 0: the kernel takes no reference and looks it up later */
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = l.inos[i];
		e.attr.st_mode = l.modes[i];
		if (!pmemfs_dirbuf_add(db, l.names[i], &e, (off_t)(i + 1)))
			break;
	}
	list_free(&l);
	return rc;
}

int syn_opendir(struct pmemfs_server *srv, fuse_ino_t ino)
{
	struct stat st;
	int rc = syn_getattr(srv, ino, &st);

	if (!rc && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	return rc;
}

/* ---- control files ---- */

void syn_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pmemfs_server *srv = fuse_req_userdata(req);
	struct stat st;
	int rc = syn_getattr(srv, ino, &st);

	if (!rc && S_ISDIR(st.st_mode))
		rc = -EISDIR;
	/* root may open any file for writing (CAP_DAC_OVERRIDE); not these */
	if (!rc && status_by_id(ino) && (fi->flags & O_ACCMODE) != O_RDONLY)
		rc = -EACCES;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = 0;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->nonseekable = 0;
	fuse_reply_open(req, fi);
}

void syn_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	struct pmemfs_server *srv = fuse_req_userdata(req);
	const struct status_file *sf = status_by_id(ino);
	char *text = NULL;
	size_t len = 0;
	int rc = sf ? pmemfs_status_text(srv, sf->json, &text, &len)
		    : pfs_ctl_read(srv->ctl, ino, &text, &len);

	if (rc) {
		fuse_reply_err(req, -rc == ENOENT ? ESTALE : -rc);
		return;
	}
	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, text + off, len - (size_t)off < size ? len - (size_t)off : size);
	free(text);
}

void syn_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size)
{
	struct pmemfs_server *srv = fuse_req_userdata(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int rc = status_by_id(ino) ? -EACCES : pfs_ctl_write(srv->ctl, ino, ctx->uid, buf, size);

	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/* `echo x > file` truncates first: accept size 0 on files the caller may write. */
void syn_setattr(fuse_req_t req, fuse_ino_t ino, int to_set)
{
	struct pmemfs_server *srv = fuse_req_userdata(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat st;
	int rc = syn_getattr(srv, ino, &st);

	if (!rc && (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MTIME |
			       FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_ATIME |
			       FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_CTIME)))
		rc = -EPERM;
	if (!rc && (!S_ISREG(st.st_mode) || !(st.st_mode & 0200) || ctx->uid != 0))
		rc = -EACCES;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_attr(req, &st, 0);
}

void syn_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct pmemfs_server *srv = fuse_req_userdata(req);
	char target[256];
	int rc = status_by_id(ino) ? -EINVAL
				   : pfs_ctl_readlink(srv->ctl, ino, target, sizeof(target));

	if (rc)
		fuse_reply_err(req, -rc == ENOENT ? ESTALE : -rc);
	else
		fuse_reply_readlink(req, target);
}
