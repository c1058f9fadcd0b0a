/* SPDX-License-Identifier: MIT */
/*
 * fuse_warden.c: runs the io_uring queue threads at idle priority while a
 * single caller works, so that it stays on its CPU, and raises a thread back
 * to normal priority while other work keeps it from running.
 */
#ifndef PMEMFS_FUSE_WARDEN_H
#define PMEMFS_FUSE_WARDEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Watch these queue threads (ids from gettid(), at most PMEMFS_WARDEN_MAX),
 * given the counters the queues keep over all of them: requests served, and
 * those whose caller differs from the previous request's. The threads start
 * at normal priority. Returns 0, or -errno (the kernel lacks per-task
 * run-delay accounting, or the thread could not be made).
 */
#define PMEMFS_WARDEN_MAX 1024
struct warden;
int pmemfs_warden_start(struct warden **out, const pid_t *tids, unsigned n,
			const _Atomic uint64_t *requests, const _Atomic uint64_t *switches);

/* Stop the warden (NULL: none); the threads keep their last priority. */
void pmemfs_warden_stop(struct warden *wd);

/* Times a starved thread was raised back to normal priority (0 for NULL). */
uint64_t pmemfs_warden_raised(const struct warden *wd);

#endif /* PMEMFS_FUSE_WARDEN_H */
