/* SPDX-License-Identifier: MIT */
/*
 * Crash-test workloads: short programs on the core API. Each runs a set-up
 * (not recorded) and then steps; the driver snapshots the file system after
 * the set-up and after every step, and marks in the recorder where each step
 * began and returned, so the oracle knows which steps had completed at a
 * crash point and which one was in flight.
 */
#ifndef PFS_CRASH_WORKLOADS_H
#define PFS_CRASH_WORKLOADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pmemfs/pmemfs.h"
#include "recorder.h"
#include "snapshot.h"

struct wl_step {
	size_t begin, end;             /* log positions when it started and returned */
	bool barrier;                  /* all data written before it is durable at return */
	int rc;
	char what[96];
};

/* What a file must hold: the workload's own account of its writes. */
struct wl_model {
	uint64_t ino;
	uint8_t *data;
	size_t size;
};

struct wl_ctx {
	struct pfs_device *dev;
	struct pfs_fs *fs;
	struct pfs_cred cred;
	struct recorder *rec;          /* NULL during the set-up */
	struct wl_step *steps;         /* steps[j - 1] is step j */
	struct snap *snaps;            /* snaps[0]: after the set-up; snaps[j]: after step j */
	size_t nsteps, cap;
	uint64_t held[16];             /* inodes held open */
	unsigned nheld;
	struct wl_model *model;
	size_t nmodel;
	bool broken;                   /* the workload itself went wrong (not a crash failure) */
	char why[512];
};

struct workload {
	const char *name;
	const char *about;
	unsigned dev_mib;
	uint64_t inodes;               /* 0: format's default */
	void (*setup)(struct wl_ctx *w);
	void (*run)(struct wl_ctx *w);
};

extern const struct workload workloads[];
extern const size_t nworkloads;

/* Called by the driver around the recorded phase. */
void wl_snap_now(struct wl_ctx *w);
void wl_ctx_free(struct wl_ctx *w);

/* The byte a write with this seed puts at file offset off (never 0). */
uint8_t wl_pattern(uint32_t seed, uint64_t off);

#endif
