/* SPDX-License-Identifier: MIT */
/*
 * The topology tree under the mount (regions/, namespaces/, dimms/,
 * topology.json): text out, text in, no FUSE types. Node ids are small
 * (< 2^32), assigned per path the first time a path is looked up and never
 * reused while the server runs. Every lookup, listing and read takes a fresh
 * snapshot from the backend, so changes made outside pmemfs show at once.
 */
#ifndef PFS_CTL_H
#define PFS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nd.h"

#define PFS_CTL_ROOT_ID 1u

struct pfs_ctl;

enum pfs_ctl_kind { PFS_CTL_DIR, PFS_CTL_FILE, PFS_CTL_LINK };

struct pfs_ctl_stat {
	uint64_t id;
	enum pfs_ctl_kind kind;
	uint32_t mode;                 /* permission bits */
	uint64_t size;                 /* files: current length of the text */
	uint32_t nlink;
};

/* busy_dev: the device this mount serves (refused for any provisioning). */
int pfs_ctl_new(const struct nd_backend *be, const char *busy_dev, struct pfs_ctl **out);
void pfs_ctl_free(struct pfs_ctl *ctl);

int pfs_ctl_lookup(struct pfs_ctl *ctl, uint64_t parent, const char *name,
		   struct pfs_ctl_stat *out);
int pfs_ctl_getattr(struct pfs_ctl *ctl, uint64_t id, struct pfs_ctl_stat *out);
/* The parent's id (for ".."); the root is its own parent. */
int pfs_ctl_parent(struct pfs_ctl *ctl, uint64_t id, uint64_t *parent);

typedef int (*pfs_ctl_fill_fn)(void *arg, const char *name, const struct pfs_ctl_stat *st);
int pfs_ctl_readdir(struct pfs_ctl *ctl, uint64_t id, pfs_ctl_fill_fn fill, void *arg);

/* A file's whole text (malloc'd, caller frees). */
int pfs_ctl_read(struct pfs_ctl *ctl, uint64_t id, char **text, size_t *len);
/* One control write; uid decides who may. Returns 0 or -errno. */
int pfs_ctl_write(struct pfs_ctl *ctl, uint64_t id, uint32_t uid, const char *buf, size_t len);
int pfs_ctl_readlink(struct pfs_ctl *ctl, uint64_t id, char *buf, size_t size);

#endif /* PFS_CTL_H */
