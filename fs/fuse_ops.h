/* SPDX-License-Identifier: MIT */
/*
 * What the FUSE adapter (fuse_ops.c) and the server's main (main.c) share:
 * the adapter state handed to fuse_session_new() as userdata, the ops table,
 * and the I/O size both sides must agree on. Only the server includes this;
 * the core never sees a FUSE type.
 */
#ifndef PMEMFS_FUSE_OPS_H
#define PMEMFS_FUSE_OPS_H

#if !defined(FUSE_USE_VERSION) || FUSE_USE_VERSION != 314
#error "define FUSE_USE_VERSION 314 before including fuse_ops.h"
#endif

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <time.h>

#include "pmemfs/pmemfs.h"

/*
 * Largest read and write request. init() sets conn->max_read to this and
 * main passes the same "-o max_read=" to fuse_session_new(): libfuse 3.14
 * aborts INIT with EPROTO when the two disagree.
 */
#define PMEMFS_MAX_IO (1u << 20)

/* Adapter state: one per mount, owned by main, read-only once serving. */
struct pmemfs_server {
	struct pfs_fs *fs;
	struct timespec mount_time;    /* times of the synthetic nodes */
	double cache_timeout;          /* entry and attr timeout, seconds */
	bool direct_io;                /* FOPEN_DIRECT_IO on every open */
};

extern const struct fuse_lowlevel_ops pmemfs_ll_ops;

#endif /* PMEMFS_FUSE_OPS_H */
