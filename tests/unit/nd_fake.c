// SPDX-License-Identifier: MIT
/*
 * The nd_backend test double: keeps a topology in memory and applies
 * reconfigure/create/destroy/enable to it the way the kernel would, counting
 * every state-changing call so tests can prove that bad input changed nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_fake.h"

static void add_ns(struct nd_region *r, unsigned id, enum nd_mode mode, uint64_t size,
		   const char *name)
{
	struct nd_ns *ns;

	r->ns = realloc(r->ns, (r->nns + 1) * sizeof(*r->ns));
	ns = &r->ns[r->nns++];
	memset(ns, 0, sizeof(*ns));
	snprintf(ns->dev, sizeof(ns->dev), "namespace%u.%u", r->id, id);
	ns->id = id;
	ns->mode = mode;
	ns->size = ns->raw_size = size;
	snprintf(ns->uuid, sizeof(ns->uuid), "00000000-0000-4000-8000-%012u", r->id * 100 + id);
	snprintf(ns->name, sizeof(ns->name), "%s", name);
	if (mode == ND_MODE_DEVDAX)
		snprintf(ns->chardev, sizeof(ns->chardev), "dax%u.%u", r->id, id);
	else
		snprintf(ns->blockdev, sizeof(ns->blockdev), "pmem%u.%u", r->id, id);
	ns->align = mode == ND_MODE_FSDAX || mode == ND_MODE_DEVDAX ? 2u << 20 : 0;
	ns->sector_size = mode == ND_MODE_SECTOR ? 4096 : 0;
	snprintf(ns->map, sizeof(ns->map), "%s", ns->align ? "dev" : "");
	ns->numa_node = 0;
	ns->enabled = true;
	ns->labelled = r->labelled;
	r->available_size -= size;
	r->max_available_extent = r->available_size;
}

static void add_region(struct nd_topo *t, unsigned id, bool labelled)
{
	struct nd_region *r;
	struct nd_dimm *d;

	t->regions = realloc(t->regions, (t->nregions + 1) * sizeof(*r));
	r = &t->regions[t->nregions++];
	memset(r, 0, sizeof(*r));
	snprintf(r->dev, sizeof(r->dev), "region%u", id);
	r->id = id;
	snprintf(r->bus, sizeof(r->bus), "ndbus0");
	snprintf(r->provider, sizeof(r->provider), "ACPI.NFIT");
	r->size = r->available_size = r->max_available_extent = 1ull << 30;
	r->align = 16u << 20;
	snprintf(r->type, sizeof(r->type), "pmem");
	r->numa_node = 0;
	r->target_node = 1;
	snprintf(r->persistence_domain, sizeof(r->persistence_domain), "memory_controller");
	r->interleave_ways = 1;
	r->nmappings = 1;
	snprintf(r->mappings[0].dimm, sizeof(r->mappings[0].dimm), "nmem%u", id);
	r->mappings[0].length = r->size;
	r->enabled = true;
	r->labelled = labelled;
	r->has_iset_id = labelled;
	r->iset_id = 0x2468ac00123456ull + id;
	t->dimms = realloc(t->dimms, (t->ndimms + 1) * sizeof(*d));
	d = &t->dimms[t->ndimms++];
	memset(d, 0, sizeof(*d));
	snprintf(d->dev, sizeof(d->dev), "nmem%u", id);
	snprintf(d->id, sizeof(d->id), "8680-5634120%u", id);
	d->handle = id + 1;
	d->phys_id = (int)id;
	snprintf(d->state, sizeof(d->state), "enabled");
	d->spares_percent = -1;
}

void nd_fake_init(struct nd_fake *f)
{
	memset(f, 0, sizeof(*f));
	add_region(&f->topo, 0, true);
	add_ns(&f->topo.regions[0], 0, ND_MODE_FSDAX, 256u << 20, "first");
	add_region(&f->topo, 1, false);
	add_ns(&f->topo.regions[1], 0, ND_MODE_RAW, 1u << 30, "");
}

void nd_fake_fini(struct nd_fake *f)
{
	nd_topo_free(&f->topo);
}

static int fake_snapshot(void *ctx, struct nd_topo *out, char *err)
{
	struct nd_fake *f = ctx;

	out->nregions = f->topo.nregions;
	out->regions = calloc(out->nregions, sizeof(*out->regions));
	for (size_t i = 0; i < out->nregions; i++) {
		out->regions[i] = f->topo.regions[i];
		out->regions[i].ns = calloc(out->regions[i].nns + 1, sizeof(struct nd_ns));
		memcpy(out->regions[i].ns, f->topo.regions[i].ns,
		       out->regions[i].nns * sizeof(struct nd_ns));
	}
	out->ndimms = f->topo.ndimms;
	out->dimms = calloc(out->ndimms + 1, sizeof(*out->dimms));
	memcpy(out->dimms, f->topo.dimms, out->ndimms * sizeof(*out->dimms));
	return 0;
}

static struct nd_ns *find(struct nd_fake *f, unsigned region, const char *dev,
			  struct nd_region **rp)
{
	for (size_t i = 0; i < f->topo.nregions; i++) {
		struct nd_region *r = &f->topo.regions[i];

		if (r->id != region)
			continue;
		*rp = r;
		for (size_t j = 0; j < r->nns; j++)
			if (strcmp(r->ns[j].dev, dev) == 0)
				return &r->ns[j];
	}
	return NULL;
}

static int take_failure(struct nd_fake *f, char *err)
{
	int rc = f->fail_next;

	f->calls++;
	f->fail_next = 0;
	if (rc)
		snprintf(err, ND_ERR_LEN, "injected failure");
	return rc;
}

static int fake_reconfigure(void *ctx, unsigned region, const char *nsdev,
			    const struct nd_ns_params *p, char *err)
{
	struct nd_fake *f = ctx;
	struct nd_region *r = NULL;
	struct nd_ns *ns = find(f, region, nsdev, &r);
	char name[ND_NAME_LEN];
	unsigned id;
	uint64_t size;
	int rc;

	if (!ns)
		return -ENODEV;
	rc = take_failure(f, err);
	if (rc)
		return rc;
	f->last = *p;
	id = ns->id;
	size = p->size ? p->size : ns->raw_size;
	snprintf(name, sizeof(name), "%s", p->keep_name ? ns->name : p->name);
	r->available_size += ns->raw_size;
	*ns = r->ns[--r->nns];
	add_ns(r, id, p->mode, size, name);
	return 0;
}

static int fake_create(void *ctx, unsigned region, const struct nd_ns_params *p,
		       char created[ND_DEV_LEN], char *err)
{
	struct nd_fake *f = ctx;
	struct nd_region *r = NULL;
	unsigned id = 0;
	int rc;

	for (size_t i = 0; i < f->topo.nregions; i++)
		if (f->topo.regions[i].id == region)
			r = &f->topo.regions[i];
	if (!r)
		return -ENODEV;
	rc = take_failure(f, err);
	if (rc)
		return rc;
	f->last = *p;
	for (size_t j = 0; j < r->nns; j++)
		if (r->ns[j].id >= id)
			id = r->ns[j].id + 1;
	add_ns(r, id, p->mode, p->size, p->name);
	snprintf(created, ND_DEV_LEN, "%s", r->ns[r->nns - 1].dev);
	return 0;
}

static int fake_destroy(void *ctx, unsigned region, const char *nsdev, char *err)
{
	struct nd_fake *f = ctx;
	struct nd_region *r = NULL;
	struct nd_ns *ns = find(f, region, nsdev, &r);
	int rc;

	if (!ns)
		return -ENODEV;
	rc = take_failure(f, err);
	if (rc)
		return rc;
	r->available_size += ns->raw_size;
	r->max_available_extent = r->available_size;
	*ns = r->ns[--r->nns];
	return 0;
}

static int fake_set_enabled(void *ctx, unsigned region, const char *nsdev, bool enable,
			    char *err)
{
	struct nd_fake *f = ctx;
	struct nd_region *r = NULL;
	struct nd_ns *ns = nsdev ? find(f, region, nsdev, &r) : NULL;
	int rc;

	if (nsdev && !ns)
		return -ENODEV;
	rc = take_failure(f, err);
	if (rc)
		return rc;
	if (ns)
		ns->enabled = enable;
	else
		for (size_t i = 0; i < f->topo.nregions; i++)
			if (f->topo.regions[i].id == region)
				f->topo.regions[i].enabled = enable;
	return 0;
}

void nd_fake_backend(struct nd_fake *f, struct nd_backend *be)
{
	be->ctx = f;
	be->snapshot = fake_snapshot;
	be->reconfigure = fake_reconfigure;
	be->create = fake_create;
	be->destroy = fake_destroy;
	be->set_enabled = fake_set_enabled;
}
