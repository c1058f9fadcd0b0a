// SPDX-License-Identifier: MIT
/*
 * The FUSE wire, for what the libfuse built against does not give pmemfs
 * (part of the compat module, fs/fuse_compat.h; built with custom_io).
 *
 * The kernel here speaks FUSE 7.4x; libfuse 3.14 stops at 7.38. What of the
 * newer protocol matters to pmemfs and libfuse lacks, this file supplies by
 * standing between libfuse and /dev/fuse (fuse_session_custom_io(), after
 * fuse_session_mount() opened the device):
 *
 *  - FUSE_DIRECT_IO_ALLOW_MMAP (7.39; libfuse 3.17 negotiates it itself,
 *    and this part is not compiled there): lets a file opened with
 *    FOPEN_DIRECT_IO be mapped MAP_SHARED, the kernel keeping the page cache
 *    coherent for the mapped inode. Without it direct_io breaks shared mmap
 *    (a PMDK pool in a pool file). The INIT request tells whether the kernel
 *    offers it; the INIT reply libfuse builds is amended to accept it.
 *  - the WRITE request's write_flags, which libfuse does not hand to the
 *    write handler (3.18 only under HANDLE_KILLPRIV_V2, which pmemfs does
 *    not negotiate: see fuse_compat.c). With direct_io the kernel does not clear suid/sgid on a
 *    write itself; it sets FUSE_WRITE_KILL_SUIDGID when the writer lacks
 *    CAP_FSETID and expects the server to. libfuse's multi-threaded loop
 *    processes a request on the thread that read it, so the flags are kept
 *    per thread for the handler.
 *  - FUSE_OVER_IO_URING (7.42): requests over per-CPU io_uring queues
 *    (fs/fuse_uring.c). The INIT reply accepts it when the rings could be
 *    made; replies to ring requests are handed to fuse_uring.c.
 *
 * It also gives each thread an optional landing zone (fs/fuse_stage.c): a
 * request is then read with readv(), its header into libfuse's buffer and
 * the rest into the zone, device blocks a WRITE's data can stay in; other
 * requests are copied back behind their header, so libfuse sees them whole.
 *
 * Nothing else is touched: every other request and reply passes through
 * unchanged. The state is the session's (struct pmemfs_wire, reached from
 * the userdata libfuse hands the custom io); only the landing zone and the
 * request being handled are per thread, as a thread serves one request of
 * one session at a time.
 */
#define FUSE_USE_VERSION 314

#include "fuse_wire.h"
#include "fuse_stage.h"
#include "fuse_uring.h"
#include "media_fault.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pmemfs/pmemfs.h"

/* FUSE 7.39 and 7.42; defined by newer <linux/fuse.h> */
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41)
#endif
#define KERNEL_DEFAULT_MAX_PAGES 32    /* the kernel's FUSE_DEFAULT_MAX_PAGES_PER_REQ */
#define KERNEL_MIN_READ_BUFFER 8192    /* the kernel's FUSE_MIN_READ_BUFFER */

struct pmemfs_wire {
	_Atomic uint64_t init_unique;  /* INIT request awaiting its reply; 0: none */
	_Atomic uint64_t offered;      /* the kernel's INIT flags (flags2 << 32 | flags) */
	_Atomic uint64_t want;         /* flags to add to the INIT reply if offered */
	_Atomic uint64_t granted;      /* flags actually added */
	struct fuse_session *se;       /* for the io_uring transport */
	bool idle_prio;                /* the rings' threads at idle priority */
	struct pmemfs_rings *_Atomic rings;  /* set before the INIT reply accepts them */
	struct pmemfs_stages *stages;  /* zero-copy (fuse_stage.c) */
};

/*
 * The flags of the WRITE being handled on this thread: libfuse does not
 * pass them (3.18 only under HANDLE_KILLPRIV_V2, see fuse_compat.c).
 */
static _Thread_local uint32_t thread_write_flags;

/*
 * The landing zone: when a thread has one, a request is read with readv(),
 * its first WIRE_HDR bytes into libfuse's buffer and the rest into the
 * zone (a stage's device blocks). A WRITE's data then stays there for the
 * handler; anything else is copied back behind the header for libfuse.
 */
#define WIRE_HDR (sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in))
static _Thread_local struct iovec landing[PMEMFS_WIRE_LANDING_MAX];
static _Thread_local int nlanding;
static _Thread_local size_t landed;   /* bytes of the current WRITE in the zone */

static void note_init(struct pmemfs_wire *wire, const struct fuse_in_header *h, size_t len)
{
	const struct fuse_init_in *in = (const void *)(h + 1);
	uint64_t flags;

	if (len < sizeof(*h) + offsetof(struct fuse_init_in, unused))
		return;
	flags = in->flags;
	if (flags & FUSE_INIT_EXT)
		flags |= (uint64_t)in->flags2 << 32;
	atomic_store(&wire->offered, flags);
	atomic_store(&wire->init_unique, h->unique);
}

/* Bytes [0, len) of the zone go back behind libfuse's header. */
static void landing_copy_back(char *dst, size_t len)
{
	for (int i = 0; i < nlanding && len > 0; i++) {
		size_t part = landing[i].iov_len < len ? landing[i].iov_len : len;

		memcpy(dst, landing[i].iov_base, part);
		dst += part;
		len -= part;
	}
}

static ssize_t read_landing(int fd, void *buf, size_t len)
{
	const struct fuse_in_header *h = buf;
	struct iovec iov[PMEMFS_WIRE_LANDING_MAX + 1];
	ssize_t n;

	if (nlanding == 0 || len < WIRE_HDR)
		return read(fd, buf, len);
	iov[0].iov_base = buf;
	iov[0].iov_len = WIRE_HDR;
	memcpy(iov + 1, landing, (size_t)nlanding * sizeof(*iov));
	n = readv(fd, iov, nlanding + 1);
	if (n <= (ssize_t)WIRE_HDR)
		return n;
	if (h->opcode == FUSE_WRITE)
		landed = (size_t)n - WIRE_HDR;
	else
		landing_copy_back((char *)buf + WIRE_HDR, (size_t)n - WIRE_HDR);
	return n;
}

void pmemfs_wire_note_request(struct pmemfs_wire *wire, const void *req, size_t len)
{
	const struct fuse_in_header *h = req;

	pfs_media_fault_begin();
	thread_write_flags = 0;
	if (len >= sizeof(*h) + sizeof(struct fuse_write_in) && h->opcode == FUSE_WRITE)
		thread_write_flags = ((const struct fuse_write_in *)(h + 1))->write_flags;
	if (len >= sizeof(*h) && h->opcode == FUSE_INIT)
		note_init(wire, h, len);
}

static ssize_t wire_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n;

	landed = 0;
	n = read_landing(fd, buf, len);
	pmemfs_wire_note_request(pmemfs_compat_wire(userdata), buf, n > 0 ? (size_t)n : 0);
	return n;
}

/*
 * The payload buffer a ring entry needs: the kernel sizes it as the largest
 * of its minimum read buffer, max_write and max_pages pages.
 */
static size_t ring_payload_size(const struct fuse_init_out *out)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (out->flags & FUSE_MAX_PAGES) && out->max_pages ? out->max_pages
								       : KERNEL_DEFAULT_MAX_PAGES;
	size_t size = out->max_write;

	if (size < pages * page)
		size = pages * page;
	if (size < KERNEL_MIN_READ_BUFFER)
		size = KERNEL_MIN_READ_BUFFER;
	return (size + page - 1) / page * page;
}

/* The INIT reply, with the wanted flags the kernel offered added. */
static ssize_t write_init_reply(struct pmemfs_wire *wire, int fd, struct iovec *iov, int count)
{
	struct fuse_init_out out;
	struct iovec copy[2];
	struct pmemfs_rings *rings = NULL;
	uint64_t add = atomic_load(&wire->want) & atomic_load(&wire->offered);
	uint64_t flags;
	ssize_t n;

	if (add == 0)
		return writev(fd, iov, count);
	if (count != 2 || iov[1].iov_len != sizeof(out)) {
		pfs_log(PFS_LOG_WARN, "fuse: unexpected INIT reply layout; flags 0x%llx not added",
			(unsigned long long)add);
		return writev(fd, iov, count);
	}
	memcpy(&out, iov[1].iov_base, sizeof(out));
	/* the kernel holds requests until the rings register: have them ready */
	if ((add & FUSE_OVER_IO_URING) &&
	    pmemfs_uring_prepare(&rings, wire, wire->se, fd, ring_payload_size(&out),
				 wire->idle_prio) < 0)
		add &= ~(uint64_t)FUSE_OVER_IO_URING;
	if (rings)
		atomic_store(&wire->rings, rings);
	flags = (uint64_t)out.flags | (uint64_t)out.flags2 << 32 | add | FUSE_INIT_EXT;
	out.flags = (uint32_t)flags;
	out.flags2 = (uint32_t)(flags >> 32);
	copy[0] = iov[0];
	copy[1].iov_base = &out;
	copy[1].iov_len = sizeof(out);
	n = writev(fd, copy, 2);
	if (rings && n <= 0) {
		atomic_store(&wire->rings, NULL);
		pmemfs_uring_stop(rings);
	} else if (rings) {
		pmemfs_uring_go(rings);
	}
	if (n > 0)
		atomic_store(&wire->granted, add);
	pfs_log(PFS_LOG_DEBUG, "fuse: INIT reply amended with flags 0x%llx",
		(unsigned long long)add);
	return n;
}

/*
 * EIO for a request during which the thread took a media fault
 * (fs/media_fault.h), or whose reply the kernel could not copy from the
 * mapping (EFAULT: a failing page). In the second case the kernel has
 * already ended the request with EIO, and this reply finds none (ENOENT,
 * which libfuse ignores); it is sent anyway so no request goes unanswered.
 */
static ssize_t reply_eio(int fd, uint64_t unique)
{
	struct fuse_out_header out = { .len = sizeof(out), .error = -EIO, .unique = unique };
	struct iovec iov = { .iov_base = &out, .iov_len = sizeof(out) };
	ssize_t n;

	if (pmemfs_uring_reply(&iov, 1, &n))
		return n;
	return writev(fd, &iov, 1);
}

static ssize_t wire_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct pmemfs_wire *wire = pmemfs_compat_wire(userdata);
	const struct fuse_out_header *oh = iov[0].iov_base;
	uint64_t init = atomic_load(&wire->init_unique);
	ssize_t n;

	if (iov[0].iov_len >= sizeof(*oh) && oh->unique != 0 && pfs_media_fault_end())
		return reply_eio(fd, oh->unique);
	if (pmemfs_uring_reply(iov, count, &n))
		return n;
	if (init == 0 || iov[0].iov_len < sizeof(*oh) || oh->unique != init) {
		n = writev(fd, iov, count);
		if (n < 0 && errno == EFAULT && oh->unique != 0) {
			for (int i = 1; i < count; i++)
				pfs_media_fault_probe(iov[i].iov_base, iov[i].iov_len);
			pfs_media_fault_end();
			return reply_eio(fd, oh->unique);
		}
		return n;
	}
	atomic_store(&wire->init_unique, 0);
	if (oh->error != 0)
		return writev(fd, iov, count);
	return write_init_reply(wire, fd, iov, count);
}

static const struct fuse_custom_io wire_io = {
	.read = wire_read,
	.writev = wire_writev,
	/* no splice: requests are read into memory (SPLICE_READ is off) */
};

int pmemfs_wire_new(struct pmemfs_wire **wirep, bool idle_prio)
{
	struct pmemfs_wire *wire = calloc(1, sizeof(*wire));

	if (!wire)
		return -ENOMEM;
	wire->stages = pmemfs_stages_new();
	if (!wire->stages) {
		free(wire);
		return -ENOMEM;
	}
	wire->idle_prio = idle_prio;
	*wirep = wire;
	return 0;
}

void pmemfs_wire_free(struct pmemfs_wire *wire)
{
	if (!wire)
		return;
	pmemfs_stages_free(wire->stages);
	free(wire);
}

struct pmemfs_stages *pmemfs_wire_stages(const struct pmemfs_wire *wire)
{
	return wire ? wire->stages : NULL;
}

int pmemfs_wire_attach(struct pmemfs_wire *wire, struct fuse_session *se)
{
	int rc = fuse_session_custom_io(se, &wire_io, fuse_session_fd(se));

	wire->se = se;
	return rc > 0 ? -rc : rc;
}

void pmemfs_wire_detach(struct pmemfs_wire *wire, struct pmemfs_server *srv)
{
	struct pmemfs_rings *rings = atomic_exchange(&wire->rings, NULL);

	if (rings)
		pmemfs_uring_stop(rings);
	pmemfs_stage_free_all(srv);
}

struct pmemfs_rings *pmemfs_wire_rings(const struct pmemfs_wire *wire)
{
	return atomic_load(&((struct pmemfs_wire *)wire)->rings);
}

/* Add flag to the INIT reply (if the kernel offers it), or not. */
static void want_flag(struct pmemfs_wire *wire, uint64_t flag, bool on)
{
	if (on)
		atomic_fetch_or(&wire->want, flag);
	else
		atomic_fetch_and(&wire->want, ~flag);
}

#if !PMEMFS_LIBFUSE_MMAP_DIO
bool pmemfs_wire_offered_mmap_dio(const struct pmemfs_wire *wire)
{
	return atomic_load(&wire->offered) & FUSE_DIRECT_IO_ALLOW_MMAP;
}

bool pmemfs_wire_granted_mmap_dio(const struct pmemfs_wire *wire)
{
	return atomic_load(&wire->granted) & FUSE_DIRECT_IO_ALLOW_MMAP;
}

void pmemfs_wire_want_mmap_dio(struct pmemfs_wire *wire, bool on)
{
	want_flag(wire, FUSE_DIRECT_IO_ALLOW_MMAP, on);
}
#endif

void pmemfs_wire_want_uring(struct pmemfs_wire *wire, bool on)
{
	want_flag(wire, FUSE_OVER_IO_URING, on);
}

bool pmemfs_wire_kill_suidgid(const struct pmemfs_wire *wire)
{
	(void)wire;
	return thread_write_flags & FUSE_WRITE_KILL_SUIDGID;
}

void pmemfs_wire_set_landing(const struct iovec *iov, int cnt)
{
	nlanding = cnt > 0 && cnt <= PMEMFS_WIRE_LANDING_MAX ? cnt : 0;
	if (nlanding)
		memcpy(landing, iov, (size_t)cnt * sizeof(*iov));
}

int pmemfs_wire_landed(size_t size, struct iovec *iov, int max)
{
	int n = 0;

	if (landed < size || size == 0)
		return 0;
	for (int i = 0; i < nlanding && size > 0; i++) {
		if (n == max)
			return -EIO;  /* landed, but more pieces than the caller takes */
		iov[n].iov_base = landing[i].iov_base;
		iov[n].iov_len = landing[i].iov_len < size ? landing[i].iov_len : size;
		size -= iov[n++].iov_len;
	}
	return n;
}
