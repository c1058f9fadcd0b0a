/* SPDX-License-Identifier: MIT */
/*
 * Internal core declarations shared by the fs/ sources. Not for the adapter or tools:
 * they use include/pmemfs/pmemfs.h.
 */
#ifndef PFS_INTERNAL_H
#define PFS_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "pmemfs/layout.h"
#include "pmemfs/pmemfs.h"
#include "pmem_ops.h"
#include "fault.h"

#define PFS_SLOT(ino)  ((uint32_t)((ino) & 0xffffffffu))
#define PFS_GEN(ino)   ((uint32_t)((ino) >> 32))
#define PFS_INO(gen, slot) (((uint64_t)(gen) << 32) | (uint64_t)(slot))

#define PFS_MAX_FILE_SIZE (1ULL << 44)  /* 16 TiB */

/*
 * One load of a media field that is checked and then used: another writer of
 * the device (or damage while mounted) cannot change it between the two.
 */
#define PFS_LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

struct pfs_device {
	struct pfs_device_info info;
	int fd;                        /* -1 for DRAM */
	char *base;
	size_t size;
	bool readonly;
	bool private_map;              /* writes never reach the device */
	bool pmem_mapped;              /* unmap with pmem_unmap */
	struct pfs_pmem pm;
};

/* ---- array.c ---- */
/* Makes *arrayp (an array of elem-byte items) hold at least need items. */
int pfs_array_reserve(void *arrayp, size_t *cap, size_t need, size_t elem);

/* ---- crc32c.c ---- */
uint32_t pfs_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- icache (inode.c): kernel references per inode ---- */
struct pfs_iref {
	uint32_t slot;
	uint32_t gen;
	uint64_t nlookup;
	uint64_t nopen;
	struct pfs_iref *next;
};

struct pfs_icache {
	pthread_mutex_t lock;
	struct pfs_iref **tab;
	size_t nbuckets;
	size_t count;
	struct pfs_fault *fault;       /* fault injection (tests); NULL: off */
};

/* ---- journal.c ---- */
struct pfs_freeq {
	uint64_t pblk;
	uint64_t len;
};

struct pfs_tx {
	struct pfs_fs *fs;
	uint64_t seq;
	uint64_t pos;                  /* next record, bytes from the journal start */
	/*
	 * cache lines already snapshotted in this tx: open addressing, tagged by
	 * tag, a DRAM count of transactions (never 0, the tag of an empty slot;
	 * never the media's seq, which may be anything, 0 included)
	 */
	uint64_t tag;
	uint64_t *lines;
	uint64_t *line_seq;
	size_t lines_cap;
	size_t lines_used;
	/* block frees deferred to commit, so a block freed here is never reused here */
	struct pfs_freeq *freeq;
	size_t nfree, freecap;
	/* record positions for rollback, sized at init: a rollback allocates nothing */
	uint32_t *undo;
	size_t undo_cap;
	bool active;
};

struct pfs_fs {
	struct pfs_device *dev;
	struct pfs_pmem *pm;
	char *base;
	struct pfs_super_pm sb;        /* validated copy; media sb is never changed while mounted */
	struct pfs_state_pm *state;
	struct pfs_jhdr_pm *jhdr;
	uint64_t jbytes;               /* journal area size */
	uint64_t *ibitmap;
	uint64_t *bbitmap;
	uint32_t *bcsum;               /* bitmap block checksums; NULL on a 1.0 image */
	uint64_t *bcsum_ok;            /* DRAM, a bit per bitmap block: checksum verified */
	struct pfs_inode_pm *itable;

	pthread_rwlock_t lock;         /* shared: readers; exclusive: every change */
	pthread_mutex_t tx_lock;
	struct pfs_tx tx;
	atomic_bool readonly;
	atomic_bool corrupt_logged;    /* the first corrupt-media finding was logged */
	char corrupt_first[160];       /* that finding, for the status file */
	_Atomic int64_t corrupt_time;  /* when (seconds since the epoch); 0: none yet */
	int media_slot;                /* media_fault.c registry; -1: none */

	struct pfs_icache icache;
	uint64_t alloc_cursor;         /* hint: next data-block bit to look at */
	uint64_t inode_cursor;         /* hint: next inode slot to look at */
	char *zero;                    /* PFS_ZERO_LEN bytes of zeros for hole reads */
	atomic_uint_fast64_t commits;  /* transactions committed (pfs_fs_get_stats) */
	struct pfs_fault *fault;       /* fault injection (tests); NULL: off */
};

#define PFS_ZERO_LEN (1u << 20)

/* ---- super.c ---- */
/*
 * Corrupt media found at run time: logs the first finding (say the inode and
 * the offset), latches the mount read-only and returns -EUCLEAN for the caller
 * to fail its operation with.
 */
int pfs_corrupt(struct pfs_fs *fs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pfs_super_validate(const struct pfs_super_pm *sb, size_t dev_size, const char **why);
int pfs_super_pick(const char *base, size_t size, struct pfs_super_pm *out, int *which);
void pfs_super_seal(struct pfs_super_pm *sb);
static inline void *pfs_blk(const struct pfs_fs *fs, uint64_t blk)
{
	return fs->base + (blk << PFS_BLOCK_SHIFT);
}
static inline uint64_t pfs_off(const struct pfs_fs *fs, const void *p)
{
	return (uint64_t)((const char *)p - fs->base);
}
bool pfs_blk_is_data(const struct pfs_fs *fs, uint64_t blk, uint64_t len);
int pfs_fs_setup(struct pfs_fs *fs, struct pfs_device *dev, const struct pfs_super_pm *sb);
void pfs_fs_teardown(struct pfs_fs *fs);
int pfs_now(struct timespec *ts);

/* ---- bmap.c: bitmap block checksums ---- */
int pfs_bmap_setup(struct pfs_fs *fs);
void pfs_bmap_teardown(struct pfs_fs *fs);
uint64_t pfs_bmap_blocks(const struct pfs_fs *fs);
uint32_t pfs_bmap_csum(const struct pfs_fs *fs, uint64_t i);
int pfs_bmap_verify(struct pfs_fs *fs, const void *p, size_t len);
int pfs_bmap_reseal(struct pfs_tx *tx, const void *p, size_t len);

/* ---- journal.c ---- */
int pfs_journal_recover(struct pfs_fs *fs, unsigned *nrecs);
/* Records recovery would roll back (an interrupted transaction), changing nothing. */
int pfs_journal_pending(struct pfs_fs *fs, unsigned *nrecs);
int pfs_journal_init(struct pfs_fs *fs);
void pfs_journal_fini(struct pfs_fs *fs);
int pfs_tx_begin(struct pfs_fs *fs, struct pfs_tx **out);
int pfs_tx_add(struct pfs_tx *tx, const void *ptr, size_t len);
int pfs_tx_set(struct pfs_tx *tx, void *dst, const void *src, size_t len);
int pfs_tx_zero(struct pfs_tx *tx, void *dst, size_t len);
int pfs_tx_set_u64(struct pfs_tx *tx, uint64_t *dst, uint64_t v);
int pfs_tx_set_u32(struct pfs_tx *tx, uint32_t *dst, uint32_t v);
int pfs_tx_set_u16(struct pfs_tx *tx, uint16_t *dst, uint16_t v);
int pfs_tx_free_later(struct pfs_tx *tx, uint64_t pblk, uint64_t len);
int pfs_tx_commit(struct pfs_tx *tx);
void pfs_tx_abort(struct pfs_tx *tx);
/* commit on rc == 0, abort otherwise; returns the first error */
int pfs_tx_end(struct pfs_tx *tx, int rc);

/* ---- alloc.c ---- */
int pfs_alloc_blocks(struct pfs_tx *tx, uint64_t want, uint64_t goal, uint64_t *pblk,
		     uint64_t *got);
int pfs_free_blocks_now(struct pfs_tx *tx, uint64_t pblk, uint64_t len);
bool pfs_block_in_use(const struct pfs_fs *fs, uint64_t pblk);
int pfs_alloc_inode(struct pfs_tx *tx, uint32_t *slot);
int pfs_free_inode_slot(struct pfs_tx *tx, uint32_t slot);
bool pfs_slot_in_use(const struct pfs_fs *fs, uint32_t slot);

/* ---- inode.c ---- */
int pfs_inode_get(struct pfs_fs *fs, uint64_t ino, struct pfs_inode_pm **out);
struct pfs_inode_pm *pfs_inode_at(const struct pfs_fs *fs, uint32_t slot);
uint64_t pfs_inode_ino(const struct pfs_fs *fs, const struct pfs_inode_pm *ip);
bool pfs_inode_mode_ok(uint32_t mode);
/* false: why says which rule the inode breaks (shared by mount and fsck). */
bool pfs_inode_check(const struct pfs_fs *fs, const struct pfs_inode_pm *ip, char *why,
		     size_t len);
int pfs_inode_validate(struct pfs_fs *fs, const struct pfs_inode_pm *ip);
void pfs_inode_fill_attr(const struct pfs_fs *fs, const struct pfs_inode_pm *ip,
			 struct pfs_attr *out);
int pfs_inode_touch(struct pfs_tx *tx, struct pfs_inode_pm *ip, bool mtime, bool ctime);
void pfs_inode_touch_nojournal(struct pfs_fs *fs, struct pfs_inode_pm *ip);
int pfs_inode_init(struct pfs_tx *tx, uint32_t slot, uint32_t mode, uint32_t uid,
		   uint32_t gid, uint64_t parent, uint64_t rdev, struct pfs_inode_pm **out);
int pfs_inode_drop_link(struct pfs_tx *tx, struct pfs_inode_pm *ip);
int pfs_inode_release_data(struct pfs_tx *tx, struct pfs_inode_pm *ip);
int pfs_inode_destroy(struct pfs_tx *tx, struct pfs_inode_pm *ip);
int pfs_orphan_add(struct pfs_tx *tx, struct pfs_inode_pm *ip);
int pfs_orphan_remove(struct pfs_tx *tx, struct pfs_inode_pm *ip);
int pfs_orphans_reclaim(struct pfs_fs *fs, unsigned *count);

int pfs_icache_init(struct pfs_icache *ic);
void pfs_icache_fini(struct pfs_icache *ic);
int pfs_icache_ref(struct pfs_icache *ic, uint64_t ino, uint64_t nlookup, uint64_t nopen);
/* drops refs; true when the inode has no kernel references left */
bool pfs_icache_unref(struct pfs_icache *ic, uint64_t ino, uint64_t nlookup, uint64_t nopen);
bool pfs_icache_has_refs(struct pfs_icache *ic, uint64_t ino);

/* ---- extent.c ---- */
struct pfs_extvec {
	struct pfs_extent_pm *v;
	size_t n, cap;
};
/* Map lblk: *pblk = 0 for a hole; *run = blocks until the mapping changes (cap: max). */
int pfs_ext_map(struct pfs_fs *fs, const struct pfs_inode_pm *ip, uint64_t lblk, uint64_t max,
		uint64_t *pblk, uint64_t *run);
int pfs_ext_insert(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t lblk, uint64_t pblk,
		   uint64_t len);
/* Unmaps [start, end) and queues the data blocks for freeing. */
int pfs_ext_remove(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t start, uint64_t end);
int pfs_ext_collect(struct pfs_fs *fs, const struct pfs_inode_pm *ip, struct pfs_extvec *vec);
int pfs_ext_rebuild(struct pfs_tx *tx, struct pfs_inode_pm *ip, const struct pfs_extvec *vec);
int pfs_ext_nodes(struct pfs_fs *fs, const struct pfs_inode_pm *ip, struct pfs_extvec *nodes);
int pfs_extvec_push(struct pfs_extvec *vec, uint64_t lblk, uint64_t pblk, uint64_t len);
void pfs_extvec_free(struct pfs_extvec *vec);

/* ---- dir.c ---- */
struct pfs_dirloc {
	struct pfs_bucket_hdr_pm *bucket;
	struct pfs_dirent_pm *de;
};
uint64_t pfs_dir_hash(const struct pfs_fs *fs, const char *name, size_t len);
int pfs_dir_find(struct pfs_fs *fs, const struct pfs_inode_pm *dip, const char *name,
		 struct pfs_dirloc *loc);
int pfs_dir_add(struct pfs_tx *tx, struct pfs_inode_pm *dip, const char *name, uint64_t ino,
		uint8_t type);
int pfs_dir_remove(struct pfs_tx *tx, struct pfs_inode_pm *dip, struct pfs_dirloc *loc);
int pfs_dir_retarget(struct pfs_tx *tx, struct pfs_dirloc *loc, uint64_t ino, uint8_t type);
int pfs_dir_init(struct pfs_tx *tx, struct pfs_inode_pm *dip);
int pfs_dir_bucket(struct pfs_fs *fs, const struct pfs_inode_pm *dip, uint64_t idx,
		   struct pfs_bucket_hdr_pm **out);
int pfs_dir_bucket_validate(struct pfs_fs *fs, const struct pfs_bucket_hdr_pm *b);
/*
 * A checked copy of bucket idx (a block) in buf: every entry sound and hashed
 * into this bucket. For walks (readdir, doubling) that must not see the media
 * change under them.
 */
int pfs_dir_bucket_copy(struct pfs_fs *fs, const struct pfs_inode_pm *dip, uint64_t idx,
			struct pfs_bucket_hdr_pm *buf);
uint8_t pfs_mode_to_dtype(uint32_t mode);

/* ---- file.c ---- */
int pfs_file_truncate(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t size);
int pfs_file_write_tx(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t off,
		      const void *buf, size_t len);

/* ---- name checks (namei.c) ---- */
int pfs_name_check(const char *name);

#endif /* PFS_INTERNAL_H */
