// SPDX-License-Identifier: MIT
/*
 * What pmemfs needs from FUSE beyond libfuse 3.14's API (fs/fuse_compat.h):
 * each part from libfuse where the libfuse built against has it, else from
 * the wire (fs/fuse_wire.c) where the build has one, else refused. Which is
 * which is fixed at build time (fuse_compat_config.h, from fs/meson.build);
 * nothing here is decided by probing libfuse at run time.
 *
 * Every capability is negotiated in one place: through libfuse's want
 * flags where libfuse knows it, through the wire's INIT reply where it
 * does not. FUSE over io_uring is accepted by one implementation at most:
 * libfuse's (3.18, -o io_uring) or the wire's own rings.
 */
#define FUSE_USE_VERSION 314

#include "fuse_compat.h"
#include "media_fault.h"

#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pmemfs/pmemfs.h"

#if PMEMFS_WIRE
#define WIRE_PARTS " zerocopy=wire"
#else
#define WIRE_PARTS " zerocopy=no"
#endif

struct pmemfs_compat {
	struct pmemfs_compat_opts opts;
#if PMEMFS_WIRE
	struct pmemfs_wire *wire;
#endif
	bool uring_libfuse;            /* libfuse's rings accepted in INIT */
#if PMEMFS_LIBFUSE_MMAP_DIO
	bool mmap_dio;                 /* granted through libfuse's want flags */
#endif
};

void pmemfs_compat_print(FILE *f)
{
	fprintf(f, "built with libfuse %s: mmap_dio=%s kill_suidgid=%s uring=%s%s\n",
		PMEMFS_LIBFUSE_BUILT,
		PMEMFS_LIBFUSE_MMAP_DIO ? "libfuse" : PMEMFS_WIRE ? "wire" : "no",
		PMEMFS_WIRE && PMEMFS_LIBFUSE_URING ? "wire,writer-caps" :
		PMEMFS_WIRE ? "wire" : "writer-caps",
		PMEMFS_LIBFUSE_URING && PMEMFS_WIRE ? "libfuse,pmemfs" :
		PMEMFS_LIBFUSE_URING ? "libfuse" : PMEMFS_WIRE ? "pmemfs" : "no",
		WIRE_PARTS);
}

#if PMEMFS_LIBFUSE_URING
#define OWN_RINGS_HINT "; libfuse's are -o io_uring"
#else
#define OWN_RINGS_HINT ""
#endif
#ifdef FUSE_CAP_OVER_IO_URING
#define NO_LIBFUSE_URING "it was built without liburing"
#else
#define NO_LIBFUSE_URING "libfuse has FUSE over io_uring from 3.18 on"
#endif

static int refuse(const char *opt, const char *why)
{
	fprintf(stderr, "pmemfs: %s: not available with libfuse %s (%s); see pmemfs(8)\n",
		opt, PMEMFS_LIBFUSE_BUILT, why);
	return -1;
}

int pmemfs_compat_check(struct pmemfs_compat_opts *o, struct fuse_args *args)
{
	bool own = o->uring == PMEMFS_URING_IDLE || o->uring == PMEMFS_URING_NORMAL;

	if (!PMEMFS_WIRE && own)
		return refuse(o->uring == PMEMFS_URING_IDLE ? "uring=idle" : "uring=normal",
			      "pmemfs's own io_uring rings need libfuse's custom io, which this "
			      "build lacks" OWN_RINGS_HINT);
	if (!PMEMFS_WIRE && o->zerocopy)
		return refuse("zerocopy", "the landing zone needs libfuse's custom io, which "
			      "this build lacks");
	if (!PMEMFS_LIBFUSE_URING && o->uring == PMEMFS_URING_LIBFUSE)
		return refuse("io_uring", NO_LIBFUSE_URING);
	if (o->uring == PMEMFS_URING_DEFAULT)
		o->uring = PMEMFS_LIBFUSE_URING ? PMEMFS_URING_LIBFUSE :
			   PMEMFS_WIRE ? PMEMFS_URING_IDLE : PMEMFS_URING_OFF;
	/* libfuse's rings are turned on by its own option, which it parses */
	if (o->uring == PMEMFS_URING_LIBFUSE && !o->zerocopy &&
	    fuse_opt_add_arg(args, "-oio_uring") != 0) {
		fprintf(stderr, "pmemfs: out of memory\n");
		return -1;
	}
	return 0;
}

#if PMEMFS_WIRE
struct pmemfs_wire *pmemfs_compat_wire(const struct pmemfs_server *srv)
{
	return srv->compat->wire;
}
#endif

int pmemfs_compat_new(struct pmemfs_server *srv, const struct pmemfs_compat_opts *o)
{
	struct pmemfs_compat *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->opts = *o;
#if PMEMFS_WIRE
	{
		int rc = pmemfs_wire_new(&c->wire, o->uring == PMEMFS_URING_IDLE);

		if (rc) {
			free(c);
			return rc;
		}
	}
#endif
	srv->compat = c;
	return 0;
}

void pmemfs_compat_free(struct pmemfs_server *srv)
{
	if (!srv->compat)
		return;
#if PMEMFS_WIRE
	pmemfs_wire_free(srv->compat->wire);
#endif
	free(srv->compat);
	srv->compat = NULL;
}

int pmemfs_compat_attach(struct pmemfs_server *srv, struct fuse_session *se)
{
#if PMEMFS_WIRE
	return pmemfs_wire_attach(srv->compat->wire, se);
#else
	(void)srv, (void)se;
	return 0;
#endif
}

void pmemfs_compat_detach(struct pmemfs_server *srv)
{
#if PMEMFS_WIRE
	pmemfs_wire_detach(srv->compat->wire, srv);
#else
	(void)srv;
#endif
}

bool pmemfs_compat_offered_mmap_dio(const struct pmemfs_server *srv,
				    const struct fuse_conn_info *conn)
{
#if PMEMFS_LIBFUSE_MMAP_DIO
	(void)srv;
	return conn->capable_ext & FUSE_CAP_DIRECT_IO_ALLOW_MMAP;
#else
	(void)conn;
	return pmemfs_wire_offered_mmap_dio(srv->compat->wire);
#endif
}

static void negotiate_mmap_dio(struct pmemfs_server *srv, struct fuse_conn_info *conn)
{
#if PMEMFS_LIBFUSE_MMAP_DIO
	if (srv->direct_io)
		srv->compat->mmap_dio = fuse_set_feature_flag(conn, FUSE_CAP_DIRECT_IO_ALLOW_MMAP);
	else
		fuse_unset_feature_flag(conn, FUSE_CAP_DIRECT_IO_ALLOW_MMAP);
#else
	(void)conn;
	pmemfs_wire_want_mmap_dio(srv->compat->wire, srv->direct_io);
#endif
}

/* One implementation of FUSE over io_uring at most, as chosen. */
static void negotiate_uring(struct pmemfs_server *srv, struct fuse_conn_info *conn)
{
	struct pmemfs_compat *c = srv->compat;
	bool own = c->opts.uring == PMEMFS_URING_IDLE || c->opts.uring == PMEMFS_URING_NORMAL;
	/* zero-copy lands requests read from /dev/fuse in device blocks */
	bool wanted = c->opts.uring != PMEMFS_URING_OFF && !c->opts.zerocopy;

#if PMEMFS_LIBFUSE_URING
	if (wanted && !own)
		c->uring_libfuse = fuse_set_feature_flag(conn, FUSE_CAP_OVER_IO_URING);
	else
		fuse_unset_feature_flag(conn, FUSE_CAP_OVER_IO_URING);
#elif defined(FUSE_CAP_OVER_IO_URING)
	/* a libfuse without liburing would accept the rings and not serve them */
	fuse_unset_feature_flag(conn, FUSE_CAP_OVER_IO_URING);
#else
	(void)conn;
#endif
#if PMEMFS_WIRE
	pmemfs_wire_want_uring(c->wire, wanted && own);
#endif
	(void)wanted;
	pfs_log(PFS_LOG_DEBUG, "fuse: io_uring %s",
		c->opts.uring == PMEMFS_URING_OFF ? "declined (-o uring=off)" :
		c->opts.zerocopy ? "declined (-o zerocopy)" :
		own ? "wanted (pmemfs rings)" : c->uring_libfuse ? "wanted (libfuse)" :
		"not offered");
}

void pmemfs_compat_init(struct pmemfs_server *srv, struct fuse_conn_info *conn)
{
#if PMEMFS_LIBFUSE_WANT_EXT
	/*
	 * The adapter speaks 3.14's 32-bit want; libfuse >= 3.17 refuses an
	 * INIT where both want and want_ext changed apart. Fold want into
	 * want_ext, negotiate there, and leave the two equal.
	 */
	conn->want_ext = (conn->want_ext & ~(uint64_t)UINT32_MAX) | conn->want;
#endif
	negotiate_mmap_dio(srv, conn);
	negotiate_uring(srv, conn);
#if PMEMFS_LIBFUSE_WANT_EXT
	conn->want = (uint32_t)conn->want_ext;
#endif
}

bool pmemfs_compat_granted_mmap_dio(const struct pmemfs_server *srv)
{
#if PMEMFS_LIBFUSE_MMAP_DIO
	return srv->compat->mmap_dio;
#else
	return pmemfs_wire_granted_mmap_dio(srv->compat->wire);
#endif
}

/* The file has what a write by a writer without CAP_FSETID takes away. */
static bool has_suidgid(struct pmemfs_server *srv, fuse_ino_t ino)
{
	struct pfs_attr a;

	if (pfs_getattr(srv->fs, ino, &a) != 0)
		return false;
	return (a.mode & S_ISUID) || (a.mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP);
}

/* The effective capabilities of the writing thread hold CAP_FSETID (gone: no). */
static bool caller_has_fsetid(pid_t pid)
{
	char path[64], line[128];
	unsigned long long caps = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &caps) == 1;
	fclose(f);
	return found && (caps & (1ULL << CAP_FSETID));
}

/*
 * libfuse 3.18 sets fi->kill_suidgid only when FUSE_CAP_HANDLE_KILLPRIV_V2
 * is negotiated, and V2 hands truncate, open(O_TRUNC), chown and cached
 * writes to the server as well, which the adapter leaves to the kernel. So
 * without the wire the kernel's own rule is applied here: a write by a
 * thread without CAP_FSETID clears suid/sgid (read from /proc only when the
 * file has them). The same rule serves a request that came over libfuse's
 * rings, which the wire never sees.
 */
bool pmemfs_compat_kill_suidgid(struct pmemfs_server *srv, fuse_req_t req, fuse_ino_t ino,
				const struct fuse_file_info *fi)
{
#if PMEMFS_WIRE && PMEMFS_LIBFUSE_URING
	/* a request over libfuse's rings never passed through the wire */
	if (!fuse_req_is_uring(req))
		return pmemfs_wire_kill_suidgid(srv->compat->wire);
#elif PMEMFS_WIRE
	(void)req, (void)ino, (void)fi;
	return pmemfs_wire_kill_suidgid(srv->compat->wire);
#endif
#if PMEMFS_LIBFUSE_KILL_SUIDGID
	if (fi->kill_suidgid)
		return true;
#endif
	return has_suidgid(srv, ino) && !caller_has_fsetid(fuse_req_ctx(req)->pid);
}

void *pmemfs_compat_reply_buffer(fuse_req_t req, size_t size)
{
#if PMEMFS_LIBFUSE_URING
	char *payload;
	size_t room;

	/* libfuse sends a reply built in its payload buffer as it is */
	if (fuse_req_is_uring(req) && fuse_req_get_payload(req, &payload, &room, NULL) == 0)
		return size <= room ? payload : NULL;
#endif
	(void)req;
#if PMEMFS_WIRE
	return pmemfs_uring_reply_buffer(size);
#else
	(void)size;
	return NULL;
#endif
}

/* The wire sees the request (its INIT, its writes' flags, its reply). */
static bool wire_carried(fuse_req_t req)
{
#if PMEMFS_WIRE && PMEMFS_LIBFUSE_URING
	return !fuse_req_is_uring(req);
#else
	(void)req;
	return PMEMFS_WIRE;
#endif
}

/*
 * Without the wire nothing marks where a request starts: the thread's
 * fault count is reset by each reply instead. A libfuse worker serves one
 * request at a time and touches no mapping between them, so what a reply
 * finds was taken during its request.
 */
bool pmemfs_compat_reply_faulted(fuse_req_t req)
{
	return !wire_carried(req) && pfs_media_fault_end();
}

int pmemfs_compat_reply_sent(fuse_req_t req, int rc, const struct iovec *iov, int count)
{
	if (rc != -EFAULT || wire_carried(req))
		return rc;
	for (int i = 0; i < count; i++)
		pfs_media_fault_probe(iov[i].iov_base, iov[i].iov_len);
	(void)pfs_media_fault_end();
	return rc;
}

int pmemfs_compat_ring_notify(fuse_req_t req, const struct iovec *iov, int count)
{
#if PMEMFS_LIBFUSE_URING
	if (fuse_req_is_uring(req))
		return -EBUSY;
#endif
	(void)req;
#if PMEMFS_WIRE
	return pmemfs_uring_notify(iov, count);
#else
	(void)iov, (void)count;
	return -EOPNOTSUPP;
#endif
}

const char *pmemfs_compat_uring_name(const struct pmemfs_server *srv)
{
	if (srv->compat->uring_libfuse)
		return "libfuse";
#if PMEMFS_WIRE
	if (pmemfs_uring_active(pmemfs_wire_rings(srv->compat->wire)))
		return pmemfs_uring_idle_now(pmemfs_wire_rings(srv->compat->wire)) ? "idle"
										   : "normal";
#endif
	return "off";
}

unsigned pmemfs_compat_uring_queues(const struct pmemfs_server *srv)
{
	/* libfuse makes one queue per configured CPU (get_nprocs_conf()) */
	if (srv->compat->uring_libfuse) {
		long n = sysconf(_SC_NPROCESSORS_CONF);

		return n > 0 ? (unsigned)n : 1;
	}
#if PMEMFS_WIRE
	if (pmemfs_uring_active(pmemfs_wire_rings(srv->compat->wire)))
		return pmemfs_uring_queues(pmemfs_wire_rings(srv->compat->wire));
#endif
	return 0;
}

uint64_t pmemfs_compat_uring_requests(const struct pmemfs_server *srv)
{
#if PMEMFS_WIRE
	return pmemfs_uring_requests(pmemfs_wire_rings(srv->compat->wire));
#else
	(void)srv;
	return 0;
#endif
}

uint64_t pmemfs_compat_uring_raised(const struct pmemfs_server *srv)
{
#if PMEMFS_WIRE
	return pmemfs_uring_raised(pmemfs_wire_rings(srv->compat->wire));
#else
	(void)srv;
	return 0;
#endif
}
