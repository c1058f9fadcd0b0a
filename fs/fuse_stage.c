// SPDX-License-Identifier: MIT
/*
 * Zero-copy writes in the server: each worker thread that serves large
 * writes gets a stage (fs/stage.c, max_write bytes of device blocks) as its
 * landing zone (fs/fuse_wire.c), so the kernel copies a WRITE's data
 * straight into pmem. A block-aligned write of at least PMEMFS_STAGE_MIN
 * bytes is then relinked into the file (pfs_stage_adopt) instead of copied;
 * any other write is copied from the zone, as it would have been from
 * libfuse's buffer.
 *
 * A thread makes its stage after its first large write, only on a device of
 * at least PMEMFS_STAGE_MIN_DEVICE with room to spare, so small images never
 * hold stages, and gives it back when free space runs short. A write that
 * cannot be relinked (no space for the stage's fresh blocks, a file too
 * fragmented) is copied instead. The stages are freed at the end of the
 * session (pmemfs_stage_free_all) and, after a crash, at the next mount.
 * Off unless -o zerocopy: on an emulated image in tmpfs it is slower than
 * copying (the kernel pins the shared-mapping pages it copies into one at a
 * time, on a slower path than for libfuse's anonymous buffer: 2.6 against
 * 4.8 GB/s of 1 MiB writes); on devdax it is untested for speed.
 */
#define FUSE_USE_VERSION 314

#include "fuse_compat.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#include "pmemfs/layout.h"

#define PMEMFS_STAGE_MIN (128u << 10)           /* smallest write relinked */
#define PMEMFS_STAGE_MIN_DEVICE (1ull << 30)    /* devices smaller: no stages */
#define PMEMFS_STAGE_SPARE (256ull << 20)       /* free space a new stage leaves */

/*
 * Every stage is on its session's list, so that the session's end frees
 * them all, in order, before the file system goes away: a worker thread
 * that exits early (-o max_idle_threads) only hands its stage back (its key
 * destructor must not touch the file system, which may be gone by then).
 * The list lives until the wire is freed, after every thread of the
 * session was joined. The thread key is the process's (a thread serves one
 * session; its stage names the list it is on).
 */
struct pmemfs_stages {
	pthread_mutex_t lock;
	struct thread_stage *list;
	bool closed;
};

struct thread_stage {
	struct pmemfs_stages *set;
	struct pfs_fs *fs;
	struct pfs_stage *st;
	bool retired;                  /* its thread exited */
	struct thread_stage *next;
};

static pthread_key_t stage_key;
static pthread_once_t stage_once = PTHREAD_ONCE_INIT;
static bool stage_key_ok;

struct pmemfs_stages *pmemfs_stages_new(void)
{
	struct pmemfs_stages *set = calloc(1, sizeof(*set));

	if (set)
		pthread_mutex_init(&set->lock, NULL);
	return set;
}

void pmemfs_stages_free(struct pmemfs_stages *set)
{
	if (!set)
		return;
	pthread_mutex_destroy(&set->lock);
	free(set);
}

static struct pmemfs_stages *stages_of(const struct pmemfs_server *srv)
{
	return pmemfs_wire_stages(pmemfs_compat_wire(srv));
}

static void stage_retire(void *arg)
{
	struct thread_stage *ts = arg;
	struct pmemfs_stages *set = ts->set;

	pthread_mutex_lock(&set->lock);
	if (!set->closed)
		ts->retired = true;
	pthread_mutex_unlock(&set->lock);
}

static void stage_key_init(void)
{
	stage_key_ok = pthread_key_create(&stage_key, stage_retire) == 0;
}

static struct thread_stage *thread_stage(void)
{
	pthread_once(&stage_once, stage_key_init);
	return stage_key_ok ? pthread_getspecific(stage_key) : NULL;
}

/* Takes ts off the list and frees it (the calling thread's own, or any at the end). */
static void stage_drop(struct thread_stage *ts)
{
	struct pmemfs_stages *set = ts->set;
	struct thread_stage **pp;

	pthread_mutex_lock(&set->lock);
	for (pp = &set->list; *pp && *pp != ts; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = ts->next;
	pthread_mutex_unlock(&set->lock);
	pfs_stage_free(ts->fs, ts->st);
	free(ts);
}

/* The calling thread gives its stage up: the landing zone goes with it. */
static void stage_leave(struct thread_stage *ts)
{
	pmemfs_wire_set_landing(NULL, 0);
	pthread_setspecific(stage_key, NULL);
	stage_drop(ts);
}

/* Points the thread's landing zone at its stage; drops a stage too scattered for it. */
static void stage_land(struct thread_stage *ts)
{
	struct iovec iov[PMEMFS_WIRE_LANDING_MAX];
	int n = pfs_stage_iov(ts->fs, ts->st, iov, PMEMFS_WIRE_LANDING_MAX);

	if (n > 0)
		pmemfs_wire_set_landing(iov, n);
	else
		stage_leave(ts);
}

static bool room_for_stage(struct pfs_fs *fs)
{
	struct statvfs sv;

	if (pfs_statfs(fs, &sv) != 0)
		return false;
	return (uint64_t)sv.f_blocks * sv.f_frsize >= PMEMFS_STAGE_MIN_DEVICE &&
	       (uint64_t)sv.f_bavail * sv.f_frsize >= PMEMFS_STAGE_SPARE + PMEMFS_MAX_IO;
}

static void stage_make(struct pmemfs_server *srv)
{
	struct pmemfs_stages *set = stages_of(srv);
	struct thread_stage *ts;

	if (!stage_key_ok || !set || !room_for_stage(srv->fs))
		return;
	ts = calloc(1, sizeof(*ts));
	if (!ts)
		return;
	ts->set = set;
	ts->fs = srv->fs;
	if (pfs_stage_new(srv->fs, PMEMFS_MAX_IO / PFS_BLOCK_SIZE, &ts->st) != 0) {
		free(ts);
		return;
	}
	pthread_mutex_lock(&set->lock);
	ts->next = set->list;
	set->list = ts;
	pthread_mutex_unlock(&set->lock);
	if (pthread_setspecific(stage_key, ts) != 0) {
		stage_drop(ts);
		return;
	}
	stage_land(ts);
}

size_t pmemfs_stage_adoptable(const struct pmemfs_server *srv, off_t off, size_t size,
			      bool append)
{
	size_t whole = size & ~(size_t)(PFS_BLOCK_SIZE - 1);

	if (!srv->zerocopy || append || whole < PMEMFS_STAGE_MIN ||
	    (uint64_t)off % PFS_BLOCK_SIZE || !thread_stage())
		return 0;
	return whole;
}

int pmemfs_stage_adopt(struct pmemfs_server *srv, fuse_ino_t ino, off_t off, size_t size)
{
	struct thread_stage *ts = thread_stage();
	int rc;

	if (!ts)
		return -EINVAL;  /* pmemfs_stage_adoptable() said no */
	rc = pfs_stage_adopt(srv->fs, ts->st, ino, (uint64_t)off, size);
	if (rc == -ENOSPC || (rc == 0 && !room_for_stage(srv->fs)))
		stage_leave(ts);  /* space is short: stages give theirs back */
	else if (rc == 0)
		stage_land(ts);   /* the stage has fresh blocks */
	return rc;
}

void pmemfs_stage_after_write(struct pmemfs_server *srv, size_t size)
{
	if (srv->zerocopy && size >= PMEMFS_STAGE_MIN && !thread_stage())
		stage_make(srv);
}

void pmemfs_stage_free_all(struct pmemfs_server *srv)
{
	struct pmemfs_stages *set = stages_of(srv);
	struct thread_stage *ts = thread_stage();

	if (!set)
		return;
	if (ts && ts->set == set) {
		pmemfs_wire_set_landing(NULL, 0);
		pthread_setspecific(stage_key, NULL);
	}
	pthread_mutex_lock(&set->lock);
	set->closed = true;
	while ((ts = set->list) != NULL) {
		set->list = ts->next;
		pthread_mutex_unlock(&set->lock);
		pfs_stage_free(ts->fs, ts->st);
		free(ts);
		pthread_mutex_lock(&set->lock);
	}
	pthread_mutex_unlock(&set->lock);
}
