/* SPDX-License-Identifier: MIT */
/*
 * fuse_uring.c: FUSE over io_uring (FUSE 7.42, Linux 6.14+), one ring
 * queue and one pinned thread per CPU, beside libfuse 3.14's /dev/fuse loop.
 * fuse_wire.c drives it: it accepts the transport in the INIT reply and
 * hands this file the replies to ring requests.
 */
#ifndef PMEMFS_FUSE_URING_H
#define PMEMFS_FUSE_URING_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Before the session: run the queue threads at idle priority (default on). */
void pmemfs_uring_idle_prio(bool on);

/*
 * Before the INIT reply that accepts the transport: make the rings, their
 * buffers (payload_sz bytes of request data each) and the per-CPU threads,
 * which wait. Returns 0, or -errno with nothing left behind.
 */
int pmemfs_uring_prepare(struct fuse_session *se, int devfd, size_t payload_sz);

/*
 * After the INIT reply: accepted says whether the kernel got it (then the
 * threads register their entries and serve); else they are stopped.
 */
void pmemfs_uring_go(bool accepted);

/* After the session: stop and join the threads, free the rings. */
void pmemfs_uring_stop(void);

/* The transport carries requests: every queue registered. */
bool pmemfs_uring_active(void);
unsigned pmemfs_uring_queues(void);
uint64_t pmemfs_uring_requests(void);

/*
 * In a handler on a ring thread: the payload buffer the reply goes out
 * from, when it holds size bytes (NULL elsewhere). A reply built in it is
 * not copied again.
 */
void *pmemfs_uring_reply_buffer(size_t size);

/*
 * From the wire's writev: when iov is the reply to the request this thread
 * is handling from its ring, store it in the ring entry, set *ret to the
 * byte count writev would have returned and return true. Otherwise false:
 * the reply goes to /dev/fuse.
 */
bool pmemfs_uring_reply(const struct iovec *iov, int count, ssize_t *ret);

/*
 * In a handler on a ring thread: write a notification (iov: fuse_out_header
 * with unique 0, then its arguments) to /dev/fuse without blocking the
 * queue; the thread serves its queue until the kernel has processed it.
 * Returns 0 or the write's -errno; -EOPNOTSUPP off a ring thread; -EBUSY
 * (nothing sent) when enough handlers of this queue wait already.
 */
int pmemfs_uring_notify(const struct iovec *iov, int count);

#endif /* PMEMFS_FUSE_URING_H */
