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
 * hold stages. A stage is freed when its thread exits (libfuse's worker
 * threads do at the end of the session) and, after a crash, at the next
 * mount. -o nozerocopy turns all of it off.
 */
#define FUSE_USE_VERSION 314

#include "fuse_stage.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#include "fuse_wire.h"
#include "pmemfs/layout.h"

#define PMEMFS_STAGE_MIN (128u << 10)           /* smallest write relinked */
#define PMEMFS_STAGE_MIN_DEVICE (1ull << 30)    /* devices smaller: no stages */
#define PMEMFS_STAGE_SPARE (256ull << 20)       /* free space a new stage leaves */

struct thread_stage {
	struct pfs_fs *fs;
	struct pfs_stage *st;
};

static pthread_key_t stage_key;
static pthread_once_t stage_once = PTHREAD_ONCE_INIT;
static bool stage_key_ok;

static void stage_release(void *arg)
{
	struct thread_stage *ts = arg;

	pfs_stage_free(ts->fs, ts->st);
	free(ts);
}

static void stage_key_init(void)
{
	stage_key_ok = pthread_key_create(&stage_key, stage_release) == 0;
}

static struct thread_stage *thread_stage(void)
{
	pthread_once(&stage_once, stage_key_init);
	return stage_key_ok ? pthread_getspecific(stage_key) : NULL;
}

/* Points the thread's landing zone at its stage; drops a stage too scattered for it. */
static void stage_land(struct thread_stage *ts)
{
	struct iovec iov[PMEMFS_WIRE_LANDING_MAX];
	int n = pfs_stage_iov(ts->fs, ts->st, iov, PMEMFS_WIRE_LANDING_MAX);

	if (n > 0) {
		pmemfs_wire_set_landing(iov, n);
		return;
	}
	pmemfs_wire_set_landing(NULL, 0);
	pthread_setspecific(stage_key, NULL);
	stage_release(ts);
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
	struct thread_stage *ts;

	if (!stage_key_ok || !room_for_stage(srv->fs))
		return;
	ts = calloc(1, sizeof(*ts));
	if (!ts)
		return;
	ts->fs = srv->fs;
	if (pfs_stage_new(srv->fs, PMEMFS_MAX_IO / PFS_BLOCK_SIZE, &ts->st) != 0 ||
	    pthread_setspecific(stage_key, ts) != 0) {
		stage_release(ts);
		return;
	}
	stage_land(ts);
}

int pmemfs_stage_source(size_t size, struct iovec *iov, int max)
{
	return pmemfs_wire_landed(size, iov, max);
}

bool pmemfs_stage_adoptable(const struct pmemfs_server *srv, off_t off, size_t size,
			    bool append)
{
	return srv->zerocopy && !append && size >= PMEMFS_STAGE_MIN &&
	       ((uint64_t)off | size) % PFS_BLOCK_SIZE == 0 && thread_stage();
}

int pmemfs_stage_adopt(struct pmemfs_server *srv, fuse_ino_t ino, off_t off, size_t size)
{
	struct thread_stage *ts = thread_stage();
	int rc;

	if (!ts)
		return -EINVAL;  /* pmemfs_stage_adoptable() said no */
	rc = pfs_stage_adopt(srv->fs, ts->st, ino, (uint64_t)off, size);

	/* the stage has fresh blocks now (on error: the same ones) */
	if (rc == 0)
		stage_land(ts);
	return rc;
}

void pmemfs_stage_after_write(struct pmemfs_server *srv, size_t size)
{
	if (srv->zerocopy && size >= PMEMFS_STAGE_MIN && !thread_stage())
		stage_make(srv);
}

void pmemfs_stage_thread_done(void)
{
	struct thread_stage *ts = thread_stage();

	if (!ts)
		return;
	pmemfs_wire_set_landing(NULL, 0);
	pthread_setspecific(stage_key, NULL);
	stage_release(ts);
}
