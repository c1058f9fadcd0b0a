// SPDX-License-Identifier: MIT
/*
 * The FUSE adapter: the fuse_lowlevel_ops table and the core's side of it.
 *
 * Each op fetches the server state, calls one core function and replies;
 * core errors go back as they are (fuse_reply_err(req, -rc)).
 *
 * Node ids: the core's are gen << 32 | slot with gen >= 1, so they are always
 * >= 2^32 and never reused. Ids below 2^32 are synthetic: the root (1) and the
 * the topology tree (fs/fuse_syn.c). "pools" is the one synthetic name that
 * leads into the core: it resolves to pfs_root_ino(). Lookup references are
 * counted only for core ids; forgets on synthetic ids are ignored.
 *
 * Reference rule: every reply that hands the kernel a core node id (entry,
 * create, readdirplus) owns one core reference per entry. When such a reply
 * cannot be delivered (the request was interrupted) the reference is dropped
 * here, since the kernel will never send the matching forget.
 */
#define FUSE_USE_VERSION 314

#include "fuse_coherence.h"
#include "fuse_ops.h"
#include "fuse_compat.h"
#include "fuse_reply.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define PMEMFS_BLKSIZE 4096

static bool name_is_dot(const char *name)
{
	return strcmp(name, ".") == 0;
}

static bool name_is_dotdot(const char *name)
{
	return strcmp(name, "..") == 0;
}

/* ---- attribute and entry conversion ---- */

static struct pmemfs_server *srv_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void stat_from_attr(const struct pfs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)a->blocks512;
	st->st_rdev = (dev_t)a->rdev;
	st->st_blksize = PMEMFS_BLKSIZE;
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
}

static void entry_init(const struct pmemfs_server *srv, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->attr_timeout = srv->cache_timeout;
	e->entry_timeout = srv->cache_timeout;
}

void pmemfs_entry_from_attr(const struct pmemfs_server *srv, const struct pfs_attr *a,
			    struct fuse_entry_param *e)
{
	entry_init(srv, e);
	e->ino = a->ino;
	e->generation = a->gen;
	stat_from_attr(a, &e->attr);
}

/*
 * FUSE_CAP_DONT_MASK stays off, so the kernel has already applied the
 * caller's umask to every mode we get; the core must not apply it again.
 */
static void cred_from_req(fuse_req_t req, struct pfs_cred *cred)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	cred->uid = ctx->uid;
	cred->gid = ctx->gid;
	cred->umask = 0;
}

/* Gives the kernel an entry; takes back its reference if undeliverable. */
static void reply_entry(fuse_req_t req, const struct fuse_entry_param *e)
{
	struct pmemfs_server *srv = srv_of(req);

	if (fuse_reply_entry(req, e) != 0 && !syn_ino(e->ino))
		pfs_forget(srv->fs, e->ino, 1);
}

static void reply_entry_or_err(fuse_req_t req, int rc, const struct pfs_attr *attr)
{
	struct fuse_entry_param e;

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	pmemfs_entry_from_attr(srv_of(req), attr, &e);
	reply_entry(req, &e);
}

/* ---- lookup ---- */

static int core_lookup(struct pmemfs_server *srv, fuse_ino_t parent, const char *name,
		       struct fuse_entry_param *e)
{
	struct pfs_attr attr;
	int rc;

	if (parent == pfs_root_ino(srv->fs) && name_is_dotdot(name))
		return syn_lookup(srv, FUSE_ROOT_ID, ".", e);
	rc = pfs_lookup(srv->fs, parent, name, &attr);
	if (rc)
		return rc;
	pmemfs_entry_from_attr(srv, &attr, e);
	return 0;
}

static int node_lookup(struct pmemfs_server *srv, fuse_ino_t parent, const char *name,
		       struct fuse_entry_param *e)
{
	if (syn_ino(parent))
		return syn_lookup(srv, parent, name, e);
	return core_lookup(srv, parent, name, e);
}

static int node_getattr(struct pmemfs_server *srv, fuse_ino_t ino, struct stat *st)
{
	struct pfs_attr attr;
	int rc;

	if (syn_ino(ino))
		return syn_getattr(srv, ino, st);
	rc = pfs_getattr(srv->fs, ino, &attr);
	if (rc)
		return rc;
	stat_from_attr(&attr, st);
	return 0;
}

/* ---- session ---- */

static void want_if_capable(struct fuse_conn_info *conn, unsigned cap)
{
	if (conn->capable & cap)
		conn->want |= cap;
}

/*
 * direct_io by default: reads reply straight from the mapping and writes
 * copy straight into it, with no second copy of pmem in the page cache and
 * no GETXATTR(security.capability) round trip before every cached write.
 * It needs the kernel to allow shared mmap of direct_io files (a PMDK pool
 * in a pool file); where it does not, the page cache stays in front.
 */
static void choose_cache_mode(struct pmemfs_server *srv, const struct fuse_conn_info *conn)
{
	bool mmap_ok = pmemfs_compat_offered_mmap_dio(srv, conn);

	srv->direct_io = srv->cache_opt == PMEMFS_CACHE_DIRECT ||
			 (srv->cache_opt == PMEMFS_CACHE_AUTO && mmap_ok);
	if (srv->direct_io && !mmap_ok)
		pfs_log(PFS_LOG_WARN, "direct_io: this kernel cannot map direct_io files "
			"shared (mmap MAP_SHARED fails with ENODEV)");
	pfs_log(PFS_LOG_DEBUG, "fuse: %s", srv->direct_io ? "direct_io" : "page cache");
}

bool pmemfs_direct_io(const struct pmemfs_server *srv)
{
	return srv->direct_io &&
	       (srv->cache_opt == PMEMFS_CACHE_DIRECT || pmemfs_compat_granted_mmap_dio(srv));
}

static void pmemfs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct pmemfs_server *srv = userdata;

	choose_cache_mode(srv, conn);
	conn->max_write = PMEMFS_MAX_IO;
	conn->max_read = PMEMFS_MAX_IO;
	conn->max_readahead = PMEMFS_MAX_IO;

	/* Node ids are gen << 32 | slot and never reused (libfuse README.NFS). */
	want_if_capable(conn, FUSE_CAP_EXPORT_SUPPORT);
	want_if_capable(conn, FUSE_CAP_PARALLEL_DIROPS);
	want_if_capable(conn, FUSE_CAP_ASYNC_READ);
	/* Symlink targets never change once written. */
	want_if_capable(conn, FUSE_CAP_CACHE_SYMLINKS);

	/*
	 * WRITEBACK_CACHE: writes must reach pmem when write() returns.
	 * ATOMIC_O_TRUNC: let the kernel send O_TRUNC as setattr(size).
	 * HANDLE_KILLPRIV: let the kernel clear suid/sgid with setattr(mode).
	 * SPLICE_READ: read requests into memory, so write_buf copies once
	 *   from libfuse's buffer into pmem instead of pipe -> bounce -> pmem.
	 * DONT_MASK, POSIX_ACL: the kernel applies the umask (see cred_from_req).
	 */
	conn->want &= ~(unsigned)(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_ATOMIC_O_TRUNC |
				  FUSE_CAP_HANDLE_KILLPRIV | FUSE_CAP_SPLICE_READ |
				  FUSE_CAP_DONT_MASK | FUSE_CAP_POSIX_ACL);
	/* shared mmap of direct_io files and the transport (fuse_compat.c) */
	pmemfs_compat_init(srv, conn);

	pfs_log(PFS_LOG_DEBUG, "fuse: protocol %u.%u, max_write %u, want 0x%x",
		conn->proto_major, conn->proto_minor, conn->max_write, conn->want);
}

static void pmemfs_destroy(void *userdata)
{
	(void)userdata;
	pmemfs_coh_stop();
	pfs_log(PFS_LOG_INFO, "fuse session ended");
}

/* ---- names and nodes ---- */

static void pmemfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int rc = node_lookup(srv_of(req), parent, name, &e);

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	reply_entry(req, &e);
}

static void pmemfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (!syn_ino(ino)) {
		pfs_forget(srv_of(req)->fs, ino, nlookup);
		pmemfs_coh_forget(ino);
	}
	fuse_reply_none(req);
}

static void pmemfs_forget_multi(fuse_req_t req, size_t count,
				struct fuse_forget_data *forgets)
{
	struct pmemfs_server *srv = srv_of(req);

	for (size_t i = 0; i < count; i++)
		if (!syn_ino(forgets[i].ino)) {
			pfs_forget(srv->fs, forgets[i].ino, forgets[i].nlookup);
			pmemfs_coh_forget(forgets[i].ino);
		}
	fuse_reply_none(req);
}

static void pmemfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pmemfs_server *srv = srv_of(req);
	struct stat st;
	int rc;

	(void)fi;
	rc = node_getattr(srv, ino, &st);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_attr(req, &st, srv->cache_timeout);
}

static void setattr_times(const struct stat *st, int to_set, struct pfs_setattr *sa)
{
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		sa->valid |= PFS_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		sa->valid |= PFS_SET_ATIME;
		sa->atime = st->st_atim;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		sa->valid |= PFS_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa->valid |= PFS_SET_MTIME;
		sa->mtime = st->st_mtim;
	}
	if (to_set & FUSE_SET_ATTR_CTIME) {
		sa->valid |= PFS_SET_CTIME;
		sa->ctime = st->st_ctim;
	}
}

/* Size and times travel in one call so the core applies them atomically. */
static void setattr_from_fuse(const struct stat *st, int to_set, struct pfs_setattr *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa->valid |= PFS_SET_MODE;
		sa->mode = st->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa->valid |= PFS_SET_UID;
		sa->uid = st->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa->valid |= PFS_SET_GID;
		sa->gid = st->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		sa->valid |= PFS_SET_SIZE;
		sa->size = (uint64_t)st->st_size;
	}
	setattr_times(st, to_set, sa);
}

static void pmemfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, int to_set,
			   struct fuse_file_info *fi)
{
	struct pmemfs_server *srv = srv_of(req);
	struct pfs_setattr sa;
	struct pfs_attr attr;
	struct stat out;
	int rc;

	(void)fi;
	if (syn_ino(ino)) {
		syn_setattr(req, ino, to_set);
		return;
	}
	if (st->st_size < 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	setattr_from_fuse(st, to_set, &sa);
	rc = pfs_setattr(srv->fs, ino, &sa, &attr);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	stat_from_attr(&attr, &out);
	fuse_reply_attr(req, &out, srv->cache_timeout);
}

static void pmemfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char target[PATH_MAX + 1];
	int rc;

	if (syn_ino(ino)) {
		syn_readlink(req, ino);
		return;
	}
	target[PATH_MAX] = '\0';
	rc = pfs_readlink(srv_of(req)->fs, ino, target, PATH_MAX);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_readlink(req, target);
}

static void pmemfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, dev_t rdev)
{
	struct pfs_cred cred;
	struct pfs_attr attr;
	int rc;

	if (syn_ino(parent)) {
		fuse_reply_err(req, -syn_modify_err(srv_of(req), parent, NULL));
		return;
	}
	cred_from_req(req, &cred);
	rc = pfs_mknod(srv_of(req)->fs, parent, name, mode, rdev, &cred, &attr);
	reply_entry_or_err(req, rc, &attr);
}

static void pmemfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct pfs_cred cred;
	struct pfs_attr attr;
	int rc;

	if (syn_ino(parent)) {
		fuse_reply_err(req, -syn_modify_err(srv_of(req), parent, NULL));
		return;
	}
	cred_from_req(req, &cred);
	rc = pfs_mkdir(srv_of(req)->fs, parent, name, mode, &cred, &attr);
	reply_entry_or_err(req, rc, &attr);
}

static void pmemfs_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
			   const char *name)
{
	struct pfs_cred cred;
	struct pfs_attr attr;
	int rc;

	if (syn_ino(parent)) {
		fuse_reply_err(req, -syn_modify_err(srv_of(req), parent, NULL));
		return;
	}
	cred_from_req(req, &cred);
	rc = pfs_symlink(srv_of(req)->fs, parent, name, target, &cred, &attr);
	reply_entry_or_err(req, rc, &attr);
}

static void pmemfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
			const char *newname)
{
	struct pfs_attr attr;
	int rc;

	if (syn_ino(ino)) {
		fuse_reply_err(req, -syn_refuse(srv_of(req), ino, EPERM));
		return;
	}
	if (syn_ino(newparent)) {
		fuse_reply_err(req, -syn_modify_err(srv_of(req), newparent, NULL));
		return;
	}
	rc = pfs_link(srv_of(req)->fs, ino, newparent, newname, &attr);
	reply_entry_or_err(req, rc, &attr);
}

static void pmemfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int rc;

	if (syn_ino(parent))
		rc = syn_modify_err(srv_of(req), parent, name);
	else
		rc = pfs_unlink(srv_of(req)->fs, parent, name);
	fuse_reply_err(req, -rc);
}

static void pmemfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int rc;

	if (syn_ino(parent))
		rc = syn_modify_err(srv_of(req), parent, name);
	else
		rc = pfs_rmdir(srv_of(req)->fs, parent, name);
	fuse_reply_err(req, -rc);
}

static int rename_flags(unsigned int flags, unsigned *out)
{
	*out = 0;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (flags & RENAME_NOREPLACE)
		*out |= PFS_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		*out |= PFS_RENAME_EXCHANGE;
	return 0;
}

static void pmemfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			  fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	unsigned pflags;
	int rc;

	rc = rename_flags(flags, &pflags);
	if (rc == 0 && syn_ino(parent))
		rc = syn_modify_err(srv_of(req), parent, name);
	else if (rc == 0 && syn_ino(newparent))
		rc = syn_modify_err(srv_of(req), newparent, NULL);
	else if (rc == 0)
		rc = pfs_rename(srv_of(req)->fs, parent, name, newparent, newname, pflags);
	fuse_reply_err(req, -rc);
}

/* ---- files ---- */

/*
 * direct_io or the page cache, as init() chose (choose_cache_mode). The page
 * cache is kept across opens: every write goes through this server.
 */
static void open_flags(const struct pmemfs_server *srv, struct fuse_file_info *fi)
{
	fi->fh = 0;
	fi->direct_io = pmemfs_direct_io(srv);
	fi->keep_cache = !fi->direct_io;
	/*
	 * No FLUSH at close (FOPEN_NOFLUSH): writes are synchronous, so there
	 * is nothing to flush, and POSIX locks stay with the kernel. Saves one
	 * round trip per close(): create + close is LOOKUP, CREATE, RELEASE.
	 */
	fi->noflush = 1;
}

static void pmemfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pmemfs_server *srv = srv_of(req);
	int rc;

	if (syn_ino(ino)) {
		syn_open(req, ino, fi);
		return;
	}
	rc = pfs_open(srv->fs, ino, fi->flags);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	open_flags(srv, fi);
	if (fuse_reply_open(req, fi) != 0)
		pfs_release(srv->fs, ino);
}

static void pmemfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode, struct fuse_file_info *fi)
{
	struct pmemfs_server *srv = srv_of(req);
	struct fuse_entry_param e;
	struct pfs_cred cred;
	struct pfs_attr attr;
	int rc;

	if (syn_ino(parent)) {
		fuse_reply_err(req, -syn_modify_err(srv_of(req), parent, NULL));
		return;
	}
	cred_from_req(req, &cred);
	rc = pfs_mknod(srv->fs, parent, name, (mode & ~(mode_t)S_IFMT) | S_IFREG, 0,
		       &cred, &attr);
	if (rc)
		goto out_err;
	rc = pfs_open(srv->fs, attr.ino, fi->flags);
	if (rc)
		goto out_forget;
	open_flags(srv, fi);
	pmemfs_entry_from_attr(srv, &attr, &e);
	if (fuse_reply_create(req, &e, fi) != 0) {
		pfs_release(srv->fs, attr.ino);
		pfs_forget(srv->fs, attr.ino, 1);
	}
	return;

out_forget:
	pfs_forget(srv->fs, attr.ino, 1);
out_err:
	fuse_reply_err(req, -rc);
}

struct read_reply {
	fuse_req_t req;
	bool bounce;                   /* emulation: reply from a thread buffer */
	bool replied;
	size_t bytes;
};

/* Copies the iovecs one after the other into dst. */
static void iov_gather(char *dst, const struct iovec *iov, int cnt)
{
	for (int i = 0; i < cnt; i++) {
		memcpy(dst, iov[i].iov_base, iov[i].iov_len);
		dst += iov[i].iov_len;
	}
}

/*
 * A per-thread buffer of PMEMFS_MAX_IO bytes for read replies (freed when
 * the thread exits).
 */
static pthread_key_t bounce_key;
static pthread_once_t bounce_once = PTHREAD_ONCE_INIT;
static bool bounce_key_ok;

static void bounce_key_init(void)
{
	bounce_key_ok = pthread_key_create(&bounce_key, free) == 0;
}

static char *bounce_buffer(void)
{
	char *b;

	pthread_once(&bounce_once, bounce_key_init);
	if (!bounce_key_ok)
		return NULL;
	b = pthread_getspecific(bounce_key);
	if (!b) {
		b = malloc(PMEMFS_MAX_IO);
		if (b && pthread_setspecific(bounce_key, b) != 0) {
			free(b);
			b = NULL;
		}
	}
	return b;
}

/* The extent gathered into b, and the reply sent from there. */
static int reply_gathered(fuse_req_t req, char *b, const struct iovec *iov, int cnt,
			  size_t total)
{
	iov_gather(b, iov, cnt);
	return fuse_reply_buf(req, b, total);
}

/*
 * Where a read's reply is sent from (the iovecs point into the mapping; this
 * runs under the core's inode lock):
 *  - a request that came over io_uring: its entry's payload buffer, on any
 *    device; gathering the extent there is the one copy the server makes,
 *    and the kernel copies it on to the caller.
 *  - an emulated image: a per-thread anonymous buffer. The mapping is page
 *    cache (shmem) of the image file, and the kernel pins such pages one at
 *    a time on a slow path when it copies a reply out of them (1 MiB reads:
 *    +17-20% on a tmpfs image with the buffer).
 *  - real pmem: straight from the mapping, one copy.
 */
static int read_reply_iov(void *arg, const struct iovec *iov, int cnt)
{
	struct read_reply *rr = arg;
	char *b;

	rr->replied = true;
	for (int i = 0; i < cnt; i++)
		rr->bytes += iov[i].iov_len;
	if (cnt == 0)
		return fuse_reply_buf(rr->req, NULL, 0);
	b = pmemfs_compat_reply_buffer(rr->req, rr->bytes);
	if (!b && rr->bounce && rr->bytes <= PMEMFS_MAX_IO)
		b = bounce_buffer();
	if (b)
		return reply_gathered(rr->req, b, iov, cnt, rr->bytes);
	return fuse_reply_iov(rr->req, iov, cnt);
}

static void pmemfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	struct read_reply rr = { .req = req, .bounce = srv_of(req)->bounce_reads };
	struct pmemfs_counters *cnt = &srv_of(req)->count;
	int rc;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (syn_ino(ino)) {
		syn_read(req, ino, size, off);
		return;
	}
	/* a direct read carries its caller's lock owner, a page-cache fill none */
	if (fi->lock_owner == 0 && pmemfs_direct_io(srv_of(req)))
		pmemfs_coh_note_cached(ino);
	rc = pfs_read(srv_of(req)->fs, ino, (uint64_t)off, size, read_reply_iov, &rr);
	pmemfs_count(&cnt->reads, 1);
	pmemfs_count(rc ? &cnt->errors : &cnt->bytes_read, rc ? 1 : rr.bytes);
	if (rr.replied)
		return;
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, NULL, 0);
}

#define WRITE_IOV_MAX PMEMFS_WIRE_LANDING_MAX

/* Memory buffers become iovecs as they are; -1 when any is an fd or too many. */
static int bufvec_to_iov(const struct fuse_bufvec *bv, struct iovec *iov, int max)
{
	int n = 0;

	for (size_t i = bv->idx; i < bv->count; i++) {
		const struct fuse_buf *b = &bv->buf[i];
		size_t skip = i == bv->idx ? bv->off : 0;

		if ((b->flags & FUSE_BUF_IS_FD) || n == max)
			return -1;
		if (b->size <= skip)
			continue;
		iov[n].iov_base = (char *)b->mem + skip;
		iov[n].iov_len = b->size - skip;
		n++;
	}
	return n;
}

/* Spliced data (fd buffers) is copied into one malloc'd bounce buffer. */
static int bufvec_bounce(struct fuse_bufvec *src, struct iovec *iov)
{
	size_t size = fuse_buf_size(src);
	struct fuse_bufvec dst = FUSE_BUFVEC_INIT(size);
	ssize_t got;

	dst.buf[0].mem = malloc(size ? size : 1);
	if (!dst.buf[0].mem)
		return -ENOMEM;
	got = fuse_buf_copy(&dst, src, 0);
	if (got < 0) {
		free(dst.buf[0].mem);
		return (int)got;
	}
	iov->iov_base = dst.buf[0].mem;
	iov->iov_len = (size_t)got;
	return 0;
}

/*
 * What file_remove_privs() does for a cached write, done here for a
 * direct_io write (not for mmap writeback, fi->writepage): drop
 * security.capability, and suid/sgid when the kernel asks
 * (FUSE_WRITE_KILL_SUIDGID: the writer lacks CAP_FSETID). Before the data
 * is written, as the kernel does; the kernel's cached mode is then dropped.
 */
static int kill_privs(fuse_req_t req, struct pmemfs_server *srv, fuse_ino_t ino,
		      const struct fuse_file_info *fi)
{
	bool changed;
	int rc;

	if (!pmemfs_direct_io(srv) || fi->writepage)
		return 0;
	rc = pfs_kill_privs(srv->fs, ino, pmemfs_compat_kill_suidgid(srv, req, ino, fi), &changed);
	if (rc == 0 && changed && srv->se)
		fuse_lowlevel_notify_inval_inode(srv->se, ino, -1, 0);
	return rc;
}

/* Landed data spread over several iovecs, gathered into one malloc'd buffer. */
static int gather(struct iovec *iov, int cnt, size_t size, void **bounce)
{
	char *p = malloc(size ? size : 1);

	if (!p)
		return -ENOMEM;
	iov_gather(p, iov, cnt);
	*bounce = p;
	iov[0].iov_base = p;
	iov[0].iov_len = size;
	return 1;
}

/*
 * The request's data as iovecs: in the thread's stage, in libfuse's buffer,
 * or bounced; one buffer when one is set (control files parse it whole).
 */
static int write_source(struct fuse_bufvec *bufv, bool one, struct iovec *iov, void **bounce,
			bool *landed)
{
	size_t size = fuse_buf_size(bufv);
	int cnt = pmemfs_wire_landed(size, iov, WRITE_IOV_MAX);

	*bounce = NULL;
	*landed = cnt > 0;
	if (cnt < 0)
		return cnt;
	if (cnt == 1 || (cnt > 1 && !one))
		return cnt;
	if (cnt > 1)
		return gather(iov, cnt, size, bounce);
	cnt = one ? -1 : bufvec_to_iov(bufv, iov, WRITE_IOV_MAX);
	if (cnt >= 0)
		return cnt;
	cnt = bufvec_bounce(bufv, &iov[0]);
	if (cnt)
		return cnt;
	*bounce = iov[0].iov_base;
	return 1;
}

/* Drops the first skip bytes of iov[0..*cnt) in place. */
static void iov_drop(struct iovec *iov, int *cnt, size_t skip)
{
	int i = 0, n = 0;

	while (i < *cnt && skip >= iov[i].iov_len)
		skip -= iov[i++].iov_len;
	for (; i < *cnt; i++, n++) {
		iov[n].iov_base = (char *)iov[i].iov_base + skip;
		iov[n].iov_len = iov[i].iov_len - skip;
		skip = 0;
	}
	*cnt = n;
}

/*
 * The whole blocks of a landed write, relinked from the stage; the iovecs
 * are left with the rest to copy (a tail shorter than a block; everything
 * when the relink cannot be done or fails: ENOSPC, EFBIG). The kernel sends
 * a 1 MiB write from a buffer that is not page-aligned as 1 MiB - m bytes
 * then m: the first is relinked but for its last partial block.
 */
static void write_relinked(struct pmemfs_server *srv, fuse_ino_t ino, off_t off, size_t size,
			   bool append, struct iovec *iov, int *cnt, size_t *written)
{
	size_t whole = pmemfs_stage_adoptable(srv, off, size, append);

	if (whole == 0 || pmemfs_stage_adopt(srv, ino, off, whole) != 0)
		return;
	pmemfs_count(&srv->count.zero_copy_writes, 1);
	*written = whole;
	/* the tail's block stays the stage's, untouched until this thread's next read */
	iov_drop(iov, cnt, whole);
}

/* Copies the n bytes at skip of iov[0..cnt) as iovecs into out; returns their count. */
static int iov_slice(const struct iovec *iov, int cnt, size_t skip, size_t n, struct iovec *out)
{
	int k = 0;

	for (int i = 0; i < cnt && n > 0; i++) {
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		out[k].iov_base = (char *)iov[i].iov_base + skip;
		out[k].iov_len = len - skip < n ? len - skip : n;
		n -= out[k].iov_len;
		skip = 0;
		k++;
	}
	return k;
}

/* A write-back of cached pages, stored a part at a time (pmemfs_coh_write_back). */
struct write_back {
	struct pmemfs_server *srv;
	fuse_ino_t ino;
	const struct iovec *iov;
	int cnt;
	bool sync;
	size_t done;                   /* bytes stored or skipped, from the start */
};

static int write_back_part(void *ctx, uint64_t off, uint64_t skip, uint64_t n)
{
	struct write_back *wb = ctx;
	struct iovec part[WRITE_IOV_MAX];
	int k = iov_slice(wb->iov, wb->cnt, skip, n, part);
	size_t more = 0;
	int rc = pfs_write(wb->srv->fs, wb->ino, off, part, k, false, wb->sync, &more);

	if (rc == 0 && more == n)
		wb->done = skip + n;
	return rc ? rc : more == n ? 0 : -ENOSPC;
}

/*
 * With direct_io a write-back of pages dirtied through a mapping skips the
 * bytes of direct writes in progress, whose pages it may hold stale
 * (fuse_coherence.c); the skipped bytes count as written.
 */
static int write_cached(struct pmemfs_server *srv, fuse_ino_t ino, off_t off,
			const struct iovec *iov, int cnt, size_t size, bool sync, size_t *written)
{
	struct write_back wb = {
		.srv = srv, .ino = ino, .iov = iov, .cnt = cnt, .sync = sync,
	};
	int rc = pmemfs_coh_write_back(ino, (uint64_t)off, size, write_back_part, &wb);

	*written = rc ? wb.done : size;
	return *written ? 0 : rc;
}

/* The size of ino now, below which an O_APPEND write cannot land (0 if unknown). */
static uint64_t append_floor(struct pmemfs_server *srv, uint64_t ino)
{
	struct pfs_attr at;

	return pfs_getattr(srv->fs, ino, &at) == 0 ? at.size : 0;
}

/*
 * O_APPEND: through the page cache the kernel picks the offset (EOF under
 * the inode lock). With direct_io the core appends at its own EOF.
 *
 * With direct_io a write opens a coherence window (fuse_coherence.c) before
 * its data is stored; pages the kernel may have cached meanwhile (a mapping
 * of the file) are invalidated after the store and before the reply.
 */
static void pmemfs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
			     off_t off, struct fuse_file_info *fi)
{
	struct pmemfs_server *srv = srv_of(req);
	struct iovec iov[WRITE_IOV_MAX];
	bool append = fi->direct_io && (fi->flags & O_APPEND);
	bool sync = srv->durable_writes || (fi->flags & (O_SYNC | O_DSYNC));
	size_t size = fuse_buf_size(bufv), written = 0;
	bool direct = pmemfs_direct_io(srv);
	struct pmemfs_coh_write win;
	void *bounce = NULL;
	bool landed;
	int cnt, rc;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	cnt = write_source(bufv, syn_ino(ino), iov, &bounce, &landed);
	if (cnt < 0) {
		rc = cnt;
		goto out;
	}
	if (syn_ino(ino)) {
		/* a control file: one command per write, replied to by syn_write */
		syn_write(req, ino, iov[0].iov_base, iov[0].iov_len);
		free(bounce);
		return;
	}
	if (direct && fi->writepage) {
		rc = write_cached(srv, ino, off, iov, cnt, size, sync, &written);
		goto count;
	}
	rc = kill_privs(req, srv, ino, fi);
	/*
	 * An O_APPEND write lands at the core's EOF, at or past the size now: its
	 * window runs from there (not over the whole file, whose write-backs
	 * would all be skipped meanwhile).
	 */
	if (direct)
		pmemfs_coh_write_begin(&win, ino, append ? append_floor(srv, ino) : (uint64_t)off,
				       append ? SIZE_MAX : size);
	if (rc == 0 && landed)
		write_relinked(srv, ino, off, size, append, iov, &cnt, &written);
	if (rc == 0 && cnt > 0) {
		size_t more = 0;

		rc = pfs_write(srv->fs, ino, (uint64_t)off + written, iov, cnt, append, sync,
			       &more);
		written += more;
	}
	if (direct)
		pmemfs_coh_write_end(srv->se, req, &win, written);
count:
	pmemfs_count(&srv->count.writes, 1);
	pmemfs_count(rc ? &srv->count.errors : &srv->count.bytes_written, rc ? 1 : written);
	if (rc == 0)
		pmemfs_stage_after_write(srv, size);
out:
	free(bounce);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, written);
}

static void pmemfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void pmemfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	if (!syn_ino(ino))
		pfs_release(srv_of(req)->fs, ino);
	fuse_reply_err(req, 0);
}

/*
 * With durable writes every write() was durable when it returned and every
 * metadata change is at its commit: fsync has nothing left to do. ENOSYS
 * tells the kernel so (fc->no_fsync, no_fsyncdir): later fsyncs then cost no
 * round trip. The kernel still writes back dirty mmap'd pages first, as
 * WRITE requests, which are durable when answered.
 */
static void pmemfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	struct pmemfs_server *srv = srv_of(req);
	int rc = 0;

	(void)fi;
	if (srv->durable_writes) {
		if (!syn_ino(ino))
			(void)pfs_fsync(srv->fs, ino, datasync != 0);
		pmemfs_count(&srv->count.fsyncs, 1);
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (!syn_ino(ino)) {
		rc = pfs_fsync(srv_of(req)->fs, ino, datasync != 0);
		pmemfs_count(rc ? &srv_of(req)->count.errors : &srv_of(req)->count.fsyncs, 1);
	}
	fuse_reply_err(req, -rc);
}

static int falloc_mode(int mode, unsigned *out)
{
	switch (mode) {
	case 0:
		*out = 0;
		return 0;
	case FALLOC_FL_KEEP_SIZE:
		*out = PFS_FALLOC_KEEP_SIZE;
		return 0;
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
		*out = PFS_FALLOC_PUNCH_HOLE | PFS_FALLOC_KEEP_SIZE;
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

static void pmemfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
			     off_t length, struct fuse_file_info *fi)
{
	unsigned pmode = 0;
	int rc;

	(void)fi;
	rc = falloc_mode(mode, &pmode);
	if (rc == 0 && syn_ino(ino))
		rc = -EBADF;
	else if (rc == 0 && (offset < 0 || length <= 0))
		rc = -EINVAL;
	else if (rc == 0)
		rc = pfs_fallocate(srv_of(req)->fs, ino, pmode, (uint64_t)offset,
				   (uint64_t)length);
	fuse_reply_err(req, -rc);
}

/* The kernel resolves SEEK_SET/CUR/END itself; only DATA/HOLE reach the core. */
static void pmemfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
			 struct fuse_file_info *fi)
{
	uint64_t pos;
	int rc;

	(void)fi;
	if (whence == SEEK_SET && off >= 0) {
		fuse_reply_lseek(req, off);
		return;
	}
	if ((whence != SEEK_DATA && whence != SEEK_HOLE) || syn_ino(ino)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	rc = pfs_lseek(srv_of(req)->fs, ino, (uint64_t)off, whence, &pos);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_lseek(req, (off_t)pos);
}

/* ---- directories ---- */

/* A fuse_direntplus is at least 128 bytes of entry_out plus the dirent. */
#define DIRENTPLUS_MIN 128

static int dirbuf_init(struct dirbuf *db, fuse_req_t req, fuse_ino_t dir, size_t size,
		       bool plus)
{
	memset(db, 0, sizeof(*db));
	db->req = req;
	db->srv = srv_of(req);
	db->dir = dir;
	db->plus = plus;
	db->size = size;
	db->buf = malloc(size ? size : 1);
	if (!db->buf)
		return -ENOMEM;
	if (!plus)
		return 0;
	db->maxrefs = size / DIRENTPLUS_MIN + 1;
	db->refs = calloc(db->maxrefs, sizeof(*db->refs));
	if (!db->refs) {
		free(db->buf);
		return -ENOMEM;
	}
	return 0;
}

static void dirbuf_free(struct dirbuf *db)
{
	free(db->refs);
	free(db->buf);
}

/* Adds one entry; false when it does not fit (the caller keeps any reference). */
bool pmemfs_dirbuf_add(struct dirbuf *db, const char *name,
		       const struct fuse_entry_param *e, off_t next)
{
	size_t room = db->size - db->used;
	char *p = db->buf + db->used;
	size_t need;

	if (db->plus && e->ino != 0 && db->nrefs == db->maxrefs)
		return false;
	if (db->plus)
		need = fuse_add_direntry_plus(db->req, p, room, name, e, next);
	else
		need = fuse_add_direntry(db->req, p, room, name, &e->attr, next);
	if (need > room)
		return false;
	db->used += need;
	if (db->plus && e->ino != 0)
		db->refs[db->nrefs++] = e->ino;
	return true;
}

static void dirbuf_reply(struct dirbuf *db)
{
	struct pfs_fs *fs = db->srv->fs;

	if (fuse_reply_buf(db->req, db->buf, db->used) == 0)
		return;
	for (size_t i = 0; i < db->nrefs; i++)
		pfs_forget(fs, db->refs[i], 1);
}

/* pfs_readdir's callback state: the reply buffer and a reference to give back. */
/*
 * Core readdir callback. With plus the core has taken a reference on each
 * entry; "." and ".." carry none (the kernel does not count them), so they
 * go out with node id 0 and only d_ino/d_type filled in. An entry that does
 * not fit is refused (non-zero) and the core drops its reference itself
 * (pfs_readdir's contract), under its own lock: never pfs_forget here, which
 * may need that lock exclusively.
 */
static int core_fill(void *arg, const char *name, const struct pfs_attr *attr,
		     uint64_t next_cookie)
{
	struct dirbuf *db = arg;
	bool dots = name_is_dot(name) || name_is_dotdot(name);
	struct fuse_entry_param e;

	pmemfs_entry_from_attr(db->srv, attr, &e);
	if (dots) {
		e.ino = 0;
		if (name_is_dotdot(name) && db->dir == pfs_root_ino(db->srv->fs))
			e.attr.st_ino = FUSE_ROOT_ID;
	}
	if (!db->plus)
		e.ino = 0;
	return pmemfs_dirbuf_add(db, name, &e, (off_t)next_cookie) ? 0 : 1;
}

/*
 * An error after some entries were stored is not reported: the entries go
 * out and the next call meets the error again.
 */
static int core_readdir(struct dirbuf *db, off_t off)
{
	int rc;

	if (off < 0)
		return -EINVAL;
	rc = pfs_readdir(db->srv->fs, db->dir, (uint64_t)off, db->plus, core_fill, db);
	return db->used > 0 ? 0 : rc;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct dirbuf db;
	int rc;

	rc = dirbuf_init(&db, req, ino, size, plus);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	rc = syn_ino(ino) ? syn_readdir(&db, off) : core_readdir(&db, off);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		dirbuf_reply(&db);
	dirbuf_free(&db);
}

static void pmemfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int rc = syn_ino(ino) ? syn_opendir(srv_of(req), ino) : 0;

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

static void pmemfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

static void pmemfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			       struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

static void pmemfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void pmemfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			    struct fuse_file_info *fi)
{
	pmemfs_fsync(req, ino, datasync, fi);
}

/* Synthetic nodes report the core's numbers: it is the only storage. */
static void pmemfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	int rc;

	(void)ino;
	rc = pfs_statfs(srv_of(req)->fs, &st);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_statfs(req, &st);
}

/* ---- extended attributes (core nodes only) ---- */

static int xattr_flags(int flags, unsigned *out)
{
	*out = 0;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (flags & XATTR_CREATE)
		*out |= PFS_XATTR_CREATE;
	if (flags & XATTR_REPLACE)
		*out |= PFS_XATTR_REPLACE;
	return 0;
}

static void pmemfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			    const char *value, size_t size, int flags)
{
	unsigned pflags = 0;
	int rc;

	rc = xattr_flags(flags, &pflags);
	if (rc == 0 && syn_ino(ino))
		rc = -ENOTSUP;
	else if (rc == 0)
		rc = pfs_setxattr(srv_of(req)->fs, ino, name, value, size, pflags);
	fuse_reply_err(req, -rc);
}

/* size 0 asks for the length; otherwise the value, or ERANGE from the core. */
static void reply_xattr_buf(fuse_req_t req, int rc, const char *buf, size_t size,
			    size_t len)
{
	if (rc)
		fuse_reply_err(req, -rc);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
}

static void pmemfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (syn_ino(ino)) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = pfs_getxattr(srv_of(req)->fs, ino, name, buf, size, &len);
	reply_xattr_buf(req, rc, buf, size, len);
	free(buf);
}

static void pmemfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (syn_ino(ino)) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = pfs_listxattr(srv_of(req)->fs, ino, buf, size, &len);
	reply_xattr_buf(req, rc, buf, size, len);
	free(buf);
}

static void pmemfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	int rc;

	if (syn_ino(ino))
		rc = -ENOTSUP;
	else
		rc = pfs_removexattr(srv_of(req)->fs, ino, name);
	fuse_reply_err(req, -rc);
}

/*
 * No access(): default_permissions makes the kernel check permissions.
 * No write(): write_buf serves every write.
 */
const struct fuse_lowlevel_ops pmemfs_ll_ops = {
	.init = pmemfs_init,
	.destroy = pmemfs_destroy,
	.lookup = pmemfs_lookup,
	.forget = pmemfs_forget,
	.forget_multi = pmemfs_forget_multi,
	.getattr = pmemfs_getattr,
	.setattr = pmemfs_setattr,
	.readlink = pmemfs_readlink,
	.mknod = pmemfs_mknod,
	.mkdir = pmemfs_mkdir,
	.unlink = pmemfs_unlink,
	.rmdir = pmemfs_rmdir,
	.symlink = pmemfs_symlink,
	.rename = pmemfs_rename,
	.link = pmemfs_link,
	.open = pmemfs_open,
	.create = pmemfs_create,
	.read = pmemfs_read,
	.write_buf = pmemfs_write_buf,
	.flush = pmemfs_flush,
	.release = pmemfs_release,
	.fsync = pmemfs_fsync,
	.fallocate = pmemfs_fallocate,
	.lseek = pmemfs_lseek,
	.opendir = pmemfs_opendir,
	.readdir = pmemfs_readdir,
	.readdirplus = pmemfs_readdirplus,
	.releasedir = pmemfs_releasedir,
	.fsyncdir = pmemfs_fsyncdir,
	.statfs = pmemfs_statfs,
	.setxattr = pmemfs_setxattr,
	.getxattr = pmemfs_getxattr,
	.listxattr = pmemfs_listxattr,
	.removexattr = pmemfs_removexattr,
};
