// SPDX-License-Identifier: MIT
/*
 * The persistence seam (see pmem_ops.h for the theory of operation). The only
 * file that stores into the mapping with libpmem, memcpy or msync.
 */
#include <errno.h>
#include <libpmem.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pmem_ops.h"
#include "fault.h"
#include "pmemfs/pmemfs.h"

void pfs_pm_init(struct pfs_pmem *pm, enum pfs_pm_kind kind, void *base, size_t size)
{
	memset(pm, 0, sizeof(*pm));
	pm->kind = kind;
	pm->base = base;
	pm->size = size;
	pthread_mutex_init(&pm->lock, NULL);
}

void pfs_pm_fini(struct pfs_pmem *pm)
{
	pfs_pm_drain(pm);
	pthread_mutex_destroy(&pm->lock);
}

void pfs_pm_set_hook(struct pfs_pmem *pm, pfs_pm_hook hook, void *arg)
{
	pm->hook = hook;
	pm->hook_arg = arg;
}

static uint64_t pm_off(const struct pfs_pmem *pm, const void *p)
{
	return (uint64_t)((const char *)p - pm->base);
}

/* msync the recorded ranges; caller holds pm->lock */
static int msync_dirty_locked(struct pfs_pmem *pm)
{
	int rc = 0;

	for (unsigned i = 0; i < pm->ndirty; i++) {
		void *start = (void *)pm->dirty[i].start;
		size_t len = pm->dirty[i].end - pm->dirty[i].start;

		if (pmem_msync(start, len) != 0) {
			pfs_log(PFS_LOG_ERR, "msync of %zu bytes at offset %llu failed: %m", len,
				(unsigned long long)pm_off(pm, start));
			rc = -EIO;
		}
	}
	pm->ndirty = 0;
	return rc;
}

/* Record [addr, addr+len) as dirty pages, merging with an overlapping or adjacent range. */
static void msync_record(struct pfs_pmem *pm, const void *addr, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t s = (uintptr_t)addr & ~(page - 1);
	uintptr_t e = ((uintptr_t)addr + len + page - 1) & ~(page - 1);

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < pm->ndirty; i++) {
		if (s <= pm->dirty[i].end && e >= pm->dirty[i].start) {
			if (s < pm->dirty[i].start)
				pm->dirty[i].start = s;
			if (e > pm->dirty[i].end)
				pm->dirty[i].end = e;
			goto out;
		}
	}
	if (pm->ndirty == PFS_PM_DIRTY_MAX && msync_dirty_locked(pm))
		pm->msync_failed = true; /* told by the next drain */
	pm->dirty[pm->ndirty].start = s;
	pm->dirty[pm->ndirty].end = e;
	pm->ndirty++;
out:
	pthread_mutex_unlock(&pm->lock);
}

void pfs_pm_flush(struct pfs_pmem *pm, const void *addr, size_t len)
{
	if (len == 0)
		return;
	switch (pm->kind) {
	case PFS_PM_PMEM:
		pmem_flush(addr, len);
		break;
	case PFS_PM_MSYNC:
		msync_record(pm, addr, len);
		break;
	case PFS_PM_DRAM:
		break;
	}
	if (pm->hook)
		pm->hook(pm->hook_arg, PFS_PM_EV_FLUSH, pm_off(pm, addr), NULL, len);
}

void pfs_pm_copy(struct pfs_pmem *pm, void *dst, const void *src, size_t len)
{
	if (len == 0)
		return;
	if (pm->kind == PFS_PM_PMEM)
		pmem_memcpy(dst, src, len, PMEM_F_MEM_NODRAIN);
	else
		memcpy(dst, src, len);
	if (pm->hook)
		pm->hook(pm->hook_arg, PFS_PM_EV_STORE, pm_off(pm, dst), dst, len);
	if (pm->kind != PFS_PM_PMEM)
		pfs_pm_flush(pm, dst, len);
	else if (pm->hook)
		pm->hook(pm->hook_arg, PFS_PM_EV_FLUSH, pm_off(pm, dst), NULL, len);
}

void pfs_pm_set(struct pfs_pmem *pm, void *dst, int c, size_t len)
{
	if (len == 0)
		return;
	if (pm->kind == PFS_PM_PMEM)
		pmem_memset(dst, c, len, PMEM_F_MEM_NODRAIN);
	else
		memset(dst, c, len);
	if (pm->hook)
		pm->hook(pm->hook_arg, PFS_PM_EV_STORE, pm_off(pm, dst), dst, len);
	if (pm->kind != PFS_PM_PMEM)
		pfs_pm_flush(pm, dst, len);
	else if (pm->hook)
		pm->hook(pm->hook_arg, PFS_PM_EV_FLUSH, pm_off(pm, dst), NULL, len);
}

int pfs_pm_drain(struct pfs_pmem *pm)
{
	int rc = 0;

	switch (pm->kind) {
	case PFS_PM_PMEM:
		pmem_drain();
		break;
	case PFS_PM_MSYNC:
		pthread_mutex_lock(&pm->lock);
		rc = msync_dirty_locked(pm);
		if (pm->msync_failed)
			rc = -EIO;
		pm->msync_failed = false;
		pthread_mutex_unlock(&pm->lock);
		break;
	case PFS_PM_DRAM:
		break;
	}
	__atomic_add_fetch(&pm->ndrains, 1, __ATOMIC_RELAXED);
	if (pm->hook)
		pm->hook(pm->hook_arg, PFS_PM_EV_DRAIN, 0, NULL, 0);
	/* the fence itself was made: a test sees "not known durable", not lost stores */
	if (pfs_fault_hit(pm->fault, PFS_FAULT_PERSIST))
		rc = -EIO;
	return rc;
}

void pfs_pm_persist(struct pfs_pmem *pm, const void *addr, size_t len)
{
	pfs_pm_flush(pm, addr, len);
	pfs_pm_drain(pm);
}
