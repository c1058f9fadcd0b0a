/* SPDX-License-Identifier: MIT */
/*
 * fuse_wire.c: the FUSE protocol bits the libfuse built against does not
 * give pmemfs (before 3.17: FUSE_DIRECT_IO_ALLOW_MMAP; before 3.18: the
 * WRITE request's write_flags and accepting FUSE over io_uring for the own
 * rings), supplied between libfuse and /dev/fuse; and the per-thread
 * landing zone that lets a write's data be read straight into device
 * blocks. Part of the compat module (fuse_compat.h); built only with the
 * custom_io option. One struct pmemfs_wire per session.
 */
#ifndef PMEMFS_FUSE_WIRE_H
#define PMEMFS_FUSE_WIRE_H

#include "fuse_compat_config.h"

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <sys/uio.h>

struct pmemfs_wire;
struct pmemfs_rings;
struct pmemfs_server;

/* The session's wire; idle_prio: the own rings' threads at idle priority. */
int pmemfs_wire_new(struct pmemfs_wire **wirep, bool idle_prio);
void pmemfs_wire_free(struct pmemfs_wire *wire);

/* The wire of the session whose userdata (the server) libfuse hands over (fuse_compat.c). */
struct pmemfs_wire *pmemfs_compat_wire(const struct pmemfs_server *srv);

/* After fuse_session_mount(): route the session's device I/O through here. */
int pmemfs_wire_attach(struct pmemfs_wire *wire, struct fuse_session *se);
/* After the session loop: stop the rings, free the stages. */
void pmemfs_wire_detach(struct pmemfs_wire *wire, struct pmemfs_server *srv);

/* The session's zero-copy stages (fuse_stage.c). */
struct pmemfs_stages *pmemfs_wire_stages(const struct pmemfs_wire *wire);

/* The own rings (fuse_uring.h), or NULL before INIT accepted them. */
struct pmemfs_rings *pmemfs_wire_rings(const struct pmemfs_wire *wire);

#if !PMEMFS_LIBFUSE_MMAP_DIO
/* In init(): did the kernel offer shared mmap of direct_io files? */
bool pmemfs_wire_offered_mmap_dio(const struct pmemfs_wire *wire);
/* In init(): accept it in the INIT reply (only if offered). */
void pmemfs_wire_want_mmap_dio(struct pmemfs_wire *wire, bool on);
/* After init: the INIT reply carried it (the kernel allows the mapping). */
bool pmemfs_wire_granted_mmap_dio(const struct pmemfs_wire *wire);
#endif

/* In init(): accept FUSE over io_uring for the own rings (only if offered). */
void pmemfs_wire_want_uring(struct pmemfs_wire *wire, bool on);

/*
 * A request (header first, len bytes) is about to be handled on this
 * thread: keep what the handler asks for (the INIT's offer; the WRITE's
 * write_flags, which libfuse does not hand to the handler).
 */
void pmemfs_wire_note_request(struct pmemfs_wire *wire, const void *req, size_t len);

/* In a write handler: the kernel asked the server to clear suid/sgid. */
bool pmemfs_wire_kill_suidgid(const struct pmemfs_wire *wire);

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
