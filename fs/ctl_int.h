/* SPDX-License-Identifier: MIT */
/* Internal to the topology tree (fs/ctl*.c). */
#ifndef PFS_CTL_INT_H
#define PFS_CTL_INT_H

#include <pthread.h>
#include <stdio.h>

#include "ctl.h"
#include "nd.h"

enum ctl_node_type {
	CTL_N_ROOT, CTL_N_REGIONS, CTL_N_NAMESPACES, CTL_N_DIMMS, CTL_N_TOPO_JSON,
	CTL_N_REGION, CTL_N_REGION_ATTR, CTL_N_NS, CTL_N_NS_ATTR, CTL_N_NS_LINK,
	CTL_N_DIMM, CTL_N_DIMM_ATTR,
};

struct ctl_node;

enum ctl_fmt { CTL_F_FN, CTL_F_U64, CTL_F_INT, CTL_F_UINT, CTL_F_STR, CTL_F_BOOL, CTL_F_HEX };

struct ctl_attr {
	const char *name;
	enum ctl_fmt fmt;              /* CTL_F_FN: show(); else the field at off */
	size_t off;                    /* in struct nd_region, nd_ns or nd_dimm */
	/* the text (one value and a newline), written to f */
	int (*show)(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		    FILE *f);
	/* a control write; NULL: read-only */
	int (*store)(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		     const char *val, char *err);
	/* NULL: every object has it */
	bool (*present)(const struct ctl_node *n);
	/* the store is allowed on this object (e.g. size only on labelled regions) */
	bool (*writable)(const struct ctl_node *n);
};

struct ctl_node {
	enum ctl_node_type type;
	const struct nd_region *r;
	const struct nd_ns *ns;
	const struct nd_dimm *d;
	const struct ctl_attr *attr;
};

struct ctl_msg {
	char *path;                    /* directory: regions/region0[/ns1] */
	char *error;                   /* last_error */
	char *result;                  /* last_result */
};

struct pfs_ctl {
	struct nd_backend be;
	pthread_mutex_t lock;          /* one backend user at a time */
	char busy_dev[4096];           /* the device this mount serves */
	char **paths;                  /* node id - 1 -> path */
	size_t npaths, cappaths;
	struct ctl_msg *msgs;
	size_t nmsgs;
};

const char *ctl_path(struct pfs_ctl *ctl, uint64_t id);
int ctl_snapshot(struct pfs_ctl *ctl, struct nd_topo *t);
int ctl_resolve(const struct nd_topo *t, const char *path, struct ctl_node *n);
typedef int (*ctl_node_fn)(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
			   uint64_t id, const char *path, void *arg);
/* Runs fn on node id under the lock with a fresh snapshot; -ESTALE if unknown. */
int ctl_with_node(struct pfs_ctl *ctl, uint64_t id, ctl_node_fn fn, void *arg);
void ctl_set_msg(struct pfs_ctl *ctl, const char *dir, const char *error, const char *result);
const char *ctl_get_msg(struct pfs_ctl *ctl, const char *dir, bool error);

/* ctl_attr.c */
const struct ctl_attr *ctl_attrs(enum ctl_node_type t);
const struct ctl_attr *ctl_attr_find(enum ctl_node_type t, const char *name,
				     const struct ctl_node *n);
uint32_t ctl_attr_mode(const struct ctl_node *n);
int ctl_node_text(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		  char **text, size_t *len);
void ctl_node_dir(const struct ctl_node *n, char *buf, size_t size);

/* ctl_write.c: the stores */
int ctl_store_mode(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		   const char *val, char *err);
int ctl_store_ns_size(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		      const char *val, char *err);
int ctl_store_enabled(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		      const char *val, char *err);
int ctl_store_destroy(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		      const char *val, char *err);
int ctl_store_create(struct pfs_ctl *ctl, const struct nd_topo *t, const struct ctl_node *n,
		     const char *val, char *err);
int ctl_parse_size(const char *s, uint64_t *out);
int ctl_parse_create(const char *s, struct nd_ns_params *p, bool *has_size, char *err);

/* ctl_json.c */
int ctl_topology_json(const struct nd_topo *t, FILE *f);

/* nd_busy.c: is the device node in use outside libndctl's view? */
int nd_dev_busy(const char *busy_dev, const struct nd_ns *ns, char *why, size_t len);

#endif
