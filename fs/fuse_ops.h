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
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "ctl.h"
#include "pmemfs/pmemfs.h"

/*
 * Largest read and write request. init() sets conn->max_read to this and
 * main passes the same "-o max_read=" to fuse_session_new(): libfuse 3.14
 * aborts INIT with EPROTO when the two disagree.
 */
#define PMEMFS_MAX_IO (1u << 20)

/*
 * What the status file counts: requests on pools/ files as the adapter saw
 * them. Relaxed atomics: each is a tally, none orders anything.
 */
struct pmemfs_counters {
	atomic_uint_fast64_t reads, writes, fsyncs;
	atomic_uint_fast64_t bytes_read, bytes_written;
	atomic_uint_fast64_t errors;   /* reads, writes and fsyncs that failed */
	atomic_uint_fast64_t zero_copy_writes; /* relinked from a stage (fuse_stage.c) */
};

/* -o direct_io, -o page_cache, or neither: decided in init() */
enum pmemfs_cache {
	PMEMFS_CACHE_AUTO,
	PMEMFS_CACHE_DIRECT,
	PMEMFS_CACHE_PAGE,
};

/*
 * Adapter state: one per mount, owned by main, read-only once serving
 * (but for the counters).
 */
struct pmemfs_server {
	struct pfs_fs *fs;
	struct timespec mount_time;    /* times of the synthetic nodes */
	double cache_timeout;          /* entry and attr timeout, seconds */
	enum pmemfs_cache cache_opt;   /* what the command line asked for */
	bool direct_io;                /* FOPEN_DIRECT_IO on every open (set in init) */
	bool durable_writes;           /* data durable when write() returns; no FSYNC */
	bool zerocopy;                 /* stages for large writes (fuse_stage.c) */
	struct pmemfs_compat *compat;  /* what libfuse lacks (fuse_compat.h) */
	bool bounce_reads;             /* emulation: reply from an anonymous buffer */
	struct pfs_ctl *ctl;           /* the topology tree (regions/, ...) */
	struct fuse_session *se;       /* for notifications; set before serving */
	struct pmemfs_counters count;
};

/*
 * direct_io in effect: as init() chose, unless the default relied on the
 * kernel's shared-mmap permission and the INIT reply could not carry it.
 */
bool pmemfs_direct_io(const struct pmemfs_server *srv);

static inline void pmemfs_count(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/*
 * A reply buffer being filled. For readdirplus, refs[] remembers which core
 * ids in the buffer carry a reference, so an undeliverable reply can give
 * them back.
 */
struct dirbuf {
	fuse_req_t req;
	struct pmemfs_server *srv;
	fuse_ino_t dir;
	bool plus;
	char *buf;
	size_t size, used;
	uint64_t *refs;
	size_t nrefs, maxrefs;
};

/* fuse_ops.c, shared with fuse_syn.c */
void pmemfs_entry_from_attr(const struct pmemfs_server *srv, const struct pfs_attr *a,
			    struct fuse_entry_param *e);
/* Adds one entry; false when it does not fit (the caller keeps any reference). */
bool pmemfs_dirbuf_add(struct dirbuf *db, const char *name, const struct fuse_entry_param *e,
		       off_t next);

/* fuse_syn.c: the root and the topology tree (node ids below 2^32) */
bool syn_ino(fuse_ino_t ino);
int syn_lookup(struct pmemfs_server *srv, fuse_ino_t parent, const char *name,
	       struct fuse_entry_param *e);
int syn_getattr(struct pmemfs_server *srv, fuse_ino_t ino, struct stat *st);
int syn_refuse(struct pmemfs_server *srv, fuse_ino_t ino, int err);
int syn_modify_err(struct pmemfs_server *srv, fuse_ino_t dir, const char *name);
int syn_readdir(struct dirbuf *db, off_t off);
int syn_opendir(struct pmemfs_server *srv, fuse_ino_t ino);
void syn_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void syn_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
void syn_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size);
void syn_setattr(fuse_req_t req, fuse_ino_t ino, int to_set);
void syn_readlink(fuse_req_t req, fuse_ino_t ino);

/* status.c: the text of the root's status file (json: status.json), malloc'd. */
int pmemfs_status_text(struct pmemfs_server *srv, bool json, char **text, size_t *len);

extern const struct fuse_lowlevel_ops pmemfs_ll_ops;

#endif /* PMEMFS_FUSE_OPS_H */
