// SPDX-License-Identifier: MIT
/*
 * Multi-threaded client: THREADS threads work for SECONDS in one directory
 * of the mount, each on its own files but through shared directories:
 * create, write a pattern at random offsets, append, rename over a sibling,
 * truncate, list, read back and verify, unlink. Every read is checked
 * against the thread's own model of its files, so lost or torn data, or an
 * entry that disappears, fails the run. Prints "mt_client: OPS ops, 0 errors".
 */
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

#define FILES_PER_THREAD 8
#define FILE_MAX (256 * 1024)

struct worker {
	const char *dir;
	int id;
	time_t until;
	unsigned seed;
	unsigned long ops, errors;
	size_t size[FILES_PER_THREAD];
	unsigned char *model[FILES_PER_THREAD];
};

static void fail(struct worker *w, const char *what, const char *path)
{
	fprintf(stderr, "mt_client: thread %d: %s %s: %s\n", w->id, what, path, strerror(errno));
	w->errors++;
}

static void path_of(const struct worker *w, int f, char *buf, size_t len)
{
	snprintf(buf, len, "%s/t%d-f%d", w->dir, w->id, f);
}

static void do_write(struct worker *w, int f)
{
	char path[512];
	size_t off = (size_t)rand_r(&w->seed) % FILE_MAX;
	size_t len = 1 + (size_t)rand_r(&w->seed) % 32768;
	unsigned char buf[32768];
	int fd;

	if (off + len > FILE_MAX)
		len = FILE_MAX - off;
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)rand_r(&w->seed);
	path_of(w, f, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0 || pwrite(fd, buf, len, (off_t)off) != (ssize_t)len) {
		fail(w, "write", path);
	} else {
		memcpy(w->model[f] + off, buf, len);
		if (off + len > w->size[f])
			w->size[f] = off + len;
		if (rand_r(&w->seed) % 8 == 0 && fdatasync(fd) != 0)
			fail(w, "fdatasync", path);
	}
	if (fd >= 0)
		close(fd);
}

static void do_truncate(struct worker *w, int f)
{
	char path[512];
	size_t len = (size_t)rand_r(&w->seed) % FILE_MAX;

	path_of(w, f, path, sizeof(path));
	if (truncate(path, (off_t)len) != 0) {
		if (errno != ENOENT)
			fail(w, "truncate", path);
		return;
	}
	if (len < w->size[f])
		memset(w->model[f] + len, 0, FILE_MAX - len);
	w->size[f] = len;
}

static void do_verify(struct worker *w, int f)
{
	static __thread unsigned char buf[FILE_MAX];
	char path[512];
	struct stat st;
	ssize_t n;
	int fd;

	path_of(w, f, path, sizeof(path));
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		if (errno != ENOENT || w->size[f] != 0)
			fail(w, "open", path);
		return;
	}
	if (fstat(fd, &st) != 0 || (size_t)st.st_size != w->size[f]) {
		fprintf(stderr, "mt_client: %s: size %lld, expected %zu\n", path,
			(long long)st.st_size, w->size[f]);
		w->errors++;
	}
	n = pread(fd, buf, FILE_MAX, 0);
	if (n != (ssize_t)w->size[f] || memcmp(buf, w->model[f], w->size[f]) != 0) {
		fprintf(stderr, "mt_client: %s: contents differ from what was written\n", path);
		w->errors++;
	}
	close(fd);
}

/* Rename file f over file g (both ours): g takes f's contents, f is gone. */
static void do_rename(struct worker *w, int f, int g)
{
	char a[512], b[512];

	if (f == g || w->size[f] == 0)
		return;
	path_of(w, f, a, sizeof(a));
	path_of(w, g, b, sizeof(b));
	if (rename(a, b) != 0) {
		fail(w, "rename", a);
		return;
	}
	memcpy(w->model[g], w->model[f], FILE_MAX);
	w->size[g] = w->size[f];
	memset(w->model[f], 0, FILE_MAX);
	w->size[f] = 0;
}

static void do_list(struct worker *w)
{
	DIR *d = opendir(w->dir);
	struct dirent *e;

	if (!d) {
		fail(w, "opendir", w->dir);
		return;
	}
	while ((e = readdir(d)))
		;
	closedir(d);
}

static void *run(void *arg)
{
	struct worker *w = arg;

	while (time(NULL) < w->until) {
		int f = rand_r(&w->seed) % FILES_PER_THREAD;

		switch (rand_r(&w->seed) % 8) {
		case 0: case 1: case 2: do_write(w, f); break;
		case 3: do_truncate(w, f); break;
		case 4: do_rename(w, f, rand_r(&w->seed) % FILES_PER_THREAD); break;
		case 5: do_list(w); break;
		default: do_verify(w, f); break;
		}
		w->ops++;
	}
	for (int f = 0; f < FILES_PER_THREAD; f++)
		do_verify(w, f);
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 2 ? atoi(argv[2]) : 4, seconds = argc > 3 ? atoi(argv[3]) : 10;
	struct worker *w;
	pthread_t *tid;
	unsigned long ops = 0, errors = 0;

	if (argc < 2 || threads <= 0 || seconds <= 0) {
		fprintf(stderr, "usage: mt_client DIR [THREADS] [SECONDS]\n");
		return 2;
	}
	w = calloc((size_t)threads, sizeof(*w));
	tid = calloc((size_t)threads, sizeof(*tid));
	for (int i = 0; i < threads; i++) {
		w[i].dir = argv[1];
		w[i].id = i;
		w[i].until = time(NULL) + seconds;
		w[i].seed = 12345u + (unsigned)i;
		for (int f = 0; f < FILES_PER_THREAD; f++)
			w[i].model[f] = calloc(1, FILE_MAX);
		pthread_create(&tid[i], NULL, run, &w[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		ops += w[i].ops;
		errors += w[i].errors;
		for (int f = 0; f < FILES_PER_THREAD; f++)
			free(w[i].model[f]);
	}
	printf("mt_client: %lu ops, %lu errors\n", ops, errors);
	free(w);
	free(tid);
	return errors ? 1 : 0;
}
