// SPDX-License-Identifier: MIT
/*
 * topology.json: the snapshot as JSON, with the field names `ndctl list -RNDv`
 * uses where they overlap ({"dimms": [...], "regions": [{..., "namespaces":
 * [...]}]}). Built with json-c, the library ndctl itself uses.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>

#include "ctl_int.h"

static void add_str(struct json_object *o, const char *k, const char *v)
{
	if (v && v[0])
		json_object_object_add(o, k, json_object_new_string(v));
}

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static void add_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static struct json_object *ns_json(const struct nd_ns *ns)
{
	struct json_object *o = json_object_new_object();

	add_str(o, "dev", ns->dev);
	add_str(o, "mode", nd_mode_name(ns->mode));
	add_str(o, "map", ns->map);
	add_u64(o, "size", ns->size);
	add_str(o, "uuid", ns->uuid);
	if (ns->sector_size)
		add_int(o, "sector_size", ns->sector_size);
	if (ns->align)
		add_u64(o, "align", ns->align);
	add_str(o, "blockdev", ns->blockdev);
	add_str(o, "chardev", ns->chardev);
	add_str(o, "name", ns->name);
	if (ns->numa_node >= 0)
		add_int(o, "numa_node", ns->numa_node);
	if (!ns->enabled)
		add_str(o, "state", "disabled");
	return o;
}

static struct json_object *region_json(const struct nd_region *r)
{
	struct json_object *o = json_object_new_object(), *maps, *nss;

	add_str(o, "dev", r->dev);
	add_u64(o, "size", r->size);
	add_u64(o, "align", r->align);
	add_u64(o, "available_size", r->available_size);
	add_u64(o, "max_available_extent", r->max_available_extent);
	add_str(o, "type", r->type);
	if (r->numa_node >= 0)
		add_int(o, "numa_node", r->numa_node);
	if (r->target_node >= 0)
		add_int(o, "target_node", r->target_node);
	if (r->has_iset_id)
		add_u64(o, "iset_id", r->iset_id);
	maps = json_object_new_array();
	for (unsigned i = 0; i < r->nmappings; i++) {
		struct json_object *m = json_object_new_object();

		add_str(m, "dimm", r->mappings[i].dimm);
		add_u64(m, "offset", r->mappings[i].offset);
		add_u64(m, "length", r->mappings[i].length);
		add_int(m, "position", r->mappings[i].position);
		json_object_array_add(maps, m);
	}
	json_object_object_add(o, "mappings", maps);
	add_str(o, "persistence_domain", r->persistence_domain);
	if (!r->enabled)
		add_str(o, "state", "disabled");
	nss = json_object_new_array();
	for (size_t i = 0; i < r->nns; i++)
		json_object_array_add(nss, ns_json(&r->ns[i]));
	json_object_object_add(o, "namespaces", nss);
	return o;
}

static struct json_object *dimm_json(const struct nd_dimm *d)
{
	struct json_object *o = json_object_new_object();
	char hex[16];

	add_str(o, "dev", d->dev);
	add_str(o, "id", d->id);
	snprintf(hex, sizeof(hex), "%#x", d->handle);
	add_str(o, "handle", hex);
	if (d->phys_id >= 0) {
		snprintf(hex, sizeof(hex), "%#x", (unsigned)d->phys_id);
		add_str(o, "phys_id", hex);
	}
	add_str(o, "state", d->state);
	if (d->flag_failed_arm)
		json_object_object_add(o, "flag_failed_arm", json_object_new_boolean(1));
	if (d->flag_failed_save)
		json_object_object_add(o, "flag_failed_save", json_object_new_boolean(1));
	if (d->flag_failed_flush)
		json_object_object_add(o, "flag_failed_flush", json_object_new_boolean(1));
	if (d->flag_failed_restore)
		json_object_object_add(o, "flag_failed_restore", json_object_new_boolean(1));
	if (d->flag_failed_map)
		json_object_object_add(o, "flag_failed_map", json_object_new_boolean(1));
	if (d->flag_smart_event)
		json_object_object_add(o, "flag_smart_event", json_object_new_boolean(1));
	if (d->has_health) {
		struct json_object *h = json_object_new_object();

		add_str(h, "health_state", d->health_state);
		json_object_object_add(h, "temperature_celsius",
				       json_object_new_double(d->temperature_c10 / 10.0));
		if (d->spares_percent >= 0)
			add_int(h, "spares_percentage", d->spares_percent);
		json_object_object_add(o, "health", h);
	}
	return o;
}

int ctl_topology_json(const struct nd_topo *t, FILE *f)
{
	struct json_object *root = json_object_new_object(), *a;

	if (!root)
		return -ENOMEM;
	a = json_object_new_array();
	for (size_t i = 0; i < t->ndimms; i++)
		json_object_array_add(a, dimm_json(&t->dimms[i]));
	json_object_object_add(root, "dimms", a);
	a = json_object_new_array();
	for (size_t i = 0; i < t->nregions; i++)
		json_object_array_add(a, region_json(&t->regions[i]));
	json_object_object_add(root, "regions", a);
	fprintf(f, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return 0;
}
