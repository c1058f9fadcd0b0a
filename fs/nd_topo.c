// SPDX-License-Identifier: MIT
/*
 * Helpers over the plain-data NVDIMM snapshot (struct nd_topo, fs/nd.h) that
 * every backend and the control-file tree share: freeing, lookup by id, and
 * ndctl's mode vocabulary. Nothing here touches libndctl, so the core and the
 * unit tests use it without linking the library.
 *
 * Mode names follow ndctl: they print as raw|sector|fsdax|devdax and parse
 * case-insensitively, accepting the kernel's sysfs spellings (safe, memory,
 * dax) as ndctl's util_nsmode does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nd.h"

void nd_topo_free(struct nd_topo *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nregions; i++)
		free(t->regions[i].ns);
	free(t->regions);
	free(t->dimms);
	memset(t, 0, sizeof(*t));
}

const struct nd_region *nd_topo_region(const struct nd_topo *t, unsigned id)
{
	size_t i;

	for (i = 0; t && i < t->nregions; i++)
		if (t->regions[i].id == id)
			return &t->regions[i];
	return NULL;
}

const struct nd_ns *nd_region_ns(const struct nd_region *r, unsigned id)
{
	size_t i;

	for (i = 0; r && i < r->nns; i++)
		if (r->ns[i].id == id)
			return &r->ns[i];
	return NULL;
}

const char *nd_mode_name(enum nd_mode m)
{
	switch (m) {
	case ND_MODE_RAW:
		return "raw";
	case ND_MODE_SECTOR:
		return "sector";
	case ND_MODE_FSDAX:
		return "fsdax";
	case ND_MODE_DEVDAX:
		return "devdax";
	case ND_MODE_UNKNOWN:
		break;
	}
	return "unknown";
}

static const struct {
	const char *name;
	enum nd_mode mode;
} nd_mode_names[] = {
	{ "raw", ND_MODE_RAW },
	{ "sector", ND_MODE_SECTOR },
	{ "safe", ND_MODE_SECTOR },
	{ "fsdax", ND_MODE_FSDAX },
	{ "memory", ND_MODE_FSDAX },
	{ "devdax", ND_MODE_DEVDAX },
	{ "dax", ND_MODE_DEVDAX },
};

int nd_mode_parse(const char *s, enum nd_mode *m)
{
	size_t i;

	if (!s)
		return -EINVAL;
	for (i = 0; i < sizeof(nd_mode_names) / sizeof(nd_mode_names[0]); i++) {
		if (strcasecmp(s, nd_mode_names[i].name) == 0) {
			*m = nd_mode_names[i].mode;
			return 0;
		}
	}
	return -EINVAL;
}
