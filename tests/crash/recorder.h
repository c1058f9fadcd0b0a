/* SPDX-License-Identifier: MIT */
/*
 * The recording pmem ops: an observer on the persistence seam (pfs_pm_set_hook)
 * that logs every store (range and bytes), flush and drain of a device, and
 * builds the media images a crash could leave behind from that log.
 *
 * Persistence model (x86 with ADR, as libpmem assumes): a store reaches the
 * media at some point after it is made; a flush followed by a drain (fence)
 * guarantees it has. Between two drains any subset of the stores issued since
 * the first may have reached the media, each 8-byte aligned word of a store
 * atomically (a larger store may be torn at word boundaries).
 *
 * Fence k (0 <= k <= ndrains) is the state right after the k-th drain
 * returned: the starting image plus every store before that drain. Its
 * segment is the stores issued after it and before drain k + 1 (or the end of
 * the log): the ones a crash at that point may have kept in part.
 */
#ifndef PFS_CRASH_RECORDER_H
#define PFS_CRASH_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pfs_device;

enum rec_kind { REC_STORE, REC_FLUSH, REC_DRAIN };

struct rec_event {
	uint32_t kind;                 /* enum rec_kind */
	uint32_t len;
	uint64_t off;                  /* device byte offset */
	uint64_t data;                 /* stores: offset of the bytes in the pool */
};

struct recorder {
	struct pfs_device *dev;
	char *base0;                   /* the image when recording began */
	size_t size;
	struct rec_event *ev;
	size_t nev, evcap;
	char *pool;
	size_t npool, poolcap;
	size_t *drains;                /* event index of each drain */
	size_t ndrains, dcap;
	/* stores not yet covered by a flush: a fence does not make them durable */
	struct { uint64_t off, len; } pending[64];
	unsigned npending;
	uint64_t unflushed;            /* stores that met a drain unflushed */
	uint64_t first_unflushed_off;
	bool oom;
};

/* Copies the device's image and hooks its pmem ops. */
int rec_start(struct recorder *r, struct pfs_device *dev);
/* Unhooks; the log stays for building images. */
void rec_stop(struct recorder *r);
void rec_free(struct recorder *r);

/* Events so far: a position in the log. */
static inline size_t rec_pos(const struct recorder *r)
{
	return r->nev;
}

/* Event index just past fence k's drain (0 for k = 0). */
size_t rec_fence_pos(const struct recorder *r, size_t k);
/* Event index of the drain that ends fence k's segment (nev after the last). */
size_t rec_segment_end(const struct recorder *r, size_t k);

/* Applies every store of events [from, to) to img. */
void rec_apply(const struct recorder *r, char *img, size_t from, size_t to);

/*
 * Applies a random subset of the stores of events [from, to), chosen by seed:
 * word by word at random, whole stores at random, or a prefix in program
 * order ending in a torn store. Returns how many words it applied.
 */
size_t rec_apply_subset(const struct recorder *r, char *img, size_t from, size_t to,
			uint64_t seed);
/* Stores in events [from, to). */
size_t rec_count_stores(const struct recorder *r, size_t from, size_t to);

/*
 * The log is complete iff the starting image plus every store equals live:
 * a store that bypassed the pmem ops would be missing. Returns true when it
 * is; *bad gets the first differing offset otherwise.
 */
bool rec_verify(const struct recorder *r, const char *live, uint64_t *bad);

/* splitmix64: the generator behind every seed. */
uint64_t rec_rand(uint64_t *state);

#endif
