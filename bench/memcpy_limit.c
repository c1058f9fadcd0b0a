// SPDX-License-Identifier: MIT
/*
 * The "limit" column of bench/run.sh: the copy bandwidth of the same kind of
 * mapping pmemfs uses, through libpmem, with no file system and no FUSE in
 * the way. It maps IMAGE with pmem_map_file() (on /dev/shm that is an
 * emulated mapping: pmem_is_pmem() is 0 unless PMEM_IS_PMEM_FORCE=1), gives
 * each thread its own SIZE MiB region, touches it once so page faults are not
 * timed, and then for SECS seconds per workload runs what each fio workload
 * asks of the medium:
 *
 *   seqwrite    1 MiB pmem_memcpy_nodrain() into the region, in order
 *   seqread     1 MiB memcpy() out of the region into a private buffer
 *   randread    4 KiB memcpy() out of random 4 KiB-aligned offsets
 *   randwrite   4 KiB pmem_memcpy_nodrain() into random offsets
 *   fsyncwrite  4 KiB copy into random offsets, each made durable the way
 *               pmemfs makes an fsync'd write durable: pmem_memcpy_persist()
 *               on real pmem, memcpy + pmem_msync() of the page otherwise
 *
 * One JSON object per workload:
 *   {"workload":"seqwrite","jobs":1,"is_pmem":0,"secs":3.0,"mib_per_sec":..,"iops":..}
 *
 * usage: memcpy_limit IMAGE SIZE_MIB SECS THREADS [WORKLOAD...]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <libpmem.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1ul << 20)
#define KIB4 4096ul

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum wl { SEQWRITE, SEQREAD, RANDREAD, RANDWRITE, FSYNCWRITE, NWL };
static const char *const wl_names[NWL] = {
	"seqwrite", "seqread", "randread", "randwrite", "fsyncwrite",
};

struct job {
	char *region;
	size_t size;
	char *buf;
	double secs;
	enum wl wl;
	int is_pmem;
	uint64_t ops;
	uint64_t bytes;
	pthread_barrier_t *start;
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void one_op(struct job *j, size_t *pos, uint64_t *rng)
{
	size_t nblk4 = j->size / KIB4;
	char *p;

	switch (j->wl) {
	case SEQWRITE:
		pmem_memcpy_nodrain(j->region + *pos, j->buf, MIB);
		*pos = (*pos + MIB) % j->size;
		j->bytes += MIB;
		break;
	case SEQREAD:
		memcpy(j->buf, j->region + *pos, MIB);
		*pos = (*pos + MIB) % j->size;
		j->bytes += MIB;
		break;
	case RANDREAD:
		memcpy(j->buf, j->region + (xorshift(rng) % nblk4) * KIB4, KIB4);
		j->bytes += KIB4;
		break;
	case RANDWRITE:
		pmem_memcpy_nodrain(j->region + (xorshift(rng) % nblk4) * KIB4, j->buf, KIB4);
		j->bytes += KIB4;
		break;
	case FSYNCWRITE:
		p = j->region + (xorshift(rng) % nblk4) * KIB4;
		if (j->is_pmem) {
			pmem_memcpy_persist(p, j->buf, KIB4);
		} else {
			memcpy(p, j->buf, KIB4);
			pmem_msync(p, KIB4);
		}
		j->bytes += KIB4;
		break;
	default:
		break;
	}
	j->ops++;
}

static void *job_run(void *arg)
{
	struct job *j = arg;
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uintptr_t)j;
	size_t pos = 0;
	double t0, end;

	pthread_barrier_wait(j->start);
	t0 = now();
	end = t0 + j->secs;
	do {
		for (int i = 0; i < 64; i++)
			one_op(j, &pos, &rng);
	} while (now() < end);
	if (j->wl == SEQWRITE || j->wl == RANDWRITE)
		pmem_drain();
	j->secs = now() - t0;
	return NULL;
}

static int run_wl(char *base, size_t per, int threads, double secs, enum wl wl, int is_pmem)
{
	pthread_t tid[64];
	struct job jobs[64];
	pthread_barrier_t start;
	double mibs = 0, iops = 0, tsecs = 0;

	pthread_barrier_init(&start, NULL, (unsigned)threads);
	for (int t = 0; t < threads; t++) {
		jobs[t] = (struct job){ .region = base + per * (size_t)t, .size = per,
					.secs = secs, .wl = wl, .is_pmem = is_pmem,
					.start = &start };
		if (posix_memalign((void **)&jobs[t].buf, 4096, MIB) != 0)
			return 1;
		memset(jobs[t].buf, 0x5a + t, MIB);
		pthread_create(&tid[t], NULL, job_run, &jobs[t]);
	}
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		mibs += (double)jobs[t].bytes / MIB / jobs[t].secs;
		iops += (double)jobs[t].ops / jobs[t].secs;
		tsecs += jobs[t].secs;
		free(jobs[t].buf);
	}
	pthread_barrier_destroy(&start);
	printf("{\"workload\":\"%s\",\"jobs\":%d,\"is_pmem\":%d,\"secs\":%.3f,"
	       "\"mib_per_sec\":%.1f,\"iops\":%.1f}\n",
	       wl_names[wl], threads, is_pmem, tsecs / threads, mibs, iops);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	size_t per, mapped = 0;
	int threads, is_pmem = 0, rc = 0;
	double secs;
	char *base;

	if (argc < 5) {
		fprintf(stderr, "usage: %s IMAGE SIZE_MIB SECS THREADS [WORKLOAD...]\n", argv[0]);
		return 2;
	}
	per = (size_t)atol(argv[2]) * MIB;
	secs = atof(argv[3]);
	threads = atoi(argv[4]);
	if (per < MIB || threads < 1 || threads > 64 || secs <= 0) {
		fprintf(stderr, "memcpy_limit: bad arguments\n");
		return 2;
	}
	base = pmem_map_file(argv[1], per * (size_t)threads, PMEM_FILE_CREATE, 0600, &mapped,
			     &is_pmem);
	if (!base) {
		fprintf(stderr, "memcpy_limit: %s: %s\n", argv[1], pmem_errormsg());
		return 1;
	}
	/* fault every page in once: pmemfs's image is mapped and touched too */
	pmem_memset_persist(base, 0x11, mapped);
	for (enum wl wl = 0; wl < NWL; wl++) {
		int want = argc == 5;

		for (int i = 5; i < argc; i++)
			want |= strcmp(argv[i], wl_names[wl]) == 0;
		if (want)
			rc |= run_wl(base, per, threads, secs, wl, is_pmem);
	}
	pmem_unmap(base, mapped);
	return rc;
}
