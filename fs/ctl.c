// SPDX-License-Identifier: MIT
/*
 * The topology tree: path registry (stable node ids), path resolution against
 * a fresh snapshot, listings and attribute text. Writes are in ctl_write.c,
 * topology.json in ctl_json.c.
 *
 * Invariants: a node id always names the same path; whether the path exists
 * is decided again at every call from a new snapshot. Backend calls are
 * serialized by ctl->lock (concurrent libndctl users are unsafe).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "pfs.h"
#include "pmemfs/pmemfs.h"

/* ---- registry ---- */

static int registry_add(struct pfs_ctl *ctl, const char *path, uint64_t *id)
{
	char *dup;

	for (size_t i = 0; i < ctl->npaths; i++) {
		if (strcmp(ctl->paths[i], path) == 0) {
			*id = i + 1;
			return 0;
		}
	}
	if (pfs_array_reserve(&ctl->paths, &ctl->cappaths, ctl->npaths + 1, sizeof(*ctl->paths)))
		return -ENOMEM;
	if (ctl->npaths + 1 >= (1ull << 31))
		return -ENOSPC;
	dup = strdup(path);
	if (!dup)
		return -ENOMEM;
	ctl->paths[ctl->npaths++] = dup;
	*id = ctl->npaths;
	return 0;
}

const char *ctl_path(struct pfs_ctl *ctl, uint64_t id)
{
	if (id == 0 || id > ctl->npaths)
		return NULL;
	return ctl->paths[id - 1];
}

int pfs_ctl_new(const struct nd_backend *be, const char *busy_dev, struct pfs_ctl **out)
{
	struct pfs_ctl *ctl = calloc(1, sizeof(*ctl));
	uint64_t root;
	int rc;

	if (!ctl)
		return -ENOMEM;
	ctl->be = *be;
	pthread_mutex_init(&ctl->lock, NULL);
	snprintf(ctl->busy_dev, sizeof(ctl->busy_dev), "%s", busy_dev ? busy_dev : "");
	rc = registry_add(ctl, "", &root);
	if (rc) {
		pfs_ctl_free(ctl);
		return rc;
	}
	*out = ctl;
	return 0;
}

void pfs_ctl_free(struct pfs_ctl *ctl)
{
	if (!ctl)
		return;
	for (size_t i = 0; i < ctl->npaths; i++)
		free(ctl->paths[i]);
	free(ctl->paths);
	for (size_t i = 0; i < ctl->nmsgs; i++) {
		free(ctl->msgs[i].path);
		free(ctl->msgs[i].error);
		free(ctl->msgs[i].result);
	}
	free(ctl->msgs);
	pthread_mutex_destroy(&ctl->lock);
	free(ctl);
}

/* ---- messages (last_error, last_result) per directory ---- */

static struct ctl_msg *msg_slot(struct pfs_ctl *ctl, const char *dir, bool create)
{
	struct ctl_msg *m;

	for (size_t i = 0; i < ctl->nmsgs; i++)
		if (strcmp(ctl->msgs[i].path, dir) == 0)
			return &ctl->msgs[i];
	if (!create)
		return NULL;
	m = realloc(ctl->msgs, (ctl->nmsgs + 1) * sizeof(*m));
	if (!m)
		return NULL;
	ctl->msgs = m;
	m = &ctl->msgs[ctl->nmsgs];
	memset(m, 0, sizeof(*m));
	m->path = strdup(dir);
	if (!m->path)
		return NULL;
	ctl->nmsgs++;
	return m;
}

void ctl_set_msg(struct pfs_ctl *ctl, const char *dir, const char *error, const char *result)
{
	struct ctl_msg *m = msg_slot(ctl, dir, true);

	if (!m)
		return;
	free(m->error);
	free(m->result);
	m->error = error ? strdup(error) : NULL;
	m->result = result ? strdup(result) : NULL;
}

const char *ctl_get_msg(struct pfs_ctl *ctl, const char *dir, bool error)
{
	struct ctl_msg *m = msg_slot(ctl, dir, false);

	if (!m)
		return NULL;
	return error ? m->error : m->result;
}

/* ---- snapshot ---- */

int ctl_snapshot(struct pfs_ctl *ctl, struct nd_topo *t)
{
	char err[ND_ERR_LEN] = "";
	int rc;

	memset(t, 0, sizeof(*t));
	rc = ctl->be.snapshot(ctl->be.ctx, t, err);
	if (rc)
		pfs_log(PFS_LOG_ERR, "reading the NVDIMM topology failed: %s",
			err[0] ? err : strerror(-rc));
	return rc;
}

/* ---- resolution ---- */

static int parse_index(const char *s, const char *prefix, unsigned *out)
{
	size_t pl = strlen(prefix);
	char *end;
	unsigned long v;

	if (strncmp(s, prefix, pl) != 0 || s[pl] < '0' || s[pl] > '9')
		return -ENOENT;
	if (s[pl] == '0' && s[pl + 1] != '\0' && s[pl + 1] != '/')
		return -ENOENT; /* no leading zeros: one name per object */
	errno = 0;
	v = strtoul(s + pl, &end, 10);
	if (errno || (*end != '\0' && *end != '/') || v > 0xffffffffu)
		return -ENOENT;
	*out = (unsigned)v;
	return 0;
}

static const struct nd_dimm *find_dimm(const struct nd_topo *t, const char *name)
{
	for (size_t i = 0; i < t->ndimms; i++)
		if (strcmp(t->dimms[i].dev, name) == 0)
			return &t->dimms[i];
	return NULL;
}

static const struct nd_ns *find_ns_dev(const struct nd_topo *t, const char *dev,
				       const struct nd_region **rp)
{
	for (size_t i = 0; i < t->nregions; i++) {
		for (size_t j = 0; j < t->regions[i].nns; j++) {
			if (strcmp(t->regions[i].ns[j].dev, dev) == 0) {
				*rp = &t->regions[i];
				return &t->regions[i].ns[j];
			}
		}
	}
	return NULL;
}

static int resolve_attr(struct ctl_node *n, const char *name, enum ctl_node_type t)
{
	const struct ctl_attr *a = ctl_attr_find(t, name, n);

	if (!a)
		return -ENOENT;
	n->attr = a;
	n->type = t == CTL_N_REGION ? CTL_N_REGION_ATTR :
		  t == CTL_N_NS ? CTL_N_NS_ATTR : CTL_N_DIMM_ATTR;
	return 0;
}

static int resolve_region(const struct nd_topo *t, char **seg, int nseg, struct ctl_node *n)
{
	unsigned rid, nsid;

	if (parse_index(seg[1], "region", &rid) || !(n->r = nd_topo_region(t, rid)))
		return -ENOENT;
	n->type = CTL_N_REGION;
	if (nseg == 2)
		return 0;
	if (parse_index(seg[2], "ns", &nsid) == 0) {
		n->ns = nd_region_ns(n->r, nsid);
		if (!n->ns)
			return -ENOENT;
		n->type = CTL_N_NS;
		if (nseg == 3)
			return 0;
		return nseg == 4 ? resolve_attr(n, seg[3], CTL_N_NS) : -ENOENT;
	}
	return nseg == 3 ? resolve_attr(n, seg[2], CTL_N_REGION) : -ENOENT;
}

int ctl_resolve(const struct nd_topo *t, const char *path, struct ctl_node *n)
{
	char buf[512], *seg[8], *save = NULL, *tok;
	int nseg = 0;

	memset(n, 0, sizeof(*n));
	if (strlen(path) >= sizeof(buf))
		return -ENOENT;
	strcpy(buf, path);
	for (tok = strtok_r(buf, "/", &save); tok && nseg < 8; tok = strtok_r(NULL, "/", &save))
		seg[nseg++] = tok;
	if (tok)
		return -ENOENT;
	if (nseg == 0) {
		n->type = CTL_N_ROOT;
		return 0;
	}
	if (strcmp(seg[0], "topology.json") == 0 && nseg == 1) {
		n->type = CTL_N_TOPO_JSON;
		return 0;
	}
	if (strcmp(seg[0], "regions") == 0) {
		n->type = CTL_N_REGIONS;
		return nseg == 1 ? 0 : resolve_region(t, seg, nseg, n);
	}
	if (strcmp(seg[0], "namespaces") == 0) {
		n->type = CTL_N_NAMESPACES;
		if (nseg == 1)
			return 0;
		n->ns = nseg == 2 ? find_ns_dev(t, seg[1], &n->r) : NULL;
		n->type = CTL_N_NS_LINK;
		return n->ns ? 0 : -ENOENT;
	}
	if (strcmp(seg[0], "dimms") == 0) {
		n->type = CTL_N_DIMMS;
		if (nseg == 1)
			return 0;
		n->d = find_dimm(t, seg[1]);
		if (!n->d)
			return -ENOENT;
		n->type = CTL_N_DIMM;
		return nseg == 2 ? 0 : nseg == 3 ? resolve_attr(n, seg[2], CTL_N_DIMM) : -ENOENT;
	}
	return -ENOENT;
}

/*
 * The frame of every call on an existing node: one backend user at a time, a
 * fresh snapshot, the node resolved in it, fn, the snapshot freed.
 */
int ctl_with_node(struct pfs_ctl *ctl, uint64_t id, ctl_node_fn fn, void *arg)
{
	const char *path;
	struct nd_topo t;
	struct ctl_node n;
	int rc;

	pthread_mutex_lock(&ctl->lock);
	path = ctl_path(ctl, id);
	rc = path ? ctl_snapshot(ctl, &t) : -ESTALE;
	if (rc)
		goto out;
	rc = ctl_resolve(&t, path, &n);
	if (!rc)
		rc = fn(ctl, &t, &n, id, path, arg);
	nd_topo_free(&t);
out:
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

/* ---- stat ---- */

static uint32_t dir_nlink(const struct ctl_node *n)
{
	switch (n->type) {
	case CTL_N_ROOT: return 5; /* ., pools (added by the adapter), regions, namespaces, dimms */
	case CTL_N_REGIONS: return 2;
	case CTL_N_REGION: return 2 + (uint32_t)n->r->nns;
	default: return 2;
	}
}

static int node_stat(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		     uint64_t id, struct pfs_ctl_stat *st)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	st->id = id;
	switch (n->type) {
	case CTL_N_NS_LINK:
		st->kind = PFS_CTL_LINK;
		st->mode = 0777;
		st->nlink = 1;
		st->size = 64;
		return 0;
	case CTL_N_REGION_ATTR: case CTL_N_NS_ATTR: case CTL_N_DIMM_ATTR: case CTL_N_TOPO_JSON:
		st->kind = PFS_CTL_FILE;
		st->nlink = 1;
		st->mode = n->type == CTL_N_TOPO_JSON ? 0444 : ctl_attr_mode(n);
		rc = ctl_node_text(ctl, t, n, &text, &len);
		free(text);
		st->size = rc ? 0 : len;
		return 0;
	default:
		st->kind = PFS_CTL_DIR;
		st->mode = 0755;
		st->nlink = dir_nlink(n);
		return 0;
	}
}

static int path_join(char *out, size_t size, const char *dir, const char *name)
{
	int n = dir[0] ? snprintf(out, size, "%s/%s", dir, name) : snprintf(out, size, "%s", name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int pfs_ctl_lookup(struct pfs_ctl *ctl, uint64_t parent, const char *name,
		   struct pfs_ctl_stat *out)
{
	const char *dir = ctl_path(ctl, parent);
	char path[512];
	struct nd_topo t;
	struct ctl_node n;
	uint64_t id;
	int rc;

	if (!dir)
		return -ESTALE;
	if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -ENOENT;
	rc = path_join(path, sizeof(path), dir, name);
	if (rc)
		return rc;
	pthread_mutex_lock(&ctl->lock);
	rc = ctl_snapshot(ctl, &t);
	if (rc)
		goto out;
	rc = ctl_resolve(&t, path, &n);
	if (!rc)
		rc = registry_add(ctl, path, &id);
	if (!rc)
		rc = node_stat(ctl, &t, &n, id, out);
	nd_topo_free(&t);
out:
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

static int getattr_fn(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		      uint64_t id, const char *path, void *arg)
{
	return node_stat(ctl, t, n, id, arg);
}

int pfs_ctl_getattr(struct pfs_ctl *ctl, uint64_t id, struct pfs_ctl_stat *out)
{
	return ctl_with_node(ctl, id, getattr_fn, out);
}

int pfs_ctl_parent(struct pfs_ctl *ctl, uint64_t id, uint64_t *parent)
{
	const char *path;
	char buf[512], *slash;
	int rc = 0;

	pthread_mutex_lock(&ctl->lock);
	path = ctl_path(ctl, id);
	if (!path) {
		rc = -ESTALE;
		goto out;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	else
		buf[0] = '\0';
	rc = registry_add(ctl, buf, parent);
out:
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

/* ---- listing ---- */

struct list_ctx {
	struct pfs_ctl *ctl;
	const struct nd_topo *t;
	const char *dir;
	pfs_ctl_fill_fn fill;
	void *arg;
};

static int list_one(struct list_ctx *c, const char *name)
{
	char path[512];
	struct ctl_node n;
	struct pfs_ctl_stat st;
	uint64_t id;
	int rc = path_join(path, sizeof(path), c->dir, name);

	if (!rc)
		rc = ctl_resolve(c->t, path, &n);
	if (rc == -ENOENT)
		return 0; /* an attribute this object does not have */
	if (!rc)
		rc = registry_add(c->ctl, path, &id);
	if (!rc)
		rc = node_stat(c->ctl, c->t, &n, id, &st);
	return rc ? rc : c->fill(c->arg, name, &st);
}

static int list_children(struct list_ctx *c, const struct ctl_node *n)
{
	char name[ND_DEV_LEN + 8];
	int rc = 0;

	switch (n->type) {
	case CTL_N_ROOT:
		rc = list_one(c, "regions");
		if (!rc)
			rc = list_one(c, "namespaces");
		if (!rc)
			rc = list_one(c, "dimms");
		if (!rc)
			rc = list_one(c, "topology.json");
		return rc;
	case CTL_N_REGIONS:
		for (size_t i = 0; !rc && i < c->t->nregions; i++) {
			snprintf(name, sizeof(name), "region%u", c->t->regions[i].id);
			rc = list_one(c, name);
		}
		return rc;
	case CTL_N_NAMESPACES:
		for (size_t i = 0; !rc && i < c->t->nregions; i++)
			for (size_t j = 0; !rc && j < c->t->regions[i].nns; j++)
				rc = list_one(c, c->t->regions[i].ns[j].dev);
		return rc;
	case CTL_N_DIMMS:
		for (size_t i = 0; !rc && i < c->t->ndimms; i++)
			rc = list_one(c, c->t->dimms[i].dev);
		return rc;
	case CTL_N_REGION:
		for (size_t j = 0; !rc && j < n->r->nns; j++) {
			snprintf(name, sizeof(name), "ns%u", n->r->ns[j].id);
			rc = list_one(c, name);
		}
		/* then the attributes */
		for (const struct ctl_attr *a = ctl_attrs(CTL_N_REGION); !rc && a->name; a++)
			rc = list_one(c, a->name);
		return rc;
	case CTL_N_NS:
	case CTL_N_DIMM:
		for (const struct ctl_attr *a = ctl_attrs(n->type); !rc && a->name; a++)
			rc = list_one(c, a->name);
		return rc;
	default:
		return -ENOTDIR;
	}
}

static int readdir_fn(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		      uint64_t id, const char *path, void *arg)
{
	struct list_ctx *c = arg;

	c->t = t;
	c->dir = path;
	return list_children(c, n);
}

int pfs_ctl_readdir(struct pfs_ctl *ctl, uint64_t id, pfs_ctl_fill_fn fill, void *arg)
{
	struct list_ctx c = { ctl, NULL, NULL, fill, arg };
	int rc = ctl_with_node(ctl, id, readdir_fn, &c);

	return rc > 0 ? 0 : rc;
}

/* ---- reading ---- */

struct read_args {
	char **text;
	size_t *len;
};

static int read_fn(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		   uint64_t id, const char *path, void *arg)
{
	struct read_args *a = arg;

	return ctl_node_text(ctl, t, n, a->text, a->len);
}

int pfs_ctl_read(struct pfs_ctl *ctl, uint64_t id, char **text, size_t *len)
{
	struct read_args a = { text, len };

	return ctl_with_node(ctl, id, read_fn, &a);
}

struct link_args {
	char *buf;
	size_t size;
};

static int readlink_fn(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		       uint64_t id, const char *path, void *arg)
{
	struct link_args *a = arg;

	if (n->type != CTL_N_NS_LINK)
		return -EINVAL;
	snprintf(a->buf, a->size, "../regions/region%u/ns%u", n->r->id, n->ns->id);
	return 0;
}

int pfs_ctl_readlink(struct pfs_ctl *ctl, uint64_t id, char *buf, size_t size)
{
	struct link_args a = { buf, size };

	return ctl_with_node(ctl, id, readlink_fn, &a);
}
