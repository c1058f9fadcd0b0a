// SPDX-License-Identifier: MIT
/*
 * The metadata micro-benchmark of bench/run.sh. It times, with
 * CLOCK_MONOTONIC, plain system calls against any directory (a pmemfs mount
 * or kernel tmpfs), and prints one JSON object per measured phase:
 *
 *   {"op":"create","n":50000,"threads":1,"secs":1.234,"ops_per_sec":40518.2}
 *
 * Modes:
 *   ops DIR N [SETTLE]       create (open O_CREAT|O_EXCL + close), stat,
 *                            unlink of N files in DIR/ops/. Before the stat
 *                            and unlink passes it sleeps SETTLE seconds
 *                            (default 0) so that a FUSE mount's entry and
 *                            attribute cache (cache_timeout) has expired and
 *                            every call reaches the server.
 *   readdir DIR N [SETTLE]   makes DIR/big/ with N empty files (mknod), then
 *                            times one full readdir(3) pass over it and a
 *                            second one; removes nothing (run.sh removes the
 *                            mount's content).
 *   populate DIR N NDIRS T   N empty files (mknod) spread over NDIRS
 *                            directories DIR/dNNN, T threads, each thread its
 *                            own directories. Used for the 1,000,000-file
 *                            mount and memory measurements.
 *
 * Exit status 0 when every call succeeded, 1 otherwise (with the errno of
 * the first failure on stderr). It is a measuring tool: it does not judge
 * the numbers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *op, long n, int threads, double secs)
{
	printf("{\"op\":\"%s\",\"n\":%ld,\"threads\":%d,\"secs\":%.6f,\"ops_per_sec\":%.1f}\n",
	       op, n, threads, secs, secs > 0 ? (double)n / secs : 0.0);
	fflush(stdout);
}

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "metadata: %s %s: %s\n", what, path, strerror(errno));
	return 1;
}

static void settle(double secs)
{
	if (secs > 0)
		usleep((useconds_t)(secs * 1e6));
}

static int mode_ops(const char *dir, long n, double settle_secs)
{
	char path[4096];
	struct stat st;
	double t0;
	int fd;

	snprintf(path, sizeof(path), "%s/ops", dir);
	if (mkdir(path, 0755) != 0)
		return fail("mkdir", path);
	if (chdir(path) != 0)
		return fail("chdir", path);

	t0 = now();
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "f%07ld", i);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			return fail("create", path);
		close(fd);
	}
	report("create", n, 1, now() - t0);

	settle(settle_secs);
	t0 = now();
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "f%07ld", i);
		if (stat(path, &st) != 0)
			return fail("stat", path);
	}
	report("stat", n, 1, now() - t0);

	/* second pass: what an application sees while the kernel cache is warm */
	t0 = now();
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "f%07ld", i);
		if (stat(path, &st) != 0)
			return fail("stat", path);
	}
	report("stat_cached", n, 1, now() - t0);

	settle(settle_secs);
	t0 = now();
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "f%07ld", i);
		if (unlink(path) != 0)
			return fail("unlink", path);
	}
	report("unlink", n, 1, now() - t0);
	if (chdir("..") != 0 || rmdir("ops") != 0)
		return fail("rmdir", "ops");
	return 0;
}

static int readdir_pass(const char *path, long *count)
{
	struct dirent *de;
	DIR *d = opendir(path);

	if (!d)
		return fail("opendir", path);
	*count = 0;
	errno = 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
			(*count)++;
	if (errno != 0) {
		closedir(d);
		return fail("readdir", path);
	}
	closedir(d);
	return 0;
}

static int mode_readdir(const char *dir, long n, double settle_secs)
{
	char path[4096], name[64];
	long count = 0;
	double t0;
	int dfd;

	snprintf(path, sizeof(path), "%s/big", dir);
	if (mkdir(path, 0755) != 0)
		return fail("mkdir", path);
	dfd = open(path, O_DIRECTORY | O_RDONLY);
	if (dfd < 0)
		return fail("open", path);
	t0 = now();
	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "e%07ld", i);
		if (mknodat(dfd, name, S_IFREG | 0644, 0) != 0) {
			close(dfd);
			return fail("mknod", name);
		}
	}
	report("mknod", n, 1, now() - t0);
	close(dfd);

	settle(settle_secs);
	for (int pass = 0; pass < 2; pass++) {
		t0 = now();
		if (readdir_pass(path, &count) != 0)
			return 1;
		report(pass == 0 ? "readdir" : "readdir_again", count, 1, now() - t0);
		if (count != n) {
			fprintf(stderr, "metadata: readdir saw %ld entries, expected %ld\n", count, n);
			return 1;
		}
	}
	return 0;
}

struct populate_arg {
	const char *dir;
	long first_dir, ndirs, per_dir;
	int rc;
};

static void *populate_thread(void *p)
{
	struct populate_arg *a = p;
	char path[4096], name[64];

	for (long d = a->first_dir; d < a->first_dir + a->ndirs; d++) {
		int dfd;

		snprintf(path, sizeof(path), "%s/d%03ld", a->dir, d);
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			a->rc = fail("mkdir", path);
			return NULL;
		}
		dfd = open(path, O_DIRECTORY | O_RDONLY);
		if (dfd < 0) {
			a->rc = fail("open", path);
			return NULL;
		}
		for (long i = 0; i < a->per_dir; i++) {
			snprintf(name, sizeof(name), "f%07ld", i);
			if (mknodat(dfd, name, S_IFREG | 0644, 0) != 0) {
				a->rc = fail("mknod", name);
				close(dfd);
				return NULL;
			}
		}
		close(dfd);
	}
	return NULL;
}

static int mode_populate(const char *dir, long n, long ndirs, int threads)
{
	pthread_t tid[64];
	struct populate_arg args[64];
	long per_dir = n / ndirs, per_thread = ndirs / threads;
	double t0;
	int rc = 0;

	if (threads < 1 || threads > 64 || ndirs % threads || n % ndirs) {
		fprintf(stderr, "metadata: populate needs NDIRS %% T == 0, N %% NDIRS == 0, T <= 64\n");
		return 2;
	}
	t0 = now();
	for (int t = 0; t < threads; t++) {
		args[t] = (struct populate_arg){ dir, t * per_thread, per_thread, per_dir, 0 };
		if (pthread_create(&tid[t], NULL, populate_thread, &args[t]) != 0)
			return fail("pthread_create", "");
	}
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		rc |= args[t].rc;
	}
	report("populate", n, threads, now() - t0);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: metadata ops DIR N [SETTLE]\n"
			"       metadata readdir DIR N [SETTLE]\n"
			"       metadata populate DIR N NDIRS THREADS\n");
}

int main(int argc, char **argv)
{
	double settle_secs;

	if (argc < 4) {
		usage();
		return 2;
	}
	settle_secs = argc > 4 ? atof(argv[4]) : 0;
	if (strcmp(argv[1], "ops") == 0)
		return mode_ops(argv[2], atol(argv[3]), settle_secs);
	if (strcmp(argv[1], "readdir") == 0)
		return mode_readdir(argv[2], atol(argv[3]), settle_secs);
	if (strcmp(argv[1], "populate") == 0 && argc == 6)
		return mode_populate(argv[2], atol(argv[3]), atol(argv[4]), atoi(argv[5]));
	usage();
	return 2;
}
