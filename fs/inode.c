// SPDX-License-Identifier: MIT
/*
 * Inodes: node-id validation (a node id is gen << 32 | slot and is never
 * reused, so a stale id gets -ESTALE, never another file), attributes, link
 * counts, the orphan list and the DRAM table of kernel references.
 *
 * An inode whose last link goes while the kernel still references it (open,
 * or not yet forgotten) joins the persistent orphan list and keeps its data;
 * the last forget/release frees it, and so does the next mount after a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "pfs.h"

struct pfs_inode_pm *pfs_inode_at(const struct pfs_fs *fs, uint32_t slot)
{
	return &fs->itable[slot];
}

uint64_t pfs_inode_ino(const struct pfs_fs *fs, const struct pfs_inode_pm *ip)
{
	uint32_t slot = (uint32_t)(ip - fs->itable);

	return PFS_INO(ip->gen, slot);
}

bool pfs_inode_mode_ok(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

/* The rules of a sound inode, shared by the mount code and fsck (fs/check.c). */
bool pfs_inode_check(const struct pfs_fs *fs, const struct pfs_inode_pm *ip, char *why,
		     size_t len)
{
	uint64_t nb = ip->size >> PFS_BLOCK_SHIFT;

	if (!pfs_inode_mode_ok(ip->mode))
		snprintf(why, len, "bad mode 0%o", ip->mode);
	else if (ip->ext_depth > PFS_MAX_TREE_DEPTH || ip->ext_count > PFS_INLINE_EXTENTS)
		snprintf(why, len, "bad extent root (depth %u, count %u)", ip->ext_depth,
			 ip->ext_count);
	else if (ip->size > PFS_MAX_FILE_SIZE)
		snprintf(why, len, "size %llu beyond the maximum", (unsigned long long)ip->size);
	else if (S_ISDIR(ip->mode) && (nb == 0 || (ip->size & (PFS_BLOCK_SIZE - 1)) ||
				       (nb & (nb - 1)) || nb > PFS_DIR_MAX_BUCKETS))
		snprintf(why, len, "directory size %llu is not a power-of-two number of blocks",
			 (unsigned long long)ip->size);
	else if (S_ISDIR(ip->mode) && (ip->parent == 0 || ip->parent >= fs->sb.inode_count))
		snprintf(why, len, "directory parent %llu out of range",
			 (unsigned long long)ip->parent);
	else if (ip->xattr_blk && !pfs_blk_is_data(fs, ip->xattr_blk, 1))
		snprintf(why, len, "xattr block %llu outside the data area",
			 (unsigned long long)ip->xattr_blk);
	else
		return true;
	return false;
}

int pfs_inode_validate(struct pfs_fs *fs, const struct pfs_inode_pm *ip)
{
	uint32_t slot = (uint32_t)(ip - fs->itable);
	char why[128];

	if (!pfs_inode_check(fs, ip, why, sizeof(why)))
		return pfs_corrupt(fs, "inode %u: %s", slot, why);
	if (slot == PFS_ROOT_SLOT && !S_ISDIR(ip->mode))
		return pfs_corrupt(fs, "inode %u: the root is not a directory (mode 0%o)", slot,
				   ip->mode);
	if (ip->ext_depth > 0 && ip->ext_count == 0)
		return pfs_corrupt(fs, "inode %u: extent tree of depth %u with no entries", slot,
				   ip->ext_depth);
	return 0;
}

int pfs_inode_get(struct pfs_fs *fs, uint64_t ino, struct pfs_inode_pm **out)
{
	uint32_t slot = PFS_SLOT(ino);
	struct pfs_inode_pm *ip;

	bool used;

	if (slot == 0 || slot >= fs->sb.inode_count)
		return -ESTALE;
	if (pfs_fault_hit(fs->fault, PFS_FAULT_READ))
		return -EIO;
	ip = pfs_inode_at(fs, slot);
	used = pfs_slot_in_use(fs, slot);
	/* freed (mode 0, bit clear) or reused (another gen): a stale id */
	if (ip->gen != PFS_GEN(ino) || (!used && ip->mode == 0))
		return -ESTALE;
	/* a slot and its bitmap bit are freed and taken in one transaction */
	if (!used || ip->mode == 0)
		return pfs_corrupt(fs, "inode %u: in the inode bitmap %s, but its mode is 0%o",
				   slot, used ? "in use" : "free", ip->mode);
	*out = ip;
	return pfs_inode_validate(fs, ip);
}

void pfs_inode_fill_attr(const struct pfs_fs *fs, const struct pfs_inode_pm *ip,
			 struct pfs_attr *out)
{
	out->ino = pfs_inode_ino(fs, ip);
	out->mode = ip->mode;
	out->nlink = ip->nlink;
	out->uid = ip->uid;
	out->gid = ip->gid;
	out->size = ip->size;
	out->blocks512 = ip->blocks << (PFS_BLOCK_SHIFT - 9);
	out->rdev = ip->rdev;
	out->gen = ip->gen;
	out->atime = (struct timespec){ ip->atime_sec, ip->atime_nsec };
	out->mtime = (struct timespec){ ip->mtime_sec, ip->mtime_nsec };
	out->ctime = (struct timespec){ ip->ctime_sec, ip->ctime_nsec };
}

int pfs_inode_touch(struct pfs_tx *tx, struct pfs_inode_pm *ip, bool mtime, bool ctime)
{
	struct timespec now;
	int rc = pfs_now(&now);

	if (!rc && mtime) {
		rc = pfs_tx_set_u64(tx, (uint64_t *)&ip->mtime_sec, (uint64_t)now.tv_sec);
		if (!rc)
			rc = pfs_tx_set_u32(tx, &ip->mtime_nsec, (uint32_t)now.tv_nsec);
	}
	if (!rc && ctime) {
		rc = pfs_tx_set_u64(tx, (uint64_t *)&ip->ctime_sec, (uint64_t)now.tv_sec);
		if (!rc)
			rc = pfs_tx_set_u32(tx, &ip->ctime_nsec, (uint32_t)now.tv_nsec);
	}
	return rc;
}

/* mtime+ctime of an overwrite: 4-byte and 8-byte aligned stores, no journal. */
void pfs_inode_touch_nojournal(struct pfs_fs *fs, struct pfs_inode_pm *ip)
{
	struct timespec now;
	int64_t secs[2];
	uint32_t nsecs[2];

	pfs_now(&now);
	secs[0] = secs[1] = now.tv_sec;
	nsecs[0] = nsecs[1] = (uint32_t)now.tv_nsec;
	pfs_pm_copy(fs->pm, &ip->mtime_sec, secs, sizeof(secs));
	pfs_pm_copy(fs->pm, &ip->mtime_nsec, nsecs, sizeof(nsecs));
}

int pfs_inode_init(struct pfs_tx *tx, uint32_t slot, uint32_t mode, uint32_t uid,
		   uint32_t gid, uint64_t parent, uint64_t rdev, struct pfs_inode_pm **out)
{
	struct pfs_inode_pm *ip = pfs_inode_at(tx->fs, slot);
	struct pfs_inode_pm ni = { 0 };
	struct timespec now;

	pfs_now(&now);
	ni.mode = mode;
	ni.nlink = S_ISDIR(mode) ? 2 : 1;
	ni.uid = uid;
	ni.gid = gid;
	ni.gen = ip->gen + 1 ? ip->gen + 1 : 1;
	ni.parent = parent;
	ni.rdev = rdev;
	ni.atime_sec = ni.mtime_sec = ni.ctime_sec = ni.btime_sec = now.tv_sec;
	ni.atime_nsec = ni.mtime_nsec = ni.ctime_nsec = ni.btime_nsec = (uint32_t)now.tv_nsec;
	/* the slot is unreachable until its bitmap bit commits: no undo needed */
	pfs_pm_copy(tx->fs->pm, ip, &ni, sizeof(ni));
	*out = ip;
	return 0;
}

int pfs_inode_release_data(struct pfs_tx *tx, struct pfs_inode_pm *ip)
{
	int rc = 0;

	if (!S_ISREG(ip->mode) && !S_ISDIR(ip->mode) && !S_ISLNK(ip->mode) &&
	    ip->ext_count == 0)
		goto xattr;
	rc = pfs_ext_remove(tx, ip, 0, UINT64_MAX);
	if (rc)
		return rc;
xattr:
	if (ip->xattr_blk) {
		rc = pfs_tx_free_later(tx, ip->xattr_blk, 1);
		if (!rc)
			rc = pfs_tx_set_u64(tx, &ip->xattr_blk, 0);
		if (!rc)
			rc = pfs_tx_set_u64(tx, &ip->blocks, ip->blocks - 1);
	}
	return rc;
}

int pfs_inode_destroy(struct pfs_tx *tx, struct pfs_inode_pm *ip)
{
	uint32_t slot = (uint32_t)(ip - tx->fs->itable);
	int rc = pfs_inode_release_data(tx, ip);

	if (!rc)
		rc = pfs_tx_set_u32(tx, &ip->mode, 0);
	if (!rc)
		rc = pfs_free_inode_slot(tx, slot);
	return rc;
}

static bool orphan_slot_ok(const struct pfs_fs *fs, uint64_t slot)
{
	return slot < fs->sb.inode_count && pfs_slot_in_use(fs, (uint32_t)slot);
}

int pfs_orphan_add(struct pfs_tx *tx, struct pfs_inode_pm *ip)
{
	struct pfs_fs *fs = tx->fs;
	uint64_t slot = (uint64_t)(ip - fs->itable);
	uint64_t head = fs->state->orphan_head;
	int rc = 0;

	/* the head is read from the media: an inode on the list, first on it */
	if (head && (!orphan_slot_ok(fs, head) || head == slot ||
		     !(pfs_inode_at(fs, (uint32_t)head)->flags & PFS_INODE_FLAG_ORPHAN) ||
		     pfs_inode_at(fs, (uint32_t)head)->orphan_prev != 0))
		return pfs_corrupt(fs, "orphan list head %llu (state block offset %zu) is not "
				   "an orphan inode", (unsigned long long)head,
				   offsetof(struct pfs_state_pm, orphan_head));
	if (ip->flags & PFS_INODE_FLAG_ORPHAN)
		return pfs_corrupt(fs, "inode %llu: already on the orphan list",
				   (unsigned long long)slot);
	if (head)
		rc = pfs_tx_set_u64(tx, &pfs_inode_at(fs, (uint32_t)head)->orphan_prev, slot);
	if (!rc)
		rc = pfs_tx_set_u64(tx, &ip->orphan_next, head);
	if (!rc)
		rc = pfs_tx_set_u64(tx, &ip->orphan_prev, 0);
	if (!rc)
		rc = pfs_tx_set_u32(tx, &ip->flags, ip->flags | PFS_INODE_FLAG_ORPHAN);
	if (!rc)
		rc = pfs_tx_set_u64(tx, &fs->state->orphan_head, slot);
	return rc;
}

int pfs_orphan_remove(struct pfs_tx *tx, struct pfs_inode_pm *ip)
{
	struct pfs_fs *fs = tx->fs;
	uint64_t prev = ip->orphan_prev, next = ip->orphan_next;
	int rc = 0;

	if (!(ip->flags & PFS_INODE_FLAG_ORPHAN))
		return 0;
	uint64_t self = (uint64_t)(ip - fs->itable);

	if ((prev && !orphan_slot_ok(fs, prev)) || (next && !orphan_slot_ok(fs, next)) ||
	    (prev && pfs_inode_at(fs, (uint32_t)prev)->orphan_next != self) ||
	    (!prev && fs->state->orphan_head != self) ||
	    (next && pfs_inode_at(fs, (uint32_t)next)->orphan_prev != self))
		return pfs_corrupt(fs, "orphan list links %llu/%llu are not inodes",
				   (unsigned long long)prev, (unsigned long long)next);
	if (prev)
		rc = pfs_tx_set_u64(tx, &pfs_inode_at(fs, (uint32_t)prev)->orphan_next, next);
	else
		rc = pfs_tx_set_u64(tx, &fs->state->orphan_head, next);
	if (!rc && next)
		rc = pfs_tx_set_u64(tx, &pfs_inode_at(fs, (uint32_t)next)->orphan_prev, prev);
	if (!rc)
		rc = pfs_tx_set_u32(tx, &ip->flags, ip->flags & ~PFS_INODE_FLAG_ORPHAN);
	return rc;
}

/* The last link is gone: free now, or park on the orphan list while referenced. */
int pfs_inode_drop_link(struct pfs_tx *tx, struct pfs_inode_pm *ip)
{
	uint32_t nlink = S_ISDIR(ip->mode) ? 0 : ip->nlink - 1;
	int rc;

	if (ip->nlink == 0)
		return pfs_corrupt(tx->fs, "inode %u: link count already zero",
				   (uint32_t)(ip - tx->fs->itable));
	rc = pfs_tx_set_u32(tx, &ip->nlink, nlink);
	if (!rc)
		rc = pfs_inode_touch(tx, ip, false, true);
	if (rc || nlink > 0)
		return rc;
	if (pfs_icache_has_refs(&tx->fs->icache, pfs_inode_ino(tx->fs, ip)))
		return pfs_orphan_add(tx, ip);
	return pfs_inode_destroy(tx, ip);
}

/* Mount: every orphan lost its last reference in the crash or unmount. */
int pfs_orphans_reclaim(struct pfs_fs *fs, unsigned *count)
{
	uint64_t steps = 0;

	*count = 0;
	while (fs->state->orphan_head) {
		uint64_t slot = fs->state->orphan_head;
		struct pfs_inode_pm *ip;
		struct pfs_tx *tx;
		int rc;

		if (!orphan_slot_ok(fs, slot) || ++steps > fs->sb.inode_count)
			return pfs_corrupt(fs, "orphan list is broken at slot %llu",
					   (unsigned long long)slot);
		ip = pfs_inode_at(fs, (uint32_t)slot);
		rc = pfs_inode_validate(fs, ip);
		if (rc)
			return rc;
		rc = pfs_tx_begin(fs, &tx);
		if (rc)
			return rc;
		rc = pfs_orphan_remove(tx, ip);
		if (!rc)
			rc = pfs_inode_destroy(tx, ip);
		rc = pfs_tx_end(tx, rc);
		if (rc)
			return rc;
		(*count)++;
	}
	return 0;
}

/* ---- kernel references ---- */

int pfs_icache_init(struct pfs_icache *ic)
{
	pthread_mutex_init(&ic->lock, NULL);
	ic->nbuckets = 1024;
	ic->count = 0;
	ic->tab = calloc(ic->nbuckets, sizeof(*ic->tab));
	return ic->tab ? 0 : -ENOMEM;
}

void pfs_icache_fini(struct pfs_icache *ic)
{
	for (size_t i = 0; ic->tab && i < ic->nbuckets; i++) {
		struct pfs_iref *r = ic->tab[i];

		while (r) {
			struct pfs_iref *next = r->next;

			free(r);
			r = next;
		}
	}
	free(ic->tab);
	ic->tab = NULL;
	pthread_mutex_destroy(&ic->lock);
}

static size_t iref_hash(const struct pfs_icache *ic, uint32_t slot)
{
	return ((uint64_t)slot * 0x9e3779b97f4a7c15ull >> 20) & (ic->nbuckets - 1);
}

static void icache_grow(struct pfs_icache *ic)
{
	size_t n = ic->nbuckets * 2;
	struct pfs_iref **tab = calloc(n, sizeof(*tab));

	if (!tab)
		return; /* keep the longer chains */
	for (size_t i = 0; i < ic->nbuckets; i++) {
		struct pfs_iref *r = ic->tab[i];

		while (r) {
			struct pfs_iref *next = r->next;
			size_t h = ((uint64_t)r->slot * 0x9e3779b97f4a7c15ull >> 20) & (n - 1);

			r->next = tab[h];
			tab[h] = r;
			r = next;
		}
	}
	free(ic->tab);
	ic->tab = tab;
	ic->nbuckets = n;
}

static struct pfs_iref **iref_find(struct pfs_icache *ic, uint64_t ino)
{
	struct pfs_iref **pp = &ic->tab[iref_hash(ic, PFS_SLOT(ino))];

	while (*pp && ((*pp)->slot != PFS_SLOT(ino) || (*pp)->gen != PFS_GEN(ino)))
		pp = &(*pp)->next;
	return pp;
}

int pfs_icache_ref(struct pfs_icache *ic, uint64_t ino, uint64_t nlookup, uint64_t nopen)
{
	struct pfs_iref **pp, *r;
	int rc = 0;

	pthread_mutex_lock(&ic->lock);
	pp = iref_find(ic, ino);
	r = *pp;
	if (!r) {
		r = pfs_fault_hit(ic->fault, PFS_FAULT_ALLOC) ? NULL : calloc(1, sizeof(*r));
		if (!r) {
			rc = -ENOMEM;
			goto out;
		}
		r->slot = PFS_SLOT(ino);
		r->gen = PFS_GEN(ino);
		*pp = r;
		if (++ic->count > ic->nbuckets * 2)
			icache_grow(ic);
	}
	r->nlookup += nlookup;
	r->nopen += nopen;
out:
	pthread_mutex_unlock(&ic->lock);
	return rc;
}

bool pfs_icache_unref(struct pfs_icache *ic, uint64_t ino, uint64_t nlookup, uint64_t nopen)
{
	struct pfs_iref **pp, *r;
	bool gone = false;

	pthread_mutex_lock(&ic->lock);
	pp = iref_find(ic, ino);
	r = *pp;
	if (!r) {
		gone = true;
		goto out;
	}
	r->nlookup = r->nlookup > nlookup ? r->nlookup - nlookup : 0;
	r->nopen = r->nopen > nopen ? r->nopen - nopen : 0;
	if (r->nlookup == 0 && r->nopen == 0) {
		*pp = r->next;
		free(r);
		ic->count--;
		gone = true;
	}
out:
	pthread_mutex_unlock(&ic->lock);
	return gone;
}

bool pfs_icache_has_refs(struct pfs_icache *ic, uint64_t ino)
{
	bool has;

	pthread_mutex_lock(&ic->lock);
	has = *iref_find(ic, ino) != NULL;
	pthread_mutex_unlock(&ic->lock);
	return has;
}
