/* SPDX-License-Identifier: MIT */
/*
 * fuse_wire.c: the FUSE protocol bits newer than Debian 12's libfuse 3.14
 * (FUSE_DIRECT_IO_ALLOW_MMAP, the WRITE request's write_flags, accepting
 * FUSE over io_uring), supplied between libfuse and /dev/fuse; and the
 * per-thread landing zone that lets a write's data be read straight into
 * device blocks.
 */
#ifndef PMEMFS_FUSE_WIRE_H
#define PMEMFS_FUSE_WIRE_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <sys/uio.h>

/* After fuse_session_mount(): route the session's device I/O through here. */
int pmemfs_wire_attach(struct fuse_session *se);

/* In init(): did the kernel offer shared mmap of direct_io files? */
bool pmemfs_wire_offered_mmap_dio(void);
/* In init(): accept it in the INIT reply (only if offered). */
void pmemfs_wire_want_mmap_dio(bool on);

/* After init: the INIT reply carried it (the kernel allows the mapping). */
bool pmemfs_wire_granted_mmap_dio(void);

/* In init(): did the kernel offer FUSE over io_uring (fuse.enable_uring)? */
bool pmemfs_wire_offered_uring(void);
/* In init(): accept it in the INIT reply (only if offered; fuse_uring.c). */
void pmemfs_wire_want_uring(bool on);

/*
 * A request (header first, len bytes) is about to be handled on this
 * thread: keep what the handler asks for (the WRITE's write_flags).
 */
void pmemfs_wire_note_request(const void *req, size_t len);

/* In a write handler: the kernel asked the server to clear suid/sgid. */
bool pmemfs_wire_kill_suidgid(void);

/*
 * The calling thread's landing zone for request data (0 iovecs: none). The
 * zone must hold the largest request (max_write bytes); it is used from the
 * thread's next read of /dev/fuse on.
 */
#define PMEMFS_WIRE_LANDING_MAX 32
void pmemfs_wire_set_landing(const struct iovec *iov, int cnt);

/*
 * In a write handler: when the request's size bytes are in the thread's
 * landing zone, fills iov (at most max) with them and returns the count;
 * else 0 (the data is in libfuse's buffer, as usual); -EIO if they landed
 * in more than max pieces (libfuse's buffer does not hold them then).
 */
int pmemfs_wire_landed(size_t size, struct iovec *iov, int max);

#endif /* PMEMFS_FUSE_WIRE_H */
