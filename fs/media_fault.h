/* SPDX-License-Identifier: MIT */
/*
 * Media faults: a failing page of a mapped device is EIO, not death.
 *
 * Theory of operation. A load or store into the device mapping raises SIGBUS
 * when the page behind it cannot be had: a hole in a sparse image whose file
 * system is full, an image truncated under the mount, poison on real pmem
 * (BUS_MCEERR_*). The handler (installed once by the server) checks that the
 * address lies in a registered mapping, puts an anonymous page over the
 * failing one (MAP_FIXED, the alignment of the mapping if a page will not
 * do), so the faulting instruction completes, reading zeros or storing into
 * memory that reaches no media, and then
 *  - counts the fault for the thread and for the mapping,
 *  - latches the registered file system read-only (an atomic store).
 * The handler returns; nothing is unwound, so no lock is left held.
 *
 * The request path brackets each request with pfs_media_fault_begin() and
 * pfs_media_fault_end(): a request during which its thread took a fault is
 * answered EIO whatever it computed (a write whose bytes went to a
 * replacement page never reports success), and a transaction during which
 * it did is rolled back rather than committed (pfs_tx_end): some of its
 * stores may have gone to a replacement page.
 *
 * pfs_media_fault_end() (and pfs_media_fault_settle()) run outside the
 * handler: they log the fault once per mapping and re-arm the replaced pages
 * PROT_NONE, so that a later access to them faults again (SIGSEGV on a page
 * of the table, handled the same way) instead of reading the zeros of the
 * replacement: every request touching a failed page fails, as every read of
 * a missing block of a loop device's truncated backing file fails with EIO.
 *
 * Any other SIGBUS or SIGSEGV (another address, or a signal sent by kill)
 * goes to the previous disposition: the process dies as it would have.
 */
#ifndef PFS_MEDIA_FAULT_H
#define PFS_MEDIA_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Installs the SIGBUS/SIGSEGV handler; what was there before gets the faults
 * and signals that are not ours. Again after someone else replaced it (a
 * test harness); a no-op while it is in place. 0 or -errno.
 */
int pfs_media_fault_install(void);

/*
 * Registers [base, base+len) of device NAME; a fault there stores true into
 * *latch. Returns a slot (>= 0) for pfs_media_fault_unregister, or -ENOSPC
 * when every slot is taken (the mapping then stays unprotected).
 */
int pfs_media_fault_register(void *base, size_t len, atomic_bool *latch, const char *name);
void pfs_media_fault_unregister(int slot);

/* Faults taken in the mapping of slot so far. */
uint64_t pfs_media_fault_count(int slot);

/* A request starts on this thread. */
void pfs_media_fault_begin(void);

/*
 * A request served on this thread while another one waits below it (a ring
 * thread serving its queue during a handler's wait): save the waiting
 * request's count before the nested pfs_media_fault_begin(), and restore it
 * after the nested pfs_media_fault_end(), so neither is charged the other's.
 */
unsigned pfs_media_fault_save(void);
void pfs_media_fault_restore(unsigned faults);

/* This thread took a media fault since pfs_media_fault_begin() (or ever). */
bool pfs_media_fault_taken(void);

/*
 * The request's reply is being made: true if the thread took a media fault
 * since pfs_media_fault_begin() (the reply must be EIO). Settles when so.
 */
bool pfs_media_fault_end(void);

/*
 * Touches each page of [p, p+len) that lies in a registered mapping, so a
 * failing one is handled (counted, replaced, latched) as if the thread had
 * faulted on it: for memory the kernel could not read (EFAULT).
 */
void pfs_media_fault_probe(const void *p, size_t len);

/* Logs new faults and re-arms the replaced pages. Not from a signal handler. */
void pfs_media_fault_settle(void);

#endif /* PFS_MEDIA_FAULT_H */
