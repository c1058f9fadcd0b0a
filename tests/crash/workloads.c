// SPDX-License-Identifier: MIT
/*
 * The crash-test workloads (see workloads.h). Each step is one call of the
 * core API by path; a helper marks the step's start and return in the
 * recorder and snapshots the file system after it. Every metadata step is a
 * barrier (pmemfs commits metadata durably before returning); a write is one
 * only when synchronous, an fsync always.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pfs.h"
#include "workloads.h"

uint8_t wl_pattern(uint32_t seed, uint64_t off)
{
	uint64_t x = (uint64_t)seed * 0x9e3779b97f4a7c15ull ^ (off + 1) * 0x85ebca6bull;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (uint8_t)(1 + x % 255);
}

__attribute__((format(printf, 2, 3)))
static void wl_fail(struct wl_ctx *w, const char *fmt, ...)
{
	va_list ap;

	if (w->broken)
		return;
	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	w->broken = true;
}

void wl_ctx_free(struct wl_ctx *w)
{
	for (size_t i = 0; i < w->nmodel; i++)
		free(w->model[i].data);
	free(w->model);
	w->model = NULL;
	w->nmodel = 0;
	for (size_t i = 0; w->snaps && i <= w->nsteps; i++)
		snap_free(&w->snaps[i]);
	free(w->snaps);
	free(w->steps);
	w->snaps = NULL;
	w->steps = NULL;
}

static size_t step_begin(struct wl_ctx *w);

static struct wl_model *model_get(struct wl_ctx *w, uint64_t ino, bool add)
{
	struct wl_model *nm;

	for (size_t i = 0; i < w->nmodel; i++)
		if (w->model[i].ino == ino)
			return &w->model[i];
	if (!add)
		return NULL;
	nm = realloc(w->model, (w->nmodel + 1) * sizeof(*nm));
	if (!nm)
		abort();
	w->model = nm;
	nm = &w->model[w->nmodel++];
	*nm = (struct wl_model){ .ino = ino };
	return nm;
}

static void model_resize(struct wl_model *m, size_t size)
{
	if (size > m->size) {
		uint8_t *nd = realloc(m->data, size);

		if (!nd)
			abort();
		memset(nd + m->size, 0, size - m->size);
		m->data = nd;
	}
	m->size = size;
}

static void model_write(struct wl_ctx *w, uint64_t ino, uint64_t off, size_t len, uint32_t seed)
{
	struct wl_model *m = model_get(w, ino, true);

	if (off + len > m->size)
		model_resize(m, off + len);
	for (size_t i = 0; i < len; i++)
		m->data[off + i] = wl_pattern(seed, off + i);
}

/* The live file system must show exactly what the workload wrote. */
static void model_check(struct wl_ctx *w, const struct snap *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct snap_ent *e = &s->e[i];
		const struct wl_model *m = model_get(w, e->ino, false);

		if (!m || !S_ISREG(e->mode))
			continue;
		if (m->size != e->size) {
			wl_fail(w, "after step %zu: %s has size %llu, the workload wrote %zu",
				w->nsteps, e->path, (unsigned long long)e->size, m->size);
			return;
		}
		for (size_t off = 0; off < m->size; off++) {
			if (e->data[off] != m->data[off]) {
				wl_fail(w, "after step %zu: %s byte %zu is 0x%02x, the workload "
					"wrote 0x%02x", w->nsteps, e->path, off, e->data[off],
					m->data[off]);
				return;
			}
		}
	}
}

void wl_snap_now(struct wl_ctx *w)
{
	size_t before = step_begin(w);
	char why[256] = "";
	struct snap s;
	int rc = snap_take(w->fs, &s, why, sizeof(why));

	if (rc) {
		wl_fail(w, "snapshot after step %zu: %s", w->nsteps, why);
		return;
	}
	if (w->rec && rec_pos(w->rec) != before)
		wl_fail(w, "taking a snapshot (reads only) stored to the media");
	model_check(w, &s);
	w->snaps[w->nsteps] = s;
}

/* ---- steps ---- */

static size_t step_begin(struct wl_ctx *w)
{
	if (w->nsteps + 2 > w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 64;
		struct wl_step *ns = realloc(w->steps, ncap * sizeof(*ns));
		struct snap *nv;

		if (!ns)
			abort();
		w->steps = ns;
		nv = realloc(w->snaps, (ncap + 1) * sizeof(*nv));
		if (!nv)
			abort();
		w->snaps = nv;
		w->cap = ncap;
	}
	return w->rec ? rec_pos(w->rec) : 0;
}

/*
 * Ends a step: during the set-up an error is the workload's fault; once
 * recording, an error is part of the step (the snapshot shows its effect),
 * unless it is none of the expected ones.
 */
__attribute__((format(printf, 5, 6)))
static int step_end(struct wl_ctx *w, size_t begin, int rc, bool barrier, const char *fmt, ...)
{
	struct wl_step *s;
	va_list ap;

	if (!w->rec) {
		if (rc) {
			char what[96];

			va_start(ap, fmt);
			vsnprintf(what, sizeof(what), fmt, ap);
			va_end(ap);
			wl_fail(w, "set-up: %s: %s", what, strerror(-rc));
		}
		return rc;
	}
	s = &w->steps[w->nsteps++];
	s->begin = begin;
	s->end = rec_pos(w->rec);
	s->barrier = barrier;
	s->rc = rc;
	va_start(ap, fmt);
	vsnprintf(s->what, sizeof(s->what), fmt, ap);
	va_end(ap);
	if (rc && rc != -ENOSPC)
		wl_fail(w, "step %zu (%s): %s", w->nsteps, s->what, strerror(-rc));
	wl_snap_now(w);
	return rc;
}

/* Resolves all but the last component of path; *leaf points into path. */
static int walk_parent(struct wl_ctx *w, const char *path, uint64_t *dir, const char **leaf)
{
	char comp[256];
	const char *p = path + 1, *slash;
	uint64_t d = pfs_root_ino(w->fs);
	int rc;

	while ((slash = strchr(p, '/'))) {
		struct pfs_attr a;
		size_t n = (size_t)(slash - p);

		memcpy(comp, p, n);
		comp[n] = '\0';
		rc = pfs_lookup(w->fs, d, comp, &a);
		if (rc)
			return rc;
		pfs_forget(w->fs, a.ino, 1);
		d = a.ino;
		p = slash + 1;
	}
	*dir = d;
	*leaf = p;
	return 0;
}

static int walk_ino(struct wl_ctx *w, const char *path, uint64_t *ino)
{
	struct pfs_attr a;
	const char *leaf;
	uint64_t dir;
	int rc = walk_parent(w, path, &dir, &leaf);

	if (rc)
		return rc;
	rc = pfs_lookup(w->fs, dir, leaf, &a);
	if (rc)
		return rc;
	pfs_forget(w->fs, a.ino, 1);
	*ino = a.ino;
	return 0;
}

static int do_create(struct wl_ctx *w, const char *path, uint32_t mode, const char *target)
{
	struct pfs_attr a;
	const char *leaf;
	uint64_t dir;
	int rc = walk_parent(w, path, &dir, &leaf);

	if (rc)
		return rc;
	if (S_ISDIR(mode))
		rc = pfs_mkdir(w->fs, dir, leaf, mode & 07777, &w->cred, &a);
	else if (S_ISLNK(mode))
		rc = pfs_symlink(w->fs, dir, leaf, target, &w->cred, &a);
	else
		rc = pfs_mknod(w->fs, dir, leaf, mode, 0, &w->cred, &a);
	if (!rc) {
		pfs_forget(w->fs, a.ino, 1);
		if (S_ISREG(mode))
			model_get(w, a.ino, true);
	}
	return rc;
}

static int w_create(struct wl_ctx *w, const char *path)
{
	size_t b = step_begin(w);

	return step_end(w, b, do_create(w, path, S_IFREG | 0644, NULL), true, "create %s", path);
}

static int w_mkdir(struct wl_ctx *w, const char *path)
{
	size_t b = step_begin(w);

	return step_end(w, b, do_create(w, path, S_IFDIR | 0755, NULL), true, "mkdir %s", path);
}

static int w_symlink(struct wl_ctx *w, const char *path, const char *target)
{
	size_t b = step_begin(w);

	return step_end(w, b, do_create(w, path, S_IFLNK | 0777, target), true, "symlink %s",
			path);
}

static int w_link(struct wl_ctx *w, const char *from, const char *to)
{
	size_t b = step_begin(w);
	struct pfs_attr a;
	const char *leaf;
	uint64_t ino, dir;
	int rc = walk_ino(w, from, &ino);

	if (!rc)
		rc = walk_parent(w, to, &dir, &leaf);
	if (!rc)
		rc = pfs_link(w->fs, ino, dir, leaf, &a);
	if (!rc)
		pfs_forget(w->fs, a.ino, 1);
	return step_end(w, b, rc, true, "link %s %s", from, to);
}

static int w_remove(struct wl_ctx *w, const char *path, bool dir)
{
	size_t b = step_begin(w);
	const char *leaf;
	uint64_t d;
	int rc = walk_parent(w, path, &d, &leaf);

	if (!rc)
		rc = dir ? pfs_rmdir(w->fs, d, leaf) : pfs_unlink(w->fs, d, leaf);
	return step_end(w, b, rc, true, "%s %s", dir ? "rmdir" : "unlink", path);
}

static int w_unlink(struct wl_ctx *w, const char *path)
{
	return w_remove(w, path, false);
}

static int w_rmdir(struct wl_ctx *w, const char *path)
{
	return w_remove(w, path, true);
}

static int w_setattr(struct wl_ctx *w, const char *path, const struct pfs_setattr *sa,
		     const char *what)
{
	size_t b = step_begin(w);
	uint64_t ino;
	int rc = walk_ino(w, path, &ino);

	if (!rc)
		rc = pfs_setattr(w->fs, ino, sa, NULL);
	if (!rc && (sa->valid & PFS_SET_SIZE)) {
		struct wl_model *m = model_get(w, ino, false);

		if (m)
			model_resize(m, sa->size);
	}
	return step_end(w, b, rc, true, "%s %s", what, path);
}

static int w_chmod(struct wl_ctx *w, const char *path, uint32_t mode)
{
	struct pfs_setattr sa = { .valid = PFS_SET_MODE, .mode = mode };

	return w_setattr(w, path, &sa, "chmod");
}

static int w_chown(struct wl_ctx *w, const char *path, uint32_t uid, uint32_t gid)
{
	struct pfs_setattr sa = { .valid = PFS_SET_UID | PFS_SET_GID, .uid = uid, .gid = gid };

	return w_setattr(w, path, &sa, "chown");
}

static int w_truncate(struct wl_ctx *w, const char *path, uint64_t size)
{
	struct pfs_setattr sa = { .valid = PFS_SET_SIZE, .size = size };

	return w_setattr(w, path, &sa, "truncate");
}

static int w_rename(struct wl_ctx *w, const char *from, const char *to, unsigned flags)
{
	size_t b = step_begin(w);
	const char *fl, *tl;
	uint64_t fd, td;
	int rc = walk_parent(w, from, &fd, &fl);

	if (!rc)
		rc = walk_parent(w, to, &td, &tl);
	if (!rc)
		rc = pfs_rename(w->fs, fd, fl, td, tl, flags);
	return step_end(w, b, rc, true, "rename%s %s %s",
			flags & PFS_RENAME_EXCHANGE ? "(exchange)" : "", from, to);
}

static int do_write(struct wl_ctx *w, uint64_t ino, uint64_t off, size_t len, uint32_t seed,
		    bool append, bool sync)
{
	uint8_t *buf = malloc(len);
	struct pfs_attr a;
	struct iovec v = { buf, len };
	size_t done = 0;
	int rc;

	if (!buf)
		return -ENOMEM;
	if (append) {
		rc = pfs_getattr(w->fs, ino, &a);
		if (rc)
			goto out;
		off = a.size;
	}
	for (size_t i = 0; i < len; i++)
		buf[i] = wl_pattern(seed, off + i);
	rc = pfs_write(w->fs, ino, off, &v, 1, append, sync, &done);
	if (!rc && done != len)
		rc = -EIO;
	if (!rc)
		model_write(w, ino, off, len, seed);
out:
	free(buf);
	return rc;
}

static int w_write(struct wl_ctx *w, const char *path, uint64_t off, size_t len, uint32_t seed,
		   bool sync)
{
	size_t b = step_begin(w);
	uint64_t ino;
	int rc = walk_ino(w, path, &ino);

	if (!rc)
		rc = do_write(w, ino, off, len, seed, false, sync);
	return step_end(w, b, rc, sync, "write%s %s %llu+%zu", sync ? "(sync)" : "", path,
			(unsigned long long)off, len);
}

static int w_append(struct wl_ctx *w, const char *path, size_t len, uint32_t seed)
{
	size_t b = step_begin(w);
	uint64_t ino;
	int rc = walk_ino(w, path, &ino);

	if (!rc)
		rc = do_write(w, ino, 0, len, seed, true, false);
	return step_end(w, b, rc, false, "append %s +%zu", path, len);
}

static int w_fsync(struct wl_ctx *w, const char *path)
{
	size_t b = step_begin(w);
	uint64_t ino;
	int rc = walk_ino(w, path, &ino);

	if (!rc)
		rc = pfs_fsync(w->fs, ino, false);
	return step_end(w, b, rc, true, "fsync %s", path);
}

static int w_setxattr(struct wl_ctx *w, const char *path, const char *name, const char *value)
{
	size_t b = step_begin(w);
	uint64_t ino;
	int rc = walk_ino(w, path, &ino);

	if (!rc)
		rc = pfs_setxattr(w->fs, ino, name, value, strlen(value), 0);
	return step_end(w, b, rc, true, "setxattr %s %s", path, name);
}

static int w_removexattr(struct wl_ctx *w, const char *path, const char *name)
{
	size_t b = step_begin(w);
	uint64_t ino;
	int rc = walk_ino(w, path, &ino);

	if (!rc)
		rc = pfs_removexattr(w->fs, ino, name);
	return step_end(w, b, rc, true, "removexattr %s %s", path, name);
}

static int w_punch(struct wl_ctx *w, const char *path, uint64_t off, uint64_t len)
{
	size_t b = step_begin(w);
	uint64_t ino;
	int rc = walk_ino(w, path, &ino);

	if (!rc)
		rc = pfs_fallocate(w->fs, ino, PFS_FALLOC_PUNCH_HOLE | PFS_FALLOC_KEEP_SIZE, off,
				   len);
	if (!rc && model_get(w, ino, false)) {
		struct wl_model *m = model_get(w, ino, false);

		for (uint64_t i = off; i < off + len && i < m->size; i++)
			m->data[i] = 0;
	}
	return step_end(w, b, rc, true, "punch %s %llu+%llu", path, (unsigned long long)off,
			(unsigned long long)len);
}

static int w_fallocate(struct wl_ctx *w, const char *path, uint64_t off, uint64_t len)
{
	size_t b = step_begin(w);
	uint64_t ino;
	int rc = walk_ino(w, path, &ino);

	if (!rc)
		rc = pfs_fallocate(w->fs, ino, 0, off, len);
	if (!rc) {
		struct wl_model *m = model_get(w, ino, false);

		if (m && off + len > m->size)
			model_resize(m, off + len);
	}
	return step_end(w, b, rc, true, "fallocate %s %llu+%llu", path, (unsigned long long)off,
			(unsigned long long)len);
}

/* Opens path and keeps it open (a kernel reference) until w_release. */
static int w_open(struct wl_ctx *w, const char *path)
{
	size_t b = step_begin(w);
	uint64_t ino = 0;
	int rc = walk_ino(w, path, &ino);

	if (!rc && w->nheld == sizeof(w->held) / sizeof(w->held[0]))
		rc = -EMFILE;
	if (!rc)
		rc = pfs_open(w->fs, ino, O_RDWR);
	if (!rc)
		w->held[w->nheld++] = ino;
	return step_end(w, b, rc, true, "open %s", path);
}

/* Releases the most recently opened file (frees it if it was unlinked). */
static int w_release(struct wl_ctx *w)
{
	size_t b = step_begin(w);
	int rc = 0;

	if (w->nheld == 0)
		rc = -EBADF;
	else
		pfs_release(w->fs, w->held[--w->nheld]);
	return step_end(w, b, rc, true, "release");
}

/* A file of len bytes written with seed, during the set-up. */
static void mkfile(struct wl_ctx *w, const char *path, size_t len, uint32_t seed)
{
	w_create(w, path);
	if (len)
		w_write(w, path, 0, len, seed, true);
}

/* ---- workloads: each metadata operation alone ---- */

static void setup_dir(struct wl_ctx *w)
{
	w_mkdir(w, "/d");
	mkfile(w, "/d/a", 5000, 1);
	mkfile(w, "/d/b", 9000, 2);
	w_mkdir(w, "/d/e");
	w_mkdir(w, "/d2");
}

static void run_create(struct wl_ctx *w)
{
	w_create(w, "/d/new");
	w_create(w, "/d2/new2");
}

static void run_mkdir(struct wl_ctx *w)
{
	w_mkdir(w, "/d/sub");
	w_mkdir(w, "/d/sub/subsub");
}

static void run_symlink(struct wl_ctx *w)
{
	w_symlink(w, "/d/s", "a");
	w_symlink(w, "/d2/long", "../d/this/is/a/rather/long/symlink/target/to/nowhere");
}

/*
 * Transactions that abort after writing undo records (an injected ENOSPC),
 * each followed by ones that commit. A crash during the rollback or after it
 * must recover the state from before the aborted step, and the commits that
 * follow must not reuse the aborted transaction's seq (its records would
 * come back to life).
 */
static void abort_step(struct wl_ctx *w, struct pfs_fault *f, int rc, uint64_t seq,
		       const char *what)
{
	if (rc != -ENOSPC || !f->fired[PFS_FAULT_SPACE])
		wl_fail(w, "abort: %s did not fail at the injected ENOSPC", what);
	else if (w->fs->jhdr->active_seq == seq)
		wl_fail(w, "abort: %s journalled nothing before failing, or kept its seq", what);
	pfs_fault_arm(f, PFS_FAULT_SPACE, 0, false);
}

static void run_abort(struct wl_ctx *w)
{
	struct pfs_fault f = { 0 };
	uint64_t seq;

	pfs_fault_attach(w->fs, &f);
	/* mkdir: its inode slot is taken (journalled), then its bucket is refused */
	pfs_fault_arm(&f, PFS_FAULT_SPACE, 2, false);
	seq = w->fs->jhdr->active_seq;
	abort_step(w, &f, w_mkdir(w, "/d/sub"), seq, "mkdir");
	w_create(w, "/d/new");
	/* an append into the old last block (journalled), then no block for the rest */
	pfs_fault_arm(&f, PFS_FAULT_SPACE, 1, false);
	seq = w->fs->jhdr->active_seq;
	abort_step(w, &f, w_write(w, "/d/a", 5000, 6000, 5, false), seq, "append");
	w_mkdir(w, "/d/sub");
	w_write(w, "/d/a", 5000, 6000, 5, false);
	w_rename(w, "/d/new", "/d/sub/new", 0);
	pfs_fault_attach(w->fs, NULL);
}

static void run_link(struct wl_ctx *w)
{
	w_link(w, "/d/a", "/d/a2");
	w_link(w, "/d/a", "/d2/a3");
}

static void run_unlink(struct wl_ctx *w)
{
	w_unlink(w, "/d/a");
	w_unlink(w, "/d/b");
}

static void run_unlink_open(struct wl_ctx *w)
{
	/* an open file loses its last name: it becomes an orphan, then is freed */
	w_open(w, "/d/b");
	w_unlink(w, "/d/b");
	w_write(w, "/d/a", 100, 200, 9, false);
	w_release(w);
}

static void run_rmdir(struct wl_ctx *w)
{
	w_rmdir(w, "/d/e");
	w_rmdir(w, "/d2");
}

static void run_setattr(struct wl_ctx *w)
{
	w_chmod(w, "/d/a", 0600);
	w_chown(w, "/d/b", 42, 43);
	w_chmod(w, "/d", 0700);
}

static void run_rename_same_dir(struct wl_ctx *w)
{
	w_rename(w, "/d/a", "/d/c", 0);
	w_rename(w, "/d/e", "/d/f", 0);
}

static void run_rename_across(struct wl_ctx *w)
{
	w_rename(w, "/d/a", "/d2/a", 0);
	w_rename(w, "/d/e", "/d2/e", 0); /* a directory: its parent and both link counts */
}

static void run_rename_over(struct wl_ctx *w)
{
	w_rename(w, "/d/a", "/d/b", 0);
	w_mkdir(w, "/d2/x");
	w_rename(w, "/d/e", "/d2/x", 0); /* a directory over an empty one */
}

static void run_rename_exchange(struct wl_ctx *w)
{
	w_rename(w, "/d/a", "/d/b", PFS_RENAME_EXCHANGE);
	w_rename(w, "/d/e", "/d/b", PFS_RENAME_EXCHANGE); /* a directory and a file */
	w_rename(w, "/d/b", "/d2", PFS_RENAME_EXCHANGE);  /* two directories, across */
}

static void run_truncate_shrink(struct wl_ctx *w)
{
	w_truncate(w, "/d/b", 5000);
	w_truncate(w, "/d/b", 100);
	w_truncate(w, "/d/a", 0);
}

static void run_truncate_grow(struct wl_ctx *w)
{
	w_truncate(w, "/d/a", 7000);
	w_truncate(w, "/d/a", 100000);
	w_write(w, "/d/a", 50000, 10, 5, false); /* into the hole */
}

static void run_hardlinks(struct wl_ctx *w)
{
	w_link(w, "/d/a", "/d/l1");
	w_link(w, "/d/a", "/d2/l2");
	w_rename(w, "/d/l1", "/d2/l2", 0); /* two links of one inode: a no-op */
	w_unlink(w, "/d/a");
	w_rename(w, "/d/b", "/d2/l2", 0); /* replaces a link, the inode lives on */
	w_unlink(w, "/d/l1");
}

static void run_xattr(struct wl_ctx *w)
{
	w_setxattr(w, "/d/a", "user.one", "first value");
	w_setxattr(w, "/d/a", "user.two", "second");
	w_setxattr(w, "/d/a", "user.one", "replaced, and longer than before");
	w_removexattr(w, "/d/a", "user.two");
	w_setxattr(w, "/d/e", "trusted.dir", "on a directory");
}

static void run_punch(struct wl_ctx *w)
{
	w_punch(w, "/d/b", 1000, 6000);
	w_fallocate(w, "/d/a", 0, 20000);
}

/* ---- data ---- */

static void run_write_fsync(struct wl_ctx *w)
{
	w_write(w, "/d/b", 1000, 5000, 11, false); /* overwrite in place, unsynced */
	w_fsync(w, "/d/b");
	w_write(w, "/d/b", 4090, 20, 12, true);    /* O_SYNC, across a block boundary */
	w_write(w, "/d/a", 0, 5000, 13, false);    /* overwrite and extend */
	w_fsync(w, "/d/a");
	w_write(w, "/d/a", 20000, 3000, 14, false); /* past EOF: a hole before it */
	w_fsync(w, "/d/a");
}

static void run_append(struct wl_ctx *w)
{
	w_append(w, "/d/a", 100, 21);
	w_append(w, "/d/a", 5000, 22);
	w_append(w, "/d/a", 4096, 23);
	w_append(w, "/d/b", 1, 24);
	w_fsync(w, "/d/a");
}

/* ---- trees and big directories ---- */

static void setup_empty(struct wl_ctx *w)
{
	(void)w;
}

static void run_dir_tree(struct wl_ctx *w)
{
	w_mkdir(w, "/a");
	w_mkdir(w, "/a/b");
	w_mkdir(w, "/a/b/c");
	w_mkdir(w, "/a/b/c/d");
	w_create(w, "/a/f1");
	w_create(w, "/a/b/f2");
	w_write(w, "/a/b/f2", 0, 300, 31, false);
	w_create(w, "/a/b/c/d/f3");
	w_symlink(w, "/a/b/c/up", "../..");
	w_rename(w, "/a/b/c", "/a/c", 0);
	w_unlink(w, "/a/c/d/f3");
	w_rmdir(w, "/a/c/d");
}

#define GROW_PRE  120   /* entries of 32 bytes: 127 fit in one bucket */
#define GROW_MORE 12

static void setup_dir_grow(struct wl_ctx *w)
{
	char p[64];

	w_mkdir(w, "/big");
	for (int i = 0; i < GROW_PRE && !w->broken; i++) {
		snprintf(p, sizeof(p), "/big/n%07d", i);
		w_create(w, p);
	}
}

static void run_dir_grow(struct wl_ctx *w)
{
	struct pfs_attr a;
	uint64_t ino;
	char p[64];

	for (int i = GROW_PRE; i < GROW_PRE + GROW_MORE; i++) {
		snprintf(p, sizeof(p), "/big/n%07d", i);
		w_create(w, p);
	}
	w_unlink(w, "/big/n0000003");
	w_rename(w, "/big/n0000004", "/big/renamed", 0);
	if (walk_ino(w, "/big", &ino) || pfs_getattr(w->fs, ino, &a) || a.size < 8192)
		wl_fail(w, "dir_grow: the directory did not grow past one bucket");
}

/* ---- extent trees: inline root, one level of nodes, two ---- */

/* The workload must reach the tree shape it is about. */
static void want_depth(struct wl_ctx *w, const char *path, unsigned depth)
{
	struct pfs_inode_pm *ip;
	uint64_t ino;

	if (walk_ino(w, path, &ino) || pfs_inode_get(w->fs, ino, &ip))
		wl_fail(w, "%s: cannot look at its inode", path);
	else if (ip->ext_depth != depth)
		wl_fail(w, "%s: extent tree depth %u, the workload wants %u", path, ip->ext_depth,
			depth);
}


static void setup_extents(struct wl_ctx *w)
{
	w_create(w, "/x");
	/* every other block: each write is an extent of its own */
	for (uint64_t b = 0; b < 8 && !w->broken; b += 2)
		w_write(w, "/x", b * 4096, 4096, 80 + (uint32_t)b, true);
}

static void run_extents(struct wl_ctx *w)
{
	w_write(w, "/x", 8 * 4096, 4096, 90, false);    /* a fifth extent: the root splits */
	want_depth(w, "/x", 1);
	w_write(w, "/x", 12 * 4096, 4096, 91, false);   /* appended to the leaf in place */
	w_write(w, "/x", 1 * 4096, 100, 92, false);     /* inserted in the middle */
	w_punch(w, "/x", 4 * 4096, 4096);
	w_truncate(w, "/x", 5 * 4096 + 10);
	w_truncate(w, "/x", 0);
}

#define DEEP_EXTENTS 680   /* 4 leaves of 170 under the inline root */

static void setup_extents_deep(struct wl_ctx *w)
{
	w_create(w, "/x");
	for (uint64_t b = 0; b < 2 * (DEEP_EXTENTS - 2) && !w->broken; b += 2)
		w_write(w, "/x", b * 4096, 16, 200 + (uint32_t)b, false);
	w_fsync(w, "/x");
}

static void run_extents_deep(struct wl_ctx *w)
{
	for (uint64_t b = 2 * (DEEP_EXTENTS - 2); b < 2 * (DEEP_EXTENTS + 2); b += 2)
		w_write(w, "/x", b * 4096, 16, 200 + (uint32_t)b, false);
	want_depth(w, "/x", 2);
	w_punch(w, "/x", 100 * 4096, 4096);
	w_truncate(w, "/x", 40 * 4096);
}

#define SPLIT_EXTENTS 170   /* one full leaf under the inline root */

static void setup_extents_split(struct wl_ctx *w)
{
	w_create(w, "/x");
	for (uint64_t b = 0; b < 2 * SPLIT_EXTENTS && !w->broken; b += 2)
		w_write(w, "/x", b * 4096, 16, 300 + (uint32_t)b, false);
	w_fsync(w, "/x");
	want_depth(w, "/x", 1);
}

/* Into the middle of a full leaf: it splits in place; then plain leaf inserts. */
static void run_extents_split(struct wl_ctx *w)
{
	w_write(w, "/x", 101 * 4096, 4096, 500, false);
	w_write(w, "/x", 7 * 4096, 100, 501, false);
	w_write(w, "/x", 301 * 4096, 4096, 502, true);
	want_depth(w, "/x", 1);
}

/* ---- stages: writes relinked from a stage's blocks ---- */

static struct pfs_stage *stage;   /* set up by setup_stage, one workload at a time */

/*
 * The kernel's part: it copies the request into the stage with plain stores
 * that nothing flushes. Recorded as stores only: pfs_stage_adopt must flush.
 */
static void stage_fill(struct wl_ctx *w, uint64_t off, size_t len, uint32_t seed)
{
	struct iovec iov[8];
	int n = pfs_stage_iov(w->fs, stage, iov, 8);
	size_t k = 0;

	for (int i = 0; i < n && k < len; i++) {
		size_t part = iov[i].iov_len < len - k ? iov[i].iov_len : len - k;
		uint8_t *buf = malloc(part);

		if (!buf)
			abort();
		for (size_t j = 0; j < part; j++)
			buf[j] = wl_pattern(seed, off + k + j);
		memcpy(iov[i].iov_base, buf, part);
		if (w->fs->pm->hook)
			w->fs->pm->hook(w->fs->pm->hook_arg, PFS_PM_EV_STORE,
					pfs_off(w->fs, iov[i].iov_base), iov[i].iov_base, part);
		free(buf);
		k += part;
	}
}

static int w_adopt(struct wl_ctx *w, const char *path, uint64_t off, size_t len, uint32_t seed)
{
	size_t b = step_begin(w);
	uint64_t ino;
	int rc = walk_ino(w, path, &ino);

	if (!rc) {
		stage_fill(w, off, len, seed);
		rc = pfs_stage_adopt(w->fs, stage, ino, off, len);
	}
	if (!rc)
		model_write(w, ino, off, len, seed);
	return step_end(w, b, rc, true, "adopt %s %llu+%zu", path, (unsigned long long)off, len);
}

static int w_stage_free(struct wl_ctx *w)
{
	size_t b = step_begin(w);

	pfs_stage_free(w->fs, stage);
	stage = NULL;
	return step_end(w, b, 0, true, "free the stage");
}

static void setup_stage(struct wl_ctx *w)
{
	mkfile(w, "/x", 20000, 60);
	if (pfs_stage_new(w->fs, 8, &stage))
		wl_fail(w, "set-up: cannot make a stage");
}

static void run_stage(struct wl_ctx *w)
{
	w_adopt(w, "/x", 0, 8 * 4096, 61);           /* overwrite and extend */
	w_adopt(w, "/x", 16 * 4096, 3 * 4096, 62);   /* past EOF, a hole before */
	w_write(w, "/x", 100, 50, 63, false);          /* an ordinary write on top */
	w_adopt(w, "/x", 4096, 8 * 4096, 64);        /* a whole stage again */
	w_stage_free(w);
}

/* ---- ENOSPC ---- */

static void setup_enospc(struct wl_ctx *w)
{
	char p[32];

	mkfile(w, "/keep", 3000, 41);
	w_create(w, "/f");
	/* most inode slots, so that the recorded creates run out of them quickly */
	for (int i = 0; i < 54 && !w->broken; i++) {
		snprintf(p, sizeof(p), "/pre%d", i);
		w_create(w, p);
	}
}

static void run_enospc(struct wl_ctx *w)
{
	char p[64];
	int rc = 0;

	for (int i = 0; i < 64 && rc != -ENOSPC; i++)
		rc = w_write(w, "/f", (uint64_t)i * 393216, 393216, 42 + (uint32_t)i, false);
	/* then the rest block by block, then inodes */
	rc = 0;
	for (int i = 0; i < 64 && rc != -ENOSPC; i++)
		rc = w_append(w, "/f", 16384, 100 + (uint32_t)i);
	w_mkdir(w, "/nodir"); /* needs a block: fails, rolls back */
	rc = 0;
	for (int i = 0; i < 80 && rc != -ENOSPC; i++) {
		snprintf(p, sizeof(p), "/i%d", i);
		rc = w_create(w, p);
	}
	w_write(w, "/keep", 0, 3000, 43, true); /* overwrites need no space */
	w_unlink(w, "/f");
	w_append(w, "/keep", 20000, 44);
}

/* ---- many small operations after an fsync ---- */

static void setup_many(struct wl_ctx *w)
{
	setup_dir(w);
	w_write(w, "/d/a", 0, 12000, 51, false);
	w_fsync(w, "/d/a");
}

static void run_many(struct wl_ctx *w)
{
	char p[64], q[64];

	for (int i = 0; i < 6; i++) {
		snprintf(p, sizeof(p), "/d/m%d", i);
		w_create(w, p);
		w_append(w, p, 10 + (size_t)i * 700, 60 + (uint32_t)i);
	}
	w_write(w, "/d/a", 3000, 2000, 70, false);
	w_rename(w, "/d/m0", "/d2/m0", 0);
	w_link(w, "/d/m1", "/d2/m1link");
	w_unlink(w, "/d/m2");
	w_chmod(w, "/d/m3", 0400);
	w_setxattr(w, "/d/m4", "user.k", "v");
	w_truncate(w, "/d/m5", 1);
	w_mkdir(w, "/d/sub");
	w_rename(w, "/d/m3", "/d/sub/m3", 0);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "/d/sub/t%d", i);
		snprintf(q, sizeof(q), "/d/sub/u%d", i);
		w_create(w, p);
		w_rename(w, p, q, 0);
	}
	w_rename(w, "/d/m4", "/d/a", 0);
	w_fsync(w, "/d/a");
}

const struct workload workloads[] = {
	{ "create", "create files", 4, 64, setup_dir, run_create },
	{ "mkdir", "make directories", 4, 64, setup_dir, run_mkdir },
	{ "symlink", "make symlinks", 4, 64, setup_dir, run_symlink },
	{ "link", "hard-link a file", 4, 64, setup_dir, run_link },
	{ "unlink", "unlink files", 4, 64, setup_dir, run_unlink },
	{ "unlink_open", "unlink an open file (orphan), then release it", 4, 64, setup_dir,
	  run_unlink_open },
	{ "rmdir", "remove directories", 4, 64, setup_dir, run_rmdir },
	{ "abort", "transactions aborted after journalling (injected ENOSPC), then commits", 4,
	  64, setup_dir, run_abort },
	{ "setattr", "chmod and chown", 4, 64, setup_dir, run_setattr },
	{ "rename_same_dir", "rename within a directory", 4, 64, setup_dir, run_rename_same_dir },
	{ "rename_across", "rename across directories", 4, 64, setup_dir, run_rename_across },
	{ "rename_over", "rename over an existing file and directory", 4, 64, setup_dir,
	  run_rename_over },
	{ "rename_exchange", "RENAME_EXCHANGE", 4, 64, setup_dir, run_rename_exchange },
	{ "truncate_shrink", "truncate smaller", 4, 64, setup_dir, run_truncate_shrink },
	{ "truncate_grow", "truncate larger", 4, 64, setup_dir, run_truncate_grow },
	{ "hardlinks", "link counts through links, renames and unlinks", 4, 64, setup_dir,
	  run_hardlinks },
	{ "xattr", "set, replace and remove extended attributes", 4, 64, setup_dir, run_xattr },
	{ "punch", "punch a hole, fallocate", 4, 64, setup_dir, run_punch },
	{ "write_fsync", "write then fsync", 4, 64, setup_dir, run_write_fsync },
	{ "append", "appends", 4, 64, setup_dir, run_append },
	{ "dir_tree", "a directory tree", 4, 64, setup_empty, run_dir_tree },
	{ "dir_grow", "a directory growing past one bucket", 4, 256, setup_dir_grow,
	  run_dir_grow },
	{ "extents", "an extent tree growing from the inode into nodes", 4, 64, setup_extents,
	  run_extents },
	{ "extents_deep", "an extent tree growing to depth 2", 8, 64, setup_extents_deep,
	  run_extents_deep },
	{ "extents_split", "inserts into a full leaf: a local split, then in-place inserts", 8, 64,
	  setup_extents_split, run_extents_split },
	{ "stage", "large writes relinked from a stage's blocks", 4, 64, setup_stage, run_stage },
	{ "enospc", "write and create until ENOSPC", 4, 64, setup_enospc, run_enospc },
	{ "many_small", "many small operations after an fsync", 4, 64, setup_many, run_many },
};
const size_t nworkloads = sizeof(workloads) / sizeof(workloads[0]);
