// SPDX-License-Identifier: MIT
/*
 * mmap versus pwrite on one file: mmap_race DIR [ROUNDS [PAGES [PASSES]]].
 *
 * Each round makes a file of PAGES pages in DIR and maps it MAP_SHARED.
 * One thread pwrite()s 8-byte markers into every page, PASSES times, each
 * pass at its own odd 8-byte slot; before each marker it names the page it
 * is about to write. The other thread stores through the mapping, without
 * pause, into the even slots of the page named last, so that the page is
 * faulted in and dirtied while the marker's write is in flight (the window
 * in which a FUSE direct write had the page cache invalidated but not yet
 * written). The two never store to the same byte.
 *
 * Afterwards every slot must hold its last value: through the mapping,
 * through pread(), and after munmap, fsync, close and a fresh open. Any
 * other byte is reported (round, page, offset, expected, found, where) and
 * the exit status is 1. Prints "mmap_race: R rounds, N markers, S stores,
 * 0 bytes lost in 0 rounds" on success; otherwise the same line says how
 * many bytes (counted in the view that found the most) and in how many rounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096
#define SLOTS (PAGE / 8)               /* 8-byte slots per page */
#define MAX_PASSES (SLOTS / 2)         /* one odd slot per pass */

struct race {
	int fd;
	unsigned round, pages, passes;
	volatile uint64_t *map;
	atomic_uint page;              /* the page the marker thread writes next */
	atomic_bool done;
	uint64_t *last;                /* per even slot: the last value stored */
	unsigned long stores;
	int err;
};

static uint64_t marker(unsigned round, unsigned page, unsigned pass)
{
	return 0x4d00000000000000ULL | (uint64_t)round << 40 | (uint64_t)page << 16 | pass;
}

/* The mapping thread: stores into the even slots of the page named last. */
static void *store_main(void *arg)
{
	struct race *r = arg;
	uint64_t seq = (uint64_t)r->round << 40;
	unsigned k = 0;

	while (!atomic_load_explicit(&r->done, memory_order_relaxed)) {
		unsigned p = atomic_load_explicit(&r->page, memory_order_relaxed);
		size_t slot = (size_t)p * SLOTS + 2 * k;

		r->map[slot] = ++seq;
		r->last[slot / 2] = seq;
		r->stores++;
		k = (k + 1) % (SLOTS / 2);
	}
	return NULL;
}

/* The marker thread: one pwrite() per page per pass, at the pass's odd slot. */
static void *mark_main(void *arg)
{
	struct race *r = arg;

	for (unsigned pass = 0; pass < r->passes; pass++)
		for (unsigned p = 0; p < r->pages; p++) {
			uint64_t m = marker(r->round, p, pass);
			off_t off = ((off_t)p * SLOTS + 2 * pass + 1) * 8;

			atomic_store_explicit(&r->page, p, memory_order_relaxed);
			if (pwrite(r->fd, &m, sizeof(m), off) != (ssize_t)sizeof(m)) {
				r->err = errno ? errno : EIO;
				goto out;
			}
		}
out:
	atomic_store(&r->done, true);
	return NULL;
}

static uint64_t expected(const struct race *r, size_t slot)
{
	unsigned page = (unsigned)(slot / SLOTS), s = (unsigned)(slot % SLOTS);

	if (s % 2 == 0)
		return r->last[slot / 2];
	return s / 2 < r->passes ? marker(r->round, page, s / 2) : 0;
}

/* Compares the file's words with what was written; returns the bytes that differ. */
static unsigned long verify(const struct race *r, const uint64_t *got, const char *where)
{
	unsigned long lost = 0, reported = 0;

	for (size_t slot = 0; slot < (size_t)r->pages * SLOTS; slot++) {
		uint64_t want = expected(r, slot), have = got[slot];

		if (want == have)
			continue;
		for (int b = 0; b < 8; b++)
			lost += ((want >> (8 * b)) & 0xff) != ((have >> (8 * b)) & 0xff);
		if (reported++ < 8)
			fprintf(stderr, "mmap_race: round %u: page %zu offset %zu (%s slot): "
				"expected 0x%016llx, found 0x%016llx %s\n",
				r->round, slot / SLOTS, slot * 8,
				slot % 2 ? "pwrite marker" : "mmap store",
				(unsigned long long)want, (unsigned long long)have, where);
	}
	if (reported > 8)
		fprintf(stderr, "mmap_race: round %u: %lu more wrong slots %s\n",
			r->round, reported - 8, where);
	return lost;
}

static int read_all(int fd, uint64_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)done);

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int die(const char *what, const char *path)
{
	fprintf(stderr, "mmap_race: %s %s: %s\n", what, path, strerror(errno));
	return 2;
}

static unsigned long max_ul(unsigned long a, unsigned long b)
{
	return a > b ? a : b;
}

/*
 * One round on a fresh file. *lost: the bytes found wrong by the view that
 * found the most (the mapping, pread(), or the reopened file). Returns 0 or 2.
 */
static int race_round(struct race *r, const char *path, unsigned long *lost,
		      unsigned long *stores)
{
	size_t len = (size_t)r->pages * PAGE;
	uint64_t *buf = malloc(len);
	pthread_t st, mt;
	int rc = 2;

	*lost = 0;

	r->last = calloc((size_t)r->pages * SLOTS / 2, sizeof(*r->last));
	if (!buf || !r->last) {
		fprintf(stderr, "mmap_race: out of memory\n");
		goto out;
	}
	unlink(path);
	r->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (r->fd < 0) {
		rc = die("open", path);
		goto out;
	}
	if (ftruncate(r->fd, (off_t)len) != 0) {
		rc = die("ftruncate", path);
		goto out_close;
	}
	r->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->map == MAP_FAILED) {
		rc = die("mmap", path);
		goto out_close;
	}
	atomic_store(&r->page, 0);
	atomic_store(&r->done, false);
	r->stores = 0;
	r->err = 0;
	if (pthread_create(&st, NULL, store_main, r) != 0 ||
	    pthread_create(&mt, NULL, mark_main, r) != 0) {
		fprintf(stderr, "mmap_race: pthread_create failed\n");
		exit(2);
	}
	pthread_join(mt, NULL);
	pthread_join(st, NULL);
	*stores += r->stores;
	if (r->err) {
		errno = r->err;
		rc = die("pwrite", path);
		goto out_unmap;
	}
	*lost = verify(r, (const uint64_t *)r->map, "through the mapping");
	if (read_all(r->fd, buf, len) != 0) {
		rc = die("pread", path);
		goto out_unmap;
	}
	*lost = max_ul(*lost, verify(r, buf, "through pread()"));
	munmap((void *)r->map, len);
	r->map = MAP_FAILED;
	if (fsync(r->fd) != 0) {
		rc = die("fsync", path);
		goto out_close;
	}
	close(r->fd);
	r->fd = open(path, O_RDONLY);
	if (r->fd < 0) {
		rc = die("reopen", path);
		goto out;
	}
	if (read_all(r->fd, buf, len) != 0) {
		rc = die("pread after reopen", path);
		goto out_close;
	}
	*lost = max_ul(*lost, verify(r, buf, "after munmap, fsync and reopen"));
	rc = 0;
out_unmap:
	if (r->map != MAP_FAILED)
		munmap((void *)r->map, len);
out_close:
	close(r->fd);
	unlink(path);
out:
	free(r->last);
	free(buf);
	return rc;
}

static unsigned arg(int argc, char **argv, int i, unsigned dflt, unsigned max)
{
	char *end;
	unsigned long v;

	if (argc <= i)
		return dflt;
	errno = 0;
	v = strtoul(argv[i], &end, 10);
	if (errno || *end || v == 0 || v > max) {
		fprintf(stderr, "mmap_race: bad argument '%s' (1..%u)\n", argv[i], max);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	struct race r = { .fd = -1 };
	unsigned rounds, round;
	unsigned long lost = 0, stores = 0, failed = 0;
	char path[4096];

	if (argc < 2 || argc > 5) {
		fprintf(stderr, "usage: mmap_race DIR [ROUNDS [PAGES [PASSES]]]\n");
		return 2;
	}
	rounds = arg(argc, argv, 2, 1, 65535);
	r.pages = arg(argc, argv, 3, 64, 65536);
	r.passes = arg(argc, argv, 4, 16, MAX_PASSES);
	snprintf(path, sizeof(path), "%s/mmap_race.%d", argv[1], (int)getpid());
	for (round = 0; round < rounds; round++) {
		r.round = round;
		unsigned long l;

		if (race_round(&r, path, &l, &stores) != 0)
			return 2;
		lost += l;
		failed += l != 0;
	}
	printf("mmap_race: %u rounds, %lu markers, %lu stores, %lu bytes lost in %lu rounds\n",
	       rounds, (unsigned long)rounds * r.pages * r.passes, stores, lost, failed);
	return lost ? 1 : 0;
}
