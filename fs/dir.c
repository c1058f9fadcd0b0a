// SPDX-License-Identifier: MIT
/*
 * Directories: a hash table of 2^k bucket blocks (see layout.h). Theory of
 * operation:
 *
 * A name hashes (seeded, 62 bits, >= PFS_HASH_MIN) to a bucket by the top k
 * bits, so bucket order is hash order and a readdir cookie (the next hash)
 * survives the table doubling. Lookups touch one bucket: O(1) in directory
 * size. Inserting into a full bucket doubles the table: the entries are
 * redistributed into 2^(k+1) fresh blocks and the directory's extent map is
 * replaced in the same transaction (old buckets freed at commit).
 *
 * In-place changes (append an entry, remove one by compacting its bucket) are
 * journalled like any metadata.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <dirent.h>

#include "pfs.h"

uint8_t pfs_mode_to_dtype(uint32_t mode)
{
	return (uint8_t)((mode & S_IFMT) >> 12);
}

uint64_t pfs_dir_hash(const struct pfs_fs *fs, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ fs->sb.hash_seed;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 0x100000001b3ull;
	}
	/* murmur3 finaliser: spread FNV's weak high bits, which pick the bucket */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	h &= (1ull << PFS_HASH_BITS) - 1;
	return h < PFS_HASH_MIN ? h + PFS_HASH_MIN : h;
}

static unsigned dir_order(const struct pfs_inode_pm *dip)
{
	/* checked by pfs_inode_validate; kept in range should the media change since */
	uint64_t nb = PFS_LOAD(dip->size) >> PFS_BLOCK_SHIFT;
	unsigned order = nb ? (unsigned)__builtin_ctzll(nb) : 0;
	const unsigned max = (unsigned)__builtin_ctz(PFS_DIR_MAX_BUCKETS);

	return order < max ? order : max;
}

static uint64_t bucket_index(uint64_t hash, unsigned order)
{
	return order ? hash >> (PFS_HASH_BITS - order) : 0;
}

/*
 * Checks a bucket image; boff is where it lies on the device and slot the
 * directory's inode (0: not known), for the message.
 */
static int bucket_check(struct pfs_fs *fs, const struct pfs_bucket_hdr_pm *b, uint64_t boff,
			uint32_t slot)
{
	const char *p = (const char *)(b + 1);
	uint32_t used = PFS_LOAD(b->used), off = 0;

	if (PFS_LOAD(b->magic) != PFS_BUCKET_MAGIC || used > PFS_BUCKET_SPACE)
		return pfs_corrupt(fs, "directory inode %u: bucket at offset %llu: bad header",
				   slot, (unsigned long long)boff);
	while (off < used) {
		const struct pfs_dirent_pm *de = (const void *)(p + off);
		uint16_t rl;
		uint8_t nl;

		if (used - off < sizeof(*de))
			goto bad;
		rl = PFS_LOAD(de->rec_len);
		nl = PFS_LOAD(de->name_len);
		if (rl < PFS_DIRENT_LEN(nl) || rl > used - off || (rl & 7) || nl == 0 ||
		    PFS_LOAD(de->hash) < PFS_HASH_MIN)
			goto bad;
		off += rl;
	}
	return 0;
bad:
	return pfs_corrupt(fs, "directory inode %u: bucket at offset %llu: bad entry at %u",
			   slot, (unsigned long long)boff, off);
}

int pfs_dir_bucket_validate(struct pfs_fs *fs, const struct pfs_bucket_hdr_pm *b)
{
	return bucket_check(fs, b, pfs_off(fs, b), 0);
}

int pfs_dir_bucket(struct pfs_fs *fs, const struct pfs_inode_pm *dip, uint64_t idx,
		   struct pfs_bucket_hdr_pm **out)
{
	uint64_t pblk, run;
	int rc = pfs_ext_map(fs, dip, idx, 1, &pblk, &run);

	if (!rc && pfs_fault_hit(fs->fault, PFS_FAULT_READ))
		rc = -EIO;
	if (rc)
		return rc;
	if (pblk == 0)
		return pfs_corrupt(fs, "directory inode %u: bucket %llu is not mapped",
				   (uint32_t)(dip - fs->itable), (unsigned long long)idx);
	*out = pfs_blk(fs, pblk);
	return bucket_check(fs, *out, pblk << PFS_BLOCK_SHIFT, (uint32_t)(dip - fs->itable));
}

int pfs_dir_bucket_copy(struct pfs_fs *fs, const struct pfs_inode_pm *dip, uint64_t idx,
			struct pfs_bucket_hdr_pm *buf)
{
	unsigned order = dir_order(dip);
	uint64_t pblk, run, boff;
	const char *p = (const char *)(buf + 1);
	int rc = pfs_ext_map(fs, dip, idx, 1, &pblk, &run);

	if (rc)
		return rc;
	if (pblk == 0)
		return pfs_corrupt(fs, "directory inode %u: bucket %llu is not mapped",
				   (uint32_t)(dip - fs->itable), (unsigned long long)idx);
	boff = pblk << PFS_BLOCK_SHIFT;
	memcpy(buf, pfs_blk(fs, pblk), PFS_BLOCK_SIZE);
	rc = bucket_check(fs, buf, boff, (uint32_t)(dip - fs->itable));
	if (rc)
		return rc;
	/* a hash of 2^62 or more, or one of another bucket, breaks readdir's cookies */
	for (uint32_t off = 0; off < buf->used;) {
		const struct pfs_dirent_pm *de = (const void *)(p + off);

		if (de->hash >> PFS_HASH_BITS || bucket_index(de->hash, order) != idx)
			return pfs_corrupt(fs, "directory inode %u: entry at offset %llu has hash "
					   "%#llx, not one of bucket %llu",
					   (uint32_t)(dip - fs->itable),
					   (unsigned long long)(boff + sizeof(*buf) + off),
					   (unsigned long long)de->hash, (unsigned long long)idx);
		off += de->rec_len;
	}
	return 0;
}

/* The entry with this name in a (checked) bucket on the media; *out NULL if none. */
static int bucket_find(struct pfs_fs *fs, struct pfs_bucket_hdr_pm *b, uint64_t hash,
		       const char *name, size_t len, struct pfs_dirent_pm **out)
{
	char *p = (char *)(b + 1);
	uint32_t used = PFS_LOAD(b->used);

	*out = NULL;
	for (uint32_t off = 0; off < used;) {
		struct pfs_dirent_pm *de = (void *)(p + off);
		uint16_t rl;

		/* checked, but the media may change under a reader: bound every step */
		if (used > PFS_BUCKET_SPACE || used - off < sizeof(*de) ||
		    (rl = PFS_LOAD(de->rec_len)) < sizeof(*de) || rl > used - off || (rl & 7))
			return pfs_corrupt(fs, "directory bucket at offset %llu: bad entry at %u",
					   (unsigned long long)pfs_off(fs, b), off);
		if (de->hash == hash && de->name_len == len &&
		    len <= rl - offsetof(struct pfs_dirent_pm, name) &&
		    memcmp(de->name, name, len) == 0) {
			*out = de;
			return 0;
		}
		off += rl;
	}
	return 0;
}

int pfs_dir_find(struct pfs_fs *fs, const struct pfs_inode_pm *dip, const char *name,
		 struct pfs_dirloc *loc)
{
	size_t len = strlen(name);
	uint64_t hash = pfs_dir_hash(fs, name, len);
	struct pfs_bucket_hdr_pm *b = NULL;
	int rc = pfs_dir_bucket(fs, dip, bucket_index(hash, dir_order(dip)), &b);

	if (!rc)
		rc = bucket_find(fs, b, hash, name, len, &loc->de);
	if (rc)
		return rc;
	loc->bucket = b;
	return loc->de ? 0 : -ENOENT;
}

/* Appends an entry into a bucket image in DRAM. false when it does not fit. */
static bool image_add(char *img, uint64_t hash, uint64_t ino, uint8_t type, const char *name,
		      size_t len)
{
	struct pfs_bucket_hdr_pm *h = (void *)img;
	uint16_t rl = PFS_DIRENT_LEN(len);
	struct pfs_dirent_pm *de;

	if (h->used + rl > PFS_BUCKET_SPACE)
		return false;
	de = (void *)(img + sizeof(*h) + h->used);
	memset(de, 0, rl);
	de->hash = hash;
	de->ino = ino;
	de->rec_len = rl;
	de->name_len = (uint8_t)len;
	de->type = type;
	memcpy(de->name, name, len);
	h->used += rl;
	return true;
}

/* Writes a doubled table into fresh blocks; returns its extents. */
static int grow_fill(struct pfs_fs *fs, const struct pfs_inode_pm *dip, unsigned order,
		     char *imgs, bool *fits)
{
	uint64_t nb = 1ull << order;
	_Alignas(8) char bucket[PFS_BLOCK_SIZE];

	for (uint64_t i = 0; i < nb; i++)
		*(struct pfs_bucket_hdr_pm *)(imgs + i * PFS_BLOCK_SIZE) =
			(struct pfs_bucket_hdr_pm){ .magic = PFS_BUCKET_MAGIC };
	*fits = true;
	for (uint64_t i = 0; i < (nb >> 1); i++) {
		struct pfs_bucket_hdr_pm *b = (void *)bucket;
		char *p = (char *)(b + 1);
		/* a copy: an entry's hash picks the image it goes to */
		int rc = pfs_dir_bucket_copy(fs, dip, i, b);

		if (rc)
			return rc;
		for (uint32_t off = 0; off < b->used;) {
			struct pfs_dirent_pm *de = (void *)(p + off);
			char *img = imgs + bucket_index(de->hash, order) * PFS_BLOCK_SIZE;

			if (!image_add(img, de->hash, de->ino, de->type, de->name, de->name_len))
				*fits = false;
			off += de->rec_len;
		}
	}
	return 0;
}

static int grow_write(struct pfs_tx *tx, struct pfs_inode_pm *dip, const char *imgs,
		      uint64_t nb)
{
	struct pfs_extvec old = { 0 }, neu = { 0 };
	uint64_t done = 0;
	int rc = pfs_ext_collect(tx->fs, dip, &old);

	while (!rc && done < nb) {
		uint64_t pblk, got;

		rc = pfs_alloc_blocks(tx, nb - done, 0, &pblk, &got);
		if (rc)
			break;
		/* fresh blocks: unreachable until the new map commits */
		pfs_pm_copy(tx->fs->pm, pfs_blk(tx->fs, pblk), imgs + done * PFS_BLOCK_SIZE,
			    got * PFS_BLOCK_SIZE);
		rc = pfs_extvec_push(&neu, done, pblk, got);
		done += got;
	}
	for (size_t i = 0; !rc && i < old.n; i++)
		rc = pfs_tx_free_later(tx, old.v[i].pblk, old.v[i].len);
	if (!rc)
		rc = pfs_ext_rebuild(tx, dip, &neu);
	if (!rc)
		rc = pfs_tx_set_u64(tx, &dip->blocks, dip->blocks + nb - (nb >> 1));
	if (!rc)
		rc = pfs_tx_set_u64(tx, &dip->size, nb << PFS_BLOCK_SHIFT);
	pfs_extvec_free(&old);
	pfs_extvec_free(&neu);
	return rc;
}

/* Doubles the table (again while the target bucket would still be full). */
static int dir_grow(struct pfs_tx *tx, struct pfs_inode_pm *dip, uint64_t hash, uint16_t need)
{
	unsigned order = dir_order(dip);
	char *imgs = NULL;
	bool fits;
	int rc;

	for (;;) {
		uint64_t nb;
		struct pfs_bucket_hdr_pm *target;

		order++;
		nb = 1ull << order;
		if (nb > PFS_DIR_MAX_BUCKETS) {
			rc = -ENOSPC;
			goto out;
		}
		free(imgs);
		imgs = pfs_malloc(tx->fs, nb * PFS_BLOCK_SIZE);
		if (!imgs) {
			rc = -ENOMEM;
			goto out;
		}
		rc = grow_fill(tx->fs, dip, order, imgs, &fits);
		if (rc)
			goto out;
		target = (void *)(imgs + bucket_index(hash, order) * PFS_BLOCK_SIZE);
		if (fits && target->used + need <= PFS_BUCKET_SPACE)
			break;
		/* all entries share the top bits: only a bigger table separates them */
		if (order - dir_order(dip) >= 4) {
			rc = -ENOSPC;
			goto out;
		}
	}
	rc = grow_write(tx, dip, imgs, 1ull << order);
out:
	free(imgs);
	return rc;
}

static int bucket_append(struct pfs_tx *tx, struct pfs_bucket_hdr_pm *b, uint64_t hash,
			 uint64_t ino, uint8_t type, const char *name, size_t len)
{
	char buf[PFS_DIRENT_LEN(PFS_NAME_MAX)] = { 0 };
	struct pfs_dirent_pm *de = (void *)buf;
	uint16_t rl = PFS_DIRENT_LEN(len);
	uint32_t used = PFS_LOAD(b->used);
	int rc;

	if (used > PFS_BUCKET_SPACE - rl)
		return pfs_corrupt(tx->fs, "directory bucket at offset %llu: %u bytes used",
				   (unsigned long long)pfs_off(tx->fs, b), used);
	de->hash = hash;
	de->ino = ino;
	de->rec_len = rl;
	de->name_len = (uint8_t)len;
	de->type = type;
	memcpy(de->name, name, len);
	rc = pfs_tx_set(tx, (char *)(b + 1) + used, buf, rl);
	if (!rc)
		rc = pfs_tx_set_u32(tx, &b->used, used + rl);
	return rc;
}

int pfs_dir_add(struct pfs_tx *tx, struct pfs_inode_pm *dip, const char *name, uint64_t ino,
		uint8_t type)
{
	size_t len = strlen(name);
	uint64_t hash = pfs_dir_hash(tx->fs, name, len);
	uint16_t rl = PFS_DIRENT_LEN(len);
	struct pfs_bucket_hdr_pm *b = NULL;
	int rc;

	rc = pfs_dir_bucket(tx->fs, dip, bucket_index(hash, dir_order(dip)), &b);
	if (rc)
		return rc;
	if (b->used + rl > PFS_BUCKET_SPACE) {
		rc = dir_grow(tx, dip, hash, rl);
		if (!rc)
			rc = pfs_dir_bucket(tx->fs, dip, bucket_index(hash, dir_order(dip)), &b);
		if (rc)
			return rc;
	}
	rc = bucket_append(tx, b, hash, ino, type, name, len);
	if (!rc)
		rc = pfs_tx_set_u64(tx, &dip->nentries, dip->nentries + 1);
	return rc;
}

int pfs_dir_remove(struct pfs_tx *tx, struct pfs_inode_pm *dip, struct pfs_dirloc *loc)
{
	struct pfs_bucket_hdr_pm *b = loc->bucket;
	char *p = (char *)(b + 1);
	uint32_t off = (uint32_t)((char *)loc->de - p), used = PFS_LOAD(b->used), tail;
	uint16_t rl = PFS_LOAD(loc->de->rec_len);
	int rc = 0;

	if (used > PFS_BUCKET_SPACE || off >= used || rl > used - off || rl < sizeof(*loc->de))
		return pfs_corrupt(tx->fs, "directory bucket at offset %llu: entry at %u "
				   "changed under removal", (unsigned long long)pfs_off(tx->fs, b),
				   off);
	tail = used - off - rl;
	if (dip->nentries == 0)
		return pfs_corrupt(tx->fs, "directory %u: entry count already zero",
				   (uint32_t)(dip - tx->fs->itable));
	if (tail) {
		char buf[PFS_BUCKET_SPACE];

		memcpy(buf, p + off + rl, tail);
		rc = pfs_tx_set(tx, p + off, buf, tail);
	}
	if (!rc)
		rc = pfs_tx_set_u32(tx, &b->used, used - rl);
	if (!rc)
		rc = pfs_tx_set_u64(tx, &dip->nentries, dip->nentries - 1);
	loc->de = NULL;
	return rc;
}

int pfs_dir_retarget(struct pfs_tx *tx, struct pfs_dirloc *loc, uint64_t ino, uint8_t type)
{
	int rc = pfs_tx_set_u64(tx, &loc->de->ino, ino);
	uint8_t t = type;

	if (!rc)
		rc = pfs_tx_set(tx, &loc->de->type, &t, 1);
	return rc;
}

/* A new directory: one empty bucket. */
int pfs_dir_init(struct pfs_tx *tx, struct pfs_inode_pm *dip)
{
	struct pfs_bucket_hdr_pm h = { .magic = PFS_BUCKET_MAGIC };
	uint64_t pblk, got;
	int rc = pfs_alloc_blocks(tx, 1, 0, &pblk, &got);

	if (rc)
		return rc;
	pfs_pm_copy(tx->fs->pm, pfs_blk(tx->fs, pblk), &h, sizeof(h));
	rc = pfs_ext_insert(tx, dip, 0, pblk, 1);
	if (!rc)
		rc = pfs_tx_set_u64(tx, &dip->size, PFS_BLOCK_SIZE);
	return rc;
}
