// SPDX-License-Identifier: MIT
/*
 * Control-file writes: parse, validate, guard, then one backend call.
 * Invariants: a malformed write changes nothing (-EINVAL before any backend
 * call); the namespace that backs this mount, or one in use, is never touched
 * (-EBUSY); only uid 0 writes; one write at a time (ctl->lock); every outcome
 * is logged and kept in the directory's last_error / last_result.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "pmemfs/pmemfs.h"

#define MIN_NS_SIZE   (16ull << 20)
#define DEFAULT_ALIGN (2ull << 20)

/* ---- parsing ---- */

int ctl_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
		end += strlen(end);
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= ND_NAME_LEN)
		return false;
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

static int parse_key(const char *key, const char *val, struct nd_ns_params *p, bool *has_size,
		     char *err)
{
	if (strcmp(key, "size") == 0) {
		*has_size = true;
		return ctl_parse_size(val, &p->size) ? -EINVAL : 0;
	}
	if (strcmp(key, "mode") == 0)
		return nd_mode_parse(val, &p->mode);
	if (strcmp(key, "align") == 0)
		return ctl_parse_size(val, &p->align) || !p->align ||
		       (p->align & (p->align - 1)) ? -EINVAL : 0;
	if (strcmp(key, "sector_size") == 0) {
		uint64_t v;

		if (ctl_parse_size(val, &v) || (v != 512 && v != 4096 && v != 520 && v != 4104))
			return -EINVAL;
		p->sector_size = (unsigned)v;
		return 0;
	}
	if (strcmp(key, "name") == 0) {
		if (!name_ok(val))
			return -EINVAL;
		snprintf(p->name, sizeof(p->name), "%s", val);
		return 0;
	}
	snprintf(err, ND_ERR_LEN, "unknown key '%s' (size, mode, name, align, sector_size)", key);
	return -EINVAL;
}

int ctl_parse_create(const char *s, struct nd_ns_params *p, bool *has_size, char *err)
{
	char buf[512], *save = NULL, *tok, seen[8][16];
	int nseen = 0;

	memset(p, 0, sizeof(*p));
	p->mode = ND_MODE_FSDAX;
	*has_size = false;
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');
		int rc;

		if (!eq || eq == tok || eq[1] == '\0') {
			snprintf(err, ND_ERR_LEN, "'%s' is not key=value", tok);
			return -EINVAL;
		}
		*eq = '\0';
		for (int i = 0; i < nseen; i++) {
			if (strcmp(seen[i], tok) == 0) {
				snprintf(err, ND_ERR_LEN, "key '%s' given twice", tok);
				return -EINVAL;
			}
		}
		if (nseen < 8)
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", tok);
		rc = parse_key(tok, eq + 1, p, has_size, err);
		if (rc) {
			if (!err[0])
				snprintf(err, ND_ERR_LEN, "bad value '%s' for %s", eq + 1, tok);
			return rc;
		}
	}
	return 0;
}

/* ---- guards ---- */

static int guard_ns(struct pfs_ctl *ctl, const struct nd_ns *ns, char *err)
{
	char why[200];
	int rc = nd_dev_busy(ctl->busy_dev, ns, why, sizeof(why));

	if (rc)
		snprintf(err, ND_ERR_LEN, "%s is in use: %s", ns->dev, why);
	return rc;
}

static int guard_region(struct pfs_ctl *ctl, const struct nd_region *r, char *err)
{
	for (size_t i = 0; i < r->nns; i++) {
		int rc = guard_ns(ctl, &r->ns[i], err);

		if (rc)
			return rc;
	}
	return 0;
}

/* ---- stores ---- */

static void say(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, ND_ERR_LEN, fmt, ap);
	va_end(ap);
}

int ctl_store_mode(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		   const char *val, char *err)
{
	struct nd_ns_params p = { .keep_name = true };
	int rc;

	if (nd_mode_parse(val, &p.mode)) {
		say(err, "unknown mode '%s' (raw, sector, fsdax, devdax)", val);
		return -EINVAL;
	}
	rc = guard_ns(ctl, n->ns, err);
	if (rc)
		return rc;
	if (p.mode == n->ns->mode) {
		say(err, "%s is already %s; nothing changed", n->ns->dev, nd_mode_name(p.mode));
		return 0;
	}
	rc = ctl->be.reconfigure(ctl->be.ctx, n->r->id, n->ns->dev, &p, err);
	if (!rc)
		say(err, "%s reconfigured to %s", n->ns->dev, nd_mode_name(p.mode));
	return rc;
}

/* The size unit a region requires for a namespace of this alignment. */
static uint64_t size_unit(const struct nd_region *r, enum nd_mode mode, uint64_t align)
{
	uint64_t a = mode == ND_MODE_FSDAX || mode == ND_MODE_DEVDAX ?
		     (align ? align : DEFAULT_ALIGN) : 4096;
	uint64_t u = a * (r->interleave_ways ? r->interleave_ways : 1);
	uint64_t ra = r->align ? r->align : 1;
	uint64_t x = u, y = ra;

	while (y) { /* lcm(u, ra) = u / gcd * ra */
		uint64_t tmp = x % y;

		x = y;
		y = tmp;
	}
	return u / x * ra;
}

static uint64_t round_up(uint64_t v, uint64_t unit)
{
	return (v + unit - 1) / unit * unit;
}

int ctl_store_ns_size(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		      const char *val, char *err)
{
	struct nd_ns_params p = { .mode = n->ns->mode, .align = n->ns->align, .keep_name = true };
	char msg[96];
	int rc;

	if (ctl_parse_size(val, &p.size) || p.size == 0) {
		say(err, "bad size '%s' (bytes, or with a K, M, G or T suffix)", val);
		return -EINVAL;
	}
	if (!n->r->labelled) {
		say(err, "%s: label-less namespaces cannot be resized", n->ns->dev);
		return -EOPNOTSUPP;
	}
	p.size = round_up(p.size, size_unit(n->r, p.mode, p.align));
	rc = guard_ns(ctl, n->ns, err);
	if (rc)
		return rc;
	rc = ctl->be.reconfigure(ctl->be.ctx, n->r->id, n->ns->dev, &p, err);
	if (!rc) {
		snprintf(msg, sizeof(msg), "%llu bytes", (unsigned long long)p.size);
		say(err, "%s resized to %s", n->ns->dev, msg);
	}
	return rc;
}

static int parse_bool(const char *val, bool *out)
{
	if (strcmp(val, "1") == 0 || strcmp(val, "0") == 0) {
		*out = val[0] == '1';
		return 0;
	}
	return -EINVAL;
}

int ctl_store_enabled(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		      const char *val, char *err)
{
	const char *dev = n->ns ? n->ns->dev : n->r->dev;
	bool en;
	int rc;

	if (parse_bool(val, &en)) {
		say(err, "write 0 or 1, not '%s'", val);
		return -EINVAL;
	}
	if (!en) {
		rc = n->ns ? guard_ns(ctl, n->ns, err) : guard_region(ctl, n->r, err);
		if (rc)
			return rc;
	}
	rc = ctl->be.set_enabled(ctl->be.ctx, n->r->id, n->ns ? n->ns->dev : NULL, en, err);
	if (!rc)
		say(err, "%s %s", dev, en ? "enabled" : "disabled");
	return rc;
}

int ctl_store_destroy(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		      const char *val, char *err)
{
	int rc;

	if (strcmp(val, "1") != 0) {
		say(err, "write 1 to destroy %s, not '%s'", n->ns->dev, val);
		return -EINVAL;
	}
	rc = guard_ns(ctl, n->ns, err);
	if (rc)
		return rc;
	rc = ctl->be.destroy(ctl->be.ctx, n->r->id, n->ns->dev, err);
	if (!rc)
		say(err, "%s destroyed", n->ns->dev);
	return rc;
}

static bool name_taken(const struct nd_topo *t, const char *name)
{
	for (size_t i = 0; i < t->nregions; i++)
		for (size_t j = 0; j < t->regions[i].nns; j++)
			if (strcmp(t->regions[i].ns[j].name, name) == 0)
				return true;
	return false;
}

static int create_check(const struct nd_topo *t, const struct nd_region *r,
			struct nd_ns_params *p, bool has_size, char *err)
{
	uint64_t asked = p->size, avail, unit;

	if (!r->labelled) {
		say(err, "%s has no namespace labels: its one namespace can only change mode "
		    "(write to ns*/mode)", r->dev);
		return -EOPNOTSUPP;
	}
	if (r->read_only) {
		say(err, "%s is read-only", r->dev);
		return -ENXIO;
	}
	if (p->name[0] && name_taken(t, p->name)) {
		say(err, "a namespace named '%s' already exists", p->name);
		return -EEXIST;
	}
	avail = r->max_available_extent ? r->max_available_extent : r->available_size;
	unit = size_unit(r, p->mode, p->align);
	/* no size: all of the largest free extent, as ndctl does */
	p->size = has_size ? round_up(p->size ? p->size : 1, unit) : avail / unit * unit;
	if (p->mode != ND_MODE_RAW && p->size < MIN_NS_SIZE)
		p->size = round_up(MIN_NS_SIZE, unit);
	if (p->size > avail || p->size == 0) {
		say(err, "not enough space in %s: %llu bytes needed, the largest free extent "
		    "is %llu bytes", r->dev, (unsigned long long)p->size,
		    (unsigned long long)avail);
		return -ENOSPC;
	}
	if (has_size && p->size != asked)
		pfs_log(PFS_LOG_INFO, "%s: size %llu rounded up to %llu (region alignment)",
			r->dev, (unsigned long long)asked, (unsigned long long)p->size);
	return 0;
}

int ctl_store_create(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		     const char *val, char *err)
{
	struct nd_ns_params p;
	char created[ND_DEV_LEN] = "";
	bool has_size;
	uint64_t asked;
	int rc = ctl_parse_create(val, &p, &has_size, err);

	if (rc)
		return rc;
	asked = p.size;
	rc = create_check(t, n->r, &p, has_size, err);
	if (rc)
		return rc;
	rc = ctl->be.create(ctl->be.ctx, n->r->id, &p, created, err);
	if (rc)
		return rc;
	if (has_size && asked != p.size)
		snprintf(err, ND_ERR_LEN, "created %s: %s, %llu bytes (rounded up from %llu to the "
			 "region's alignment)", created, nd_mode_name(p.mode),
			 (unsigned long long)p.size, (unsigned long long)asked);
	else
		snprintf(err, ND_ERR_LEN, "created %s: %s, %llu bytes", created,
			 nd_mode_name(p.mode), (unsigned long long)p.size);
	return 0;
}

/* ---- the write entry point ---- */

/* A control write is one line of printable text; the newline is optional. */
static int take_text(const char *buf, size_t len, char *out, size_t size)
{
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	if (len == 0 || len >= size)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!isprint((unsigned char)buf[i]) && buf[i] != '\t')
			return -EINVAL;
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

static int write_node(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		      const char *buf, size_t len, char *err)
{
	char val[512];

	if (n->type != CTL_N_REGION_ATTR && n->type != CTL_N_NS_ATTR &&
	    n->type != CTL_N_DIMM_ATTR)
		return -EISDIR;
	if (!n->attr->store || (n->attr->writable && !n->attr->writable(n))) {
		snprintf(err, ND_ERR_LEN, "%s is read-only", n->attr->name);
		return -EACCES;
	}
	if (take_text(buf, len, val, sizeof(val))) {
		snprintf(err, ND_ERR_LEN, "malformed write to %s: expected one line of text",
			 n->attr->name);
		return -EINVAL;
	}
	return n->attr->store(ctl, t, n, val, err);
}

struct write_args {
	const char *buf;
	size_t len;
};

/* One write, then its outcome in words: the log and the directory's files. */
static int write_fn(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		    uint64_t id, const char *path, void *arg)
{
	struct write_args *a = arg;
	char err[ND_ERR_LEN] = "", dir[128];
	int rc = write_node(ctl, t, n, a->buf, a->len, err);

	if (rc == -EISDIR)
		return rc;
	ctl_node_dir(n, dir, sizeof(dir));
	if (rc && !err[0])
		snprintf(err, sizeof(err), "%s", strerror(-rc));
	ctl_set_msg(ctl, dir, rc ? err : NULL, rc ? NULL : err);
	pfs_log(rc ? PFS_LOG_ERR : PFS_LOG_INFO, "%s: %s%s%s", path, err, rc ? ": " : "",
		rc ? strerror(-rc) : "");
	return rc;
}

int pfs_ctl_write(struct pfs_ctl *ctl, uint64_t id, uint32_t uid, const char *buf, size_t len)
{
	struct write_args a = { buf, len };

	if (uid != 0)
		return -EACCES;
	return ctl_with_node(ctl, id, write_fn, &a);
}
