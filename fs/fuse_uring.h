/* SPDX-License-Identifier: MIT */
/*
 * fuse_uring.c: FUSE over io_uring (FUSE 7.42, Linux 6.14+), one ring
 * queue and one pinned thread per CPU, beside the /dev/fuse loop of a
 * libfuse without io_uring of its own (before 3.18). Part of the compat
 * module (fuse_compat.h). fuse_wire.c drives it: it accepts the transport
 * in the INIT reply and hands this file the replies to ring requests.
 */
#ifndef PMEMFS_FUSE_URING_H
#define PMEMFS_FUSE_URING_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct pmemfs_rings;
struct pmemfs_wire;

/*
 * Before the INIT reply that accepts the transport: make the rings, their
 * buffers (payload_sz bytes of request data each) and the per-CPU threads,
 * which wait; idle_prio: run them at idle priority under the warden.
 * Returns 0 with *out set, or -errno with nothing left behind.
 */
int pmemfs_uring_prepare(struct pmemfs_rings **out, struct pmemfs_wire *wire,
			 struct fuse_session *se, int devfd, size_t payload_sz, bool idle_prio);

/* After the INIT reply accepted them: the threads register their entries and serve. */
void pmemfs_uring_go(struct pmemfs_rings *rings);

/* After the session (or a failed INIT reply): stop and join the threads, free the rings. */
void pmemfs_uring_stop(struct pmemfs_rings *rings);

/* The transport carries requests: every queue registered (false for NULL). */
bool pmemfs_uring_active(const struct pmemfs_rings *rings);
unsigned pmemfs_uring_queues(const struct pmemfs_rings *rings);
uint64_t pmemfs_uring_requests(const struct pmemfs_rings *rings);
/* Times the warden raised a starved queue thread; its threads at idle priority now. */
uint64_t pmemfs_uring_raised(const struct pmemfs_rings *rings);
bool pmemfs_uring_idle_now(const struct pmemfs_rings *rings);

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
