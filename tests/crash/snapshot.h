/* SPDX-License-Identifier: MIT */
/*
 * What a mounted file system shows through the core API, as a value: every
 * name reachable from the root with its inode number, type, permissions,
 * owner, link count, size, contents (files), target (symlinks) and extended
 * attributes. The crash oracle compares these.
 */
#ifndef PFS_CRASH_SNAPSHOT_H
#define PFS_CRASH_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pfs_fs;

struct snap_ent {
	char *path;
	uint64_t ino;
	uint32_t mode, nlink, uid, gid;
	uint64_t size;
	uint8_t *data;                 /* regular files: size bytes; symlinks: the target */
	size_t dlen;
	char *xattrs;                  /* "name=hex(value)\n", sorted */
};

struct snap {
	struct snap_ent *e;            /* sorted by path */
	size_t n, cap;
};

/* Walks the tree. Returns 0 or -errno, with a reason in why. */
int snap_take(struct pfs_fs *fs, struct snap *s, char *why, size_t whylen);
void snap_free(struct snap *s);
const struct snap_ent *snap_find_ino(const struct snap *s, uint64_t ino);

/* Everything but file contents equal? Otherwise why names the first difference. */
bool snap_struct_equal(const struct snap *a, const struct snap *b, char *why, size_t whylen);

/*
 * Contents of got (structurally equal to cand[n-1]) are possible: each byte of
 * each file is the byte at that offset of the same inode in one of the n
 * candidate snapshots.
 */
bool snap_data_possible(const struct snap *got, const struct snap *const *cand, size_t n,
			char *why, size_t whylen);

#endif
