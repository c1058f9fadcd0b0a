// SPDX-License-Identifier: MIT
/*
 * Media faults (see media_fault.h for the theory of operation): the registry
 * of device mappings, the SIGBUS/SIGSEGV handler, the table of replaced
 * pages, and the per-thread fault count the request path reads.
 *
 * The registry and the page table are the core's only process-wide state: a
 * signal handler has nothing else to reach them by. Both are fixed arrays of
 * atomics (no allocation, no lock in the handler); any number of file
 * systems in one process registers its own slot. Registration, settling and
 * logging take reg_lock, never the handler.
 *
 * The handler uses only atomics, mmap, mprotect, sigaction and raise. It
 * never unwinds (no siglongjmp): the faulting instruction is made to
 * complete, so every lock the thread holds is released by the code that took
 * it, and the request finishes its course and is then answered EIO.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "media_fault.h"
#include "pmemfs/pmemfs.h"

#define MF_SLOTS 16
#define MF_PAGES 4096                  /* replaced regions tracked (re-armed) */
#define MF_NAME 256

struct mf_slot {
	_Atomic uintptr_t base;        /* 0: free; stored last on register */
	_Atomic size_t len;
	_Atomic(atomic_bool *) latch;
	_Atomic uint64_t faults;
	_Atomic uint64_t first_off;    /* offset of the first fault (+1; 0: none) */
	uint64_t logged;               /* faults already logged; reg_lock */
	char name[MF_NAME];            /* reg_lock */
};

enum { MF_ARMED_NOT, MF_ARMED_ARMING, MF_ARMED_YES };

struct mf_page {
	_Atomic uintptr_t addr;        /* 0 until the entry is filled */
	_Atomic size_t len;
	_Atomic int armed;
};

static struct mf_slot slots[MF_SLOTS];
static struct mf_page pages[MF_PAGES];
static atomic_uint npages;             /* entries claimed (may exceed MF_PAGES) */
static atomic_bool lost_pages;         /* the table overflowed: not all re-armed */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction old_bus, old_segv;

static _Thread_local unsigned thread_faults;

static struct mf_slot *slot_find(uintptr_t a)
{
	for (int i = 0; i < MF_SLOTS; i++) {
		uintptr_t b = atomic_load(&slots[i].base);

		if (b && a >= b && a - b < atomic_load(&slots[i].len))
			return &slots[i];
	}
	return NULL;
}

static struct mf_page *page_find(uintptr_t a)
{
	unsigned n = atomic_load(&npages);

	if (n > MF_PAGES)
		n = MF_PAGES;
	for (unsigned i = 0; i < n; i++) {
		uintptr_t p = atomic_load(&pages[i].addr);

		if (p && a >= p && a - p < atomic_load(&pages[i].len))
			return &pages[i];
	}
	return NULL;
}

static void page_track(uintptr_t addr, size_t len)
{
	unsigned i = atomic_fetch_add(&npages, 1);

	if (i >= MF_PAGES) {
		atomic_store(&lost_pages, true);
		return;
	}
	atomic_store(&pages[i].len, len);
	atomic_store(&pages[i].armed, MF_ARMED_NOT);
	atomic_store(&pages[i].addr, addr);
}

/*
 * An anonymous page over the failing one; a devdax mapping splits only at
 * its alignment, so larger units are tried in turn. Stays inside the slot.
 */
static bool page_replace(const struct mf_slot *s, uintptr_t a)
{
	static const size_t units[] = { 0, 2UL << 20, 1UL << 30 };
	uintptr_t base = atomic_load(&s->base);
	size_t len = atomic_load(&s->len);

	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t u = units[i] ? units[i] : (size_t)sysconf(_SC_PAGESIZE);
		uintptr_t start = a & ~(uintptr_t)(u - 1);
		void *p;

		if (start < base || start + u > base + len)
			continue;
		p = mmap((void *)start, u, PROT_READ | PROT_WRITE,
			 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			page_track(start, u);
			return true;
		}
	}
	return false;
}

static bool bus_is_media(int code)
{
	return code == BUS_ADRERR || code == BUS_OBJERR || code == BUS_MCEERR_AR ||
	       code == BUS_MCEERR_AO;
}

/* Makes the access at a work again; false if it is not a media fault of ours. */
static bool fault_fix(int sig, const siginfo_t *si, struct mf_slot *s, uintptr_t a)
{
	struct mf_page *pg = page_find(a);

	if (sig == SIGSEGV) {
		/* only a re-armed replacement page faults with SIGSEGV for us */
		if (!pg || si->si_code != SEGV_ACCERR)
			return false;
		if (mprotect((void *)atomic_load(&pg->addr), atomic_load(&pg->len),
			     PROT_READ | PROT_WRITE) != 0)
			return false;
		atomic_store(&pg->armed, MF_ARMED_NOT);
		return true;
	}
	if (!bus_is_media(si->si_code))
		return false;
	/* another thread replaced it a moment ago: the retry will succeed */
	return pg != NULL || page_replace(s, a);
}

/* Not ours: the previous disposition, or death by this signal as before. */
static void chain(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;
	struct sigaction dfl;

	if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
		old->sa_sigaction(sig, si, uc);
		return;
	}
	if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler != SIG_DFL &&
	    old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	/* a fault repeats on return and kills; a signal sent by kill is sent again */
	if (si->si_code <= 0)
		raise(sig);
}

static void mf_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	uintptr_t a = (uintptr_t)si->si_addr;
	struct mf_slot *s = si->si_code > 0 ? slot_find(a) : NULL;
	atomic_bool *latch;
	uint64_t none = 0;

	/*
	 * Read-only before the page is replaced: no transaction of another
	 * thread may commit what it reads from the replacement meanwhile.
	 */
	latch = s && sig == SIGBUS ? atomic_load(&s->latch) : NULL;
	if (latch)
		atomic_store(latch, true);
	if (!s || !fault_fix(sig, si, s, a)) {
		chain(sig, si, uc);
		errno = saved;
		return;
	}
	if (si->si_code != BUS_MCEERR_AO || sig != SIGBUS)
		thread_faults++;
	atomic_fetch_add(&s->faults, 1);
	atomic_compare_exchange_strong(&s->first_off, &none, a - atomic_load(&s->base) + 1);
	latch = atomic_load(&s->latch);
	if (latch)
		atomic_store(latch, true);
	errno = saved;
}

/* Ours for sig, the current disposition kept in *old; again only if replaced. */
static int install_one(int sig, struct sigaction *old)
{
	struct sigaction sa, cur;

	if (sigaction(sig, NULL, &cur) != 0)
		return -errno;
	if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == mf_handler)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = mf_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	*old = cur;
	return sigaction(sig, &sa, NULL) == 0 ? 0 : -errno;
}

int pfs_media_fault_install(void)
{
	int rc;

	pthread_mutex_lock(&reg_lock);
	rc = install_one(SIGBUS, &old_bus);
	if (rc == 0)
		rc = install_one(SIGSEGV, &old_segv);
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

int pfs_media_fault_register(void *base, size_t len, atomic_bool *latch, const char *name)
{
	int slot = -ENOSPC;

	pthread_mutex_lock(&reg_lock);
	for (int i = 0; i < MF_SLOTS; i++) {
		struct mf_slot *s = &slots[i];

		if (atomic_load(&s->base))
			continue;
		snprintf(s->name, sizeof(s->name), "%s", name);
		s->logged = 0;
		atomic_store(&s->faults, 0);
		atomic_store(&s->first_off, 0);
		atomic_store(&s->len, len);
		atomic_store(&s->latch, latch);
		atomic_store(&s->base, (uintptr_t)base);
		slot = i;
		break;
	}
	pthread_mutex_unlock(&reg_lock);
	if (slot < 0)
		pfs_log(PFS_LOG_WARN, "%s: too many mapped devices; media faults in this one "
			"are not caught", name);
	return slot;
}

/* Forgets the replaced pages inside [b, b+len): the mapping goes away with them. */
static void pages_forget(uintptr_t b, size_t len)
{
	unsigned n = atomic_load(&npages);

	for (unsigned i = 0; i < n && i < MF_PAGES; i++) {
		uintptr_t p = atomic_load(&pages[i].addr);

		if (p >= b && p - b < len)
			atomic_store(&pages[i].len, 0);
	}
}

void pfs_media_fault_unregister(int slot)
{
	struct mf_slot *s;

	if (slot < 0 || slot >= MF_SLOTS)
		return;
	s = &slots[slot];
	pthread_mutex_lock(&reg_lock);
	pages_forget(atomic_load(&s->base), atomic_load(&s->len));
	atomic_store(&s->latch, NULL);
	atomic_store(&s->base, 0);
	pthread_mutex_unlock(&reg_lock);
}

uint64_t pfs_media_fault_count(int slot)
{
	return slot >= 0 && slot < MF_SLOTS ? atomic_load(&slots[slot].faults) : 0;
}

void pfs_media_fault_begin(void)
{
	thread_faults = 0;
}

/*
 * The handler runs on this thread between two instructions: a signal fence
 * keeps the compiler from moving these reads before the media accesses they
 * follow.
 */
unsigned pfs_media_fault_save(void)
{
	atomic_signal_fence(memory_order_seq_cst);
	return thread_faults;
}

void pfs_media_fault_restore(unsigned faults)
{
	thread_faults += faults;
}

bool pfs_media_fault_taken(void)
{
	atomic_signal_fence(memory_order_seq_cst);
	return thread_faults != 0;
}

bool pfs_media_fault_end(void)
{
	atomic_signal_fence(memory_order_seq_cst);
	if (!thread_faults)
		return false;
	thread_faults = 0;
	pfs_media_fault_settle();
	return true;
}

void pfs_media_fault_probe(const void *p, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p & ~(page - 1);
	uintptr_t end = (uintptr_t)p + len;

	for (; a < end; a += page) {
		uintptr_t at = a < (uintptr_t)p ? (uintptr_t)p : a;

		if (slot_find(at))
			(void)*(volatile const char *)at;
	}
}

/* PROT_NONE again, so the next access faults instead of reading zeros. */
static void pages_rearm(void)
{
	unsigned n = atomic_load(&npages);

	for (unsigned i = 0; i < n && i < MF_PAGES; i++) {
		struct mf_page *pg = &pages[i];
		int not = MF_ARMED_NOT;
		int arming = MF_ARMED_ARMING;
		size_t len = atomic_load(&pg->len);

		if (!len || !atomic_compare_exchange_strong(&pg->armed, &not, MF_ARMED_ARMING))
			continue;
		if (mprotect((void *)atomic_load(&pg->addr), len, PROT_NONE) != 0) {
			atomic_store(&pg->armed, MF_ARMED_NOT);
			continue;
		}
		/* fails if a fault made it accessible meanwhile: re-armed next time */
		atomic_compare_exchange_strong(&pg->armed, &arming, MF_ARMED_YES);
	}
}

static void slots_log(void)
{
	for (int i = 0; i < MF_SLOTS; i++) {
		struct mf_slot *s = &slots[i];
		uint64_t n = atomic_load(&s->faults);

		if (!atomic_load(&s->base) || n == s->logged)
			continue;
		if (s->logged == 0)
			pfs_log(PFS_LOG_ERR, "%s: media error (the mapping faulted) at offset %llu; "
				"requests touching it fail with EIO; file system is now read-only, "
				"run fsck.pmemfs", s->name,
				(unsigned long long)(atomic_load(&s->first_off) - 1));
		s->logged = n;
	}
}

void pfs_media_fault_settle(void)
{
	static bool lost_logged;

	pthread_mutex_lock(&reg_lock);
	pages_rearm();
	slots_log();
	if (atomic_load(&lost_pages) && !lost_logged) {
		lost_logged = true;
		pfs_log(PFS_LOG_WARN, "more than %d failed pages: later reads of some of them "
			"return zeros instead of EIO", MF_PAGES);
	}
	pthread_mutex_unlock(&reg_lock);
}
