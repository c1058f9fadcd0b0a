// SPDX-License-Identifier: MIT
/*
 * The crash-state tester. For each workload (workloads.c) it records every
 * store, flush and drain the core makes (recorder.c), then builds the media
 * image of every fence point and, per fence, images in which only a random
 * subset of the stores issued since that fence reached the media. Each image
 * must mount (running recovery), pass the checker with no problem, and show
 * a file system the workload could have left at that instant:
 *
 *  - every step that had returned is there in full, the step in flight is all
 *    or nothing: the tree equals the snapshot after step j for some j between
 *    the steps done and the steps started (names, inode numbers, types,
 *    permissions, owners, link counts, sizes, symlink targets, xattrs);
 *  - every byte of every file is one that some write gave it since the last
 *    barrier (fsync, O_SYNC write or metadata operation) before the crash, or
 *    that a hole or extension had as a zero.
 *
 * Usage: crashtest [--workload NAME] [--fence K] [--seed S] [--subsets N]
 *                  [--exhaustive] [--recovery-every N] [--list] [-v]
 * A failure is printed with the command that replays it alone.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pfs.h"
#include "recorder.h"
#include "snapshot.h"
#include "workloads.h"

#define WHY_LEN 1024

struct opts {
	const char *only;
	long fence;                    /* -1: every fence */
	uint64_t seed;
	bool have_seed;
	unsigned subsets;              /* random subsets per fence */
	unsigned recovery_every;       /* crash inside recovery of every Nth state; 0: never */
	uint64_t base_seed;
	bool verbose;
	unsigned max_print;
};

struct stats {
	uint64_t passed, failed, printed;
};

/* ---- the core's log, kept for failure messages ---- */

static char last_log[512];

static void log_sink(enum pfs_log_level lvl, const char *msg)
{
	if (lvl <= PFS_LOG_WARN)
		snprintf(last_log, sizeof(last_log), "%s", msg);
}

struct problems {
	unsigned n;
	char first[512];
};

static void check_report(void *arg, const char *object, const char *problem, bool repaired)
{
	struct problems *p = arg;

	(void)repaired;
	if (p->n++ == 0)
		snprintf(p->first, sizeof(p->first), "%s: %s", object, problem);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the oracle ---- */

/* Which steps had returned (done), begun (started) and been made durable (sync) by event i. */
struct window {
	size_t done, started, sync;
};

static struct window window_at(const struct wl_ctx *w, size_t instant)
{
	struct window win = { 0, 0, 0 };

	for (size_t j = 1; j <= w->nsteps; j++) {
		const struct wl_step *s = &w->steps[j - 1];

		if (s->end <= instant) {
			win.done = j;
			if (s->barrier)
				win.sync = j;
		}
		if (s->begin < instant)
			win.started = j;
	}
	/* steps with no stores before the instant change nothing: let them count */
	if (win.started < win.done)
		win.started = win.done;
	return win;
}

static bool oracle(const struct wl_ctx *w, const struct snap *got, struct window win, char *why)
{
	char first[WHY_LEN] = "";
	const struct snap **cand;
	bool ok = false;

	cand = calloc(w->nsteps + 1, sizeof(*cand));
	if (!cand) {
		snprintf(why, WHY_LEN, "out of memory");
		return false;
	}
	for (size_t j = win.started + 1; j-- > win.done;) {
		char d[WHY_LEN];

		if (!snap_struct_equal(got, &w->snaps[j], d, sizeof(d))) {
			if (j == win.done)
				snprintf(first, sizeof(first), "vs step %zu: %s", j, d);
			continue;
		}
		for (size_t i = win.sync; i <= j; i++)
			cand[i - win.sync] = &w->snaps[i];
		ok = snap_data_possible(got, cand, j - win.sync + 1, d, sizeof(d));
		if (!ok)
			snprintf(why, WHY_LEN, "tree of step %zu, but %s", j, d);
		goto out;
	}
	snprintf(why, WHY_LEN, "tree matches no step in %zu..%zu (%s)", win.done, win.started,
		 first);
out:
	free(cand);
	return ok;
}

/* Mount (recovery), checker, oracle on one image. */
static bool test_image(const struct wl_ctx *w, const char *img, size_t size, struct window win,
		       char *why)
{
	struct pfs_device *dev = NULL;
	struct pfs_check_result res;
	struct problems pr = { 0 };
	struct pfs_fs *fs = NULL;
	struct snap got = { 0 };
	char d[WHY_LEN];
	bool ok = false;
	int rc;

	last_log[0] = '\0';
	rc = pfs_device_dram_copy(img, size, &dev);
	if (rc) {
		snprintf(why, WHY_LEN, "no memory for the image");
		return false;
	}
	rc = pfs_mount(dev, 0, &fs);
	if (rc) {
		snprintf(why, WHY_LEN, "mount: %s (%s)", strerror(-rc), last_log);
		goto out;
	}
	if (pfs_is_readonly(fs)) {
		snprintf(why, WHY_LEN, "mount found corruption (%s)", last_log);
		goto out;
	}
	pfs_unmount(fs);
	fs = NULL;
	rc = pfs_check(dev, PFS_CHECK_QUIET, check_report, &pr, &res);
	if (rc || res.problems || pr.n) {
		snprintf(why, WHY_LEN, "checker: %s; %u problems, first: %s",
			 rc ? strerror(-rc) : "ran", res.problems, pr.first);
		goto out;
	}
	rc = pfs_mount(dev, 0, &fs);
	if (rc) {
		snprintf(why, WHY_LEN, "second mount: %s (%s)", strerror(-rc), last_log);
		goto out;
	}
	rc = snap_take(fs, &got, d, sizeof(d));
	if (rc) {
		snprintf(why, WHY_LEN, "reading the tree: %s (%s)", d, last_log);
		goto out;
	}
	if (pfs_is_readonly(fs)) {
		snprintf(why, WHY_LEN, "reading the tree found corruption (%s)", last_log);
		goto out;
	}
	ok = oracle(w, &got, win, why);
out:
	snap_free(&got);
	pfs_unmount(fs);
	pfs_device_close(dev);
	return ok;
}

/* Will mounting img roll back a transaction or free orphans? */
static bool recovery_has_work(const char *img, size_t size)
{
	const struct pfs_jhdr_pm *jh;
	const struct pfs_jrec_pm *r;
	const struct pfs_state_pm *st;
	struct pfs_super_pm sb;
	int which;

	if (pfs_super_pick(img, size, &sb, &which))
		return false;
	st = (const void *)(img + PFS_STATE_BLOCK * (size_t)PFS_BLOCK_SIZE);
	if (st->orphan_head)
		return true;
	jh = (const void *)(img + (sb.journal_start << PFS_BLOCK_SHIFT));
	r = (const void *)(jh + 1);
	if (r->seq != jh->active_seq || r->len == 0 ||
	    r->len > (sb.journal_blocks << PFS_BLOCK_SHIFT) - sizeof(*jh) - sizeof(*r))
		return false;
	return r->csum == pfs_crc32c(pfs_crc32c(0, r, offsetof(struct pfs_jrec_pm, csum)),
				     r + 1, r->len);
}

/*
 * Crash inside recovery: record the mount of img, then test every fence of
 * that recording and random parts of the stores before each (recovery must
 * survive its own interruption, a torn rollback included).
 */
static bool test_recovery_crash(const struct wl_ctx *w, const char *img, size_t size,
				struct window win, uint64_t seed, unsigned subsets, char *why,
				uint64_t *nstates)
{
	struct pfs_device *dev = NULL;
	struct pfs_fs *fs = NULL;
	struct recorder rec;
	char *cur = NULL, *scratch = NULL;
	bool ok = true;
	int rc;

	if (pfs_device_dram_copy(img, size, &dev))
		return true;
	rc = rec_start(&rec, dev);
	if (rc)
		goto out_dev;
	rc = pfs_mount(dev, 0, &fs);
	rec_stop(&rec);
	pfs_unmount(fs);
	if (rc)
		goto out; /* the plain test reports it */
	cur = malloc(size);
	if (!cur)
		goto out;
	memcpy(cur, rec.base0, size);
	scratch = malloc(size);
	if (!scratch)
		goto out;
	for (size_t k = 0; ok && k < rec.ndrains; k++) {
		size_t from = rec_fence_pos(&rec, k), to = rec_segment_end(&rec, k);
		uint64_t st = seed ^ (k * 0x9e3779b97f4a7c15ull);

		if (rec_count_stores(&rec, from, to) == 0)
			continue;
		/* part of the segment (a torn rollback), then all of it */
		for (unsigned i = 0; ok && i <= subsets; i++) {
			uint64_t sub = rec_rand(&st) | 1;

			memcpy(scratch, cur, size);
			if (i < subsets)
				rec_apply_subset(&rec, scratch, from, to, sub);
			else
				rec_apply(&rec, scratch, from, to);
			(*nstates)++;
			if (!test_image(w, scratch, size, win, why)) {
				char tmp[WHY_LEN];

				snprintf(tmp, sizeof(tmp), "crash in recovery before fence %zu "
					 "(subset %#" PRIx64 "): %s", k + 1,
					 i < subsets ? sub : 0, why);
				memcpy(why, tmp, WHY_LEN);
				ok = false;
			}
		}
		rec_apply(&rec, cur, from, to + 1);
	}
out:
	free(cur);
	free(scratch);
	rec_free(&rec);
out_dev:
	pfs_device_close(dev);
	return ok;
}

/* ---- driving one workload ---- */

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ull;
	return h;
}

static uint64_t subset_seed(const struct opts *o, const struct workload *wl, size_t k, unsigned i)
{
	uint64_t st = o->base_seed ^ name_hash(wl->name) ^ ((uint64_t)k << 24) ^ i;

	return rec_rand(&st) | 1;
}

struct run {
	const struct opts *o;
	const struct workload *wl;
	struct wl_ctx *w;
	struct stats *st;
	uint64_t tested, failed, rec_states, recovering;
};

static void verdict(struct run *r, bool ok, size_t k, uint64_t seed, struct window win,
		    const char *why)
{
	r->tested++;
	if (ok) {
		r->st->passed++;
		if (r->o->verbose)
			printf("  ok   %s fence %zu seed %#" PRIx64 " (done %zu, started %zu, sync %zu)\n",
			       r->wl->name, k, seed, win.done, win.started, win.sync);
		return;
	}
	r->failed++;
	r->st->failed++;
	if (r->st->printed++ >= r->o->max_print && !r->o->verbose)
		return;
	printf("FAIL %s fence %zu seed %#" PRIx64 " (steps done %zu, started %zu, synced %zu): %s\n"
	       "     replay: tests/crash/crashtest --workload %s --fence %zu --seed %#" PRIx64 "\n",
	       r->wl->name, k, seed, win.done, win.started, win.sync, why, r->wl->name, k, seed);
}

static void one_state(struct run *r, const char *img, size_t size, size_t k, uint64_t seed,
		      size_t instant)
{
	struct window win = window_at(r->w, instant);
	char why[WHY_LEN] = "";
	bool ok = test_image(r->w, img, size, win, why);

	if (ok && r->o->recovery_every && recovery_has_work(img, size) &&
	    (r->recovering++ % r->o->recovery_every) == 0) {
		uint64_t n = 0;

		ok = test_recovery_crash(r->w, img, size, win, seed, r->o->subsets > 4 ? 4 : 1,
					 why, &n);
		r->rec_states += n;
		/* the states inside recovery count as crash states of their own */
		r->st->passed += ok ? n : n - 1;
	}
	verdict(r, ok, k, seed, win, why);
}

/*
 * Leaves old bytes in most free blocks and inode slots (files written and
 * removed), then remounts so the allocators start from the beginning again:
 * a block the core reuses without initialising shows up as foreign bytes.
 */
static int dirty(struct wl_ctx *w)
{
	struct statvfs sv;
	uint64_t root = pfs_root_ino(w->fs);
	size_t chunk = 65536, done;
	uint8_t *buf = malloc(chunk);
	int rc = buf ? pfs_statfs(w->fs, &sv) : -ENOMEM;
	uint64_t blocks = rc ? 0 : sv.f_bfree * 3 / 4, per = blocks / 8 + 1;

	for (size_t i = 0; i < chunk; i++)
		if (buf)
			buf[i] = (uint8_t)(0xa5 ^ i);
	for (unsigned f = 0; !rc && f < 8; f++) {
		char name[16];
		struct pfs_attr a;

		snprintf(name, sizeof(name), "junk%u", f);
		rc = pfs_mknod(w->fs, root, name, S_IFREG | 0600, 0, &w->cred, &a);
		for (uint64_t off = 0; !rc && off < per * PFS_BLOCK_SIZE; off += chunk) {
			struct iovec v = { buf, chunk };

			rc = pfs_write(w->fs, a.ino, off, &v, 1, false, false, &done);
		}
		if (!rc)
			pfs_forget(w->fs, a.ino, 1);
	}
	for (unsigned f = 0; !rc && f < 8; f++) {
		char name[16];

		snprintf(name, sizeof(name), "junk%u", f);
		rc = pfs_unlink(w->fs, root, name);
	}
	free(buf);
	if (rc)
		return rc;
	pfs_unmount(w->fs);
	w->fs = NULL;
	return pfs_mount(w->dev, 0, &w->fs);
}

static int record(const struct workload *wl, struct wl_ctx *w, struct recorder *rec)
{
	static const uint8_t uuid[16] = { 0x70, 0x6d, 0x65, 0x6d, 0x66, 0x73, 1, 2,
					  3, 4, 5, 6, 7, 8, 9, 10 };
	struct pfs_format_opts fo = { .label = "crash", .inode_count = wl->inodes, .uuid = uuid,
				      .mkfs_time = 1700000000, .hash_seed = 42 };
	uint64_t bad = 0;
	int rc;

	memset(w, 0, sizeof(*w));
	w->cred = (struct pfs_cred){ .uid = 1000, .gid = 1000, .umask = 022 };
	rc = pfs_device_dram((size_t)wl->dev_mib << 20, &w->dev);
	if (!rc)
		rc = pfs_format(w->dev, &fo, NULL);
	if (!rc)
		rc = pfs_mount(w->dev, 0, &w->fs);
	if (!rc)
		rc = dirty(w);
	if (rc) {
		snprintf(w->why, sizeof(w->why), "format and mount: %s", strerror(-rc));
		return rc;
	}
	wl->setup(w);
	if (!w->broken)
		wl_snap_now(w);
	if (w->broken)
		return -EINVAL;
	rc = rec_start(rec, w->dev);
	if (rc)
		return rc;
	w->rec = rec;
	wl->run(w);
	rec_stop(rec);
	if (w->broken)
		return -EINVAL;
	if (rec->oom) {
		snprintf(w->why, sizeof(w->why), "recorder out of memory");
		return -ENOMEM;
	}
	if (rec->unflushed) {
		snprintf(w->why, sizeof(w->why), "%" PRIu64 " stores met a drain unflushed (first at "
			 "offset %" PRIu64 ")", rec->unflushed, rec->first_unflushed_off);
		return -EINVAL;
	}
	if (!rec_verify(rec, pfs_device_base(w->dev), &bad)) {
		snprintf(w->why, sizeof(w->why), "the media changed outside the pmem ops "
			 "(first difference at offset %" PRIu64 ")", bad);
		return -EINVAL;
	}
	return 0;
}

static void run_workload(const struct opts *o, const struct workload *wl, struct stats *st)
{
	struct recorder rec = { 0 };
	struct wl_ctx w;
	struct run r = { .o = o, .wl = wl, .w = &w, .st = st };
	char *img = NULL, *scratch = NULL;
	double t0 = now_s();
	size_t fences = 0, size;
	int rc = record(wl, &w, &rec);

	if (rc) {
		st->failed++;
		printf("FAIL %s: the workload itself failed: %s\n", wl->name, w.why);
		goto out;
	}
	if (o->verbose)
		for (size_t j = 1; j <= w.nsteps; j++)
			printf("  step %zu: %s -> %d (events %zu..%zu%s)\n", j, w.steps[j - 1].what,
			       w.steps[j - 1].rc, w.steps[j - 1].begin, w.steps[j - 1].end,
			       w.steps[j - 1].barrier ? ", barrier" : "");
	size = rec.size;
	img = malloc(size);
	scratch = malloc(size);
	if (!img || !scratch) {
		st->failed++;
		printf("FAIL %s: out of memory\n", wl->name);
		goto out;
	}
	memcpy(img, rec.base0, size);
	for (size_t k = 0; k <= rec.ndrains; k++) {
		size_t pos = rec_fence_pos(&rec, k), end = rec_segment_end(&rec, k);
		size_t prev = k ? rec_fence_pos(&rec, k - 1) : 0;
		bool fresh = k == 0 || rec_count_stores(&rec, prev, pos) > 0;
		bool wanted = o->fence < 0 || (size_t)o->fence == k;

		rec_apply(&rec, img, prev, pos);
		if (!wanted)
			continue;
		fences++;
		/* a fence with no store since the last one is the same image */
		if ((fresh || o->fence >= 0) && (!o->have_seed || o->seed == 0))
			one_state(&r, img, size, k, 0, pos);
		if (rec_count_stores(&rec, pos, end) == 0)
			continue;
		for (unsigned i = 0; i < o->subsets; i++) {
			uint64_t seed = o->have_seed ? o->seed : subset_seed(o, wl, k, i);

			if (o->have_seed && seed == 0)
				break;
			memcpy(scratch, img, size);
			rec_apply_subset(&rec, scratch, pos, end, seed);
			one_state(&r, scratch, size, k, seed, end);
			if (o->have_seed)
				break;
		}
		/* the last segment in full: the state had the machine not crashed */
		if (k == rec.ndrains && !o->have_seed) {
			memcpy(scratch, img, size);
			rec_apply(&rec, scratch, pos, end);
			one_state(&r, scratch, size, k, ~0ull, end);
		}
	}
	printf("%-16s %3zu steps %5zu fences %6" PRIu64 " states %4" PRIu64 " failed %6.2f s",
	       wl->name, w.nsteps, fences, r.tested, r.failed, now_s() - t0);
	if (r.rec_states)
		printf(" (+%" PRIu64 " inside recovery)", r.rec_states);
	printf("\n");
	fflush(stdout);
out:
	free(img);
	free(scratch);
	rec_free(&rec);
	if (w.fs)
		pfs_unmount(w.fs);
	pfs_device_close(w.dev);
	wl_ctx_free(&w);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: crashtest [--workload NAME] [--fence K] [--seed S] [--subsets N]\n"
		   "                 [--exhaustive] [--recovery-every N] [--base-seed S] [--list] "
		   "[-v]\n"
		   "  default: every fence of every workload, 3 random subsets per fence,\n"
		   "           crashes inside every 8th recovery that has work to do\n"
		   "  --exhaustive: 16 subsets per fence, crashes (4 subsets each) inside every\n"
		   "                2nd recovery that has work to do\n"
		   "  --fence K --seed S: replay one state (seed 0: the fence image itself)\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "workload", required_argument, NULL, 'w' },
		{ "fence", required_argument, NULL, 'f' },
		{ "seed", required_argument, NULL, 's' },
		{ "subsets", required_argument, NULL, 'n' },
		{ "exhaustive", no_argument, NULL, 'x' },
		{ "recovery-every", required_argument, NULL, 'r' },
		{ "base-seed", required_argument, NULL, 'b' },
		{ "list", no_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .fence = -1, .subsets = 3, .recovery_every = 8,
			  .base_seed = 0x5eed, .max_print = 30 };
	struct stats st = { 0 };
	double t0 = now_s();
	bool found = false;
	int c;

	while ((c = getopt_long(argc, argv, "w:f:s:n:xr:b:lvh", lo, NULL)) != -1) {
		switch (c) {
		case 'w': o.only = optarg; break;
		case 'f': o.fence = strtol(optarg, NULL, 0); break;
		case 's': o.seed = strtoull(optarg, NULL, 0); o.have_seed = true; break;
		case 'n': o.subsets = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'x': o.subsets = 16; o.recovery_every = 2; break;
		case 'r': o.recovery_every = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'b': o.base_seed = strtoull(optarg, NULL, 0); break;
		case 'l':
			for (size_t i = 0; i < nworkloads; i++)
				printf("%-16s %s\n", workloads[i].name, workloads[i].about);
			return 0;
		case 'v': o.verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.have_seed && o.subsets == 0)
		o.subsets = 1;
	pfs_log_set_sink(log_sink, PFS_LOG_WARN);
	for (size_t i = 0; i < nworkloads; i++) {
		if (o.only && strcmp(o.only, workloads[i].name))
			continue;
		found = true;
		run_workload(&o, &workloads[i], &st);
	}
	if (!found) {
		fprintf(stderr, "crashtest: no workload named '%s' (see --list)\n", o.only);
		return 2;
	}
	printf("total time %.1f s\n", now_s() - t0);
	printf("crash states: %" PRIu64 " passed, %" PRIu64 " failed\n", st.passed, st.failed);
	printf("%" PRIu64 " passed, %" PRIu64 " failed\n", st.passed, st.failed);
	return st.failed ? 1 : 0;
}
