/* SPDX-License-Identifier: MIT */
/*
 * fuse_stage.c: zero-copy writes. A worker thread's WRITE data lands in its
 * stage's device blocks; large aligned writes are relinked into the file.
 * Part of the compat module (fuse_compat.h): built with the wire only.
 */
#ifndef PMEMFS_FUSE_STAGE_H
#define PMEMFS_FUSE_STAGE_H

#if !defined(FUSE_USE_VERSION) || FUSE_USE_VERSION != 314
#error "define FUSE_USE_VERSION 314 before including fuse_stage.h"
#endif

#include "fuse_ops.h"

/* The data itself: pmemfs_wire_landed() (fuse_wire.h). */
/* How much of a landed write of size at off is relinked rather than copied: whole blocks, or 0. */
size_t pmemfs_stage_adoptable(const struct pmemfs_server *srv, off_t off, size_t size,
			      bool append);
/* Relinks the landed data into ino at off (pfs_stage_adopt); 0 or -errno (then copy). */
int pmemfs_stage_adopt(struct pmemfs_server *srv, fuse_ino_t ino, off_t off, size_t size);
/* After a write of size bytes: gives the thread a stage if it has earned one. */
void pmemfs_stage_after_write(struct pmemfs_server *srv, size_t size);
/* At the end of the session, before the file system goes: frees every stage. */
void pmemfs_stage_free_all(struct pmemfs_server *srv);

/* The session's list of stages (made and freed with its wire). */
struct pmemfs_stages;
struct pmemfs_stages *pmemfs_stages_new(void);
void pmemfs_stages_free(struct pmemfs_stages *set);

#endif /* PMEMFS_FUSE_STAGE_H */
