// SPDX-License-Identifier: MIT
/*
 * The attribute files of regions, namespaces and DIMMs: which exist, their
 * modes, and their text (one value and a newline, with ndctl's meaning).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"

static const void *obj(const struct ctl_node *n)
{
	switch (n->type) {
	case CTL_N_REGION: case CTL_N_REGION_ATTR: return n->r;
	case CTL_N_NS: case CTL_N_NS_ATTR: return n->ns;
	default: return n->d;
	}
}

static int show_field(const struct ctl_attr *a, const struct ctl_node *n, FILE *f)
{
	const char *p = (const char *)obj(n) + a->off;

	switch (a->fmt) {
	case CTL_F_U64: return fprintf(f, "%llu\n", (unsigned long long)*(const uint64_t *)p);
	case CTL_F_INT: return fprintf(f, "%d\n", *(const int *)p);
	case CTL_F_UINT: return fprintf(f, "%u\n", *(const unsigned *)p);
	case CTL_F_STR: return fprintf(f, "%s\n", p);
	case CTL_F_BOOL: return fprintf(f, "%d\n", *(const bool *)p ? 1 : 0);
	case CTL_F_HEX: return fprintf(f, "%#x\n", *(const unsigned *)p);
	default: return -EINVAL;
	}
}

/* ---- show functions for what is not a plain field ---- */

static int show_mappings(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
			 FILE *f)
{
	for (unsigned i = 0; i < n->r->nmappings; i++) {
		const struct nd_mapping *m = &n->r->mappings[i];

		fprintf(f, "%s %llu %llu %d\n", m->dimm, (unsigned long long)m->offset,
			(unsigned long long)m->length, m->position);
	}
	return 0;
}

static int show_iset(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		     FILE *f)
{
	return fprintf(f, "%#llx\n", (unsigned long long)n->r->iset_id);
}

static int show_ns_mode(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
			FILE *f)
{
	return fprintf(f, "%s\n", nd_mode_name(n->ns->mode));
}

static int show_create_help(struct pfs_ctl *ctl, const struct nd_topo *t,
			    const struct ctl_node *n, FILE *f)
{
	return fprintf(f, "size=SIZE[K|M|G|T] mode=raw|sector|fsdax|devdax name=NAME "
		       "align=SIZE sector_size=512|4096\n");
}

static int show_destroy(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
			FILE *f)
{
	return fprintf(f, "write 1 to destroy %s\n", n->ns->dev);
}

static int show_msg(struct pfs_ctl *ctl, const struct ctl_node *n, FILE *f, bool error)
{
	char dir[128];
	const char *m;

	ctl_node_dir(n, dir, sizeof(dir));
	m = ctl_get_msg(ctl, dir, error);
	return m ? fprintf(f, "%s\n", m) : 0;
}

static int show_last_error(struct pfs_ctl *ctl, const struct nd_topo *t,
			   const struct ctl_node *n, FILE *f)
{
	return show_msg(ctl, n, f, true);
}

static int show_last_result(struct pfs_ctl *ctl, const struct nd_topo *t,
			    const struct ctl_node *n, FILE *f)
{
	return show_msg(ctl, n, f, false);
}

/* ---- presence and writability ---- */

static bool has_iset(const struct ctl_node *n) { return n->r->has_iset_id; }
static bool has_blockdev(const struct ctl_node *n) { return n->ns->blockdev[0] != '\0'; }
static bool has_chardev(const struct ctl_node *n) { return n->ns->chardev[0] != '\0'; }
static bool has_align(const struct ctl_node *n) { return n->ns->align != 0; }
static bool has_sector(const struct ctl_node *n) { return n->ns->sector_size != 0; }
static bool has_map(const struct ctl_node *n) { return n->ns->map[0] != '\0'; }
static bool has_health(const struct ctl_node *n) { return n->d->has_health; }
static bool ns_labelled(const struct ctl_node *n) { return n->ns->labelled; }

#define R(name, field, fmt) { name, fmt, offsetof(struct nd_region, field), NULL, NULL, NULL, NULL }
#define N(name, field, fmt) { name, fmt, offsetof(struct nd_ns, field), NULL, NULL, NULL, NULL }
#define D(name, field, fmt) { name, fmt, offsetof(struct nd_dimm, field), NULL, NULL, NULL, NULL }

static const struct ctl_attr region_attrs[] = {
	R("size", size, CTL_F_U64),
	R("available_size", available_size, CTL_F_U64),
	R("max_available_extent", max_available_extent, CTL_F_U64),
	R("type", type, CTL_F_STR),
	R("align", align, CTL_F_U64),
	R("numa_node", numa_node, CTL_F_INT),
	R("target_node", target_node, CTL_F_INT),
	R("persistence_domain", persistence_domain, CTL_F_STR),
	R("interleave_ways", interleave_ways, CTL_F_UINT),
	{ "mappings", CTL_F_FN, 0, show_mappings, NULL, NULL, NULL },
	R("read_only", read_only, CTL_F_BOOL),
	{ "enabled", CTL_F_BOOL, offsetof(struct nd_region, enabled), NULL, ctl_store_enabled,
	  NULL, NULL },
	{ "iset_id", CTL_F_FN, 0, show_iset, NULL, has_iset, NULL },
	{ "create", CTL_F_FN, 0, show_create_help, ctl_store_create, NULL, NULL },
	{ "last_error", CTL_F_FN, 0, show_last_error, NULL, NULL, NULL },
	{ "last_result", CTL_F_FN, 0, show_last_result, NULL, NULL, NULL },
	{ NULL, CTL_F_FN, 0, NULL, NULL, NULL, NULL },
};

static const struct ctl_attr ns_attrs[] = {
	{ "mode", CTL_F_FN, 0, show_ns_mode, ctl_store_mode, NULL, NULL },
	{ "size", CTL_F_U64, offsetof(struct nd_ns, size), NULL, ctl_store_ns_size, NULL,
	  ns_labelled },
	N("raw_size", raw_size, CTL_F_U64),
	N("uuid", uuid, CTL_F_STR),
	N("name", name, CTL_F_STR),
	N("dev", dev, CTL_F_STR),
	{ "blockdev", CTL_F_STR, offsetof(struct nd_ns, blockdev), NULL, NULL, has_blockdev, NULL },
	{ "chardev", CTL_F_STR, offsetof(struct nd_ns, chardev), NULL, NULL, has_chardev, NULL },
	{ "align", CTL_F_U64, offsetof(struct nd_ns, align), NULL, NULL, has_align, NULL },
	{ "sector_size", CTL_F_UINT, offsetof(struct nd_ns, sector_size), NULL, NULL, has_sector,
	  NULL },
	{ "map", CTL_F_STR, offsetof(struct nd_ns, map), NULL, NULL, has_map, NULL },
	N("numa_node", numa_node, CTL_F_INT),
	{ "enabled", CTL_F_BOOL, offsetof(struct nd_ns, enabled), NULL, ctl_store_enabled, NULL,
	  NULL },
	{ "destroy", CTL_F_FN, 0, show_destroy, ctl_store_destroy, NULL, NULL },
	{ "last_error", CTL_F_FN, 0, show_last_error, NULL, NULL, NULL },
	{ "last_result", CTL_F_FN, 0, show_last_result, NULL, NULL, NULL },
	{ NULL, CTL_F_FN, 0, NULL, NULL, NULL, NULL },
};

static const struct ctl_attr dimm_attrs[] = {
	D("id", id, CTL_F_STR),
	D("handle", handle, CTL_F_HEX),
	D("phys_id", phys_id, CTL_F_INT),
	D("state", state, CTL_F_STR),
	D("flag_failed_arm", flag_failed_arm, CTL_F_BOOL),
	D("flag_failed_save", flag_failed_save, CTL_F_BOOL),
	D("flag_failed_flush", flag_failed_flush, CTL_F_BOOL),
	D("flag_failed_restore", flag_failed_restore, CTL_F_BOOL),
	D("flag_failed_map", flag_failed_map, CTL_F_BOOL),
	D("flag_smart_event", flag_smart_event, CTL_F_BOOL),
	{ "health_state", CTL_F_STR, offsetof(struct nd_dimm, health_state), NULL, NULL,
	  has_health, NULL },
	{ "temperature", CTL_F_INT, offsetof(struct nd_dimm, temperature_c10), NULL, NULL,
	  has_health, NULL },
	{ "spares_percentage", CTL_F_INT, offsetof(struct nd_dimm, spares_percent), NULL, NULL,
	  has_health, NULL },
	{ NULL, CTL_F_FN, 0, NULL, NULL, NULL, NULL },
};

const struct ctl_attr *ctl_attrs(enum ctl_node_type t)
{
	switch (t) {
	case CTL_N_REGION: case CTL_N_REGION_ATTR: return region_attrs;
	case CTL_N_NS: case CTL_N_NS_ATTR: return ns_attrs;
	default: return dimm_attrs;
	}
}

const struct ctl_attr *ctl_attr_find(enum ctl_node_type t, const char *name,
				     const struct ctl_node *n)
{
	for (const struct ctl_attr *a = ctl_attrs(t); a->name; a++)
		if (strcmp(a->name, name) == 0)
			return !a->present || a->present(n) ? a : NULL;
	return NULL;
}

/* rw control files 0644, write-only destroy 0200, the rest 0444 */
uint32_t ctl_attr_mode(const struct ctl_node *n)
{
	const struct ctl_attr *a = n->attr;

	if (!a->store || (a->writable && !a->writable(n)))
		return 0444;
	return a->show == show_destroy ? 0200 : 0644;
}

void ctl_node_dir(const struct ctl_node *n, char *buf, size_t size)
{
	if (n->ns)
		snprintf(buf, size, "regions/region%u/ns%u", n->r->id, n->ns->id);
	else if (n->r)
		snprintf(buf, size, "regions/region%u", n->r->id);
	else if (n->d)
		snprintf(buf, size, "dimms/%s", n->d->dev);
	else
		snprintf(buf, size, "%s", "");
}

int ctl_node_text(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		  char **text, size_t *len)
{
	FILE *f = open_memstream(text, len);
	int rc;

	if (!f)
		return -ENOMEM;
	if (n->type == CTL_N_TOPO_JSON)
		rc = ctl_topology_json(t, f);
	else if (n->attr->fmt == CTL_F_FN)
		rc = n->attr->show(ctl, t, n, f);
	else
		rc = show_field(n->attr, n, f);
	if (fclose(f) != 0 && rc >= 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(*text);
		*text = NULL;
		return rc;
	}
	return 0;
}
