/* SPDX-License-Identifier: MIT */
/*
 * fuse_reply.h: the adapter's replies (fuse_ops.c, fuse_syn.c) checked for
 * media faults on every build. Include after <fuse_lowlevel.h>, last.
 */
#ifndef PMEMFS_FUSE_REPLY_H
#define PMEMFS_FUSE_REPLY_H

#include "fuse_compat.h"

#include <errno.h>
#include <sys/uio.h>

/*
 * Media faults: every reply of a file that includes this passes
 * pmemfs_compat_reply_faulted(), so a request during which its thread took
 * a media fault is answered EIO, never with what it computed from a
 * replaced page (zeros), on every build; a reply so replaced returns -EIO,
 * as an undeliverable one would.
 * A reply sent from the mapping that the kernel could not copy (EFAULT) is
 * latched by pmemfs_compat_reply_sent(). (fn)(...) is the libfuse call.
 */
static inline int pmemfs_reply_eio(fuse_req_t req)
{
	(fuse_reply_err)(req, EIO);
	return -EIO;
}

#define FAULT_CHECKED(req, call) (pmemfs_compat_reply_faulted(req) ? pmemfs_reply_eio(req) : (call))
#define fuse_reply_err(req, err) \
	(fuse_reply_err)(req, pmemfs_compat_reply_faulted(req) ? EIO : (err))
#define fuse_reply_none(req) ((void)pmemfs_compat_reply_faulted(req), (fuse_reply_none)(req))
#define fuse_reply_entry(req, ...) FAULT_CHECKED(req, (fuse_reply_entry)(req, __VA_ARGS__))
#define fuse_reply_create(req, ...) FAULT_CHECKED(req, (fuse_reply_create)(req, __VA_ARGS__))
#define fuse_reply_attr(req, ...) FAULT_CHECKED(req, (fuse_reply_attr)(req, __VA_ARGS__))
#define fuse_reply_readlink(req, ...) FAULT_CHECKED(req, (fuse_reply_readlink)(req, __VA_ARGS__))
#define fuse_reply_open(req, ...) FAULT_CHECKED(req, (fuse_reply_open)(req, __VA_ARGS__))
#define fuse_reply_write(req, ...) FAULT_CHECKED(req, (fuse_reply_write)(req, __VA_ARGS__))
#define fuse_reply_statfs(req, ...) FAULT_CHECKED(req, (fuse_reply_statfs)(req, __VA_ARGS__))
#define fuse_reply_xattr(req, ...) FAULT_CHECKED(req, (fuse_reply_xattr)(req, __VA_ARGS__))
#define fuse_reply_lseek(req, ...) FAULT_CHECKED(req, (fuse_reply_lseek)(req, __VA_ARGS__))
#define fuse_reply_buf(req, buf, size) FAULT_CHECKED(req, pmemfs_reply_buf_sent(req, buf, size))
#define fuse_reply_iov(req, iov, cnt) \
	FAULT_CHECKED(req, pmemfs_compat_reply_sent(req, (fuse_reply_iov)(req, iov, cnt), iov, cnt))

static inline int pmemfs_reply_buf_sent(fuse_req_t req, const char *buf, size_t size)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = size };

	return pmemfs_compat_reply_sent(req, (fuse_reply_buf)(req, buf, size), &iov, 1);
}

#endif /* PMEMFS_FUSE_REPLY_H */
