// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: open and recover a mutated image (superblock pick,
 * journal rollback, orphan reclaim), then walk what mounted and change a few
 * things. Any error return is fine; a crash, hang, leak or sanitizer report is
 * a bug. Input format: fuzz_image.h.
 */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfs_device *dev;
	struct pfs_fs *fs;
	unsigned flags;

	fz_init();
	dev = fz_load(data, size, &flags);
	if (pfs_mount(dev, flags & FZ_FLAG_RDONLY ? PFS_MOUNT_RDONLY : 0, &fs))
		return 0;
	fz_walk(fs);
	fz_mutate(fs);
	fz_walk(fs);
	pfs_unmount(fs);
	return 0;
}
