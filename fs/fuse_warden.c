// SPDX-License-Identifier: MIT
/*
 * Idle priority for the io_uring queue threads, with a warden.
 *
 * A queue thread answers a request by committing the reply, which wakes the
 * caller while the queue thread still runs on the caller's CPU. The
 * scheduler then moves the caller to an idle CPU, and the next request
 * crosses CPUs twice: here one caller's 4 KiB reads ran at 35k/s so. The
 * scheduler counts a CPU that runs only SCHED_IDLE tasks as idle, so with
 * the queue threads at SCHED_IDLE the caller is woken where it was and the
 * two take turns on one CPU: 100k/s.
 *
 * That placement is also its cost, so a warden thread (normal priority)
 * decides, sampling every WARDEN_BUSY_MS while requests come
 * (WARDEN_QUIET_MS otherwise):
 *  - Several callers at once: a CPU whose queue thread is at idle priority
 *    looks free to them too, and two callers that both do I/O end up on
 *    one CPU, taking turns on one queue while the other CPUs sleep (2 fio
 *    jobs: 120k 4 KiB reads/s against 190k at normal priority). The queue
 *    threads count requests whose caller differs from the previous
 *    request's, over all queues. The threads go to idle priority only
 *    after WARDEN_CALM_PERIODS busy periods (WARDEN_BUSY_MIN requests or
 *    more) in a row of (nearly) one caller, and
 *    back to normal as soon as callers interleave (held there for
 *    WARDEN_SHARED_HOLD_MS) or after a second without requests, so that a
 *    new job's processes are placed on a machine that looks as busy as it
 *    is.
 *  - Starvation: a SCHED_IDLE thread gets almost no CPU while normal tasks
 *    want it (a CPU-bound task on each CPU: 1 MiB writes fell to 2 MiB/s).
 *    A thread that spent more than half of a period runnable but not
 *    running (the kernel's per-task schedstat) is raised to normal priority
 *    for a hold that doubles (WARDEN_HOLD_MIN_MS up to WARDEN_HOLD_MAX_MS)
 *    each time it starves again soon after, so on a loaded machine the
 *    threads spend almost all their time at normal priority.
 */
#include "fuse_warden.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pmemfs/pmemfs.h"

#define WARDEN_BUSY_MS 10              /* sampling period while requests come */
#define WARDEN_QUIET_MS 100            /* at normal priority, or without requests */
#define WARDEN_QUIET_RESET_MS 1000     /* no requests this long: normal priority */
#define WARDEN_CALM_PERIODS 5          /* busy periods of one caller before idle */
#define WARDEN_BUSY_MIN 20             /* requests in a period that make it busy */
#define WARDEN_SHARED_MIN 20           /* caller switches in a period that count */
#define WARDEN_SHARED_HOLD_MS 8000     /* normal priority after callers interleaved */
#define WARDEN_HOLD_MIN_MS 500         /* a starved thread's first hold */
#define WARDEN_HOLD_MAX_MS 16000

struct watched {
	pid_t tid;
	int fd;                        /* /proc/self/task/TID/schedstat */
	uint64_t wait_ns;              /* at the last sample */
	bool idle;                     /* at SCHED_IDLE now */
	uint64_t hold_ms;              /* a starvation hold's length */
	uint64_t held_until_ms;        /* raised for starvation until */
};

struct warden {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	unsigned n;
	struct watched *w;
	const _Atomic uint64_t *requests, *switches;
	uint64_t last_requests, last_switches;
	unsigned calm;                 /* busy periods of one caller in a row */
	uint64_t quiet_ms;             /* without requests */
	uint64_t shared_until_ms;      /* callers interleaved: normal until */
	bool idle_mode;                /* one caller: threads at idle priority */
	_Atomic uint64_t raised;
};


static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* schedstat: "run_ns wait_ns timeslices"; the time spent waiting to run */
static int read_wait_ns(int fd, uint64_t *wait)
{
	char buf[96];
	unsigned long long w;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	if (sscanf(buf, "%*u %llu", &w) != 1)
		return -EIO;
	*wait = w;
	return 0;
}

static int set_policy(pid_t tid, int policy)
{
	struct sched_param sp = { 0 };

	return sched_setscheduler(tid, policy, &sp) == 0 ? 0 : -errno;
}

/* One caller, several, or none since the last sample? Sets idle_mode. */
static void judge_callers(struct warden *wd, uint64_t now, uint64_t period_ms)
{
	uint64_t req = atomic_load_explicit(wd->requests, memory_order_relaxed);
	uint64_t sw = atomic_load_explicit(wd->switches, memory_order_relaxed);
	uint64_t dr = req - wd->last_requests, ds = sw - wd->last_switches;

	wd->last_requests = req;
	wd->last_switches = sw;
	if (dr == 0) {
		wd->calm = 0;
		wd->quiet_ms += period_ms;
		if (wd->quiet_ms >= WARDEN_QUIET_RESET_MS)
			wd->idle_mode = false;
		return;
	}
	wd->quiet_ms = 0;
	if (ds >= WARDEN_SHARED_MIN && ds * 4 >= dr) {
		wd->calm = 0;
		wd->shared_until_ms = now + WARDEN_SHARED_HOLD_MS;
		wd->idle_mode = false;
	} else if (dr < WARDEN_BUSY_MIN) {
		wd->calm = 0;
	} else if (ds * 4 < dr && ++wd->calm >= WARDEN_CALM_PERIODS &&
		   now >= wd->shared_until_ms) {
		wd->idle_mode = true;
	}
}

/* A thread at idle priority that waited most of the period to run. */
static void judge_starved(struct warden *wd, struct watched *w, uint64_t now, uint64_t period_ms)
{
	uint64_t wait;

	if (read_wait_ns(w->fd, &wait) != 0)
		return;
	if (w->idle && wait - w->wait_ns > period_ms * 1000000 / 2) {
		/* starved again soon after the last hold: hold twice as long */
		if (now < w->held_until_ms + 2 * w->hold_ms)
			w->hold_ms = 2 * w->hold_ms < WARDEN_HOLD_MAX_MS ? 2 * w->hold_ms
									 : WARDEN_HOLD_MAX_MS;
		else
			w->hold_ms = WARDEN_HOLD_MIN_MS;
		w->held_until_ms = now + w->hold_ms;
		atomic_fetch_add_explicit(&wd->raised, 1, memory_order_relaxed);
	}
	w->wait_ns = wait;
}

static void apply(struct watched *w, bool idle)
{
	if (idle != w->idle && set_policy(w->tid, idle ? SCHED_IDLE : SCHED_OTHER) == 0)
		w->idle = idle;
}

/* One sample; returns whether requests came. */
static bool sample(struct warden *wd, uint64_t period_ms)
{
	uint64_t now = now_ms();

	judge_callers(wd, now, period_ms);
	for (unsigned i = 0; i < wd->n; i++) {
		struct watched *w = &wd->w[i];

		judge_starved(wd, w, now, period_ms);
		apply(w, wd->idle_mode && now >= w->held_until_ms);
	}
	return wd->quiet_ms == 0;
}

static void *warden_main(void *arg)
{
	struct warden *wd = arg;
	uint64_t period = WARDEN_QUIET_MS;

	pthread_setname_np(pthread_self(), "pmemfs-warden");
	pthread_mutex_lock(&wd->lock);
	while (!wd->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)(period * 1000000);
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&wd->cond, &wd->lock, &ts);
		if (wd->stop)
			break;
		pthread_mutex_unlock(&wd->lock);
		period = sample(wd, period) && wd->idle_mode ? WARDEN_BUSY_MS : WARDEN_QUIET_MS;
		pthread_mutex_lock(&wd->lock);
	}
	pthread_mutex_unlock(&wd->lock);
	return NULL;
}

static void warden_free(struct warden *wd)
{
	for (unsigned i = 0; i < wd->n; i++)
		if (wd->w[i].fd >= 0)
			close(wd->w[i].fd);
	pthread_cond_destroy(&wd->cond);
	pthread_mutex_destroy(&wd->lock);
	free(wd->w);
	free(wd);
}

static int watch(struct watched *w, pid_t tid)
{
	char path[64];

	w->tid = tid;
	w->hold_ms = WARDEN_HOLD_MIN_MS;
	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", (int)tid);
	w->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (w->fd < 0)
		return -errno;
	return read_wait_ns(w->fd, &w->wait_ns);
}

static void restore_all(struct warden *wd)
{
	for (unsigned i = 0; i < wd->n; i++)
		set_policy(wd->w[i].tid, SCHED_OTHER);
}

int pmemfs_warden_start(struct warden **out, const pid_t *tids, unsigned n,
			const _Atomic uint64_t *requests, const _Atomic uint64_t *switches)
{
	struct warden *wd;
	pthread_condattr_t ca;
	int rc = 0;

	*out = NULL;
	if (n == 0 || n > PMEMFS_WARDEN_MAX)
		return -EINVAL;
	wd = calloc(1, sizeof(*wd));
	if (!wd)
		return -ENOMEM;
	wd->w = calloc(n, sizeof(*wd->w));
	if (!wd->w) {
		free(wd);
		return -ENOMEM;
	}
	pthread_mutex_init(&wd->lock, NULL);
	/* the periods are measured on the monotonic clock, as timedwait's deadline */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wd->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned i = 0; i < n; i++)
		wd->w[i].fd = -1;
	wd->n = n;
	for (unsigned i = 0; i < n && rc == 0; i++)
		rc = watch(&wd->w[i], tids[i]);
	wd->requests = requests;
	wd->switches = switches;
	wd->last_requests = atomic_load(requests);
	wd->last_switches = atomic_load(switches);
	if (rc == 0 && pthread_create(&wd->thread, NULL, warden_main, wd) != 0)
		rc = -EAGAIN;
	if (rc != 0) {
		restore_all(wd);
		warden_free(wd);
		return rc;
	}
	*out = wd;
	return 0;
}

void pmemfs_warden_stop(struct warden *wd)
{
	if (!wd)
		return;
	pthread_mutex_lock(&wd->lock);
	wd->stop = true;
	pthread_cond_signal(&wd->cond);
	pthread_mutex_unlock(&wd->lock);
	pthread_join(wd->thread, NULL);
	warden_free(wd);
}

uint64_t pmemfs_warden_raised(const struct warden *wd)
{
	return wd ? atomic_load_explicit(&((struct warden *)wd)->raised, memory_order_relaxed) : 0;
}
