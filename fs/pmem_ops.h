/* SPDX-License-Identifier: MIT */
/*
 * The persistence seam. Theory of operation:
 *
 * Every store into the mapped device goes through this layer: a copy or set
 * (which also flushes the written range from the CPU caches, but does not wait),
 * an explicit flush, and a drain (the fence: everything flushed before it is
 * durable when it returns). persist = flush + drain.
 *
 * Implementations:
 *  - pmem:  libpmem non-temporal copies and cache flushes, drain = pmem_drain
 *           (real pmem, or PMEM_IS_PMEM_FORCE=1 on emulation).
 *  - msync: emulation on a plain file: copies are memcpy, flush records the
 *           dirty pages, drain msyncs just those ranges.
 *  - dram:  unit tests and private (read-only) mappings: nothing to flush.
 *  - a hook lets tests observe every store, flush and drain (crash testing).
 *
 * Code outside fs/pmem_ops.c never calls pmem_*, msync or memcpy into the
 * mapping.
 */
#ifndef PFS_PMEM_OPS_H
#define PFS_PMEM_OPS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pfs_fault;

enum pfs_pm_kind { PFS_PM_PMEM, PFS_PM_MSYNC, PFS_PM_DRAM };

enum pfs_pm_event { PFS_PM_EV_STORE, PFS_PM_EV_FLUSH, PFS_PM_EV_DRAIN };

/* Observer: sees each store after it is made (with its bytes), each flush and drain. */
typedef void (*pfs_pm_hook)(void *arg, enum pfs_pm_event ev, uint64_t off, const void *data,
			    size_t len);

#define PFS_PM_DIRTY_MAX 64

struct pfs_pmem {
	enum pfs_pm_kind kind;
	char *base;
	size_t size;
	pthread_mutex_t lock;          /* msync dirty set */
	struct { uintptr_t start, end; } dirty[PFS_PM_DIRTY_MAX];
	unsigned ndirty;
	bool msync_failed;             /* an msync outside a drain failed */
	pfs_pm_hook hook;
	void *hook_arg;
	struct pfs_fault *fault;       /* fault injection (tests); NULL: off */
	uint64_t ndrains;              /* statistics */
};

void pfs_pm_init(struct pfs_pmem *pm, enum pfs_pm_kind kind, void *base, size_t size);
void pfs_pm_fini(struct pfs_pmem *pm);
void pfs_pm_set_hook(struct pfs_pmem *pm, pfs_pm_hook hook, void *arg);

/* store + flush, no drain */
void pfs_pm_copy(struct pfs_pmem *pm, void *dst, const void *src, size_t len);
void pfs_pm_set(struct pfs_pmem *pm, void *dst, int c, size_t len);
void pfs_pm_flush(struct pfs_pmem *pm, const void *addr, size_t len);
/*
 * 0, or -EIO when what was flushed may not be durable (msync failed, or an
 * injected PERSIST fault). Callers that order metadata must check it.
 */
int pfs_pm_drain(struct pfs_pmem *pm);
void pfs_pm_persist(struct pfs_pmem *pm, const void *addr, size_t len);

#endif /* PFS_PMEM_OPS_H */
