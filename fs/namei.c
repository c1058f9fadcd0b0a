// SPDX-License-Identifier: MIT
/*
 * The namespace API: lookup, create, link, unlink, rename, readdir, attributes
 * and kernel references. Each call validates, takes the file-system lock, runs
 * at most one transaction, and leaves the media consistent whatever fails.
 *
 * Locking: fs->lock shared for readers, exclusive for every change; the
 * transaction is always inside it.
 */
#include <fcntl.h>
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "pfs.h"

int pfs_name_check(const char *name)
{
	size_t len = strnlen(name, PFS_NAME_MAX + 1);

	if (len == 0)
		return -ENOENT;
	if (len > PFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	return 0;
}

static bool is_dot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static int dir_get(struct pfs_fs *fs, uint64_t ino, struct pfs_inode_pm **dip)
{
	int rc = pfs_inode_get(fs, ino, dip);

	if (!rc && !S_ISDIR((*dip)->mode))
		rc = -ENOTDIR;
	return rc;
}

/* The inode a directory entry names; a dangling entry is corruption. */
static int entry_inode(struct pfs_fs *fs, const struct pfs_dirent_pm *de,
		       struct pfs_inode_pm **ip)
{
	int rc = pfs_inode_get(fs, de->ino, ip);

	if (rc == -ESTALE)
		return pfs_corrupt(fs, "directory entry '%.*s' names a free inode %llu",
				   de->name_len, de->name, (unsigned long long)de->ino);
	return rc;
}

static int parent_of(struct pfs_fs *fs, const struct pfs_inode_pm *dip, struct pfs_inode_pm **pp)
{
	struct pfs_inode_pm *p;

	if (!pfs_slot_in_use(fs, (uint32_t)dip->parent))
		return pfs_corrupt(fs, "directory %u: parent %llu is free",
				   (uint32_t)(dip - fs->itable), (unsigned long long)dip->parent);
	p = pfs_inode_at(fs, (uint32_t)dip->parent);
	*pp = p;
	return pfs_inode_validate(fs, p);
}

/* ---- lookup and references ---- */

static int lookup_locked(struct pfs_fs *fs, uint64_t dir, const char *name,
			 struct pfs_inode_pm **ip)
{
	struct pfs_inode_pm *dip;
	struct pfs_dirloc loc;
	int rc;

	/* "." of any inode: how NFS turns a file handle back into a node */
	if (strcmp(name, ".") == 0)
		return pfs_inode_get(fs, dir, ip);
	rc = dir_get(fs, dir, &dip);
	if (rc)
		return rc;
	if (strcmp(name, "..") == 0)
		return parent_of(fs, dip, ip);
	rc = pfs_name_check(name);
	if (rc)
		return rc;
	rc = pfs_dir_find(fs, dip, name, &loc);
	if (rc)
		return rc;
	return entry_inode(fs, loc.de, ip);
}

int pfs_lookup(struct pfs_fs *fs, uint64_t dir, const char *name, struct pfs_attr *out)
{
	struct pfs_inode_pm *ip;
	int rc;

	pthread_rwlock_rdlock(&fs->lock);
	rc = lookup_locked(fs, dir, name, &ip);
	if (!rc) {
		pfs_inode_fill_attr(fs, ip, out);
		rc = pfs_icache_ref(&fs->icache, out->ino, 1, 0);
	}
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

/* No kernel reference left: free the inode if it is an orphan. */
static void reclaim_if_orphan(struct pfs_fs *fs, uint64_t ino)
{
	struct pfs_inode_pm *ip;
	struct pfs_tx *tx;
	int rc;

	if (pfs_is_readonly(fs))
		return;
	pthread_rwlock_wrlock(&fs->lock);
	if (pfs_inode_get(fs, ino, &ip) || ip->nlink != 0 ||
	    !(ip->flags & PFS_INODE_FLAG_ORPHAN) || pfs_icache_has_refs(&fs->icache, ino))
		goto out;
	rc = pfs_tx_begin(fs, &tx);
	if (rc)
		goto out;
	rc = pfs_orphan_remove(tx, ip);
	if (!rc)
		rc = pfs_inode_destroy(tx, ip);
	rc = pfs_tx_end(tx, rc);
	if (rc)
		pfs_log(PFS_LOG_WARN, "freeing orphan inode %u failed: %s; the next mount "
			"frees it", PFS_SLOT(ino), strerror(-rc));
out:
	pthread_rwlock_unlock(&fs->lock);
}

void pfs_forget(struct pfs_fs *fs, uint64_t ino, uint64_t nlookup)
{
	if (pfs_icache_unref(&fs->icache, ino, nlookup, 0))
		reclaim_if_orphan(fs, ino);
}

int pfs_open(struct pfs_fs *fs, uint64_t ino, int flags)
{
	struct pfs_inode_pm *ip;
	int rc;

	pthread_rwlock_rdlock(&fs->lock);
	rc = pfs_inode_get(fs, ino, &ip);
	if (!rc && pfs_is_readonly(fs) && (flags & O_ACCMODE) != O_RDONLY)
		rc = -EROFS;
	if (!rc)
		rc = pfs_icache_ref(&fs->icache, ino, 0, 1);
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

void pfs_release(struct pfs_fs *fs, uint64_t ino)
{
	if (pfs_icache_unref(&fs->icache, ino, 0, 1))
		reclaim_if_orphan(fs, ino);
}

int pfs_getattr(struct pfs_fs *fs, uint64_t ino, struct pfs_attr *out)
{
	struct pfs_inode_pm *ip;
	int rc;

	pthread_rwlock_rdlock(&fs->lock);
	rc = pfs_inode_get(fs, ino, &ip);
	if (!rc)
		pfs_inode_fill_attr(fs, ip, out);
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

/* ---- setattr ---- */

static int set_time(struct pfs_tx *tx, int64_t *sec, uint32_t *nsec, const struct timespec *ts)
{
	int rc = pfs_tx_set_u64(tx, (uint64_t *)sec, (uint64_t)ts->tv_sec);

	return rc ? rc : pfs_tx_set_u32(tx, nsec, (uint32_t)ts->tv_nsec);
}

static int setattr_tx(struct pfs_tx *tx, struct pfs_inode_pm *ip, const struct pfs_setattr *sa)
{
	struct timespec now;
	int rc = pfs_now(&now);

	if (!rc && (sa->valid & PFS_SET_SIZE)) {
		if (S_ISDIR(ip->mode))
			return -EISDIR;
		if (!S_ISREG(ip->mode))
			return -EINVAL;
		if (sa->size != ip->size)
			rc = set_time(tx, &ip->mtime_sec, &ip->mtime_nsec, &now);
		if (!rc)
			rc = pfs_file_truncate(tx, ip, sa->size);
	}
	if (!rc && (sa->valid & PFS_SET_MODE))
		rc = pfs_tx_set_u32(tx, &ip->mode, (ip->mode & S_IFMT) | (sa->mode & 07777));
	if (!rc && (sa->valid & PFS_SET_UID))
		rc = pfs_tx_set_u32(tx, &ip->uid, sa->uid);
	if (!rc && (sa->valid & PFS_SET_GID))
		rc = pfs_tx_set_u32(tx, &ip->gid, sa->gid);
	if (!rc && (sa->valid & (PFS_SET_ATIME | PFS_SET_ATIME_NOW)))
		rc = set_time(tx, &ip->atime_sec, &ip->atime_nsec,
			      (sa->valid & PFS_SET_ATIME_NOW) ? &now : &sa->atime);
	if (!rc && (sa->valid & (PFS_SET_MTIME | PFS_SET_MTIME_NOW)))
		rc = set_time(tx, &ip->mtime_sec, &ip->mtime_nsec,
			      (sa->valid & PFS_SET_MTIME_NOW) ? &now : &sa->mtime);
	if (!rc)
		rc = set_time(tx, &ip->ctime_sec, &ip->ctime_nsec,
			      (sa->valid & PFS_SET_CTIME) ? &sa->ctime : &now);
	return rc;
}

int pfs_setattr(struct pfs_fs *fs, uint64_t ino, const struct pfs_setattr *sa,
		struct pfs_attr *out)
{
	struct pfs_inode_pm *ip;
	struct pfs_tx *tx;
	int rc;

	if (pfs_is_readonly(fs))
		return -EROFS;
	pthread_rwlock_wrlock(&fs->lock);
	rc = pfs_inode_get(fs, ino, &ip);
	if (rc)
		goto out;
	rc = pfs_tx_begin(fs, &tx);
	if (rc)
		goto out;
	rc = pfs_tx_end(tx, setattr_tx(tx, ip, sa));
	if (!rc && out)
		pfs_inode_fill_attr(fs, ip, out);
out:
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

/* The mode a write by a writer without CAP_FSETID leaves (as the kernel's should_remove_suid). */
static uint32_t mode_after_kill(uint32_t mode)
{
	mode &= ~(uint32_t)S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		mode &= ~(uint32_t)S_ISGID;
	return mode;
}

/* Clears suid/sgid in one transaction, under the lock (no lost chmod). */
static int kill_suidgid(struct pfs_fs *fs, uint64_t ino, bool *changed)
{
	struct pfs_inode_pm *ip;
	struct pfs_tx *tx;
	int rc;

	*changed = false;
	pthread_rwlock_wrlock(&fs->lock);
	rc = pfs_inode_get(fs, ino, &ip);
	if (rc || !S_ISREG(ip->mode) || mode_after_kill(ip->mode) == ip->mode)
		goto out;
	rc = pfs_tx_begin(fs, &tx);
	if (rc)
		goto out;
	rc = pfs_tx_set_u32(tx, &ip->mode, mode_after_kill(ip->mode));
	if (!rc)
		rc = pfs_inode_touch(tx, ip, false, true);
	rc = pfs_tx_end(tx, rc);
	*changed = rc == 0;
out:
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

/* Cheap test first: most files have neither the bits nor an xattr block. */
static bool privs_present(struct pfs_fs *fs, uint64_t ino, bool suid, bool *has_xattrs)
{
	struct pfs_inode_pm *ip;
	bool any = false;

	*has_xattrs = false;
	pthread_rwlock_rdlock(&fs->lock);
	if (pfs_inode_get(fs, ino, &ip) == 0 && S_ISREG(ip->mode)) {
		*has_xattrs = ip->xattr_blk != 0;
		any = *has_xattrs || (suid && mode_after_kill(ip->mode) != ip->mode);
	}
	pthread_rwlock_unlock(&fs->lock);
	return any;
}

int pfs_kill_privs(struct pfs_fs *fs, uint64_t ino, bool suid, bool *mode_changed)
{
	bool has_xattrs;
	int rc = 0;

	*mode_changed = false;
	if (pfs_is_readonly(fs) || !privs_present(fs, ino, suid, &has_xattrs))
		return 0;
	if (suid)
		rc = kill_suidgid(fs, ino, mode_changed);
	if (rc == 0 && has_xattrs)
		rc = pfs_removexattr(fs, ino, "security.capability");
	return rc == -ENODATA ? 0 : rc;
}

/* ---- creation ---- */

/*
 * Ends a transaction that gives the kernel a new reference to *ip: the
 * reference is taken before the commit, so a failed allocation cannot follow
 * a committed change, and dropped again if the commit fails.
 */
static int tx_end_ref(struct pfs_fs *fs, struct pfs_tx *tx, int rc, struct pfs_inode_pm **ip)
{
	uint64_t ino = 0;

	if (!rc) {
		ino = pfs_inode_ino(fs, *ip);
		rc = pfs_icache_ref(&fs->icache, ino, 1, 0);
	}
	if (rc) {
		pfs_tx_abort(tx);
		return rc;
	}
	rc = pfs_tx_commit(tx);
	if (rc)
		pfs_icache_unref(&fs->icache, ino, 1, 0);
	return rc;
}

struct new_node {
	uint32_t mode;
	uint64_t rdev;
	const char *target;            /* symlinks */
	const struct pfs_cred *cred;
};

static int create_tx(struct pfs_tx *tx, struct pfs_inode_pm *dip, const char *name,
		     const struct new_node *nn, struct pfs_inode_pm **out)
{
	uint32_t dslot = (uint32_t)(dip - tx->fs->itable);
	uint32_t mode = nn->mode, gid = nn->cred->gid, slot;
	struct pfs_inode_pm *ip;
	int rc;

	if (dip->mode & S_ISGID) {
		gid = dip->gid;
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	rc = pfs_alloc_inode(tx, &slot);
	if (!rc)
		rc = pfs_inode_init(tx, slot, mode, nn->cred->uid, gid, dslot, nn->rdev, &ip);
	if (!rc && S_ISDIR(mode))
		rc = pfs_dir_init(tx, ip);
	if (!rc && S_ISDIR(mode))
		rc = pfs_tx_set_u32(tx, &dip->nlink, dip->nlink + 1);
	if (!rc && nn->target)
		rc = pfs_file_write_tx(tx, ip, 0, nn->target, strlen(nn->target));
	if (!rc)
		rc = pfs_dir_add(tx, dip, name, pfs_inode_ino(tx->fs, ip), pfs_mode_to_dtype(mode));
	if (!rc)
		rc = pfs_inode_touch(tx, dip, true, true);
	*out = ip;
	return rc;
}

static int create_common(struct pfs_fs *fs, uint64_t dir, const char *name,
			 const struct new_node *nn, struct pfs_attr *out)
{
	struct pfs_inode_pm *dip, *ip = NULL;
	struct pfs_dirloc loc;
	struct pfs_tx *tx;
	int rc;

	if (is_dot(name))
		return -EEXIST;
	rc = pfs_name_check(name);
	if (rc)
		return rc;
	if (pfs_is_readonly(fs))
		return -EROFS;
	pthread_rwlock_wrlock(&fs->lock);
	rc = dir_get(fs, dir, &dip);
	if (rc)
		goto out;
	if (dip->nlink == 0) {
		rc = -ENOENT; /* removed while still open */
		goto out;
	}
	rc = pfs_dir_find(fs, dip, name, &loc);
	if (rc != -ENOENT) {
		rc = rc ? rc : -EEXIST;
		goto out;
	}
	rc = pfs_tx_begin(fs, &tx);
	if (rc)
		goto out;
	rc = tx_end_ref(fs, tx, create_tx(tx, dip, name, nn, &ip), &ip);
	if (!rc)
		pfs_inode_fill_attr(fs, ip, out);
out:
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

int pfs_mknod(struct pfs_fs *fs, uint64_t dir, const char *name, uint32_t mode, uint64_t rdev,
	      const struct pfs_cred *cred, struct pfs_attr *out)
{
	struct new_node nn = { .mode = mode & ~cred->umask, .rdev = rdev, .cred = cred };

	if (S_ISDIR(mode) || S_ISLNK(mode) || (mode & S_IFMT) == 0)
		nn.mode = S_IFREG | (nn.mode & 07777);
	return create_common(fs, dir, name, &nn, out);
}

int pfs_mkdir(struct pfs_fs *fs, uint64_t dir, const char *name, uint32_t mode,
	      const struct pfs_cred *cred, struct pfs_attr *out)
{
	struct new_node nn = { .mode = S_IFDIR | ((mode & ~cred->umask) & 07777), .cred = cred };

	return create_common(fs, dir, name, &nn, out);
}

int pfs_symlink(struct pfs_fs *fs, uint64_t dir, const char *name, const char *target,
		const struct pfs_cred *cred, struct pfs_attr *out)
{
	struct new_node nn = { .mode = S_IFLNK | 0777, .target = target, .cred = cred };
	size_t len = strnlen(target, PFS_SYMLINK_MAX + 1);

	if (len == 0)
		return -ENOENT;
	if (len > PFS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	return create_common(fs, dir, name, &nn, out);
}

int pfs_readlink(struct pfs_fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct pfs_inode_pm *ip;
	uint64_t pblk = 0, run, len = 0;
	int rc;

	if (size == 0)
		return -EINVAL;
	pthread_rwlock_rdlock(&fs->lock);
	rc = pfs_inode_get(fs, ino, &ip);
	if (!rc && !S_ISLNK(ip->mode))
		rc = -EINVAL;
	if (!rc)
		len = PFS_LOAD(ip->size); /* checked and used as one value */
	if (!rc && (len == 0 || len > PFS_SYMLINK_MAX))
		rc = pfs_corrupt(fs, "symlink %u: bad length %llu", PFS_SLOT(ino),
				 (unsigned long long)len);
	if (!rc)
		rc = pfs_ext_map(fs, ip, 0, 1, &pblk, &run);
	if (!rc && !pblk)
		rc = pfs_corrupt(fs, "symlink %u: target not mapped", PFS_SLOT(ino));
	if (!rc) {
		if (len > size - 1)
			len = size - 1;
		memcpy(buf, pfs_blk(fs, pblk), len);
		buf[len] = '\0';
	}
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

static int link_tx(struct pfs_tx *tx, struct pfs_inode_pm *ip, struct pfs_inode_pm *dip,
		   const char *name)
{
	int rc = pfs_dir_add(tx, dip, name, pfs_inode_ino(tx->fs, ip), pfs_mode_to_dtype(ip->mode));

	if (!rc)
		rc = pfs_tx_set_u32(tx, &ip->nlink, ip->nlink + 1);
	if (!rc)
		rc = pfs_inode_touch(tx, ip, false, true);
	if (!rc)
		rc = pfs_inode_touch(tx, dip, true, true);
	return rc;
}

int pfs_link(struct pfs_fs *fs, uint64_t ino, uint64_t newdir, const char *newname,
	     struct pfs_attr *out)
{
	struct pfs_inode_pm *ip, *dip;
	struct pfs_dirloc loc;
	struct pfs_tx *tx;
	int rc = is_dot(newname) ? -EEXIST : pfs_name_check(newname);

	if (rc)
		return rc;
	if (pfs_is_readonly(fs))
		return -EROFS;
	pthread_rwlock_wrlock(&fs->lock);
	rc = pfs_inode_get(fs, ino, &ip);
	if (!rc && S_ISDIR(ip->mode))
		rc = -EPERM;
	if (!rc && ip->nlink >= 65000)
		rc = -EMLINK;
	if (!rc && ip->nlink == 0)
		rc = -ENOENT;
	if (!rc)
		rc = dir_get(fs, newdir, &dip);
	if (!rc && dip->nlink == 0)
		rc = -ENOENT;
	if (!rc) {
		rc = pfs_dir_find(fs, dip, newname, &loc);
		rc = rc == -ENOENT ? 0 : (rc ? rc : -EEXIST);
	}
	if (rc)
		goto out;
	rc = pfs_tx_begin(fs, &tx);
	if (rc)
		goto out;
	rc = tx_end_ref(fs, tx, link_tx(tx, ip, dip, newname), &ip);
	if (!rc)
		pfs_inode_fill_attr(fs, ip, out);
out:
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

/* ---- removal ---- */

static int remove_common(struct pfs_fs *fs, uint64_t dir, const char *name, bool rmdir)
{
	struct pfs_inode_pm *dip, *ip;
	struct pfs_dirloc loc;
	struct pfs_tx *tx;
	int rc;

	if (strcmp(name, ".") == 0)
		return -EINVAL;
	if (strcmp(name, "..") == 0)
		return rmdir ? -ENOTEMPTY : -EISDIR;
	rc = pfs_name_check(name);
	if (rc)
		return rc;
	if (pfs_is_readonly(fs))
		return -EROFS;
	pthread_rwlock_wrlock(&fs->lock);
	rc = dir_get(fs, dir, &dip);
	if (!rc)
		rc = pfs_dir_find(fs, dip, name, &loc);
	if (!rc)
		rc = entry_inode(fs, loc.de, &ip);
	if (!rc && rmdir && !S_ISDIR(ip->mode))
		rc = -ENOTDIR;
	if (!rc && !rmdir && S_ISDIR(ip->mode))
		rc = -EISDIR;
	if (!rc && rmdir && ip->nentries)
		rc = -ENOTEMPTY;
	if (rc)
		goto out;
	rc = pfs_tx_begin(fs, &tx);
	if (rc)
		goto out;
	rc = pfs_dir_remove(tx, dip, &loc);
	if (!rc && rmdir)
		rc = pfs_tx_set_u32(tx, &dip->nlink, dip->nlink - 1);
	if (!rc)
		rc = pfs_inode_touch(tx, dip, true, true);
	if (!rc)
		rc = pfs_inode_drop_link(tx, ip);
	rc = pfs_tx_end(tx, rc);
out:
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

int pfs_unlink(struct pfs_fs *fs, uint64_t dir, const char *name)
{
	return remove_common(fs, dir, name, false);
}

int pfs_rmdir(struct pfs_fs *fs, uint64_t dir, const char *name)
{
	return remove_common(fs, dir, name, true);
}

/* ---- rename ---- */

struct rename_ctx {
	struct pfs_inode_pm *odir, *ndir, *src, *dst;
	struct pfs_dirloc sloc, dloc;
	const char *newname;
	unsigned flags;
};

/* Is dir inside (or equal to) the tree rooted at top? */
static int is_within(struct pfs_fs *fs, const struct pfs_inode_pm *dir,
		     const struct pfs_inode_pm *top, bool *inside)
{
	const struct pfs_inode_pm *p = dir;

	for (uint64_t steps = 0; steps <= fs->sb.inode_count; steps++) {
		struct pfs_inode_pm *up = NULL;
		int rc;

		if (p == top) {
			*inside = true;
			return 0;
		}
		if (p->parent == (uint64_t)(p - fs->itable)) {
			*inside = false;
			return 0;
		}
		rc = parent_of(fs, p, &up);
		if (rc)
			return rc;
		p = up;
	}
	return pfs_corrupt(fs, "directory parent chain loops");
}

static int rename_check(struct pfs_fs *fs, struct rename_ctx *c)
{
	bool inside = false;
	int rc;

	if (c->flags & PFS_RENAME_EXCHANGE) {
		if (!c->dst)
			return -ENOENT;
	} else if (c->dst) {
		if (c->flags & PFS_RENAME_NOREPLACE)
			return -EEXIST;
		if (S_ISDIR(c->src->mode) && !S_ISDIR(c->dst->mode))
			return -ENOTDIR;
		if (!S_ISDIR(c->src->mode) && S_ISDIR(c->dst->mode))
			return -EISDIR;
		if (S_ISDIR(c->dst->mode) && c->dst->nentries)
			return -ENOTEMPTY;
	}
	if (S_ISDIR(c->src->mode) && c->odir != c->ndir) {
		rc = is_within(fs, c->ndir, c->src, &inside);
		if (rc || inside)
			return rc ? rc : -EINVAL;
	}
	if (c->dst && S_ISDIR(c->dst->mode) && (c->flags & PFS_RENAME_EXCHANGE) &&
	    c->odir != c->ndir) {
		rc = is_within(fs, c->odir, c->dst, &inside);
		if (rc || inside)
			return rc ? rc : -EINVAL;
	}
	return 0;
}

static int reparent(struct pfs_tx *tx, struct pfs_inode_pm *ip, struct pfs_inode_pm *from,
		    struct pfs_inode_pm *to)
{
	int rc;

	if (!S_ISDIR(ip->mode) || from == to)
		return 0;
	rc = pfs_tx_set_u64(tx, &ip->parent, (uint64_t)(to - tx->fs->itable));
	if (!rc)
		rc = pfs_tx_set_u32(tx, &from->nlink, from->nlink - 1);
	if (!rc)
		rc = pfs_tx_set_u32(tx, &to->nlink, to->nlink + 1);
	return rc;
}

static int exchange_tx(struct pfs_tx *tx, struct rename_ctx *c)
{
	struct pfs_fs *fs = tx->fs;
	int rc = pfs_dir_retarget(tx, &c->sloc, pfs_inode_ino(fs, c->dst),
				  pfs_mode_to_dtype(c->dst->mode));

	if (!rc)
		rc = pfs_dir_retarget(tx, &c->dloc, pfs_inode_ino(fs, c->src),
				      pfs_mode_to_dtype(c->src->mode));
	if (!rc)
		rc = reparent(tx, c->src, c->odir, c->ndir);
	if (!rc)
		rc = reparent(tx, c->dst, c->ndir, c->odir);
	if (!rc)
		rc = pfs_inode_touch(tx, c->dst, false, true);
	return rc;
}

static int move_tx(struct pfs_tx *tx, struct rename_ctx *c)
{
	struct pfs_fs *fs = tx->fs;
	uint64_t sino = pfs_inode_ino(fs, c->src);
	uint8_t stype = pfs_mode_to_dtype(c->src->mode);
	int rc;

	if (c->dst) {
		/* retarget before the removal below compacts a bucket it may share */
		rc = pfs_dir_retarget(tx, &c->dloc, sino, stype);
		if (!rc && S_ISDIR(c->dst->mode))
			rc = pfs_tx_set_u32(tx, &c->ndir->nlink, c->ndir->nlink - 1);
		if (!rc)
			rc = pfs_inode_drop_link(tx, c->dst);
		if (!rc)
			rc = pfs_dir_remove(tx, c->odir, &c->sloc);
	} else {
		/* remove first: adding may rebuild the bucket table under sloc */
		rc = pfs_dir_remove(tx, c->odir, &c->sloc);
		if (!rc)
			rc = pfs_dir_add(tx, c->ndir, c->newname, sino, stype);
	}
	if (!rc)
		rc = reparent(tx, c->src, c->odir, c->ndir);
	return rc;
}

static int rename_tx(struct pfs_tx *tx, struct rename_ctx *c)
{
	int rc = (c->flags & PFS_RENAME_EXCHANGE) ? exchange_tx(tx, c) : move_tx(tx, c);

	if (!rc)
		rc = pfs_inode_touch(tx, c->src, false, true);
	if (!rc)
		rc = pfs_inode_touch(tx, c->odir, true, true);
	if (!rc && c->ndir != c->odir)
		rc = pfs_inode_touch(tx, c->ndir, true, true);
	return rc;
}

static int rename_lookup(struct pfs_fs *fs, uint64_t olddir, const char *oldname,
			 uint64_t newdir, struct rename_ctx *c)
{
	int rc = dir_get(fs, olddir, &c->odir);

	if (!rc)
		rc = dir_get(fs, newdir, &c->ndir);
	if (!rc)
		rc = pfs_dir_find(fs, c->odir, oldname, &c->sloc);
	if (!rc)
		rc = entry_inode(fs, c->sloc.de, &c->src);
	if (rc)
		return rc;
	if (c->ndir->nlink == 0)
		return -ENOENT;
	rc = pfs_dir_find(fs, c->ndir, c->newname, &c->dloc);
	if (rc == -ENOENT) {
		c->dst = NULL;
		return 0;
	}
	if (!rc)
		rc = entry_inode(fs, c->dloc.de, &c->dst);
	return rc;
}

int pfs_rename(struct pfs_fs *fs, uint64_t olddir, const char *oldname, uint64_t newdir,
	       const char *newname, unsigned flags)
{
	struct rename_ctx c = { .newname = newname, .flags = flags };
	struct pfs_tx *tx;
	int rc;

	if ((flags & ~(PFS_RENAME_NOREPLACE | PFS_RENAME_EXCHANGE)) ||
	    (flags == (PFS_RENAME_NOREPLACE | PFS_RENAME_EXCHANGE)))
		return -EINVAL;
	if (is_dot(oldname) || is_dot(newname))
		return -EBUSY;
	rc = pfs_name_check(oldname);
	if (!rc)
		rc = pfs_name_check(newname);
	if (rc)
		return rc;
	if (pfs_is_readonly(fs))
		return -EROFS;
	pthread_rwlock_wrlock(&fs->lock);
	rc = rename_lookup(fs, olddir, oldname, newdir, &c);
	if (rc)
		goto out;
	if (c.dst == c.src) {
		rc = 0; /* two links to one inode: POSIX says do nothing */
		goto out;
	}
	rc = rename_check(fs, &c);
	if (rc)
		goto out;
	rc = pfs_tx_begin(fs, &tx);
	if (rc)
		goto out;
	rc = pfs_tx_end(tx, rename_tx(tx, &c));
out:
	pthread_rwlock_unlock(&fs->lock);
	return rc;
}

/* ---- readdir ---- */

static int cmp_hash(const void *a, const void *b)
{
	const struct pfs_dirent_pm *x = *(const struct pfs_dirent_pm *const *)a;
	const struct pfs_dirent_pm *y = *(const struct pfs_dirent_pm *const *)b;

	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

struct rd_ctx {
	struct pfs_fs *fs;
	bool plus;
	pfs_fill_fn fill;
	void *arg;
};

/* Emits one entry. 1: the caller's buffer is full (no reference kept). */
static int rd_emit(struct rd_ctx *c, const char *name, struct pfs_inode_pm *ip, uint64_t ino,
		   uint8_t type, uint64_t next, bool ref)
{
	struct pfs_attr a = { .ino = ino, .mode = (uint32_t)type << 12 };
	int rc;

	if (c->plus) {
		pfs_inode_fill_attr(c->fs, ip, &a);
		if (ref && (rc = pfs_icache_ref(&c->fs->icache, a.ino, 1, 0)))
			return rc;
	}
	if (c->fill(c->arg, name, &a, next) == 0)
		return 0;
	if (c->plus && ref)
		pfs_icache_unref(&c->fs->icache, a.ino, 1, 0);
	return 1;
}

/* Emits the entries of bucket idx from cookie start on, in hash order. */
static int rd_bucket(struct rd_ctx *c, const struct pfs_inode_pm *dip, uint64_t idx,
		     uint64_t start)
{
	const struct pfs_dirent_pm *ents[PFS_BUCKET_SPACE / sizeof(struct pfs_dirent_pm)];
	_Alignas(8) char copy[PFS_BLOCK_SIZE];
	struct pfs_bucket_hdr_pm *b = (void *)copy;
	char *p = (char *)(b + 1), name[PFS_NAME_MAX + 1];
	size_t n = 0;
	/* a checked copy: the cookies (hash + 1) of every entry stay below 2^62 */
	int rc = pfs_dir_bucket_copy(c->fs, dip, idx, b);

	if (rc)
		return rc;
	for (uint32_t off = 0; off < b->used;) {
		const struct pfs_dirent_pm *de = (const void *)(p + off);

		if (de->hash >= start)
			ents[n++] = de;
		off += de->rec_len;
	}
	qsort(ents, n, sizeof(ents[0]), cmp_hash);
	for (size_t i = 0; i < n; i++) {
		struct pfs_inode_pm *ip = NULL;

		if (c->plus && (rc = entry_inode(c->fs, ents[i], &ip)))
			return rc;
		memcpy(name, ents[i]->name, ents[i]->name_len);
		name[ents[i]->name_len] = '\0';
		rc = rd_emit(c, name, ip, ents[i]->ino, ents[i]->type, ents[i]->hash + 1, true);
		if (rc)
			return rc;
	}
	return 0;
}

static int readdir_locked(struct rd_ctx *c, struct pfs_inode_pm *dip, uint64_t cookie)
{
	struct pfs_fs *fs = c->fs;
	uint64_t nb = PFS_LOAD(dip->size) >> PFS_BLOCK_SHIFT, start;
	struct pfs_inode_pm *parent = NULL;
	unsigned order;
	int rc;

	/* checked by pfs_inode_validate, read again here: it may have changed since */
	if (nb == 0 || (nb & (nb - 1)) || nb > PFS_DIR_MAX_BUCKETS)
		return pfs_corrupt(fs, "directory %u: %llu buckets is not a bucket table",
				   (uint32_t)(dip - fs->itable), (unsigned long long)nb);
	order = (unsigned)__builtin_ctzll(nb);

	if (cookie == 0 && (rc = rd_emit(c, ".", dip, pfs_inode_ino(fs, dip), DT_DIR, 1, false)))
		return rc;
	if (cookie <= 1) {
		rc = parent_of(fs, dip, &parent);
		if (!rc)
			rc = rd_emit(c, "..", parent, pfs_inode_ino(fs, parent), DT_DIR, 2, false);
		if (rc)
			return rc;
	}
	start = cookie < PFS_HASH_MIN ? PFS_HASH_MIN : cookie;
	for (uint64_t i = order ? start >> (PFS_HASH_BITS - order) : 0; i < nb; i++) {
		rc = rd_bucket(c, dip, i, start);
		if (rc)
			return rc;
	}
	return 0;
}

int pfs_readdir(struct pfs_fs *fs, uint64_t dir, uint64_t cookie, bool plus, pfs_fill_fn fill,
		void *arg)
{
	struct rd_ctx c = { fs, plus, fill, arg };
	struct pfs_inode_pm *dip;
	int rc;

	pthread_rwlock_rdlock(&fs->lock);
	rc = dir_get(fs, dir, &dip);
	if (!rc)
		rc = readdir_locked(&c, dip, cookie);
	pthread_rwlock_unlock(&fs->lock);
	return rc < 0 ? rc : 0;
}
