/* SPDX-License-Identifier: MIT */
/*
 * Shared by the media fuzzers (fuzz_mount, fuzz_check): a small populated
 * image built once, a DRAM device the input is applied to, and a bounded walk
 * of a mounted tree.
 *
 * Input format (every byte string is valid; short input = few patches):
 *
 *   byte 0        bit 0: start from the image with an interrupted transaction
 *                 bit 1: mount read-only (fuzz_mount)
 *   then records  op byte: area = op & 7, kind = (op >> 3) & 3
 *     kind 0 SET  off:3 (LE, modulo the area size), n:1 (1 + n % 64), n bytes
 *     kind 1 XOR  same layout; the bytes are XORed in
 *     kind 2      reseal both superblock checksums (no operands)
 *     kind 3      reseal the checksum of every journal record (no operands)
 *   areas         0 primary superblock block, 1 replica block, 2 state block,
 *                 3 journal, 4 inode bitmap, 5 block bitmap, 6 inode table,
 *                 7 the first 128 data blocks (where the image's directory
 *                 buckets, extent nodes, xattr blocks and symlinks live)
 *
 * The reseal ops let a mutation get past a checksum to the checks behind it.
 */
#ifndef PFS_FUZZ_IMAGE_H
#define PFS_FUZZ_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "pfs.h"

#define FZ_DEV_SIZE (4u << 20)

#define FZ_FLAG_TX      0x1u
#define FZ_FLAG_RDONLY  0x2u

/* Builds the base images (once) and the DRAM device; aborts on failure. */
void fz_init(void);
/* Copies the base image the input selects into the device and applies the
 * patches; returns the device and the flags byte. */
struct pfs_device *fz_load(const uint8_t *data, size_t size, unsigned *flags);
/* Walks a mounted tree (bounded), reading everything it finds. */
void fz_walk(struct pfs_fs *fs);
/* A few changes on a mounted tree; errors are expected and ignored. */
void fz_mutate(struct pfs_fs *fs);

#endif
