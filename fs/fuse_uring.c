// SPDX-License-Identifier: MIT
/*
 * FUSE over io_uring (FUSE 7.42, Linux 6.14+), which Debian 12's libfuse
 * 3.14 predates.
 *
 * With /dev/fuse a request wakes whichever server thread has waited
 * longest, usually on the other CPU, so the caller's data crosses caches
 * and every request pays a cross-CPU wake-up (1 MiB writes here: 4.0 GB/s
 * with the server pinned to the other CPU, 6.1 GB/s on the caller's). With
 * io_uring the kernel queues a request on the ring queue of the CPU it was
 * issued on. pmemfs runs one thread per possible CPU, pinned to it, and the
 * system call that commits a reply also fetches the next request.
 *
 * The kernel offers the transport in INIT when the fuse module's
 * enable_uring parameter is set. Once the INIT reply accepts it, the kernel
 * holds every new request until each queue has registered an entry, so the
 * rings, buffers and threads are made before the reply goes out
 * (pmemfs_uring_prepare); if that fails the reply does not accept it. The
 * threads register after the reply (pmemfs_uring_go). FORGET and INTERRUPT
 * still come through /dev/fuse, so libfuse's loop runs beside them.
 *
 * A request arrives in two buffers per entry: the fuse_in_header and the
 * opcode's fixed argument struct in the header buffer, the rest (names,
 * write data) in the payload buffer. The header buffer sits at the start of
 * the page before the payload's, so copying the two small parts to just in
 * front of the payload rebuilds the request exactly as
 * /dev/fuse would deliver it, and libfuse processes it from there
 * (fuse_session_process_buf). libfuse's reply comes back through the wire's
 * writev (pmemfs_uring_reply): the header goes into the header buffer, the
 * arguments into the payload buffer unless the handler built them there,
 * and the next COMMIT_AND_FETCH sends it.
 */
#define FUSE_USE_VERSION 314

#include "fuse_uring.h"

#include <errno.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuse_ops.h"
#include "fuse_warden.h"
#include "fuse_wire.h"
#include "media_fault.h"
#include "pmemfs/pmemfs.h"

/* ---- the FUSE 7.42 ring ABI (not in Debian 12's <linux/fuse.h>) ---- */

enum { RING_CMD_REGISTER = 1, RING_CMD_COMMIT_AND_FETCH = 2 };

struct ring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;            /* names the request in its commit */
	uint32_t payload_sz;           /* bytes in the payload buffer, either way */
	uint32_t padding;
	uint64_t reserved;
};

struct ring_req_header {
	char in_out[128];              /* fuse_in_header in, fuse_out_header out */
	char op_in[128];               /* the opcode's fixed argument struct */
	struct ring_ent_in_out ent;
};

struct ring_cmd_req {                  /* in the 80-byte command area of an SQE128 */
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

_Static_assert(sizeof(struct ring_ent_in_out) == 32, "FUSE ring ABI");
_Static_assert(sizeof(struct ring_req_header) == 288, "FUSE ring ABI");
_Static_assert(sizeof(struct ring_cmd_req) == 24, "FUSE ring ABI");

/* ---- our state ---- */

#define RING_DEPTH 4                   /* entries per queue */
#define ENT_HDR_SPACE 4096             /* header buffer + room to rebuild a request */

_Static_assert(sizeof(struct ring_req_header) + sizeof(struct fuse_in_header) + 128 <=
	       ENT_HDR_SPACE, "a rebuilt request's head must not overlap the header buffer");

struct ring_queue;

struct ring_ent {
	struct ring_queue *q;
	char *base;                    /* mapping: header page, then the payload */
	struct ring_req_header *hdr;
	char *payload;
	struct iovec iov[2];           /* as registered: header, payload */
	uint32_t last_cmd;
	uint64_t commit_id;
	uint64_t unique;
	bool replied;
};

struct ring_queue {
	struct pmemfs_rings *pool;
	struct io_uring ring;
	bool ring_ok;
	unsigned qid;
	int evfd;                      /* written to stop the thread */
	pthread_t thread;
	bool thread_ok;
	pid_t tid;
	unsigned live;                 /* entries still registered */
	unsigned waiting;              /* handlers waiting in pmemfs_uring_notify */
	bool stop;                     /* the thread is to stop serving */
	struct ring_ent ent[RING_DEPTH];
};

/*
 * A notification a handler sent through its queue's ring and waits for
 * (pmemfs_uring_notify); its address, tagged with the low bit, is the
 * completion's user data.
 */
struct ring_wait {
	int res;
	bool done;
};

struct pmemfs_rings {
	struct fuse_session *se;
	struct pmemfs_wire *wire;      /* the session's, to note requests */
	struct warden *warden;         /* idle priority (fuse_warden.c), or NULL */
	int devfd;
	size_t payload_sz;
	bool idle_prio;                /* queue threads at SCHED_IDLE, warden on */
	unsigned nq;
	struct ring_queue *q;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned set_up, failed;       /* threads past their setup */
	int err;                       /* the first setup error */
	int go;                        /* 0: wait, 1: serve, -1: quit */
	atomic_uint serving;           /* queues that registered */
	atomic_uint ended;             /* queues whose thread stopped serving */
	_Atomic uint64_t requests;
	_Atomic uint64_t switches;     /* requests from another caller than the last */
	_Atomic uint32_t last_pid;
};

static _Thread_local struct ring_ent *cur;   /* the request this thread handles */

/* CPUs the kernel makes queues for: num_possible_cpus(). */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	unsigned max = 0, a, b;
	int c = 0;

	if (!f) {
		long n = sysconf(_SC_NPROCESSORS_CONF);
		return n > 0 ? (unsigned)n : 1;
	}
	while (c != EOF && fscanf(f, "%u", &a) == 1) {
		b = a;
		c = fgetc(f);
		if (c == '-' && fscanf(f, "%u", &b) == 1)
			c = fgetc(f);
		if (b > max)
			max = b;
	}
	fclose(f);
	return max + 1;
}

/* ---- setup ---- */

/*
 * An entry's buffers, in one anonymous mapping: the payload starts on a
 * 2 MiB boundary and is backed by transparent huge pages where the system
 * allows them on request (the kernel pins the pages it copies a request
 * into; on huge pages, 1 MiB reads and writes ran 3-7% faster here); the
 * header buffer is in the 4 KiB page just before it.
 */
#define ENT_ALIGN (2u << 20)

static size_t ent_map_size(size_t payload_sz)
{
	return payload_sz + 2 * (size_t)ENT_ALIGN;
}

static int ent_init(struct ring_queue *q, struct ring_ent *e, size_t payload_sz)
{
	void *m = mmap(NULL, ent_map_size(payload_sz), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t p;

	if (m == MAP_FAILED)
		return -ENOMEM;
	p = ((uintptr_t)m + ENT_HDR_SPACE + ENT_ALIGN - 1) & ~(uintptr_t)(ENT_ALIGN - 1);
	e->q = q;
	e->base = m;
	e->payload = (char *)p;
	e->hdr = (struct ring_req_header *)(p - ENT_HDR_SPACE);
	/* advice only: without THP the buffer is ordinary pages */
	(void)madvise(e->payload, (payload_sz + ENT_ALIGN - 1) & ~(size_t)(ENT_ALIGN - 1),
		      MADV_HUGEPAGE);
	e->iov[0] = (struct iovec){ .iov_base = e->hdr, .iov_len = sizeof(*e->hdr) };
	e->iov[1] = (struct iovec){ .iov_base = e->payload, .iov_len = payload_sz };
	return 0;
}

static int queue_init(struct ring_queue *q)
{
	struct pmemfs_rings *pool = q->pool;
	struct io_uring_params p = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE,
		.cq_entries = 2 * (RING_DEPTH + 1),
	};
	int rc;

	q->evfd = eventfd(0, EFD_CLOEXEC);
	if (q->evfd < 0)
		return -errno;
	rc = io_uring_queue_init_params(RING_DEPTH + 1, &q->ring, &p);
	if (rc < 0)
		return rc;
	q->ring_ok = true;
	rc = io_uring_register_files(&q->ring, &pool->devfd, 1);
	if (rc < 0)
		return rc;
	for (int i = 0; i < RING_DEPTH; i++) {
		rc = ent_init(q, &q->ent[i], pool->payload_sz);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void queue_free(struct ring_queue *q)
{
	for (int i = 0; i < RING_DEPTH; i++)
		if (q->ent[i].base)
			munmap(q->ent[i].base, ent_map_size(q->ent[i].iov[1].iov_len));
	if (q->ring_ok)
		io_uring_queue_exit(&q->ring);
	if (q->evfd >= 0)
		close(q->evfd);
}

static void pin_to(unsigned cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		pfs_log(PFS_LOG_DEBUG, "fuse ring %u: not pinned (CPU offline)", cpu);
}

static void report_setup(struct pmemfs_rings *pool, int rc)
{
	pthread_mutex_lock(&pool->lock);
	if (rc < 0) {
		pool->failed++;
		if (pool->err == 0)
			pool->err = rc;
	} else {
		pool->set_up++;
	}
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
}

static int wait_go(struct pmemfs_rings *pool)
{
	int go;

	pthread_mutex_lock(&pool->lock);
	while (pool->go == 0)
		pthread_cond_wait(&pool->cond, &pool->lock);
	go = pool->go;
	pthread_mutex_unlock(&pool->lock);
	return go;
}

/* ---- serving ---- */

static bool ent_sqe(struct ring_ent *e, uint32_t cmd_op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->q->ring);
	struct ring_cmd_req *cmd;

	if (!sqe)
		return false;
	memset(sqe, 0, 2 * sizeof(*sqe));   /* SQE128 */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->fd = 0;                        /* index of /dev/fuse among the ring's files */
	sqe->cmd_op = cmd_op;
	io_uring_sqe_set_data(sqe, e);
	cmd = (struct ring_cmd_req *)sqe->cmd;
	cmd->qid = (uint16_t)e->q->qid;
	if (cmd_op == RING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)e->iov;
		sqe->len = 2;
	} else {
		cmd->commit_id = e->commit_id;
	}
	e->last_cmd = cmd_op;
	return true;
}

/* Answers the current request with -err without libfuse. */
static void ent_fail(struct ring_ent *e, int err)
{
	struct fuse_out_header out = {
		.len = sizeof(out), .error = -err, .unique = e->unique,
	};

	memcpy(e->hdr->in_out, &out, sizeof(out));
	e->hdr->ent.payload_sz = 0;
	e->replied = true;
}

/*
 * Requests on pools/ (the status files, which show the count, and the
 * topology tree are left out: reading the count must not change it), and
 * switches between their callers, for the warden (fuse_warden.c).
 */
static void count_request(struct pmemfs_rings *p, uint64_t nodeid, uint32_t pid)
{
	if (syn_ino(nodeid))
		return;
	atomic_fetch_add_explicit(&p->requests, 1, memory_order_relaxed);
	/*
	 * pid 0: the kernel's own requests (release, ...). Read before writing,
	 * so that one caller's requests leave the cache line shared; racing
	 * queues may miss a switch, which the warden's ratio tolerates.
	 */
	if (pid != 0 && atomic_load_explicit(&p->last_pid, memory_order_relaxed) != pid) {
		atomic_store_explicit(&p->last_pid, pid, memory_order_relaxed);
		atomic_fetch_add_explicit(&p->switches, 1, memory_order_relaxed);
	}
}

/* Rebuilds the request in front of the payload and lets libfuse handle it. */
static void ent_serve(struct ring_ent *e)
{
	struct fuse_in_header in;
	struct fuse_buf buf = { 0 };
	size_t pay = e->hdr->ent.payload_sz;
	size_t opsz;
	char *req;
	struct ring_ent *prev = cur;   /* set when served while a handler waits */
	unsigned outer_faults = prev ? pfs_media_fault_save() : 0;

	memcpy(&in, e->hdr->in_out, sizeof(in));
	e->commit_id = e->hdr->ent.commit_id;
	e->unique = in.unique;
	e->replied = false;
	if (pay > e->iov[1].iov_len || in.len < sizeof(in) + pay ||
	    in.len - sizeof(in) - pay > sizeof(e->hdr->op_in)) {
		pfs_log(PFS_LOG_ERR, "fuse ring: malformed request (opcode %u, len %u, payload %zu)",
			in.opcode, in.len, pay);
		ent_fail(e, EIO);
		return;
	}
	opsz = in.len - sizeof(in) - pay;
	req = e->payload - opsz - sizeof(in);
	memcpy(req, &in, sizeof(in));
	memcpy(req + sizeof(in), e->hdr->op_in, opsz);
	pmemfs_wire_note_request(e->q->pool->wire, req, in.len);
	buf.mem = req;
	buf.size = in.len;
	count_request(e->q->pool, in.nodeid, in.pid);
	cur = e;
	fuse_session_process_buf(e->q->pool->se, &buf);
	cur = prev;
	if (!e->replied) {
		pfs_log(PFS_LOG_ERR, "fuse ring: opcode %u was not answered", in.opcode);
		ent_fail(e, EIO);
	} else if (pfs_media_fault_end()) {
		ent_fail(e, EIO);      /* the reply's copy met a failing page */
	}
	if (prev)
		pfs_media_fault_restore(outer_faults);
}

/* One completion. Returns false when the thread is to stop. */
static bool cqe_handle(const struct io_uring_cqe *cqe, unsigned *live)
{
	struct ring_ent *e = io_uring_cqe_get_data(cqe);

	if (!e)
		return false;                /* the stop event */
	if (cqe->res == 0) {
		ent_serve(e);
		return ent_sqe(e, RING_CMD_COMMIT_AND_FETCH);
	}
	if (cqe->res == -EINTR || cqe->res == -EAGAIN)
		return ent_sqe(e, e->last_cmd);
	if (cqe->res != -ENOTCONN && cqe->res != -ECONNABORTED)
		pfs_log(PFS_LOG_WARN, "fuse ring %u: %s: %s", e->q->qid,
			e->last_cmd == RING_CMD_REGISTER ? "register" : "commit",
			strerror(-cqe->res));
	return --*live > 0;
}

static int queue_register(struct ring_queue *q)
{
	struct io_uring_sqe *sqe;
	int rc;

	for (int i = 0; i < RING_DEPTH; i++)
		if (!ent_sqe(&q->ent[i], RING_CMD_REGISTER))
			return -EIO;
	sqe = io_uring_get_sqe(&q->ring);
	if (!sqe)
		return -EIO;
	io_uring_prep_poll_add(sqe, q->evfd, POLLIN);
	io_uring_sqe_set_data(sqe, NULL);
	rc = io_uring_submit(&q->ring);
	return rc < 0 ? rc : 0;
}

/*
 * The completions ready now, each taken off the ring before it is handled:
 * a handler may wait for a notification (pmemfs_uring_notify) and serve
 * the queue meanwhile. After the stop only notifications are completed.
 */
static void queue_reap(struct ring_queue *q)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&q->ring, &cqe) == 0) {
		struct io_uring_cqe c = *cqe;
		uintptr_t data = (uintptr_t)io_uring_cqe_get_data(&c);

		io_uring_cqe_seen(&q->ring, cqe);
		if (data & 1) {
			struct ring_wait *w = (struct ring_wait *)(data & ~(uintptr_t)1);

			w->res = c.res;
			w->done = true;
		} else if (!q->stop && !cqe_handle(&c, &q->live)) {
			q->stop = true;
		}
	}
}

/* Submits what is queued and waits for a completion; false on a ring error. */
static bool queue_wait(struct ring_queue *q)
{
	int rc = io_uring_submit_and_wait(&q->ring, 1);

	if (rc < 0 && rc != -EINTR) {
		pfs_log(PFS_LOG_ERR, "fuse ring %u: %s", q->qid, strerror(-rc));
		return false;
	}
	return true;
}

static void queue_serve(struct ring_queue *q)
{
	int rc = queue_register(q);

	if (rc < 0) {
		pfs_log(PFS_LOG_WARN, "fuse ring %u: register: %s", q->qid, strerror(-rc));
		return;
	}
	q->live = RING_DEPTH;
	atomic_fetch_add(&q->pool->serving, 1);
	while (!q->stop && queue_wait(q))
		queue_reap(q);
}

static void *queue_main(void *arg)
{
	struct ring_queue *q = arg;
	int rc;

	char name[16];

	snprintf(name, sizeof(name), "pmemfs-ring%u", q->qid);
	pthread_setname_np(pthread_self(), name);
	q->tid = gettid();
	pin_to(q->qid);
	rc = queue_init(q);
	report_setup(q->pool, rc);
	if (rc == 0 && wait_go(q->pool) > 0) {
		queue_serve(q);
		atomic_fetch_add(&q->pool->ended, 1);
	}
	return NULL;
}

/* ---- the interface ---- */

static void pool_free(struct pmemfs_rings *p)
{
	for (unsigned i = 0; i < p->nq; i++)
		queue_free(&p->q[i]);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->q);
	free(p);
}

static int start_threads(struct pmemfs_rings *p)
{
	unsigned started = 0;
	int rc = 0;

	for (unsigned i = 0; i < p->nq; i++) {
		if (pthread_create(&p->q[i].thread, NULL, queue_main, &p->q[i]) != 0) {
			rc = -EAGAIN;
			break;
		}
		p->q[i].thread_ok = true;
		started++;
	}
	pthread_mutex_lock(&p->lock);
	while (p->set_up + p->failed < started)
		pthread_cond_wait(&p->cond, &p->lock);
	if (rc == 0)
		rc = p->err;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int pmemfs_uring_prepare(struct pmemfs_rings **out, struct pmemfs_wire *wire,
			 struct fuse_session *se, int devfd, size_t payload_sz, bool idle_prio)
{
	struct pmemfs_rings *p;
	int rc;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->nq = possible_cpus();
	p->q = calloc(p->nq, sizeof(*p->q));
	if (!p->q) {
		free(p);
		return -ENOMEM;
	}
	p->se = se;
	p->wire = wire;
	p->devfd = devfd;
	p->payload_sz = payload_sz;
	p->idle_prio = idle_prio;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (unsigned i = 0; i < p->nq; i++) {
		p->q[i].pool = p;
		p->q[i].qid = i;
		p->q[i].evfd = -1;
	}
	rc = start_threads(p);
	if (rc < 0) {
		pfs_log(PFS_LOG_WARN, "fuse ring: setup failed (%s); using /dev/fuse",
			strerror(-rc));
		pmemfs_uring_stop(p);
		return rc;
	}
	*out = p;
	return 0;
}

/* The queue threads at idle priority, under the warden (fuse_warden.c). */
static void start_warden(struct pmemfs_rings *p)
{
	unsigned n = p->nq < PMEMFS_WARDEN_MAX ? p->nq : PMEMFS_WARDEN_MAX;
	pid_t *tids = calloc(n, sizeof(*tids));
	int rc = -ENOMEM;

	if (tids) {
		for (unsigned i = 0; i < n; i++)
			tids[i] = p->q[i].tid;
		rc = pmemfs_warden_start(&p->warden, tids, n, &p->requests, &p->switches);
		free(tids);
	}
	if (rc < 0)
		pfs_log(PFS_LOG_WARN, "fuse ring: queue threads stay at normal priority (%s)",
			strerror(-rc));
}

void pmemfs_uring_go(struct pmemfs_rings *p)
{
	if (p->idle_prio)
		start_warden(p);
	pthread_mutex_lock(&p->lock);
	p->go = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pfs_log(PFS_LOG_DEBUG, "fuse ring: %u queues of %d entries, %zu-byte payloads, %s priority",
		p->nq, RING_DEPTH, p->payload_sz, p->warden ? "idle" : "normal");
}

void pmemfs_uring_stop(struct pmemfs_rings *p)
{
	uint64_t one = 1;

	pmemfs_warden_stop(p->warden);
	p->warden = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->go == 0)
		p->go = -1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nq; i++)
		if (p->q[i].evfd >= 0 && write(p->q[i].evfd, &one, sizeof(one)) < 0)
			pfs_log(PFS_LOG_WARN, "fuse ring %u: cannot wake the thread", i);
	for (unsigned i = 0; i < p->nq; i++)
		if (p->q[i].thread_ok)
			pthread_join(p->q[i].thread, NULL);
	pool_free(p);
}

bool pmemfs_uring_active(const struct pmemfs_rings *p)
{
	return p && atomic_load(&p->serving) == p->nq && atomic_load(&p->ended) == 0;
}

unsigned pmemfs_uring_queues(const struct pmemfs_rings *p)
{
	return p ? p->nq : 0;
}

uint64_t pmemfs_uring_requests(const struct pmemfs_rings *p)
{
	return p ? atomic_load_explicit(&p->requests, memory_order_relaxed) : 0;
}

uint64_t pmemfs_uring_raised(const struct pmemfs_rings *p)
{
	return p ? pmemfs_warden_raised(p->warden) : 0;
}

bool pmemfs_uring_idle_now(const struct pmemfs_rings *p)
{
	return p && p->warden;
}

void *pmemfs_uring_reply_buffer(size_t size)
{
	return cur && size <= cur->iov[1].iov_len ? cur->payload : NULL;
}

/*
 * The write to /dev/fuse goes to an io_uring worker (IOSQE_ASYNC), never
 * inline in this thread: a notification may make the kernel send requests
 * (laundering dirty pages) to the queue of the CPU it runs on, this one
 * included, and this thread serves its queue until the write completes.
 */
int pmemfs_uring_notify(const struct iovec *iov, int count)
{
	struct ring_ent *self = cur;
	struct ring_wait w = { 0 };
	struct io_uring_sqe *sqe;
	struct ring_queue *q;

	if (!self)
		return -EOPNOTSUPP;
	q = self->q;
	/* two entries stay free for what the notification makes the kernel send */
	if (q->waiting >= RING_DEPTH - 2)
		return -EBUSY;
	sqe = io_uring_get_sqe(&q->ring);
	if (!sqe && io_uring_submit(&q->ring) >= 0)
		sqe = io_uring_get_sqe(&q->ring);
	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe));   /* SQE128 */
	io_uring_prep_writev(sqe, 0, iov, (unsigned)count, 0);
	sqe->flags = IOSQE_FIXED_FILE | IOSQE_ASYNC;
	io_uring_sqe_set_data(sqe, (void *)((uintptr_t)&w | 1));
	/* w stays on this stack until its completion: wait whatever happens */
	q->waiting++;
	while (!w.done) {
		if (queue_wait(q))
			queue_reap(q);
	}
	q->waiting--;
	cur = self;
	return w.res < 0 ? w.res : 0;
}

bool pmemfs_uring_reply(const struct iovec *iov, int count, ssize_t *ret)
{
	struct ring_ent *e = cur;
	struct fuse_out_header out;
	size_t len = 0, room;

	if (!e || e->replied || count < 1 || iov[0].iov_len < sizeof(out))
		return false;
	memcpy(&out, iov[0].iov_base, sizeof(out));
	if (out.unique != e->unique)
		return false;
	room = e->iov[1].iov_len;
	for (int i = 1; i < count; i++) {
		if (iov[i].iov_len > room - len) {
			pfs_log(PFS_LOG_ERR, "fuse ring: a reply larger than %zu bytes", room);
			out.error = -EIO;
			len = 0;
			break;
		}
		if (iov[i].iov_base != e->payload + len)
			memmove(e->payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	out.len = (uint32_t)(sizeof(out) + len);
	memcpy(e->hdr->in_out, &out, sizeof(out));
	e->hdr->ent.payload_sz = (uint32_t)len;
	e->replied = true;
	*ret = (ssize_t)out.len;
	return true;
}
