/* SPDX-License-Identifier: MIT */
/*
 * pmemfs core API: what the FUSE adapter and the tools call. Knows nothing of
 * FUSE. Every function returns 0 or a negative errno; results go in
 * out-parameters. Inode numbers are node ids: gen << 32 | slot.
 */
#ifndef PMEMFS_PMEMFS_H
#define PMEMFS_PMEMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#define PMEMFS_VERSION "0.1.0"

struct pfs_device;
struct pfs_fs;

/* ---- logging (fs/log.c) ---- */
enum pfs_log_level { PFS_LOG_ERR, PFS_LOG_WARN, PFS_LOG_INFO, PFS_LOG_DEBUG };
typedef void (*pfs_log_sink)(enum pfs_log_level lvl, const char *msg);
void pfs_log_set_sink(pfs_log_sink sink, enum pfs_log_level max_level);
void pfs_log(enum pfs_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- device (fs/device.c) ---- */
enum pfs_dev_kind { PFS_DEV_FILE, PFS_DEV_DAX, PFS_DEV_DRAM };

struct pfs_device_info {
	enum pfs_dev_kind kind;
	bool is_pmem;                  /* libpmem: real pmem, flush with CPU instructions */
	bool ram_backed;               /* a file on tmpfs, ramfs or hugetlbfs: msync is free */
	size_t size;                   /* mapped bytes */
	char path[4096];
};

/* Open and map an existing DEVICE (devdax or file). Takes an exclusive lock. */
int pfs_device_open(const char *path, bool readonly, struct pfs_device **out);
/* Create a plain file of size bytes (emulation) and map it. Fails if it exists. */
int pfs_device_create(const char *path, uint64_t size, struct pfs_device **out);
/* A device in anonymous DRAM (unit tests, fuzzing). */
int pfs_device_dram(size_t size, struct pfs_device **out);
/* A DRAM device that copies an existing image (crash tests). */
int pfs_device_dram_copy(const void *image, size_t size, struct pfs_device **out);
void pfs_device_close(struct pfs_device *dev);
const struct pfs_device_info *pfs_device_get_info(const struct pfs_device *dev);
void *pfs_device_base(const struct pfs_device *dev);

/*
 * Progress of a long job (format, check): done out of total units, phase
 * names what runs now. Called from the job's thread; may be NULL.
 */
typedef void (*pfs_progress_fn)(void *arg, const char *phase, uint64_t done, uint64_t total);

/* ---- format (fs/format.c) ---- */
struct pfs_format_opts {
	const char *label;             /* NULL: none */
	uint64_t inode_count;          /* 0: one per bytes_per_inode */
	uint64_t bytes_per_inode;      /* 0: 16384 */
	const uint8_t *uuid;           /* NULL: random */
	int64_t mkfs_time;             /* 0: now */
	uint64_t hash_seed;            /* 0: random */
	pfs_progress_fn progress;      /* NULL: none */
	void *progress_arg;
	bool lost_found;               /* make pools/lost+found (mkfs.pmemfs does) */
	bool format_1_0;               /* the 1.0 format (no bitmap checksums): tests of old images */
};
struct pfs_format_info {
	uint64_t device_size, total_blocks, data_blocks, inode_count, journal_blocks;
	uint8_t uuid[16];
};
int pfs_format(struct pfs_device *dev, const struct pfs_format_opts *opts,
	       struct pfs_format_info *info);

/* What an existing device holds, for mkfs's refusal ("pmemfs", "ext4", ...). */
int pfs_probe_signature(const void *base, size_t size, const char **what);

/* ---- mount (fs/super.c) ---- */
#define PFS_MOUNT_RDONLY 0x1u

int pfs_mount(struct pfs_device *dev, unsigned flags, struct pfs_fs **out);
/* Flushes and frees everything; the device stays open (caller closes it). */
void pfs_unmount(struct pfs_fs *fs);
uint64_t pfs_root_ino(const struct pfs_fs *fs);
bool pfs_is_readonly(const struct pfs_fs *fs);
const struct pfs_device_info *pfs_fs_device_info(const struct pfs_fs *fs);

/* ---- file system operations ---- */
struct pfs_attr {
	uint64_t ino;
	uint32_t mode, nlink, uid, gid;
	uint64_t size;
	uint64_t blocks512;            /* st_blocks */
	uint64_t rdev;
	uint32_t gen;
	struct timespec atime, mtime, ctime;
};

struct pfs_cred {
	uint32_t uid, gid;
	mode_t umask;
};

#define PFS_SET_MODE   0x01u
#define PFS_SET_UID    0x02u
#define PFS_SET_GID    0x04u
#define PFS_SET_SIZE   0x08u
#define PFS_SET_ATIME  0x10u
#define PFS_SET_MTIME  0x20u
#define PFS_SET_ATIME_NOW 0x40u
#define PFS_SET_MTIME_NOW 0x80u
#define PFS_SET_CTIME  0x100u

struct pfs_setattr {
	unsigned valid;                /* PFS_SET_* */
	uint32_t mode, uid, gid;
	uint64_t size;
	struct timespec atime, mtime, ctime;
};

/*
 * lookup takes one reference on the result (released by pfs_forget).
 * "." works on any inode, ".." on directories.
 */
int pfs_lookup(struct pfs_fs *fs, uint64_t dir, const char *name, struct pfs_attr *out);
void pfs_forget(struct pfs_fs *fs, uint64_t ino, uint64_t nlookup);
int pfs_getattr(struct pfs_fs *fs, uint64_t ino, struct pfs_attr *out);
int pfs_setattr(struct pfs_fs *fs, uint64_t ino, const struct pfs_setattr *sa,
		struct pfs_attr *out);

/*
 * What a write takes from a regular file (the kernel's file_remove_privs):
 * security.capability always; suid, and sgid when group-executable, when
 * suid is true (the writer lacks CAP_FSETID). *mode_changed: the mode moved.
 */
int pfs_kill_privs(struct pfs_fs *fs, uint64_t ino, bool suid, bool *mode_changed);

/* Creation calls take one reference on the new inode, as lookup does. */
int pfs_mknod(struct pfs_fs *fs, uint64_t dir, const char *name, uint32_t mode,
	      uint64_t rdev, const struct pfs_cred *cred, struct pfs_attr *out);
int pfs_mkdir(struct pfs_fs *fs, uint64_t dir, const char *name, uint32_t mode,
	      const struct pfs_cred *cred, struct pfs_attr *out);
int pfs_symlink(struct pfs_fs *fs, uint64_t dir, const char *name, const char *target,
		const struct pfs_cred *cred, struct pfs_attr *out);
int pfs_link(struct pfs_fs *fs, uint64_t ino, uint64_t newdir, const char *newname,
	     struct pfs_attr *out);
int pfs_unlink(struct pfs_fs *fs, uint64_t dir, const char *name);
int pfs_rmdir(struct pfs_fs *fs, uint64_t dir, const char *name);

#define PFS_RENAME_NOREPLACE 0x1u
#define PFS_RENAME_EXCHANGE  0x2u
int pfs_rename(struct pfs_fs *fs, uint64_t olddir, const char *oldname, uint64_t newdir,
	       const char *newname, unsigned flags);
int pfs_readlink(struct pfs_fs *fs, uint64_t ino, char *buf, size_t size);

/* Open/release keep an unlinked inode alive until the last one. */
int pfs_open(struct pfs_fs *fs, uint64_t ino, int flags);
void pfs_release(struct pfs_fs *fs, uint64_t ino);

/*
 * Read: builds iovecs that point into the mapping (holes point at a zero page)
 * and hands them to reply() while the inode is locked, so the blocks cannot be
 * freed under the reply. Returns reply()'s result.
 */
typedef int (*pfs_reply_iov_fn)(void *arg, const struct iovec *iov, int cnt);
int pfs_read(struct pfs_fs *fs, uint64_t ino, uint64_t off, size_t len,
	     pfs_reply_iov_fn reply, void *arg);
/* sync: durable on return (O_SYNC/O_DSYNC). */
int pfs_write(struct pfs_fs *fs, uint64_t ino, uint64_t off, const struct iovec *iov,
	      int cnt, bool append, bool sync, size_t *written);
int pfs_fsync(struct pfs_fs *fs, uint64_t ino, bool datasync);

/*
 * Stages (fs/stage.c): device blocks a large write is read into directly,
 * then relinked into the file instead of copied. A stage is an unlinked
 * inode holding nblk blocks (freed at the next mount after a crash).
 */
struct pfs_stage;
int pfs_stage_new(struct pfs_fs *fs, uint64_t nblk, struct pfs_stage **out);
void pfs_stage_free(struct pfs_fs *fs, struct pfs_stage *st);
/* The stage's blocks as iovecs in order; -E2BIG if more than max are needed. */
int pfs_stage_iov(struct pfs_fs *fs, const struct pfs_stage *st, struct iovec *iov, int max);
/*
 * The first len bytes of the stage become [off, off+len) of file ino (both
 * block-aligned), durably, in one transaction; the stage gets fresh blocks
 * (call pfs_stage_iov again). On error nothing changed.
 */
int pfs_stage_adopt(struct pfs_fs *fs, struct pfs_stage *st, uint64_t ino, uint64_t off,
		    size_t len);

#define PFS_FALLOC_KEEP_SIZE  0x1u
#define PFS_FALLOC_PUNCH_HOLE 0x2u
int pfs_fallocate(struct pfs_fs *fs, uint64_t ino, unsigned mode, uint64_t off, uint64_t len);
/* whence: SEEK_DATA or SEEK_HOLE */
int pfs_lseek(struct pfs_fs *fs, uint64_t ino, uint64_t off, int whence, uint64_t *out);

/*
 * readdir: calls fill() for each entry from cookie on, with the cookie of the
 * next entry; stops when fill() returns non-zero. Cookies 0 ("start"), 1 (".")
 * and 2 ("..") are reserved. With plus, each entry but "." and ".." gets a
 * reference as lookup does; an entry fill() refuses (returns non-zero) keeps
 * none.
 */
typedef int (*pfs_fill_fn)(void *arg, const char *name, const struct pfs_attr *attr,
			   uint64_t next_cookie);
int pfs_readdir(struct pfs_fs *fs, uint64_t dir, uint64_t cookie, bool plus,
		pfs_fill_fn fill, void *arg);

int pfs_statfs(struct pfs_fs *fs, struct statvfs *out);

#define PFS_XATTR_CREATE  0x1u
#define PFS_XATTR_REPLACE 0x2u
int pfs_setxattr(struct pfs_fs *fs, uint64_t ino, const char *name, const void *value,
		 size_t size, unsigned flags);
/* size 0: *len gets the needed size. Otherwise -ERANGE when too small. */
int pfs_getxattr(struct pfs_fs *fs, uint64_t ino, const char *name, void *buf,
		 size_t size, size_t *len);
int pfs_listxattr(struct pfs_fs *fs, uint64_t ino, char *buf, size_t size, size_t *len);
int pfs_removexattr(struct pfs_fs *fs, uint64_t ino, const char *name);

/* ---- checker (fs/check.c) ---- */
#define PFS_CHECK_REPAIR 0x1u
#define PFS_CHECK_QUIET  0x2u
struct pfs_check_result {
	unsigned problems;             /* found */
	unsigned repaired;             /* of those, fixed */
};
typedef void (*pfs_check_report_fn)(void *arg, const char *object, const char *problem,
				    bool repaired);
/* Checks an unmounted device. Returns 0 when it could check, -errno otherwise. */
int pfs_check(struct pfs_device *dev, unsigned flags, pfs_check_report_fn report,
	      void *arg, struct pfs_check_result *res);

/* pfs_check with every hook optional (NULL members are not called). */
struct pfs_check_hooks {
	pfs_check_report_fn report;    /* problems, counted in the result */
	pfs_check_report_fn note;      /* findings that are not problems; NULL: to report */
	pfs_progress_fn progress;      /* after each step of each pass */
	void *arg;                     /* for all three */
};
int pfs_check_ex(struct pfs_device *dev, unsigned flags, const struct pfs_check_hooks *hooks,
		 struct pfs_check_result *res);

/* ---- read-only reports (fs/info.c) ---- */

/* What an unmounted device holds, read without changing a byte. */
struct pfs_info {
	bool primary_valid, replica_valid;
	bool replica_matches;          /* both valid and byte-identical */
	int which;                     /* superblock in use: 0 primary, 1 replica */
	const char *primary_why;       /* why the primary is not valid, or NULL */
	const char *replica_why;
	uint32_t version_major, version_minor;
	uint64_t feature_compat, feature_incompat, feature_ro_compat;
	uint8_t uuid[16];
	char label[64];
	uint32_t block_size, inode_size;
	uint64_t device_size, total_blocks, inode_count;
	struct pfs_info_area {
		const char *name;      /* "superblock", "replica", "state", "journal", ... */
		uint64_t start, blocks;
	} areas[9];
	unsigned nareas;
	int64_t mkfs_time;
	bool state_valid;              /* state block signature and counts in range */
	uint64_t free_blocks, free_inodes, data_blocks;
	uint64_t mount_count;
	int64_t last_mount_time;       /* 0: never mounted read-write */
	uint64_t orphan_head;          /* 0: no orphans */
	bool journal_valid;            /* header signature */
	uint64_t journal_seq;
	unsigned journal_records;      /* of an interrupted transaction; 0: clean */
};
/*
 * Fills out from a device opened read-only (or unmounted). Returns 0, or
 * -errno when neither superblock is usable (out still says why).
 */
int pfs_info(struct pfs_device *dev, struct pfs_info *out);

/* Live counters of a mounted file system. */
struct pfs_fs_stats {
	uint64_t journal_commits;      /* transactions that reached their commit point */
	bool readonly;                 /* now (-o ro, or after corrupt media) */
	bool readonly_requested;       /* mounted with -o ro (device opened read-only) */
	int64_t corrupt_time;          /* corrupt media latched read-only at; 0: never */
	char corrupt_first[160];       /* the first corruption found (inode, offset) */
	uint64_t media_errors;         /* faults taken on failing device pages (EIO) */
};
void pfs_fs_get_stats(const struct pfs_fs *fs, struct pfs_fs_stats *out);

/*
 * Where a store becomes persistent on this device: "cpu_cache" (eADR: stores
 * are persistent once visible), "memory_controller" (ADR: after a flush), or
 * "none (emulation: msync)" for a file that is not pmem.
 */
const char *pfs_persistence_domain(const struct pfs_device_info *info);

#endif /* PMEMFS_PMEMFS_H */
