/* SPDX-License-Identifier: MIT */
/*
 * The NVDIMM topology seam. struct nd_topo is a plain-data snapshot of what
 * libndctl reports (buses, regions, namespaces, DIMMs); struct nd_backend is
 * the only way the rest of pmemfs reads or changes the kernel's state. The
 * real backend (fs/nd_ndctl.c) wraps libndctl and libdaxctl with a fresh
 * context per call; unit tests plug in a double (tests/unit/nd_fake.c).
 *
 * Every call returns 0 or a negative errno and, on failure, a sentence in
 * err (what failed and why, naming the device).
 */
#ifndef PFS_ND_H
#define PFS_ND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ND_NAME_LEN 64
#define ND_DEV_LEN  32
#define ND_ERR_LEN  256
#define ND_MAX_MAPPINGS 8

enum nd_mode { ND_MODE_UNKNOWN, ND_MODE_RAW, ND_MODE_SECTOR, ND_MODE_FSDAX, ND_MODE_DEVDAX };

struct nd_mapping {
	char dimm[ND_DEV_LEN];         /* nmemN */
	uint64_t offset, length;
	int position;                  /* -1 if unknown */
};

struct nd_ns {
	char dev[ND_DEV_LEN];          /* namespaceR.N */
	unsigned id;                   /* N */
	enum nd_mode mode;
	uint64_t size;                 /* usable size (pfn/dax/btt size when present) */
	uint64_t raw_size;             /* the namespace's own size */
	char uuid[40];                 /* of pfn/dax/btt if any, else the namespace's; "" if none */
	char name[ND_NAME_LEN];        /* alt_name; "" if none */
	char blockdev[ND_DEV_LEN];     /* pmemR.N[s], "" if none */
	char chardev[ND_DEV_LEN];      /* daxR.N, "" if none */
	uint64_t align;                /* 0 if not applicable */
	unsigned sector_size;          /* 0 if not applicable */
	char map[8];                   /* "dev" | "mem" | "" */
	int numa_node;                 /* -1 if unknown */
	bool enabled;
	bool labelled;                 /* false: label-less (legacy/io) namespace */
	bool dax_system_ram;           /* devdax whose memory is online as system-ram */
};

struct nd_region {
	char dev[ND_DEV_LEN];          /* regionN */
	unsigned id;
	char bus[ND_DEV_LEN];          /* ndbusN */
	char provider[ND_NAME_LEN];    /* "ACPI.NFIT", "e820", ... */
	uint64_t size, available_size, max_available_extent, align;
	char type[8];                  /* "pmem" | "blk" */
	int numa_node, target_node;    /* -1 if unknown */
	char persistence_domain[24];   /* cpu_cache|memory_controller|none|unknown */
	unsigned interleave_ways;
	struct nd_mapping mappings[ND_MAX_MAPPINGS];
	unsigned nmappings;
	bool read_only, enabled;
	bool has_iset_id;
	uint64_t iset_id;
	bool labelled;                 /* namespaces carry labels: can be created, resized, destroyed */
	struct nd_ns *ns;              /* active namespaces (idle seeds left out) */
	size_t nns;
};

struct nd_dimm {
	char dev[ND_DEV_LEN];          /* nmemN */
	char id[ND_NAME_LEN];          /* "8680-56341200" or "" */
	unsigned handle;
	int phys_id;                   /* -1 if unknown */
	char state[16];                /* "enabled" | "disabled" */
	bool flag_failed_arm, flag_failed_save, flag_failed_flush, flag_failed_restore,
	     flag_failed_map, flag_smart_event;
	bool has_health;
	char health_state[16];         /* "ok" | "non-critical" | "critical" | "fatal" | "" */
	int temperature_c10;           /* tenths of a degree Celsius when has_health */
	int spares_percent;            /* -1 if unknown */
};

struct nd_topo {
	struct nd_region *regions;
	size_t nregions;
	struct nd_dimm *dimms;
	size_t ndimms;
};

void nd_topo_free(struct nd_topo *t);
const struct nd_region *nd_topo_region(const struct nd_topo *t, unsigned id);
const struct nd_ns *nd_region_ns(const struct nd_region *r, unsigned id);
const char *nd_mode_name(enum nd_mode m);        /* ndctl's names: raw sector fsdax devdax */
int nd_mode_parse(const char *s, enum nd_mode *m); /* also kernel spellings: safe memory dax */

/* What a create or reconfigure asks for; 0/"" = keep (reconfigure) or default. */
struct nd_ns_params {
	enum nd_mode mode;
	uint64_t size;
	uint64_t align;
	unsigned sector_size;
	char name[ND_NAME_LEN];
	bool keep_name;                /* reconfigure: carry the old name over */
};

struct nd_backend {
	void *ctx;
	/* Fills a fresh snapshot. */
	int (*snapshot)(void *ctx, struct nd_topo *out, char *err);
	/* ndctl create-namespace -f -e DEV -m MODE ...: validate, disable safely,
	 * enforce raw, zero the info block, set up the pfn/dax/btt seed, enable. */
	int (*reconfigure)(void *ctx, unsigned region, const char *nsdev,
			   const struct nd_ns_params *p, char *err);
	/* ndctl create-namespace -r REGION ...; *created gets the new device name. */
	int (*create)(void *ctx, unsigned region, const struct nd_ns_params *p,
		      char created[ND_DEV_LEN], char *err);
	/* ndctl destroy-namespace -f DEV */
	int (*destroy)(void *ctx, unsigned region, const char *nsdev, char *err);
	/* ndctl enable/disable-namespace DEV; nsdev NULL: the region itself */
	int (*set_enabled)(void *ctx, unsigned region, const char *nsdev, bool enable, char *err);
};

/* The libndctl backend (fs/nd_ndctl.c). */
void nd_ndctl_backend(struct nd_backend *out);

#endif /* PFS_ND_H */
