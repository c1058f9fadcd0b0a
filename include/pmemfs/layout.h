/* SPDX-License-Identifier: MIT */
/*
 * pmemfs on-media format. This header is the only definition of the layout;
 * tests/unit/test_layout.c freezes it.
 *
 * Block map (block = 4096 bytes, block numbers are device-relative):
 *
 *   0                      superblock (primary)            pfs_super_pm
 *   1                      superblock replica              pfs_super_pm
 *   2                      mutable state                   pfs_state_pm
 *   journal_start ..+n     undo journal                    pfs_jhdr_pm + pfs_jrec_pm...
 *   ibitmap_start ..+n     inode-slot bitmap (1 = in use)
 *   bbitmap_start ..+n     data-block bitmap (bit i = block data_start + i)
 *   bcsum_start   ..+n     bitmap checksums (minor 1, ro_compat BMAP_CSUM)  uint32_t[]
 *   itable_start  ..+n     inode table                     pfs_inode_pm[inode_count]
 *   data_start    ..end    data, directory buckets, extent-tree nodes,
 *                          xattr blocks, symlink targets
 *
 * Atomicity: every multi-store metadata change goes through the undo journal
 * (fs/journal.c). Fields annotated "tx" are only changed inside a transaction.
 * The only stores outside a transaction are file data (ordered before the
 * metadata that makes it reachable) and the journal's own header and records.
 *
 * All integers are little-endian, naturally aligned; no packed structs.
 */
#ifndef PMEMFS_LAYOUT_H
#define PMEMFS_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pmemfs media format is little-endian; big-endian hosts are not supported"
#endif

#define PFS_MAGIC            0x3130534d46454d50ULL /* "PMEMFS01" */
#define PFS_STATE_MAGIC      0x4554415453534650ULL /* "PFSSTATE" */
#define PFS_JOURNAL_MAGIC    0x4c4e524a53534650ULL /* "PFSSJRNL" */
#define PFS_NODE_MAGIC       0x45444f4eU           /* "NODE" extent-tree node */
#define PFS_BUCKET_MAGIC     0x544b4342U           /* "BCKT" directory bucket */
#define PFS_XATTR_MAGIC      0x52545458U           /* "XTTR" xattr block */

#define PFS_VERSION_MAJOR    1
#define PFS_VERSION_MINOR    1     /* 1: bitmap checksums; images of minor 0 still mount */

#define PFS_BLOCK_SHIFT      12
#define PFS_BLOCK_SIZE       (1u << PFS_BLOCK_SHIFT)
#define PFS_INODE_SIZE       256u
#define PFS_INODES_PER_BLOCK (PFS_BLOCK_SIZE / PFS_INODE_SIZE)
#define PFS_NAME_MAX         255u
#define PFS_SYMLINK_MAX      (PFS_BLOCK_SIZE - 1)
#define PFS_LABEL_MAX        64u

#define PFS_SB_BLOCK         0
#define PFS_SB_REPLICA_BLOCK 1
#define PFS_STATE_BLOCK      2
#define PFS_FIRST_AREA_BLOCK 3

/* Inode slot 0 is never used (0 means "none"); slot 1 is the root of pools/. */
#define PFS_ROOT_SLOT        1u
#define PFS_FIRST_FREE_SLOT  2u

/* Minimum device: superblocks, state, journal, bitmaps, 64 inodes, 64 data blocks. */
#define PFS_MIN_DEVICE_SIZE  (4u << 20)

/* Incompatible features: none yet. A mount refuses any bit it does not know. */
#define PFS_FEATURE_INCOMPAT_SUPP 0ULL

/*
 * Read-only compatible features: a pmemfs that does not know one may read the
 * image but must not change it (it would not keep the feature's data right).
 *
 * BMAP_CSUM: one crc32c per bitmap block (inode bitmap blocks, then block
 * bitmap blocks, which follow each other on the media) in the bcsum area:
 * csum[i] = crc32c(seed = block number, the 4096 bytes of block
 * ibitmap_start + i). Changed by the allocator in the transaction that
 * changes the bitmap block (tx), verified before the allocator changes a
 * block. Images made before it (minor 0) have no such area and no checks.
 */
#define PFS_FEATURE_RO_COMPAT_BMAP_CSUM 0x1ULL
#define PFS_FEATURE_RO_COMPAT_SUPP PFS_FEATURE_RO_COMPAT_BMAP_CSUM
#define PFS_BCSUM_PER_BLOCK (PFS_BLOCK_SIZE / 4u)

/*
 * Superblock: written once by mkfs (and on repair). Never changed while mounted,
 * so it needs no transaction: a checksum (last field) guards it and a replica
 * in block 1 survives a torn or corrupt primary.
 */
struct pfs_super_pm {
	uint64_t magic;
	uint32_t version_major;
	uint32_t version_minor;
	uint64_t feature_compat;
	uint64_t feature_incompat;
	uint64_t feature_ro_compat;
	uint8_t uuid[16];
	char label[PFS_LABEL_MAX];     /* NUL-padded */
	uint32_t block_size;
	uint32_t inode_size;
	uint64_t device_size;          /* bytes covered by the format */
	uint64_t total_blocks;
	uint64_t inode_count;          /* slots in the inode table */
	uint64_t journal_start;
	uint64_t journal_blocks;
	uint64_t ibitmap_start;
	uint64_t ibitmap_blocks;
	uint64_t bbitmap_start;
	uint64_t bbitmap_blocks;
	uint64_t itable_start;
	uint64_t itable_blocks;
	uint64_t data_start;
	uint64_t data_blocks;
	uint64_t hash_seed;            /* directory hash seed */
	int64_t mkfs_time;             /* seconds since the epoch */
	uint64_t bcsum_start;          /* BMAP_CSUM: first block of the bitmap checksums */
	uint64_t bcsum_blocks;         /* BMAP_CSUM: blocks of them; 0 without the feature */
	uint64_t reserved[30];
	uint32_t reserved32;
	uint32_t csum;                 /* crc32c of all bytes before it */
};
_Static_assert(sizeof(struct pfs_super_pm) == 512, "superblock size");
_Static_assert(offsetof(struct pfs_super_pm, csum) == 508, "csum is the last field");
_Static_assert(offsetof(struct pfs_super_pm, uuid) == 40, "uuid offset");
_Static_assert(offsetof(struct pfs_super_pm, total_blocks) == 136, "geometry offset");
_Static_assert(offsetof(struct pfs_super_pm, bcsum_start) == 248, "bitmap checksum area offset");

/*
 * Mutable state, block 2. Every field is changed only inside a transaction (tx).
 */
struct pfs_state_pm {
	uint64_t magic;
	uint64_t free_blocks;          /* tx: data blocks not in use */
	uint64_t free_inodes;          /* tx: inode slots not in use */
	uint64_t orphan_head;          /* tx: first slot of the orphan list, 0 = empty */
	uint64_t mount_count;          /* tx: bumped at every read-write mount */
	int64_t last_mount_time;       /* tx */
	uint64_t reserved[26];
};
_Static_assert(sizeof(struct pfs_state_pm) == 256, "state size");

/*
 * Journal area header, at the start of journal_start. A record belongs to the
 * running transaction only if its seq equals active_seq and its checksum holds.
 * active_seq is 8-byte aligned and changed by one store + persist: that store is
 * the commit point of every transaction.
 */
struct pfs_jhdr_pm {
	uint64_t magic;
	uint64_t active_seq;
	uint64_t reserved[6];
};
_Static_assert(sizeof(struct pfs_jhdr_pm) == 64, "journal header size");

/*
 * Undo record: the old contents of [off, off+len) before the transaction
 * changed them. Followed by len bytes, padded to 8.
 */
struct pfs_jrec_pm {
	uint64_t seq;
	uint64_t off;                  /* device byte offset */
	uint32_t len;
	uint32_t csum;                 /* crc32c of seq, off, len and the data */
};
_Static_assert(sizeof(struct pfs_jrec_pm) == 24, "journal record size");

/* One extent: file blocks [lblk, lblk+len) live at device blocks [pblk, pblk+len). */
struct pfs_extent_pm {
	uint64_t lblk;
	uint64_t pblk;
	uint32_t len;
	uint32_t flags;                /* reserved, 0 */
};
_Static_assert(sizeof(struct pfs_extent_pm) == 24, "extent size");

#define PFS_INLINE_EXTENTS 4
#define PFS_NODE_ENTRIES   170
#define PFS_MAX_TREE_DEPTH 2

/*
 * Extent-tree node (one block). In a leaf (level 0) entries are extents; in an
 * index node, entry.pblk is the child node and entry.lblk its first file block.
 * Nodes are written fresh and linked in a transaction (copy-on-write), or
 * changed in place inside a transaction.
 */
struct pfs_node_pm {
	uint32_t magic;
	uint16_t level;
	uint16_t count;
	uint64_t reserved;
	struct pfs_extent_pm e[PFS_NODE_ENTRIES];
};
_Static_assert(sizeof(struct pfs_node_pm) == PFS_BLOCK_SIZE, "node is a block");

/*
 * Inode, 256 bytes, in the inode table at slot * 256. All fields tx unless noted.
 * A slot is in use iff its bit is set in the inode bitmap; gen survives
 * freeing so that (slot, gen) is never reused.
 */
struct pfs_inode_pm {
	uint32_t mode;                 /* 0 in a free slot */
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint32_t gen;                  /* bumped when the slot is allocated */
	uint32_t flags;
	uint64_t size;
	uint64_t blocks;               /* data + tree + xattr blocks held */
	int64_t atime_sec;             /* times: 8-byte stores, may change outside tx */
	int64_t mtime_sec;
	int64_t ctime_sec;
	int64_t btime_sec;
	uint32_t atime_nsec;
	uint32_t mtime_nsec;
	uint32_t ctime_nsec;
	uint32_t btime_nsec;
	uint64_t parent;               /* directories: slot of the parent */
	uint64_t xattr_blk;            /* 0 or the device block of the xattr block */
	uint64_t orphan_prev;          /* slots; linked while nlink == 0 and still referenced */
	uint64_t orphan_next;
	uint64_t rdev;
	uint64_t nentries;             /* directories: entries, excluding . and .. */
	uint16_t ext_depth;            /* 0: ext[] are extents; 1..2: ext[] point to nodes */
	uint16_t ext_count;            /* used entries of ext[] */
	uint32_t reserved32;
	struct pfs_extent_pm ext[PFS_INLINE_EXTENTS];
	uint64_t reserved[2];
};
_Static_assert(sizeof(struct pfs_inode_pm) == PFS_INODE_SIZE, "inode size");
_Static_assert(offsetof(struct pfs_inode_pm, size) == 24, "inode size offset");
_Static_assert(offsetof(struct pfs_inode_pm, ext) == 144, "inode extents offset");

#define PFS_INODE_FLAG_ORPHAN 0x1u

/*
 * Directory: a hash table of 2^k bucket blocks, stored as the directory's file
 * blocks 0..2^k-1 (size = 2^k blocks). An entry lives in the bucket given by the
 * top k bits of its 62-bit name hash (PFS_HASH_BITS), so buckets are in hash order and readdir
 * cookies (the hash) stay valid when the table doubles. Doubling writes a new
 * table into fresh blocks and swaps it in one transaction.
 */
struct pfs_bucket_hdr_pm {
	uint32_t magic;
	uint32_t used;                 /* bytes of entries after the header */
	uint64_t reserved;
};
_Static_assert(sizeof(struct pfs_bucket_hdr_pm) == 16, "bucket header size");

struct pfs_dirent_pm {
	uint64_t hash;                 /* >= PFS_HASH_MIN */
	uint64_t ino;                  /* node id: gen << 32 | slot */
	uint16_t rec_len;              /* multiple of 8 */
	uint8_t name_len;
	uint8_t type;                  /* DT_* */
	char name[];
};
_Static_assert(sizeof(struct pfs_dirent_pm) == 24, "dirent header size");
#define PFS_DIRENT_LEN(n)  ((uint16_t)((offsetof(struct pfs_dirent_pm, name) + (n) + 7u) & ~7u))
#define PFS_BUCKET_SPACE   (PFS_BLOCK_SIZE - sizeof(struct pfs_bucket_hdr_pm))
#define PFS_HASH_BITS      62u
#define PFS_HASH_MIN       3ULL    /* cookies 0..2 are readdir's start, "." and ".." */
#define PFS_DIR_MAX_BUCKETS (1u << 20)

/*
 * Extended attributes: one block per inode, rewritten copy-on-write.
 * Entries packed after the header: pfs_xattr_ent_pm, name, value, padded to 8.
 */
struct pfs_xattr_hdr_pm {
	uint32_t magic;
	uint32_t used;
	uint32_t count;
	uint32_t reserved;
};
struct pfs_xattr_ent_pm {
	uint16_t name_len;
	uint16_t value_len;
	uint32_t reserved;
	char data[];
};
_Static_assert(sizeof(struct pfs_xattr_hdr_pm) == 16, "xattr header size");
_Static_assert(sizeof(struct pfs_xattr_ent_pm) == 8, "xattr entry size");
#define PFS_XATTR_ENT_LEN(n, v) ((uint32_t)((8u + (n) + (v) + 7u) & ~7u))

#endif /* PMEMFS_LAYOUT_H */
