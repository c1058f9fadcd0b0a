// SPDX-License-Identifier: MIT
/*
 * The recording pmem ops (see recorder.h for the persistence model). The
 * normal build pays one NULL test per store: the hook is only set here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pfs.h"
#include "recorder.h"

uint64_t rec_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 1024;
	void *np;

	if (need <= *cap)
		return true;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return false;
	*p = np;
	*cap = ncap;
	return true;
}

static void pending_add(struct recorder *r, uint64_t off, uint64_t len)
{
	if (r->npending == sizeof(r->pending) / sizeof(r->pending[0])) {
		/* more than 64 stores in flight unflushed: count them all as a violation */
		r->unflushed++;
		if (!r->first_unflushed_off)
			r->first_unflushed_off = off;
		return;
	}
	r->pending[r->npending].off = off;
	r->pending[r->npending].len = len;
	r->npending++;
}

static void pending_flush(struct recorder *r, uint64_t off, uint64_t len)
{
	for (unsigned i = 0; i < r->npending;) {
		if (r->pending[i].off >= off && r->pending[i].off + r->pending[i].len <= off + len) {
			r->pending[i] = r->pending[--r->npending];
			continue;
		}
		i++;
	}
}

static void hook(void *arg, enum pfs_pm_event ev, uint64_t off, const void *data, size_t len)
{
	struct recorder *r = arg;
	struct rec_event *e;

	if (r->oom)
		return;
	if (!grow((void **)&r->ev, &r->evcap, r->nev + 1, sizeof(*r->ev))) {
		r->oom = true;
		return;
	}
	e = &r->ev[r->nev];
	memset(e, 0, sizeof(*e));
	e->off = off;
	e->len = (uint32_t)len;
	switch (ev) {
	case PFS_PM_EV_STORE:
		e->kind = REC_STORE;
		if (!grow((void **)&r->pool, &r->poolcap, r->npool + len, 1)) {
			r->oom = true;
			return;
		}
		e->data = r->npool;
		memcpy(r->pool + r->npool, data, len);
		r->npool += len;
		pending_add(r, off, len);
		break;
	case PFS_PM_EV_FLUSH:
		e->kind = REC_FLUSH;
		pending_flush(r, off, len);
		break;
	case PFS_PM_EV_DRAIN:
		e->kind = REC_DRAIN;
		if (!grow((void **)&r->drains, &r->dcap, r->ndrains + 1, sizeof(*r->drains))) {
			r->oom = true;
			return;
		}
		r->drains[r->ndrains++] = r->nev;
		if (r->npending) {
			if (!r->unflushed)
				r->first_unflushed_off = r->pending[0].off;
			r->unflushed += r->npending;
			r->npending = 0;
		}
		break;
	}
	r->nev++;
}

int rec_start(struct recorder *r, struct pfs_device *dev)
{
	memset(r, 0, sizeof(*r));
	r->dev = dev;
	r->size = dev->size;
	r->base0 = malloc(r->size);
	if (!r->base0)
		return -ENOMEM;
	memcpy(r->base0, dev->base, r->size);
	pfs_pm_set_hook(&dev->pm, hook, r);
	return 0;
}

void rec_stop(struct recorder *r)
{
	if (r->dev)
		pfs_pm_set_hook(&r->dev->pm, NULL, NULL);
	r->dev = NULL;
}

void rec_free(struct recorder *r)
{
	rec_stop(r);
	free(r->base0);
	free(r->ev);
	free(r->pool);
	free(r->drains);
	memset(r, 0, sizeof(*r));
}

size_t rec_fence_pos(const struct recorder *r, size_t k)
{
	return k == 0 ? 0 : r->drains[k - 1] + 1;
}

size_t rec_segment_end(const struct recorder *r, size_t k)
{
	return k < r->ndrains ? r->drains[k] : r->nev;
}

static void store_bytes(const struct recorder *r, char *img, const struct rec_event *e,
			uint64_t from, uint64_t to)
{
	memcpy(img + e->off + from, r->pool + e->data + from, to - from);
}

void rec_apply(const struct recorder *r, char *img, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (r->ev[i].kind == REC_STORE)
			store_bytes(r, img, &r->ev[i], 0, r->ev[i].len);
}

size_t rec_count_stores(const struct recorder *r, size_t from, size_t to)
{
	size_t n = 0;

	for (size_t i = from; i < to; i++)
		n += r->ev[i].kind == REC_STORE;
	return n;
}

/* Words of a store: the parts of it inside each 8-byte aligned word. */
static uint64_t word_end(const struct rec_event *e, uint64_t at)
{
	uint64_t next = ((e->off + at) | 7u) + 1 - e->off;

	return next < e->len ? next : e->len;
}

size_t rec_apply_subset(const struct recorder *r, char *img, size_t from, size_t to,
			uint64_t seed)
{
	uint64_t st = seed;
	unsigned mode = (unsigned)(rec_rand(&st) % 3);
	/* keep-probability in 1/8 steps, from 1/8 to 7/8 */
	uint64_t p = 1 + rec_rand(&st) % 7;
	size_t nstores = rec_count_stores(r, from, to), cut = 0, seen = 0, words = 0;

	if (mode == 2 && nstores)
		cut = (size_t)(rec_rand(&st) % nstores);
	for (size_t i = from; i < to; i++) {
		const struct rec_event *e = &r->ev[i];
		bool whole;

		if (e->kind != REC_STORE)
			continue;
		seen++;
		switch (mode) {
		case 0: /* each word independently */
			for (uint64_t at = 0; at < e->len;) {
				uint64_t end = word_end(e, at);

				if (rec_rand(&st) % 8 < p) {
					store_bytes(r, img, e, at, end);
					words++;
				}
				at = end;
			}
			break;
		case 1: /* whole stores */
			whole = rec_rand(&st) % 8 < p;
			if (whole) {
				store_bytes(r, img, e, 0, e->len);
				words++;
			}
			break;
		default: /* program-order prefix, the last store torn */
			if (seen - 1 < cut) {
				store_bytes(r, img, e, 0, e->len);
				words++;
			} else if (seen - 1 == cut) {
				for (uint64_t at = 0; at < e->len;) {
					uint64_t end = word_end(e, at);

					if (rec_rand(&st) & 1) {
						store_bytes(r, img, e, at, end);
						words++;
					}
					at = end;
				}
			}
			break;
		}
	}
	return words;
}

bool rec_verify(const struct recorder *r, const char *live, uint64_t *bad)
{
	char *img = malloc(r->size);
	bool ok = true;

	if (!img)
		return false;
	memcpy(img, r->base0, r->size);
	rec_apply(r, img, 0, r->nev);
	for (size_t i = 0; i < r->size; i++) {
		if (img[i] != live[i]) {
			*bad = i;
			ok = false;
			break;
		}
	}
	free(img);
	return ok;
}
