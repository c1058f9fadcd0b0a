/* SPDX-License-Identifier: MIT */
/*
 * fuse_compat.h: the one interface to what pmemfs needs from FUSE beyond
 * libfuse 3.14's API. fs/meson.build picks what implements each part from
 * the libfuse the build finds (fuse_compat_config.h), and compiles nothing
 * that libfuse provides:
 *
 *                              3.14       3.17       3.18
 *   shared mmap of direct_io   wire       libfuse    libfuse
 *   suid/sgid kill on write    wire       wire       writer's CAP_FSETID (*)
 *   FUSE over io_uring         own rings  own rings  libfuse (-o io_uring) (**)
 *   zero-copy writes           wire       wire       -
 *
 * "wire": fs/fuse_wire.c between libfuse and /dev/fuse through
 * fuse_session_custom_io(), with the own rings (fuse_uring.c,
 * fuse_warden.c) and the landing zone (fuse_stage.c) behind it; built
 * where meson's custom_io option allows (by default below 3.18). Where a
 * part has neither, the options that need it are refused with one line.
 * All state is the session's (struct pmemfs_server's compat).
 *
 * (*) 3.18 has fi->kill_suidgid, set only under FUSE_CAP_HANDLE_KILLPRIV_V2,
 * which would move truncate, O_TRUNC, chown and cached-write clearing onto
 * the server too; see fuse_compat.c.
 * (**) where libfuse was built with liburing (Debian's 3.18.3 is not).
 */
#ifndef PMEMFS_FUSE_COMPAT_H
#define PMEMFS_FUSE_COMPAT_H

#include "fuse_compat_config.h"
#include "fuse_ops.h"

#include <errno.h>
#include <stdio.h>

/* -o uring=HOW, or libfuse's -o io_uring */
enum pmemfs_uring {
	PMEMFS_URING_DEFAULT,          /* not given: the build's default */
	PMEMFS_URING_OFF,              /* /dev/fuse only */
	PMEMFS_URING_IDLE,             /* own rings, queue threads at idle priority */
	PMEMFS_URING_NORMAL,           /* own rings, normal priority */
	PMEMFS_URING_LIBFUSE,          /* libfuse's rings (3.18) */
};

/* The transport and feature choices from the command line. */
struct pmemfs_compat_opts {
	enum pmemfs_uring uring;
	bool zerocopy;
};

/* --version: which libfuse was built against, and where each part comes from. */
void pmemfs_compat_print(FILE *f);

/*
 * After parsing: refuse what this build cannot do (one line on stderr, -1),
 * resolve the default transport into o->uring, and give libfuse the
 * options its own parts need (-o io_uring). Returns 0 or -1.
 */
int pmemfs_compat_check(struct pmemfs_compat_opts *o, struct fuse_args *args);

/* Server state for the session (none: the build has no wire). */
int pmemfs_compat_new(struct pmemfs_server *srv, const struct pmemfs_compat_opts *o);
void pmemfs_compat_free(struct pmemfs_server *srv);

/* After fuse_session_mount(): 0 or -errno (then refuse to serve). */
int pmemfs_compat_attach(struct pmemfs_server *srv, struct fuse_session *se);
/* After the session loop: stop what attach started. */
void pmemfs_compat_detach(struct pmemfs_server *srv);

/* In init(): did the kernel offer shared mmap of direct_io files? */
bool pmemfs_compat_offered_mmap_dio(const struct pmemfs_server *srv,
				    const struct fuse_conn_info *conn);
/*
 * In init(), after srv->direct_io is chosen: negotiate shared mmap of
 * direct_io files (when direct_io), and the transport.
 */
void pmemfs_compat_init(struct pmemfs_server *srv, struct fuse_conn_info *conn);
/* After INIT: the kernel allows shared mmap of direct_io files. */
bool pmemfs_compat_granted_mmap_dio(const struct pmemfs_server *srv);

/* In a write handler: the kernel asked the server to clear suid/sgid of ino. */
bool pmemfs_compat_kill_suidgid(struct pmemfs_server *srv, fuse_req_t req, fuse_ino_t ino,
				const struct fuse_file_info *fi);

/*
 * In a read handler: a buffer to build a reply of size bytes in, which the
 * transport then sends without copying it again: the own rings' payload
 * buffer on a ring thread, libfuse's (fuse_req_get_payload) for a request
 * over libfuse's rings; NULL elsewhere.
 */
void *pmemfs_compat_reply_buffer(fuse_req_t req, size_t size);

/*
 * Media faults (fs/media_fault.h) of the requests the wire does not carry:
 * all of them in a build without the wire, and those over libfuse's rings.
 * The adapter asks before each reply: true when the thread took a media
 * fault since its previous reply (settled then), and the request is to be
 * answered EIO instead (the wire checks its own as their replies pass).
 */
bool pmemfs_compat_reply_faulted(fuse_req_t req);

/*
 * A reply whose iovecs may point into the mapping was sent, with result
 * rc: -EFAULT is the kernel failing to copy it from a failing page (it has
 * then ended the request with EIO itself); the fault is taken here as if
 * the thread had met it. Returns rc.
 */
int pmemfs_compat_reply_sent(fuse_req_t req, int rc, const struct iovec *iov, int count);

/*
 * In a handler: send a notification (fuse_out_header with unique 0, then
 * its arguments) through the own ring the request came over, serving that
 * ring meanwhile (fuse_uring.c). -EOPNOTSUPP when the request did not come
 * over the own rings (send it to /dev/fuse); -EBUSY when this thread must
 * not wait for it: its queue's spare entries are taken, or the request
 * came over libfuse's rings, whose thread would have to serve what the
 * notification makes the kernel send.
 */
int pmemfs_compat_ring_notify(fuse_req_t req, const struct iovec *iov, int count);

/* The status file: "off", "idle", "normal" or "libfuse"; queues; requests; raises. */
const char *pmemfs_compat_uring_name(const struct pmemfs_server *srv);
unsigned pmemfs_compat_uring_queues(const struct pmemfs_server *srv);
uint64_t pmemfs_compat_uring_requests(const struct pmemfs_server *srv);
uint64_t pmemfs_compat_uring_raised(const struct pmemfs_server *srv);

#if PMEMFS_WIRE
#include "fuse_stage.h"
#include "fuse_uring.h"
#include "fuse_wire.h"
#else
/* No wire: no landing zone, no own rings; the write and read paths copy. */
#define PMEMFS_WIRE_LANDING_MAX 32
static inline int pmemfs_wire_landed(size_t size, struct iovec *iov, int max)
{
	(void)size, (void)iov, (void)max;
	return 0;
}
static inline size_t pmemfs_stage_adoptable(const struct pmemfs_server *srv, off_t off,
					    size_t size, bool append)
{
	(void)srv, (void)off, (void)size, (void)append;
	return 0;
}
static inline int pmemfs_stage_adopt(struct pmemfs_server *srv, fuse_ino_t ino, off_t off,
				     size_t size)
{
	(void)srv, (void)ino, (void)off, (void)size;
	return -EOPNOTSUPP;
}
static inline void pmemfs_stage_after_write(struct pmemfs_server *srv, size_t size)
{
	(void)srv, (void)size;
}
#endif

#endif /* PMEMFS_FUSE_COMPAT_H */
