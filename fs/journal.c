// SPDX-License-Identifier: MIT
/*
 * Metadata transactions: an undo journal. Theory of operation:
 *
 * One transaction runs at a time (tx_lock). Before a range of metadata is
 * changed in place for the first time in a transaction, its old contents are
 * appended to the journal as a record {seq, off, len, crc32c, bytes} and that
 * record is persisted (flush + drain); only then is the new value stored, by
 * pfs_pm_copy (store + flush). Granularity is the 64-byte cache line: a line
 * is snapshotted at most once per transaction.
 *
 * Commit: drain (every in-place store and every fresh block written in the
 * transaction is now durable), then store active_seq + 1 in the journal header
 * and persist it. That single aligned 8-byte store is the commit point: records
 * whose seq differs from active_seq are dead.
 *
 * Recovery and abort are the same walk: collect the records of active_seq in
 * order (stopping at the first torn one: a torn record was never followed by
 * its in-place store), write their old bytes back in reverse order, drain, and
 * advance active_seq. Doing it twice is harmless. The positions go into an
 * array sized at init for the most records the journal area can hold, so a
 * rollback allocates nothing and cannot fail for want of memory. An abort
 * also knows where its records end; a walk that stops elsewhere means damaged
 * records.
 *
 * A rollback that fails anyway (damaged records, a failed persist) latches the
 * mount read-only and leaves active_seq as it is: no later transaction of this
 * mount reuses the seq (none runs), and the next mount's recovery rolls the
 * same records back and advances it. A failed persist before the commit point
 * aborts the transaction; one of the commit point itself latches read-only
 * and returns -EIO (recovery decides whether it committed).
 *
 * Blocks freed in a transaction are queued and released just before commit,
 * so a block freed and reallocated in the same transaction can never be
 * overwritten as "fresh" and then lose its contents on rollback.
 */
#include <stdlib.h>

#include "pfs.h"
#include "media_fault.h"

#define LINE 64u
#define JREC_DATA(r) ((const char *)(r) + sizeof(struct pfs_jrec_pm))
#define PAD8(x) (((x) + 7u) & ~(uint64_t)7u)

static char *jbase(const struct pfs_fs *fs)
{
	return (char *)fs->jhdr;
}

static uint32_t jrec_csum(const struct pfs_jrec_pm *r, const void *data)
{
	uint32_t c = pfs_crc32c(0, r, offsetof(struct pfs_jrec_pm, csum));

	return pfs_crc32c(c, data, r->len);
}

/*
 * Walks the records of seq from the journal start, stopping at the first that
 * is not one of them. Stores their positions in pos (NULL: only counts) and
 * where the walk stopped in *end. Allocates nothing: pos was sized at init
 * for the most line-sized records the journal holds; more than cap records
 * (only possible with records smaller than a line) is -EUCLEAN.
 */
static int jrec_walk(const struct pfs_fs *fs, uint64_t seq, uint32_t *pos, size_t cap,
		     size_t *n, uint64_t *end)
{
	uint64_t p = sizeof(struct pfs_jhdr_pm);

	*n = 0;
	while (p + sizeof(struct pfs_jrec_pm) <= fs->jbytes) {
		const struct pfs_jrec_pm *r = (const void *)(jbase(fs) + p);

		if (r->seq != seq || r->len == 0 ||
		    r->len > fs->jbytes - p - sizeof(struct pfs_jrec_pm) ||
		    r->csum != jrec_csum(r, JREC_DATA(r)))
			break;
		if (pos) {
			if (*n == cap)
				return -EUCLEAN;
			pos[*n] = (uint32_t)p;
		}
		(*n)++;
		p += sizeof(*r) + PAD8(r->len);
	}
	*end = p;
	return 0;
}

/* An undo record may only point at state, bitmaps, inodes and data blocks. */
static bool jrec_target_ok(const struct pfs_fs *fs, const struct pfs_jrec_pm *r)
{
	uint64_t lo = PFS_STATE_BLOCK << PFS_BLOCK_SHIFT;
	uint64_t jlo = fs->sb.journal_start << PFS_BLOCK_SHIFT;
	uint64_t jhi = jlo + fs->jbytes;
	uint64_t end = r->off + r->len;

	if (r->off < lo || end > fs->sb.device_size || end < r->off)
		return false;
	return end <= jlo || r->off >= jhi;
}

static int advance_seq(struct pfs_fs *fs)
{
	uint64_t next = fs->jhdr->active_seq + 1;

	pfs_pm_copy(fs->pm, &fs->jhdr->active_seq, &next, sizeof(next));
	return pfs_pm_drain(fs->pm);
}

/*
 * Undoes the records of active_seq. expect_end: where the records of the
 * running transaction end (abort), or 0 when unknown (recovery, where the
 * first torn record ends them). Any error leaves the seq where it is, so the
 * next mount's recovery rolls back again; the caller latches read-only.
 */
static int rollback(struct pfs_fs *fs, uint64_t expect_end, unsigned *nrecs)
{
	const uint32_t *pos = fs->tx.undo;
	uint64_t end;
	size_t n;
	int rc = jrec_walk(fs, fs->jhdr->active_seq, fs->tx.undo, fs->tx.undo_cap, &n, &end);

	if (rc)
		return pfs_corrupt(fs, "journal holds more records than fit in it");
	if (expect_end && end != expect_end)
		return pfs_corrupt(fs, "journal records end at %llu, the transaction wrote to %llu",
				   (unsigned long long)end, (unsigned long long)expect_end);
	if (nrecs)
		*nrecs = (unsigned)n;
	if (n && fs->dev->info.kind == PFS_DEV_DAX && fs->dev->private_map)
		return -EROFS;
	/* check every record before applying any: never leave half a rollback */
	for (size_t i = 0; i < n; i++) {
		const struct pfs_jrec_pm *r = (const void *)(jbase(fs) + pos[i]);

		if (!jrec_target_ok(fs, r))
			return pfs_corrupt(fs, "journal record at %u targets offset %llu",
					   pos[i], (unsigned long long)r->off);
	}
	for (size_t i = n; i-- > 0;) {
		const struct pfs_jrec_pm *r = (const void *)(jbase(fs) + pos[i]);

		pfs_pm_copy(fs->pm, fs->base + r->off, JREC_DATA(r), r->len);
	}
	if (!n)
		return 0;
	/* the old bytes are back before the records die */
	rc = pfs_pm_drain(fs->pm);
	return rc ? rc : advance_seq(fs);
}

int pfs_journal_pending(struct pfs_fs *fs, unsigned *nrecs)
{
	uint64_t end;
	size_t n;

	jrec_walk(fs, fs->jhdr->active_seq, NULL, 0, &n, &end);
	*nrecs = (unsigned)n;
	return 0;
}

int pfs_journal_recover(struct pfs_fs *fs, unsigned *nrecs)
{
	if (nrecs)
		*nrecs = 0;
	return rollback(fs, 0, nrecs);
}

int pfs_journal_init(struct pfs_fs *fs)
{
	struct pfs_tx *tx = &fs->tx;

	memset(tx, 0, sizeof(*tx));
	tx->fs = fs;
	tx->lines_cap = 1024;
	tx->lines = calloc(tx->lines_cap, sizeof(*tx->lines));
	tx->line_seq = calloc(tx->lines_cap, sizeof(*tx->line_seq));
	/* positions fit 32 bits; untouched until a rollback, so RSS stays flat */
	tx->undo_cap = fs->jbytes / (sizeof(struct pfs_jrec_pm) + LINE) + 1;
	if (fs->jbytes <= UINT32_MAX)
		tx->undo = malloc(tx->undo_cap * sizeof(*tx->undo));
	if (!tx->lines || !tx->line_seq || !tx->undo) {
		pfs_journal_fini(fs);
		return -ENOMEM;
	}
	return 0;
}

void pfs_journal_fini(struct pfs_fs *fs)
{
	free(fs->tx.lines);
	free(fs->tx.line_seq);
	free(fs->tx.freeq);
	free(fs->tx.undo);
	memset(&fs->tx, 0, sizeof(fs->tx));
}

int pfs_tx_begin(struct pfs_fs *fs, struct pfs_tx **out)
{
	struct pfs_tx *tx = &fs->tx;

	bool scratch = fs->dev->private_map && fs->dev->info.kind != PFS_DEV_DAX;

	/* a private file mapping may be changed in memory (read-only recovery) */
	if (atomic_load(&fs->readonly) && !scratch)
		return -EROFS;
	pthread_mutex_lock(&fs->tx_lock);
	tx->seq = fs->jhdr->active_seq;
	if (++tx->tag == 0) {
		memset(tx->line_seq, 0, tx->lines_cap * sizeof(*tx->line_seq));
		tx->tag = 1;
	}
	tx->pos = sizeof(struct pfs_jhdr_pm);
	tx->lines_used = 0;
	tx->nfree = 0;
	tx->active = true;
	*out = tx;
	return 0;
}

static uint64_t line_hash(uint64_t key, size_t cap)
{
	key *= 0x9e3779b97f4a7c15ull;
	return (key >> 17) & (cap - 1);
}

static int lines_grow(struct pfs_tx *tx)
{
	size_t ncap = tx->lines_cap * 2;
	uint64_t *nl = pfs_calloc(tx->fs, ncap, sizeof(*nl));
	uint64_t *ns = pfs_calloc(tx->fs, ncap, sizeof(*ns));

	if (!nl || !ns) {
		free(nl);
		free(ns);
		return -ENOMEM;
	}
	for (size_t i = 0; i < tx->lines_cap; i++) {
		uint64_t h;

		if (tx->line_seq[i] != tx->tag)
			continue;
		h = line_hash(tx->lines[i], ncap);
		while (ns[h] == tx->tag)
			h = (h + 1) & (ncap - 1);
		nl[h] = tx->lines[i];
		ns[h] = tx->tag;
	}
	free(tx->lines);
	free(tx->line_seq);
	tx->lines = nl;
	tx->line_seq = ns;
	tx->lines_cap = ncap;
	return 0;
}

/* Marks a line snapshotted; returns 1 if it already was, 0 if newly marked. */
static int line_mark(struct pfs_tx *tx, uint64_t line)
{
	uint64_t h;
	int rc;

	if ((tx->lines_used + 1) * 2 > tx->lines_cap) {
		rc = lines_grow(tx);
		if (rc)
			return rc;
	}
	h = line_hash(line, tx->lines_cap);
	while (tx->line_seq[h] == tx->tag) {
		if (tx->lines[h] == line)
			return 1;
		h = (h + 1) & (tx->lines_cap - 1);
	}
	tx->lines[h] = line;
	tx->line_seq[h] = tx->tag;
	tx->lines_used++;
	return 0;
}

/* Appends one undo record for [off, off+len) and persists it. */
static int jrec_append(struct pfs_tx *tx, uint64_t off, uint64_t len)
{
	struct pfs_fs *fs = tx->fs;
	struct pfs_jrec_pm r = { .seq = tx->seq, .off = off, .len = (uint32_t)len };
	uint64_t need = sizeof(r) + PAD8(len);
	char *dst = jbase(fs) + tx->pos;

	if (tx->pos + need > fs->jbytes)
		return -ENOSPC;
	r.csum = jrec_csum(&r, fs->base + off);
	pfs_pm_copy(fs->pm, dst + sizeof(r), fs->base + off, len);
	pfs_pm_copy(fs->pm, dst, &r, sizeof(r));
	/* the record is stored whatever the drain says: rollback must see it */
	tx->pos += need;
	/* the record is durable before the in-place store it undoes */
	return pfs_pm_drain(fs->pm);
}

/*
 * A transaction stores only into the state block, the bitmaps, the inode table
 * and data blocks. Anything else is a pointer built from a damaged link on the
 * media (a slot or block number read back unchecked): refuse it before the
 * undo record reads it, as that read may be outside the mapping.
 */
static bool tx_target_ok(const struct pfs_fs *fs, const void *ptr, size_t len)
{
	uint64_t lo = PFS_STATE_BLOCK << PFS_BLOCK_SHIFT;
	uint64_t jlo = fs->sb.journal_start << PFS_BLOCK_SHIFT, jhi = jlo + fs->jbytes;
	uint64_t off = pfs_off(fs, ptr);

	if ((const char *)ptr < fs->base || off < lo || off > fs->sb.device_size ||
	    len > fs->sb.device_size - off)
		return false;
	return off + len <= jlo || off >= jhi;
}

int pfs_tx_add(struct pfs_tx *tx, const void *ptr, size_t len)
{
	uint64_t off = pfs_off(tx->fs, ptr);
	uint64_t first = off / LINE, last = (off + len - 1) / LINE;
	uint64_t run_start = 0, run_len = 0;
	int rc;

	if (len == 0)
		return 0;
	if (!tx_target_ok(tx->fs, ptr, len))
		return pfs_corrupt(tx->fs, "a change to offset %llu+%zu, outside the metadata "
				   "areas, was refused", (unsigned long long)off, len);
	for (uint64_t l = first; l <= last; l++) {
		rc = line_mark(tx, l);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if (run_len == 0)
				run_start = l;
			run_len++;
			continue;
		}
		if (run_len) {
			rc = jrec_append(tx, run_start * LINE, run_len * LINE);
			if (rc)
				return rc;
			run_len = 0;
		}
	}
	if (run_len)
		return jrec_append(tx, run_start * LINE, run_len * LINE);
	return 0;
}

int pfs_tx_set(struct pfs_tx *tx, void *dst, const void *src, size_t len)
{
	int rc = pfs_tx_add(tx, dst, len);

	if (rc)
		return rc;
	pfs_pm_copy(tx->fs->pm, dst, src, len);
	return 0;
}

int pfs_tx_zero(struct pfs_tx *tx, void *dst, size_t len)
{
	int rc = pfs_tx_add(tx, dst, len);

	if (rc)
		return rc;
	pfs_pm_set(tx->fs->pm, dst, 0, len);
	return 0;
}

int pfs_tx_set_u64(struct pfs_tx *tx, uint64_t *dst, uint64_t v)
{
	return pfs_tx_set(tx, dst, &v, sizeof(v));
}

int pfs_tx_set_u32(struct pfs_tx *tx, uint32_t *dst, uint32_t v)
{
	return pfs_tx_set(tx, dst, &v, sizeof(v));
}

int pfs_tx_set_u16(struct pfs_tx *tx, uint16_t *dst, uint16_t v)
{
	return pfs_tx_set(tx, dst, &v, sizeof(v));
}

int pfs_tx_free_later(struct pfs_tx *tx, uint64_t pblk, uint64_t len)
{
	if (len == 0)
		return 0;
	if (pfs_fault_hit(tx->fs->fault, PFS_FAULT_ALLOC) ||
	    pfs_array_reserve(&tx->freeq, &tx->freecap, tx->nfree + 1, sizeof(*tx->freeq)))
		return -ENOMEM;
	tx->freeq[tx->nfree++] = (struct pfs_freeq){ pblk, len };
	return 0;
}

static int apply_frees(struct pfs_tx *tx)
{
	for (size_t i = 0; i < tx->nfree; i++) {
		int rc = pfs_free_blocks_now(tx, tx->freeq[i].pblk, tx->freeq[i].len);

		if (rc)
			return rc;
	}
	tx->nfree = 0;
	return 0;
}

static void tx_finish(struct pfs_tx *tx)
{
	/* line marks carry tx->tag, so the next transaction starts with none */
	tx->active = false;
	tx->seq = 0;
	pthread_mutex_unlock(&tx->fs->tx_lock);
}

int pfs_tx_commit(struct pfs_tx *tx)
{
	struct pfs_fs *fs = tx->fs;
	/* a store of this transaction may have gone to a lost page (media_fault.h) */
	int rc = pfs_media_fault_taken() ? -EIO : apply_frees(tx);

	/* everything stored in this tx is durable before the commit point */
	if (!rc)
		rc = pfs_pm_drain(fs->pm);
	if (rc) {
		pfs_tx_abort(tx);
		return rc;
	}
	if (tx->pos > sizeof(struct pfs_jhdr_pm)) {
		rc = advance_seq(fs);
		if (rc) {
			/* committed or not, recovery decides: nothing more is written */
			pfs_corrupt(fs, "commit of transaction %llu not known durable",
				    (unsigned long long)tx->seq);
		}
		atomic_fetch_add_explicit(&fs->commits, 1, memory_order_relaxed);
	}
	tx_finish(tx);
	return rc;
}

/*
 * A rollback that fails (damaged records, a failed persist) leaves the
 * transaction partly applied: latch read-only so nothing is built on it, and
 * leave active_seq alone, so no later transaction reuses it and the next
 * mount's recovery rolls the records back again.
 */
void pfs_tx_abort(struct pfs_tx *tx)
{
	int rc = rollback(tx->fs, tx->pos, NULL);

	if (rc)
		pfs_corrupt(tx->fs, "rollback of transaction %llu failed: %s",
			    (unsigned long long)tx->seq, strerror(-rc));
	tx_finish(tx);
}

int pfs_tx_end(struct pfs_tx *tx, int rc)
{
	if (rc) {
		pfs_tx_abort(tx);
		return rc;
	}
	return pfs_tx_commit(tx);
}
