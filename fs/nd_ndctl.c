// SPDX-License-Identifier: MIT
/*
 * The real NVDIMM backend: struct nd_backend over libndctl and libdaxctl.
 *
 * Theory of operation. Every call opens a fresh libndctl context and drops it
 * before returning: one libndctl instance assumes it is the only agent changing
 * the kernel's state (pmem/ndctl#96, intel/pmem-csi#488), so no context outlives
 * a call and the caller (fs/ctl.c) serializes calls. libndctl and libdaxctl log
 * at error priority only, into the call's own buffer, and a failure's sentence
 * in err carries that last library message along with the device and the step.
 *
 * Provisioning replays `ndctl create-namespace` / `destroy-namespace` step for
 * step (ndctl/namespace.c):
 *   validate  - region enabled and writable, size and alignment as ndctl checks
 *               them, the pfn/dax/btt seed the mode needs;
 *   prepare   - disable the namespace safely (an O_EXCL open proves nobody holds
 *               it), enforce raw, zero the 8 KiB info block;
 *   set up    - labelled: new uuid, name, size; then configure and enable the
 *               region's pfn (fsdax), dax (devdax) or btt (sector) seed, or enable
 *               the bare namespace (raw).
 * A failed set-up releases the seed and leaves the namespace raw and disabled;
 * a failed create deletes the half-made namespace, as ndctl's autorecover does.
 * Errors follow ndctl: -EBUSY in use, -ENXIO read-only or disabled region,
 * -EINVAL bad option or alignment, -ENOSPC no capacity, -ENODEV no such device,
 * -EOPNOTSUPP not possible on this region or kernel.
 */
#include <daxctl/libdaxctl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/ndctl.h>
#include <ndctl/libndctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "nd.h"

#define ND_INFO_BLOCK_SIZE 8192
#define ND_MIN_SIZE (16ULL << 20)      /* the kernel's minimum for non-raw modes */
#define ND_DAX_RESOURCE_ALIGN (16ULL << 20)
#define ND_DEFAULT_PFN_ALIGN (2UL << 20)

/* One backend call: its libndctl context and where its messages go. */
struct nd_call {
	struct ndctl_ctx *ctx;
	char *err;                     /* the caller's ND_ERR_LEN buffer */
	char lib[ND_ERR_LEN];          /* last error libndctl/libdaxctl logged */
};

/* What a create or reconfigure will write, after validation. */
struct nd_setup {
	enum ndctl_namespace_mode mode;
	unsigned long long size;
	unsigned long align;
	unsigned int sector_size;      /* UINT_MAX: leave the kernel's default */
	enum ndctl_pfn_loc loc;
	uuid_t uuid;
	char name[ND_NAME_LEN];
	bool check_dax_align;          /* create without --force checks the resource */
};

/* ---- messages ---- */

static void nd_keep_lib_msg(struct nd_call *c, const char *fmt, va_list args)
	__attribute__((format(printf, 2, 0)));

static void nd_keep_lib_msg(struct nd_call *c, const char *fmt, va_list args)
{
	size_t n;

	vsnprintf(c->lib, sizeof(c->lib), fmt, args);
	n = strlen(c->lib);
	while (n && (c->lib[n - 1] == '\n' || c->lib[n - 1] == ' '))
		c->lib[--n] = '\0';
}

static void nd_log(struct ndctl_ctx *ctx, int priority, const char *file, int line,
		   const char *fn, const char *fmt, va_list args)
	__attribute__((format(printf, 6, 0)));

static void nd_log(struct ndctl_ctx *ctx, int priority, const char *file, int line,
		   const char *fn, const char *fmt, va_list args)
{
	struct nd_call *c = ndctl_get_userdata(ctx);

	(void)file, (void)line, (void)fn;
	if (c && priority <= LOG_ERR)
		nd_keep_lib_msg(c, fmt, args);
}

static void dax_log(struct daxctl_ctx *ctx, int priority, const char *file, int line,
		    const char *fn, const char *fmt, va_list args)
	__attribute__((format(printf, 6, 0)));

static void dax_log(struct daxctl_ctx *ctx, int priority, const char *file, int line,
		    const char *fn, const char *fmt, va_list args)
{
	struct nd_call *c = daxctl_get_userdata(ctx);

	(void)file, (void)line, (void)fn;
	if (c && priority <= LOG_ERR)
		nd_keep_lib_msg(c, fmt, args);
}

/* Forget what the library said about a step whose failure we tolerate. */
static void nd_forget(struct nd_call *c)
{
	c->lib[0] = '\0';
}

static int nd_fail(struct nd_call *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes the sentence (plus libndctl's own last word, if any) into err. */
static int nd_fail(struct nd_call *c, int rc, const char *fmt, ...)
{
	va_list args;
	size_t n;

	va_start(args, fmt);
	vsnprintf(c->err, ND_ERR_LEN, fmt, args);
	va_end(args);
	n = strlen(c->err);
	if (c->lib[0] && !strstr(c->err, c->lib) && n + 1 < ND_ERR_LEN) {
		int w = snprintf(c->err + n, ND_ERR_LEN - n, " (libndctl: %s)", c->lib);

		if (w < 0)   /* keep the sentence alone rather than half a suffix */
			c->err[n] = '\0';
	}
	return rc;
}

/* "DEV: cannot STEP: strerror" for a library call that returned rc < 0. */
static int nd_fail_step(struct nd_call *c, int rc, const char *dev, const char *step)
{
	if (rc >= 0)
		rc = -ENXIO;
	return nd_fail(c, rc, "%s: cannot %s: %s", dev, step, strerror(-rc));
}

/* ---- context ---- */

static int nd_call_open(struct nd_call *c, char *err)
{
	struct daxctl_ctx *dctx;
	int rc;

	memset(c, 0, sizeof(*c));
	c->err = err;
	err[0] = '\0';
	rc = ndctl_new(&c->ctx);
	if (rc < 0 || !c->ctx) {
		c->ctx = NULL;
		return nd_fail(c, rc < 0 ? rc : -ENOMEM,
			       "libndctl: cannot create a context: %s", strerror(rc < 0 ? -rc : ENOMEM));
	}
	ndctl_set_userdata(c->ctx, c);
	ndctl_set_log_fn(c->ctx, nd_log);
	ndctl_set_log_priority(c->ctx, LOG_ERR);
	dctx = ndctl_get_daxctl_ctx(c->ctx);
	if (dctx) {
		daxctl_set_userdata(dctx, c);
		daxctl_set_log_fn(dctx, dax_log);
		daxctl_set_log_priority(dctx, LOG_ERR);
	}
	return 0;
}

static void nd_call_close(struct nd_call *c)
{
	if (c->ctx)
		ndctl_unref(c->ctx);
	c->ctx = NULL;
}

/* ---- small conversions ---- */

static void nd_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static void nd_uuid_str(const uuid_t uu, char out[40])
{
	if (uuid_is_null(uu))
		out[0] = '\0';
	else
		uuid_unparse(uu, out);
}

static enum nd_mode nd_mode_from_ndctl(enum ndctl_namespace_mode m)
{
	switch (m) {
	case NDCTL_NS_MODE_FSDAX:
		return ND_MODE_FSDAX;
	case NDCTL_NS_MODE_SECTOR:
		return ND_MODE_SECTOR;
	case NDCTL_NS_MODE_RAW:
		return ND_MODE_RAW;
	case NDCTL_NS_MODE_DEVDAX:
		return ND_MODE_DEVDAX;
	default:
		return ND_MODE_UNKNOWN;
	}
}

static enum ndctl_namespace_mode nd_mode_to_ndctl(enum nd_mode m)
{
	switch (m) {
	case ND_MODE_FSDAX:
		return NDCTL_NS_MODE_FSDAX;
	case ND_MODE_SECTOR:
		return NDCTL_NS_MODE_SECTOR;
	case ND_MODE_RAW:
		return NDCTL_NS_MODE_RAW;
	case ND_MODE_DEVDAX:
		return NDCTL_NS_MODE_DEVDAX;
	default:
		return NDCTL_NS_MODE_UNKNOWN;
	}
}

static const char *nd_ndctl_mode_name(enum ndctl_namespace_mode m)
{
	return nd_mode_name(nd_mode_from_ndctl(m));
}

static const char *nd_pd_name(enum ndctl_persistence_domain pd)
{
	switch (pd) {
	case PERSISTENCE_CPU_CACHE:
		return "cpu_cache";
	case PERSISTENCE_MEM_CTRL:
		return "memory_controller";
	case PERSISTENCE_NONE:
		return "none";
	default:
		return "unknown";
	}
}

static bool nd_region_is_labelled(struct ndctl_region *region)
{
	/* What ndctl tests before "Legacy / label-less namespaces do not
	 * support sub-dividing a region". */
	return ndctl_region_get_nstype(region) != ND_DEVICE_NAMESPACE_IO;
}

static bool nd_ns_is_labelled(struct ndctl_namespace *ndns)
{
	return ndctl_namespace_get_type(ndns) != ND_DEVICE_NAMESPACE_IO;
}

/* A namespace worth showing: active, or configured (idle seeds have size 0). */
static bool nd_ns_is_listed(struct ndctl_namespace *ndns)
{
	return ndctl_namespace_is_active(ndns) || ndctl_namespace_is_configured(ndns) == 1;
}

/* ---- lookup ---- */

static int nd_find_region(struct nd_call *c, unsigned id, struct ndctl_region **out)
{
	struct ndctl_region *region = NULL;
	struct ndctl_bus *bus;

	ndctl_bus_foreach(c->ctx, bus) {
		ndctl_region_foreach(bus, region) {
			if (ndctl_region_get_id(region) == id) {
				*out = region;
				return 0;
			}
		}
	}
	return nd_fail(c, -ENODEV, "region%u: no such region", id);
}

static int nd_find_ns(struct nd_call *c, struct ndctl_region *region, const char *nsdev,
		      struct ndctl_namespace **out)
{
	struct ndctl_namespace *ndns;

	if (!nsdev || !nsdev[0])
		return nd_fail(c, -EINVAL, "%s: no namespace named",
			       ndctl_region_get_devname(region));
	ndctl_namespace_foreach(region, ndns) {
		if (strcmp(ndctl_namespace_get_devname(ndns), nsdev) == 0) {
			*out = ndns;
			return 0;
		}
	}
	return nd_fail(c, -ENODEV, "%s: no such namespace in %s", nsdev,
		       ndctl_region_get_devname(region));
}

/* The device-dax instance of a devdax namespace (daxR.N), or NULL. */
static struct daxctl_dev *nd_daxctl_dev(struct ndctl_dax *dax)
{
	struct daxctl_region *dregion;
	struct daxctl_dev *dev, *first = NULL;

	if (!dax)
		return NULL;
	dregion = ndctl_dax_get_daxctl_region(dax);
	if (!dregion)
		return NULL;
	daxctl_dev_foreach(dregion, dev) {
		const char *name = daxctl_dev_get_devname(dev);

		if (!name || !name[0])
			continue;
		if (daxctl_dev_is_enabled(dev))
			return dev;
		if (!first)
			first = dev;
	}
	return first;
}

static bool nd_dax_is_system_ram(struct ndctl_dax *dax)
{
	struct daxctl_dev *dev = nd_daxctl_dev(dax);
	struct daxctl_memory *mem;

	if (!dev || !daxctl_dev_is_enabled(dev))
		return false;
	mem = daxctl_dev_get_memory(dev);
	return mem && daxctl_memory_is_online(mem) > 0;
}

/* ---- snapshot ---- */

static void snap_ns_personality(struct ndctl_namespace *ndns, struct nd_ns *o)
{
	struct ndctl_btt *btt = ndctl_namespace_get_btt(ndns);
	struct ndctl_pfn *pfn = ndctl_namespace_get_pfn(ndns);
	struct ndctl_dax *dax = ndctl_namespace_get_dax(ndns);
	enum ndctl_pfn_loc loc = NDCTL_PFN_LOC_NONE;
	unsigned long long size = o->raw_size;
	struct daxctl_dev *ddev;
	unsigned int ssz;
	uuid_t uu;

	memset(uu, 0, sizeof(uu));
	if (btt) {
		size = ndctl_btt_get_size(btt);
		ndctl_btt_get_uuid(btt, uu);
		nd_copy(o->blockdev, sizeof(o->blockdev), ndctl_btt_get_block_device(btt));
		o->sector_size = ndctl_btt_get_sector_size(btt);
	} else if (pfn) {
		size = ndctl_pfn_get_size(pfn);
		ndctl_pfn_get_uuid(pfn, uu);
		nd_copy(o->blockdev, sizeof(o->blockdev), ndctl_pfn_get_block_device(pfn));
		o->align = ndctl_pfn_get_align(pfn);
		loc = ndctl_pfn_get_location(pfn);
	} else if (dax) {
		size = ndctl_dax_get_size(dax);
		ndctl_dax_get_uuid(dax, uu);
		o->align = ndctl_dax_get_align(dax);
		loc = ndctl_dax_get_location(dax);
		ddev = nd_daxctl_dev(dax);
		if (ddev)
			nd_copy(o->chardev, sizeof(o->chardev), daxctl_dev_get_devname(ddev));
		o->dax_system_ram = nd_dax_is_system_ram(dax);
	} else {
		if (o->labelled)
			ndctl_namespace_get_uuid(ndns, uu);
		nd_copy(o->blockdev, sizeof(o->blockdev), ndctl_namespace_get_block_device(ndns));
		if (o->mode == ND_MODE_FSDAX)
			loc = NDCTL_PFN_LOC_RAM;   /* static (e820 / legacy) memory mode */
	}
	if (!dax && !btt) {
		ssz = ndctl_namespace_get_sector_size(ndns);
		o->sector_size = (ssz == 0 || ssz == UINT_MAX) ? 512 : ssz;
	}
	if (o->sector_size == UINT_MAX)
		o->sector_size = 0;
	if (o->align == ULONG_MAX)
		o->align = 0;
	o->size = (size == ULLONG_MAX) ? o->raw_size : size;
	nd_uuid_str(uu, o->uuid);
	if (o->mode == ND_MODE_FSDAX || o->mode == ND_MODE_DEVDAX)
		nd_copy(o->map, sizeof(o->map), loc == NDCTL_PFN_LOC_RAM ? "mem" :
			loc == NDCTL_PFN_LOC_PMEM ? "dev" : "");
}

static void snap_ns(struct ndctl_namespace *ndns, struct nd_ns *o)
{
	memset(o, 0, sizeof(*o));
	nd_copy(o->dev, sizeof(o->dev), ndctl_namespace_get_devname(ndns));
	o->id = ndctl_namespace_get_id(ndns);
	o->mode = nd_mode_from_ndctl(ndctl_namespace_get_mode(ndns));
	o->raw_size = ndctl_namespace_get_size(ndns);
	nd_copy(o->name, sizeof(o->name), ndctl_namespace_get_alt_name(ndns));
	o->numa_node = ndctl_namespace_get_numa_node(ndns);
	o->enabled = ndctl_namespace_is_active(ndns);
	o->labelled = nd_ns_is_labelled(ndns);
	snap_ns_personality(ndns, o);
}

static int ns_cmp(const void *a, const void *b)
{
	const struct nd_ns *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int snap_region_ns(struct ndctl_region *region, struct nd_region *o)
{
	struct ndctl_namespace *ndns;
	size_t n = 0;

	ndctl_namespace_foreach(region, ndns)
		if (nd_ns_is_listed(ndns))
			n++;
	if (!n)
		return 0;
	o->ns = calloc(n, sizeof(*o->ns));
	if (!o->ns)
		return -ENOMEM;
	ndctl_namespace_foreach(region, ndns) {
		if (o->nns == n)
			break;
		if (nd_ns_is_listed(ndns))
			snap_ns(ndns, &o->ns[o->nns++]);
	}
	qsort(o->ns, o->nns, sizeof(*o->ns), ns_cmp);
	return 0;
}

static void snap_region_mappings(struct ndctl_region *region, struct nd_region *o)
{
	struct ndctl_mapping *m;

	ndctl_mapping_foreach(region, m) {
		struct nd_mapping *om;

		if (o->nmappings == ND_MAX_MAPPINGS)
			break;
		om = &o->mappings[o->nmappings++];
		nd_copy(om->dimm, sizeof(om->dimm),
			ndctl_dimm_get_devname(ndctl_mapping_get_dimm(m)));
		om->offset = ndctl_mapping_get_offset(m);
		om->length = ndctl_mapping_get_length(m);
		om->position = ndctl_mapping_get_position(m);
	}
}

static int snap_region(struct ndctl_bus *bus, struct ndctl_region *region, struct nd_region *o)
{
	struct ndctl_interleave_set *iset;
	unsigned long long extent;
	unsigned long align;

	memset(o, 0, sizeof(*o));
	nd_copy(o->dev, sizeof(o->dev), ndctl_region_get_devname(region));
	o->id = ndctl_region_get_id(region);
	nd_copy(o->bus, sizeof(o->bus), ndctl_bus_get_devname(bus));
	nd_copy(o->provider, sizeof(o->provider), ndctl_bus_get_provider(bus));
	o->size = ndctl_region_get_size(region);
	o->available_size = ndctl_region_get_available_size(region);
	extent = ndctl_region_get_max_available_extent(region);
	o->max_available_extent = extent == ULLONG_MAX ? o->available_size : extent;
	align = ndctl_region_get_align(region);
	o->align = align == ULONG_MAX ? 0 : align;
	nd_copy(o->type, sizeof(o->type),
		ndctl_region_get_type(region) == ND_DEVICE_REGION_PMEM ? "pmem" : "blk");
	o->numa_node = ndctl_region_get_numa_node(region);
	o->target_node = ndctl_region_get_target_node(region);
	nd_copy(o->persistence_domain, sizeof(o->persistence_domain),
		nd_pd_name(ndctl_region_get_persistence_domain(region)));
	o->interleave_ways = ndctl_region_get_interleave_ways(region);
	snap_region_mappings(region, o);
	o->read_only = ndctl_region_get_ro(region) > 0;
	o->enabled = ndctl_region_is_enabled(region) > 0;
	iset = ndctl_region_get_interleave_set(region);
	if (iset && ndctl_interleave_set_get_cookie(iset)) {
		o->has_iset_id = true;
		o->iset_id = ndctl_interleave_set_get_cookie(iset);
	}
	o->labelled = nd_region_is_labelled(region);
	return snap_region_ns(region, o);
}

static const char *nd_health_name(unsigned int health)
{
	if (health & ND_SMART_FATAL_HEALTH)
		return "fatal";
	if (health & ND_SMART_CRITICAL_HEALTH)
		return "critical";
	if (health & ND_SMART_NON_CRITICAL_HEALTH)
		return "non-critical";
	return "ok";
}

/* SMART health, when the platform implements it (QEMU does not). */
static void snap_dimm_health(struct ndctl_dimm *dimm, struct nd_dimm *o)
{
	struct ndctl_cmd *cmd;
	unsigned int flags;

	if (!ndctl_dimm_is_cmd_supported(dimm, ND_CMD_SMART))
		return;
	cmd = ndctl_dimm_cmd_new_smart(dimm);
	if (!cmd)
		return;
	if (ndctl_cmd_submit_xlat(cmd) < 0)
		goto out;
	flags = ndctl_cmd_smart_get_flags(cmd);
	if (!(flags & ND_SMART_HEALTH_VALID))
		goto out;
	o->has_health = true;
	nd_copy(o->health_state, sizeof(o->health_state),
		nd_health_name(ndctl_cmd_smart_get_health(cmd)));
	if (flags & ND_SMART_MTEMP_VALID)
		o->temperature_c10 = (int)(ndctl_decode_smart_temperature(
			ndctl_cmd_smart_get_media_temperature(cmd)) * 10.0);
	if (flags & ND_SMART_SPARES_VALID)
		o->spares_percent = (int)ndctl_cmd_smart_get_spares(cmd);
out:
	ndctl_cmd_unref(cmd);
}

static void snap_dimm(struct ndctl_dimm *dimm, struct nd_dimm *o)
{
	unsigned short phys = ndctl_dimm_get_phys_id(dimm);

	memset(o, 0, sizeof(*o));
	nd_copy(o->dev, sizeof(o->dev), ndctl_dimm_get_devname(dimm));
	nd_copy(o->id, sizeof(o->id), ndctl_dimm_get_unique_id(dimm));
	o->handle = ndctl_dimm_get_handle(dimm);
	o->phys_id = phys == USHRT_MAX ? -1 : phys;
	nd_copy(o->state, sizeof(o->state), ndctl_dimm_is_enabled(dimm) ? "enabled" : "disabled");
	o->flag_failed_arm = ndctl_dimm_failed_arm(dimm) > 0;
	o->flag_failed_save = ndctl_dimm_failed_save(dimm) > 0;
	o->flag_failed_flush = ndctl_dimm_failed_flush(dimm) > 0;
	o->flag_failed_restore = ndctl_dimm_failed_restore(dimm) > 0;
	o->flag_failed_map = ndctl_dimm_failed_map(dimm) > 0;
	o->flag_smart_event = ndctl_dimm_smart_pending(dimm) > 0;
	o->spares_percent = -1;
	snap_dimm_health(dimm, o);
}

static int region_cmp(const void *a, const void *b)
{
	const struct nd_region *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int dimm_cmp(const void *a, const void *b)
{
	const struct nd_dimm *x = a, *y = b;
	size_t lx = strlen(x->dev), ly = strlen(y->dev);

	/* nmem2 before nmem10 */
	return lx != ly ? (lx > ly) - (lx < ly) : strcmp(x->dev, y->dev);
}

static void snap_count(struct nd_call *c, size_t *nregions, size_t *ndimms)
{
	struct ndctl_region *region = NULL;
	struct ndctl_dimm *dimm;
	struct ndctl_bus *bus;

	*nregions = *ndimms = 0;
	ndctl_bus_foreach(c->ctx, bus) {
		ndctl_region_foreach(bus, region)
			(*nregions)++;
		ndctl_dimm_foreach(bus, dimm)
			(*ndimms)++;
	}
}

static int snap_fill(struct nd_call *c, struct nd_topo *t, size_t nregions, size_t ndimms)
{
	struct ndctl_region *region = NULL;
	struct ndctl_dimm *dimm;
	struct ndctl_bus *bus;
	int rc;

	ndctl_bus_foreach(c->ctx, bus) {
		ndctl_region_foreach(bus, region) {
			if (t->nregions == nregions)
				break;
			rc = snap_region(bus, region, &t->regions[t->nregions++]);
			if (rc < 0)
				return rc;
		}
		ndctl_dimm_foreach(bus, dimm) {
			if (t->ndimms == ndimms)
				break;
			snap_dimm(dimm, &t->dimms[t->ndimms++]);
		}
	}
	/* no bus: nothing was allocated, and qsort may not see NULL */
	if (t->nregions)
		qsort(t->regions, t->nregions, sizeof(*t->regions), region_cmp);
	if (t->ndimms)
		qsort(t->dimms, t->ndimms, sizeof(*t->dimms), dimm_cmp);
	return 0;
}

static int nd_snapshot(void *ctx, struct nd_topo *out, char *err)
{
	size_t nregions, ndimms;
	struct nd_topo t = { 0 };
	struct nd_call c;
	int rc;

	(void)ctx;
	memset(out, 0, sizeof(*out));
	rc = nd_call_open(&c, err);
	if (rc < 0)
		return rc;
	snap_count(&c, &nregions, &ndimms);
	rc = -ENOMEM;
	if (nregions && !(t.regions = calloc(nregions, sizeof(*t.regions))))
		goto out_nomem;
	if (ndimms && !(t.dimms = calloc(ndimms, sizeof(*t.dimms))))
		goto out_nomem;
	rc = snap_fill(&c, &t, nregions, ndimms);
	if (rc < 0)
		goto out_nomem;
	*out = t;
	nd_call_close(&c);
	return 0;

out_nomem:
	nd_topo_free(&t);
	nd_fail(&c, rc, "nvdimm topology: cannot take a snapshot: %s", strerror(-rc));
	nd_call_close(&c);
	return rc;
}

/* ---- validation (ndctl validate_namespace_options) ---- */

static unsigned long nd_page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (unsigned long)ps : 4096;
}

static int v_region_usable(struct nd_call *c, struct ndctl_region *region)
{
	const char *rname = ndctl_region_get_devname(region);

	if (ndctl_region_is_enabled(region) <= 0)
		return nd_fail(c, -ENXIO, "%s: region is disabled; enable it first", rname);
	if (ndctl_region_get_ro(region) > 0)
		return nd_fail(c, -ENXIO, "%s: region is read-only; re-configuration disabled",
			       rname);
	return 0;
}

/* Create: the size must fit the largest free extent (ndctl's capacity check). */
static int v_capacity(struct nd_call *c, struct ndctl_region *region, unsigned long long size)
{
	unsigned long long avail = ndctl_region_get_max_available_extent(region);

	if (avail == ULLONG_MAX)
		avail = ndctl_region_get_available_size(region);
	if (!size)
		return nd_fail(c, -EINVAL, "%s: a size is required to create a namespace",
			       ndctl_region_get_devname(region));
	if (size > avail)
		return nd_fail(c, -ENOSPC,
			       "%s: not enough space: %llu bytes requested, largest free extent is %llu",
			       ndctl_region_get_devname(region), size, avail);
	return 0;
}

/* Reconfigure growing a namespace: fail before anything is torn down. */
static int v_growth(struct nd_call *c, struct ndctl_region *region,
		    struct ndctl_namespace *ndns, unsigned long long size)
{
	unsigned long long old = ndctl_namespace_get_size(ndns);
	unsigned long long avail = ndctl_region_get_available_size(region);

	if (size <= old || size - old <= avail)
		return 0;
	return nd_fail(c, -ENOSPC, "%s: not enough space to grow to %llu bytes: %llu more needed, "
		       "%llu available in %s", ndctl_namespace_get_devname(ndns), size, size - old,
		       avail, ndctl_region_get_devname(region));
}

static int v_mode(struct nd_call *c, struct ndctl_region *region, struct ndctl_namespace *ndns,
		  const struct nd_ns_params *p, struct nd_setup *s)
{
	const char *rname = ndctl_region_get_devname(region);

	if (p->mode != ND_MODE_UNKNOWN)
		s->mode = nd_mode_to_ndctl(p->mode);
	else if (ndns)
		s->mode = ndctl_namespace_get_mode(ndns);
	else
		s->mode = NDCTL_NS_MODE_FSDAX;   /* ndctl's default for pmem */
	if (s->mode == NDCTL_NS_MODE_UNKNOWN)
		s->mode = NDCTL_NS_MODE_RAW;
	if (ndctl_region_get_type(region) != ND_DEVICE_REGION_PMEM &&
	    (s->mode == NDCTL_NS_MODE_FSDAX || s->mode == NDCTL_NS_MODE_DEVDAX))
		return nd_fail(c, -EOPNOTSUPP, "%s: blk region does not support %s mode",
			       rname, nd_ndctl_mode_name(s->mode));
	if (s->mode == NDCTL_NS_MODE_FSDAX && !ndctl_region_get_pfn_seed(region))
		return nd_fail(c, -EOPNOTSUPP, "%s: kernel does not support fsdax mode here "
			       "(no pfn seed; is nd_pmem loaded?)", rname);
	if (s->mode == NDCTL_NS_MODE_DEVDAX && !ndctl_region_get_dax_seed(region))
		return nd_fail(c, -EOPNOTSUPP, "%s: kernel does not support devdax mode here "
			       "(no dax seed; are dax_pmem and device_dax loaded?)", rname);
	if (s->mode == NDCTL_NS_MODE_SECTOR && !ndctl_region_get_btt_seed(region))
		return nd_fail(c, -EOPNOTSUPP, "%s: kernel does not support sector mode here "
			       "(no btt seed; is nd_btt loaded?)", rname);
	return 0;
}

static bool v_align_supported(struct ndctl_region *region, const struct nd_setup *s,
			      unsigned long align)
{
	struct ndctl_pfn *pfn = ndctl_region_get_pfn_seed(region);
	struct ndctl_dax *dax = ndctl_region_get_dax_seed(region);
	int i, n;

	n = s->mode == NDCTL_NS_MODE_FSDAX ? ndctl_pfn_get_num_alignments(pfn)
					    : ndctl_dax_get_num_alignments(dax);
	if (n <= 0)   /* kernel without supported_alignments: any page multiple */
		return align >= nd_page_size() && !(align & (align - 1));
	for (i = 0; i < n; i++) {
		unsigned long a = s->mode == NDCTL_NS_MODE_FSDAX
			? ndctl_pfn_get_supported_alignment(pfn, i)
			: ndctl_dax_get_supported_alignment(dax, i);

		if (a == align)
			return true;
	}
	return false;
}

/* The default alignment ndctl picks: same mode keeps the old one, else the seed's. */
static unsigned long v_default_align(struct ndctl_region *region, struct ndctl_namespace *ndns,
				     const struct nd_setup *s)
{
	struct ndctl_pfn *pfn;
	struct ndctl_dax *dax;
	unsigned long long res;
	unsigned long align;

	if (ndns && s->mode == ndctl_namespace_get_mode(ndns)) {
		pfn = ndctl_namespace_get_pfn(ndns);
		dax = ndctl_namespace_get_dax(ndns);
		if (pfn)
			return ndctl_pfn_get_align(pfn);
		if (dax)
			return ndctl_dax_get_align(dax);
		return nd_page_size();
	}
	if (s->mode == NDCTL_NS_MODE_FSDAX) {
		pfn = ndctl_region_get_pfn_seed(region);
		align = pfn && ndctl_pfn_has_align(pfn) ? ndctl_pfn_get_align(pfn)
							: ND_DEFAULT_PFN_ALIGN;
	} else if (s->mode == NDCTL_NS_MODE_DEVDAX) {
		align = ndctl_dax_get_align(ndctl_region_get_dax_seed(region));
	} else {
		align = nd_page_size();
	}
	res = ndctl_region_get_resource(region);
	if (!align || align == ULONG_MAX || (res < ULLONG_MAX && (res & (align - 1))))
		align = nd_page_size();
	return align;
}

static int v_align(struct nd_call *c, struct ndctl_region *region, struct ndctl_namespace *ndns,
		   const struct nd_ns_params *p, struct nd_setup *s)
{
	const char *rname = ndctl_region_get_devname(region);

	if (!p->align) {
		s->align = v_default_align(region, ndns, s);
		return 0;
	}
	if (s->mode != NDCTL_NS_MODE_FSDAX && s->mode != NDCTL_NS_MODE_DEVDAX)
		return nd_fail(c, -EINVAL, "%s: %s mode does not support setting an alignment",
			       rname, nd_ndctl_mode_name(s->mode));
	if (p->align > ULONG_MAX || !v_align_supported(region, s, (unsigned long)p->align))
		return nd_fail(c, -EINVAL, "%s: unsupported align %llu for %s mode", rname,
			       (unsigned long long)p->align, nd_ndctl_mode_name(s->mode));
	s->align = (unsigned long)p->align;
	return 0;
}

static int v_size(struct nd_call *c, struct ndctl_region *region, struct nd_setup *s)
{
	const char *rname = ndctl_region_get_devname(region);
	unsigned long region_align = ndctl_region_get_align(region);
	unsigned int ways = ndctl_region_get_interleave_ways(region);
	unsigned long long unit;

	if (region_align && region_align < ULONG_MAX && s->size % region_align)
		return nd_fail(c, -EINVAL, "%s: align setting is %#lx, size %#llx is misaligned",
			       rname, region_align, s->size);
	unit = (unsigned long long)s->align * (ways ? ways : 1);
	if (unit && s->size % unit)
		return nd_fail(c, -EINVAL, "%s: size must align to interleave-width %u and "
			       "alignment %lu: did you intend size=%llu?", rname, ways ? ways : 1,
			       s->align, (s->size / unit + 1) * unit);
	if (s->size < ND_MIN_SIZE && s->mode != NDCTL_NS_MODE_RAW)
		return nd_fail(c, -EINVAL, "%s: size must be >= 16MiB for %s mode", rname,
			       nd_ndctl_mode_name(s->mode));
	return 0;
}

static bool v_btt_sector_ok(struct ndctl_btt *btt, unsigned int ssz)
{
	int i, n = ndctl_btt_get_num_sector_sizes(btt);

	for (i = 0; i < n; i++)
		if (ndctl_btt_get_supported_sector_size(btt, i) == ssz)
			return true;
	return false;
}

static bool v_ns_sector_ok(struct ndctl_namespace *ndns, unsigned int ssz)
{
	int i, n = ndctl_namespace_get_num_sector_sizes(ndns);

	for (i = 0; i < n; i++)
		if (ndctl_namespace_get_supported_sector_size(ndns, i) == ssz)
			return true;
	return false;
}

/* An explicit sector size, or sector mode's 4096 default, must be supported. */
static int v_sector_explicit(struct nd_call *c, struct ndctl_region *region,
			     struct ndctl_namespace *ndns, struct nd_setup *s, unsigned int ssz)
{
	const char *rname = ndctl_region_get_devname(region);
	struct ndctl_namespace *seed = ndns;

	s->sector_size = ssz;
	if (s->mode == NDCTL_NS_MODE_SECTOR) {
		if (!v_btt_sector_ok(ndctl_region_get_btt_seed(region), ssz))
			return nd_fail(c, -EINVAL, "%s: does not support btt sector_size %u",
				       rname, ssz);
		return 0;
	}
	if (!seed)
		seed = ndctl_region_get_namespace_seed(region);
	if (!seed)
		return nd_fail(c, -ENXIO, "%s: no namespace seed", rname);
	if (!v_ns_sector_ok(seed, ssz))
		return nd_fail(c, -EINVAL, "%s: does not support namespace sector_size %u",
			       rname, ssz);
	return 0;
}

static int v_sector(struct nd_call *c, struct ndctl_region *region, struct ndctl_namespace *ndns,
		    const struct nd_ns_params *p, struct nd_setup *s)
{
	struct ndctl_namespace *seed;
	struct ndctl_btt *btt;

	if (p->sector_size)
		return v_sector_explicit(c, region, ndns, s, p->sector_size);
	if (p->mode == ND_MODE_SECTOR)   /* ndctl: -m sector defaults to 4096 */
		return v_sector_explicit(c, region, ndns, s, 4096);
	if (ndns) {
		btt = ndctl_namespace_get_btt(ndns);
		s->sector_size = btt && s->mode == NDCTL_NS_MODE_SECTOR
			? ndctl_btt_get_sector_size(btt) : ndctl_namespace_get_sector_size(ndns);
		return 0;
	}
	seed = ndctl_region_get_namespace_seed(region);
	if (!seed)
		return nd_fail(c, -ENXIO, "%s: no namespace seed",
			       ndctl_region_get_devname(region));
	s->sector_size = ndctl_namespace_get_num_sector_sizes(seed) == 0 ? UINT_MAX : 512;
	return 0;
}

static int v_name(struct nd_call *c, struct ndctl_namespace *ndns, const struct nd_ns_params *p,
		  struct nd_setup *s)
{
	const char *name = "";

	/* ndctl carries the old name over unless a new one is given. */
	if (p->name[0])
		name = p->name;
	else if (ndns)
		name = ndctl_namespace_get_alt_name(ndns);
	if (strnlen(name, ND_NAME_LEN) >= ND_NAME_LEN)
		return nd_fail(c, -EINVAL, "namespace name too long (at most %d bytes)",
			       ND_NAME_LEN - 1);
	nd_copy(s->name, sizeof(s->name), name);
	return 0;
}

/* ndns NULL: create (size required and checked against free capacity). */
static int nd_validate(struct nd_call *c, struct ndctl_region *region,
		       struct ndctl_namespace *ndns, const struct nd_ns_params *p,
		       struct nd_setup *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	rc = v_region_usable(c, region);
	if (rc < 0)
		return rc;
	s->size = p->size ? p->size : ndns ? ndctl_namespace_get_size(ndns) : 0;
	rc = ndns ? v_growth(c, region, ndns, s->size) : v_capacity(c, region, s->size);
	if (rc < 0)
		return rc;
	if (!nd_region_is_labelled(region) && s->size != ndctl_region_get_size(region))
		return nd_fail(c, -EINVAL, "%s: legacy / label-less namespaces do not support "
			       "sub-dividing a region: keep the size at %llu",
			       ndctl_region_get_devname(region), ndctl_region_get_size(region));
	uuid_generate(s->uuid);
	rc = v_name(c, ndns, p, s);
	if (rc == 0)
		rc = v_mode(c, region, ndns, p, s);
	if (rc == 0)
		rc = v_align(c, region, ndns, p, s);
	if (rc == 0)
		rc = v_size(c, region, s);
	if (rc == 0)
		rc = v_sector(c, region, ndns, p, s);
	if (s->mode == NDCTL_NS_MODE_FSDAX || s->mode == NDCTL_NS_MODE_DEVDAX)
		s->loc = NDCTL_PFN_LOC_PMEM;   /* ndctl's default map=dev */
	s->check_dax_align = !ndns;
	return rc;
}

/* ---- prepare (ndctl namespace_prep_reconfig) ---- */

static bool nd_buf_is_zero(const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Read the info block through an exclusive O_DIRECT open; zero it if needed. */
static int zero_info_block_io(struct nd_call *c, const char *dev, const char *bdev)
{
	unsigned char *buf = NULL;
	char path[ND_DEV_LEN + 8];
	ssize_t n;
	int fd, rc;

	snprintf(path, sizeof(path), "/dev/%s", bdev);
	if (posix_memalign((void **)&buf, 4096, ND_INFO_BLOCK_SIZE))
		return nd_fail(c, -ENOMEM, "%s: cannot zero the info block: out of memory", dev);
	fd = open(path, O_RDWR | O_DIRECT | O_EXCL);
	if (fd < 0) {
		rc = -errno;
		nd_fail(c, rc == -EBUSY ? -EBUSY : rc, "%s: cannot open %s to zero the info block: %s",
			dev, path, strerror(-rc));
		goto out_free;
	}
	n = pread(fd, buf, ND_INFO_BLOCK_SIZE, 0);
	rc = 0;
	if (n == ND_INFO_BLOCK_SIZE && nd_buf_is_zero(buf, ND_INFO_BLOCK_SIZE))
		goto out_close;   /* nothing to clear */
	memset(buf, 0, ND_INFO_BLOCK_SIZE);
	n = pwrite(fd, buf, ND_INFO_BLOCK_SIZE, 0);
	if (n != ND_INFO_BLOCK_SIZE) {
		rc = n < 0 ? -errno : -EIO;
		nd_fail(c, rc, "%s: cannot zero the info block on %s: %s", dev, path, strerror(-rc));
	}
out_close:
	close(fd);
out_free:
	free(buf);
	return rc;
}

/*
 * Zero the first 8 KiB so the kernel forgets the old pfn/dax/btt personality:
 * enable the namespace in raw mode, write through /dev/pmemR.N, disable again.
 */
static int zero_info_block(struct nd_call *c, struct ndctl_namespace *ndns)
{
	const char *dev = ndctl_namespace_get_devname(ndns);
	const char *bdev;
	int rc;

	if (ndctl_namespace_get_size(ndns) == 0)
		return 0;
	ndctl_namespace_set_raw_mode(ndns, 1);
	rc = ndctl_namespace_enable(ndns);
	if (rc < 0) {
		/* ndctl continues here too: the new info block overwrites the old. */
		nd_forget(c);
		rc = 0;
		goto out;
	}
	bdev = ndctl_namespace_get_block_device(ndns);
	if (!bdev || !bdev[0]) {
		rc = nd_fail(c, -ENXIO, "%s: no block device to zero the info block", dev);
		goto out;
	}
	rc = zero_info_block_io(c, dev, bdev);
out:
	ndctl_namespace_set_raw_mode(ndns, 0);
	ndctl_namespace_disable_invalidate(ndns);
	if (rc == 0)
		nd_forget(c);
	return rc;
}

/* Take a namespace out of service the way ndctl disable-namespace does. */
static int nd_ns_disable(struct nd_call *c, struct ndctl_namespace *ndns)
{
	const char *dev = ndctl_namespace_get_devname(ndns);
	struct ndctl_dax *dax = ndctl_namespace_get_dax(ndns);
	int rc;

	if (dax && nd_dax_is_system_ram(dax))
		return nd_fail(c, -EBUSY, "%s: cannot disable: its device-dax memory is online "
			       "as system-ram", dev);
	rc = ndctl_namespace_disable_safe(ndns);
	if (rc == -EBUSY)
		return nd_fail(c, -EBUSY, "%s: cannot disable: device is busy (mounted or open)",
			       dev);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "disable");
	if (ndctl_namespace_is_active(ndns))
		return nd_fail(c, -EBUSY, "%s: cannot disable: still active after disabling", dev);
	nd_forget(c);
	return 0;
}

static int nd_prep(struct nd_call *c, struct ndctl_region *region, struct ndctl_namespace *ndns)
{
	int rc;

	if (ndctl_region_get_ro(region) > 0)
		return nd_fail(c, -ENXIO, "%s: read-only region, re-configuration disabled",
			       ndctl_namespace_get_devname(ndns));
	rc = nd_ns_disable(c, ndns);
	if (rc < 0)
		return rc;
	ndctl_namespace_set_enforce_mode(ndns, NDCTL_NS_MODE_RAW);
	nd_forget(c);
	return zero_info_block(c, ndns);
}

/* ---- set up (ndctl setup_namespace) ---- */

static int setup_labels(struct nd_call *c, struct ndctl_namespace *ndns, struct nd_setup *s)
{
	const char *dev = ndctl_namespace_get_devname(ndns);
	int rc;

	if (!nd_ns_is_labelled(ndns))
		return 0;
	/* The kernel wants the uuid before the size. */
	rc = ndctl_namespace_set_uuid(ndns, s->uuid);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "set the uuid");
	rc = ndctl_namespace_set_alt_name(ndns, s->name);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "set the name");
	rc = ndctl_namespace_set_size(ndns, s->size);
	if (rc == -ENOSPC)
		return nd_fail(c, rc, "%s: cannot set the size to %llu: not enough space", dev,
			       s->size);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "set the size");
	return 0;
}

static int setup_sector_size(struct nd_call *c, struct ndctl_namespace *ndns, struct nd_setup *s)
{
	const char *dev = ndctl_namespace_get_devname(ndns);
	int rc;

	if (!s->sector_size || s->sector_size == UINT_MAX)
		return 0;
	if (v_ns_sector_ok(ndns, s->sector_size)) {
		rc = ndctl_namespace_set_sector_size(ndns, s->sector_size);
		return rc < 0 ? nd_fail_step(c, rc, dev, "set the sector size") : 0;
	}
	if (s->mode == NDCTL_NS_MODE_SECTOR || s->sector_size == 512)
		return 0;   /* the btt's sector size wins / the kernel default */
	return nd_fail(c, -EINVAL, "%s: sector_size %u not supported", dev, s->sector_size);
}

/* ndctl's check_dax_align: dax needs a 16 MiB aligned namespace start. */
static int setup_check_dax_align(struct nd_call *c, struct ndctl_namespace *ndns,
				 const struct nd_setup *s)
{
	unsigned long long res = ndctl_namespace_get_resource(ndns);

	if (!s->check_dax_align || res == ULLONG_MAX || !(res % ND_DAX_RESOURCE_ALIGN))
		return 0;
	return nd_fail(c, -EINVAL, "%s: misaligned to 16M, adjust region alignment and retry",
		       ndctl_namespace_get_devname(ndns));
}

static int setup_pfn(struct nd_call *c, struct ndctl_region *region,
		     struct ndctl_namespace *ndns, struct nd_setup *s, const uuid_t uu)
{
	struct ndctl_pfn *pfn = ndctl_region_get_pfn_seed(region);
	const char *dev;
	int rc;

	if (!pfn)
		return nd_fail(c, -ENXIO, "%s: no pfn seed for fsdax mode",
			       ndctl_region_get_devname(region));
	dev = ndctl_pfn_get_devname(pfn);
	rc = setup_check_dax_align(c, ndns, s);
	if (rc < 0)
		return rc;
	rc = ndctl_pfn_set_uuid(pfn, (unsigned char *)uu);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "set the uuid");
	rc = ndctl_pfn_set_location(pfn, s->loc);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "set the memmap location");
	if (ndctl_pfn_has_align(pfn)) {
		rc = ndctl_pfn_set_align(pfn, s->align);
		if (rc < 0)
			return nd_fail_step(c, rc, dev, "set the alignment");
	}
	rc = ndctl_pfn_set_namespace(pfn, ndns);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "claim the namespace");
	rc = ndctl_pfn_enable(pfn);
	if (rc < 0) {
		nd_fail_step(c, rc, dev, "enable (fsdax)");
		ndctl_pfn_set_namespace(pfn, NULL);
	}
	return rc < 0 ? rc : 0;
}

static int setup_dax(struct nd_call *c, struct ndctl_region *region,
		     struct ndctl_namespace *ndns, struct nd_setup *s, const uuid_t uu)
{
	struct ndctl_dax *dax = ndctl_region_get_dax_seed(region);
	const char *dev;
	int rc;

	if (!dax)
		return nd_fail(c, -ENXIO, "%s: no dax seed for devdax mode",
			       ndctl_region_get_devname(region));
	dev = ndctl_dax_get_devname(dax);
	rc = setup_check_dax_align(c, ndns, s);
	if (rc < 0)
		return rc;
	rc = ndctl_dax_set_uuid(dax, (unsigned char *)uu);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "set the uuid");
	rc = ndctl_dax_set_location(dax, s->loc);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "set the memmap location");
	rc = ndctl_dax_set_align(dax, s->align);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "set the alignment");
	rc = ndctl_dax_set_namespace(dax, ndns);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "claim the namespace");
	rc = ndctl_dax_enable(dax);
	if (rc < 0) {
		nd_fail_step(c, rc, dev, "enable (devdax)");
		ndctl_dax_set_namespace(dax, NULL);
	}
	return rc < 0 ? rc : 0;
}

static int setup_btt(struct nd_call *c, struct ndctl_region *region,
		     struct ndctl_namespace *ndns, struct nd_setup *s, const uuid_t uu)
{
	struct ndctl_btt *btt = ndctl_region_get_btt_seed(region);
	unsigned int ssz = s->sector_size == UINT_MAX || !s->sector_size ? 4096 : s->sector_size;
	const char *dev;
	int rc;

	if (!btt)
		return nd_fail(c, -ENXIO, "%s: no btt seed for sector mode",
			       ndctl_region_get_devname(region));
	dev = ndctl_btt_get_devname(btt);
	rc = ndctl_btt_set_uuid(btt, (unsigned char *)uu);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "set the uuid");
	rc = ndctl_btt_set_sector_size(btt, ssz);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "set the sector size");
	rc = ndctl_btt_set_namespace(btt, ndns);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "claim the namespace");
	rc = ndctl_btt_enable(btt);
	if (rc < 0) {
		nd_fail_step(c, rc, dev, "enable (sector)");
		ndctl_btt_set_namespace(btt, NULL);
	}
	return rc < 0 ? rc : 0;
}

static int setup_personality(struct nd_call *c, struct ndctl_region *region,
			     struct ndctl_namespace *ndns, struct nd_setup *s)
{
	const char *dev = ndctl_namespace_get_devname(ndns);
	uuid_t uu;
	int rc;

	uuid_generate(uu);
	/* Opportunistic, unchecked, as in ndctl (older kernels lack it). */
	ndctl_namespace_set_enforce_mode(ndns, s->mode);
	nd_forget(c);
	switch (s->mode) {
	case NDCTL_NS_MODE_FSDAX:
		return setup_pfn(c, region, ndns, s, uu);
	case NDCTL_NS_MODE_DEVDAX:
		return setup_dax(c, region, ndns, s, uu);
	case NDCTL_NS_MODE_SECTOR:
		return setup_btt(c, region, ndns, s, uu);
	default:
		rc = ndctl_namespace_enable(ndns);
		if (rc != 0)
			return nd_fail_step(c, rc < 0 ? rc : -ENXIO, dev, "enable (raw)");
		return 0;
	}
}

static int nd_setup(struct nd_call *c, struct ndctl_region *region, struct ndctl_namespace *ndns,
		    struct nd_setup *s)
{
	int rc;

	rc = setup_labels(c, ndns, s);
	if (rc == 0)
		rc = setup_sector_size(c, ndns, s);
	if (rc == 0)
		rc = setup_personality(c, region, ndns, s);
	return rc;
}

/* ---- backend operations ---- */

static int nd_reconfigure(void *ctx, unsigned region_id, const char *nsdev,
			  const struct nd_ns_params *p, char *err)
{
	struct ndctl_namespace *ndns;
	struct ndctl_region *region = NULL;
	struct nd_setup s;
	struct nd_call c;
	int rc;

	(void)ctx;
	rc = nd_call_open(&c, err);
	if (rc < 0)
		return rc;
	rc = nd_find_region(&c, region_id, &region);
	if (rc == 0)
		rc = nd_find_ns(&c, region, nsdev, &ndns);
	if (rc < 0)
		goto out;
	if (!nd_ns_is_listed(ndns)) {
		rc = nd_fail(&c, -EINVAL, "%s: is an idle seed, not a configured namespace; "
			     "create one instead", nsdev);
		goto out;
	}
	rc = nd_validate(&c, region, ndns, p, &s);
	if (rc == 0)
		rc = nd_prep(&c, region, ndns);
	if (rc == 0) {
		rc = nd_setup(&c, region, ndns, &s);
		if (rc < 0)   /* the seed is released; leave the namespace raw */
			ndctl_namespace_set_enforce_mode(ndns, NDCTL_NS_MODE_RAW);
	}
out:
	nd_call_close(&c);
	return rc;
}

/* ndctl's region_get_namespace: namespaceR.0 if idle, else the region's seed. */
static struct ndctl_namespace *nd_idle_namespace(struct ndctl_region *region)
{
	struct ndctl_namespace *ndns;

	ndctl_namespace_foreach(region, ndns)
		if (ndctl_namespace_get_id(ndns) == 0 &&
		    ndctl_namespace_is_configuration_idle(ndns) > 0)
			return ndns;
	ndns = ndctl_region_get_namespace_seed(region);
	if (ndns && ndctl_namespace_is_configuration_idle(ndns) > 0)
		return ndns;
	return NULL;
}

static int nd_create_in(struct nd_call *c, struct ndctl_region *region,
			const struct nd_ns_params *p, char created[ND_DEV_LEN])
{
	const char *rname = ndctl_region_get_devname(region);
	struct ndctl_namespace *ndns;
	struct nd_setup s;
	int rc;

	if (!nd_region_is_labelled(region))
		return nd_fail(c, -EOPNOTSUPP, "%s: label-less region: its one namespace can "
			       "only change mode, namespaces cannot be created", rname);
	rc = nd_validate(c, region, NULL, p, &s);
	if (rc < 0)
		return rc;
	ndns = nd_idle_namespace(region);
	if (!ndns)
		return nd_fail(c, -ENOSPC, "%s: no idle namespace seed to create a namespace in",
			       rname);
	rc = nd_setup(c, region, ndns, &s);
	if (rc < 0) {
		/* ndctl's autorecover: release the half-made namespace's capacity. */
		ndctl_namespace_set_enforce_mode(ndns, NDCTL_NS_MODE_RAW);
		ndctl_namespace_delete(ndns);
		return rc;
	}
	nd_copy(created, ND_DEV_LEN, ndctl_namespace_get_devname(ndns));
	return 0;
}

static int nd_create(void *ctx, unsigned region_id, const struct nd_ns_params *p,
		     char created[ND_DEV_LEN], char *err)
{
	struct ndctl_region *region = NULL;
	struct nd_call c;
	int rc;

	(void)ctx;
	created[0] = '\0';
	rc = nd_call_open(&c, err);
	if (rc < 0)
		return rc;
	rc = nd_find_region(&c, region_id, &region);
	if (rc == 0)
		rc = nd_create_in(&c, region, p, created);
	nd_call_close(&c);
	return rc;
}

static int nd_destroy(void *ctx, unsigned region_id, const char *nsdev, char *err)
{
	struct ndctl_namespace *ndns;
	struct ndctl_region *region = NULL;
	struct nd_call c;
	int rc;

	(void)ctx;
	rc = nd_call_open(&c, err);
	if (rc < 0)
		return rc;
	rc = nd_find_region(&c, region_id, &region);
	if (rc == 0)
		rc = nd_find_ns(&c, region, nsdev, &ndns);
	if (rc == 0)
		rc = nd_prep(&c, region, ndns);
	/* Label-less: the zeroed info block is all a destroy can do (ndctl doc). */
	if (rc == 0 && nd_ns_is_labelled(ndns)) {
		rc = ndctl_namespace_delete(ndns);
		if (rc < 0)
			nd_fail_step(&c, rc, nsdev, "delete (release its capacity)");
	}
	nd_call_close(&c);
	return rc;
}

static int nd_ns_enable(struct nd_call *c, struct ndctl_region *region,
			struct ndctl_namespace *ndns)
{
	const char *dev = ndctl_namespace_get_devname(ndns);
	int rc;

	if (ndctl_region_is_enabled(region) <= 0)
		return nd_fail(c, -ENXIO, "%s: cannot enable: %s is disabled", dev,
			       ndctl_region_get_devname(region));
	/* > 0: claimed and enabled through its pfn/dax/btt, which is success. */
	rc = ndctl_namespace_enable(ndns);
	if (rc < 0)
		return nd_fail_step(c, rc, dev, "enable");
	return 0;
}

/* Disable every active namespace first: region_disable_invalidate would not ask. */
static int nd_region_disable(struct nd_call *c, struct ndctl_region *region)
{
	const char *rname = ndctl_region_get_devname(region);
	struct ndctl_namespace *ndns;
	int rc;

	if (ndctl_region_is_enabled(region) <= 0)
		return 0;
	ndctl_namespace_foreach(region, ndns) {
		if (!ndctl_namespace_is_active(ndns))
			continue;
		rc = nd_ns_disable(c, ndns);
		if (rc < 0)
			return rc;
	}
	rc = ndctl_region_disable_invalidate(region);
	if (rc < 0)
		return nd_fail_step(c, rc, rname, "disable");
	return 0;
}

static int nd_region_enable(struct nd_call *c, struct ndctl_region *region)
{
	int rc = ndctl_region_enable(region);

	if (rc < 0)
		return nd_fail_step(c, rc, ndctl_region_get_devname(region), "enable");
	return 0;
}

static int nd_set_enabled(void *ctx, unsigned region_id, const char *nsdev, bool enable,
			  char *err)
{
	struct ndctl_namespace *ndns;
	struct ndctl_region *region = NULL;
	struct nd_call c;
	int rc;

	(void)ctx;
	rc = nd_call_open(&c, err);
	if (rc < 0)
		return rc;
	rc = nd_find_region(&c, region_id, &region);
	if (rc < 0)
		goto out;
	if (!nsdev) {
		rc = enable ? nd_region_enable(&c, region) : nd_region_disable(&c, region);
		goto out;
	}
	rc = nd_find_ns(&c, region, nsdev, &ndns);
	if (rc == 0)
		rc = enable ? nd_ns_enable(&c, region, ndns) : nd_ns_disable(&c, ndns);
out:
	nd_call_close(&c);
	return rc;
}

void nd_ndctl_backend(struct nd_backend *out)
{
	memset(out, 0, sizeof(*out));
	out->ctx = NULL;
	out->snapshot = nd_snapshot;
	out->reconfigure = nd_reconfigure;
	out->create = nd_create;
	out->destroy = nd_destroy;
	out->set_enabled = nd_set_enabled;
}
