// SPDX-License-Identifier: MIT
/*
 * Fault injection (see fault.h): counters and the allocation wrappers. Owns
 * no global state; everything lives in the struct pfs_fault a test attaches.
 */
#include <stdlib.h>

#include "pfs.h"

bool pfs_fault_fire(struct pfs_fault *f, enum pfs_fault_kind k)
{
	uint64_t n = __atomic_add_fetch(&f->seen[k], 1, __ATOMIC_RELAXED);

	if (f->fail_at[k] == 0 || n < f->fail_at[k] || (n > f->fail_at[k] && !f->sticky))
		return false;
	__atomic_add_fetch(&f->fired[k], 1, __ATOMIC_RELAXED);
	return true;
}

void pfs_fault_attach(struct pfs_fs *fs, struct pfs_fault *f)
{
	fs->fault = f;
	fs->pm->fault = f;
	fs->icache.fault = f;
}

void pfs_fault_arm(struct pfs_fault *f, enum pfs_fault_kind k, uint64_t nth, bool sticky)
{
	f->sticky = sticky;
	for (int i = 0; i < PFS_FAULT_KINDS; i++) {
		f->seen[i] = 0;
		f->fired[i] = 0;
		f->fail_at[i] = 0;
	}
	f->fail_at[k] = nth;
}

void *pfs_malloc(struct pfs_fs *fs, size_t size)
{
	return pfs_fault_hit(fs->fault, PFS_FAULT_ALLOC) ? NULL : malloc(size);
}

void *pfs_calloc(struct pfs_fs *fs, size_t n, size_t size)
{
	return pfs_fault_hit(fs->fault, PFS_FAULT_ALLOC) ? NULL : calloc(n, size);
}
