// SPDX-License-Identifier: MIT
/*
 * The checker, shared by fsck.pmemfs and the crash tests. It checks an
 * unmounted device in passes, each a small function; none walks the directory
 * tree recursively, so its cost is linear in the inode table and the bitmaps.
 *
 *   1. superblocks: primary and replica valid and identical
 *   2. journal header, an interrupted transaction (rolled back as mount would),
 *      state block
 *   3. every in-use inode slot: fields, extent tree, xattr block; each block
 *      it holds is marked in a DRAM bitmap (3a: sound inodes whose bitmap bit
 *      is clear but which a live directory entry names are in use too; 3b:
 *      owners of blocks claimed twice; 3c: block counts)
 *   4. every directory: buckets, entries (hash, bucket, duplicates, target,
 *      type), entry count, link count; counts the names of every inode
 *   5. bitmaps rebuilt from what the inodes hold (never the other way
 *      round), their checksums, and the free counts; then what needs the
 *      allocator: unsound extent trees rebuilt from their sound extents,
 *      blocks claimed twice copied for all but the first claimant,
 *      directories with lost buckets laid out again, misplaced names
 *      inserted again
 *   6. the orphan list
 *   7. link counts, parents, inodes no directory names (to lost+found)
 *   8. directories not connected to the root (a loop is broken into lost+found)
 *
 * Repairs (PFS_CHECK_REPAIR, never on a private mapping, whose stores would not
 * reach the device) never destroy what can be kept: the inode table, the
 * directories and the extent trees are the authority, everything derivable is
 * rebuilt from them; a sound inode no directory names goes to lost+found
 * (made when missing), never to the free list. What cannot be repaired is
 * reported and left as it is. Each repair is a transaction, so a crash during
 * one leaves the device as consistent as before it. The checker knows the
 * media may be corrupt: a core helper that finds corruption latches the file
 * system read-only, which the checker undoes before each of its own
 * transactions.
 *
 * Memory: two data-block bitmaps (data_blocks / 8 bytes each, a third one only
 * when blocks are claimed twice), 10 bytes per inode slot, and lists of what
 * is repaired after pass 5.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "pfs.h"

#define WORD_BITS   64u
#define HASH_BITS   62u            /* fs/dir.c: names hash to 62 bits */
#define OBJ_MAX     1100u          /* "directory N entry '<255 escaped bytes>'" */
#define FIX_BATCH   512u           /* stores per repair transaction (journal room) */
#define RUNS_MAX    64u            /* report lines per kind of bitmap damage */
#define OWNERS_MAX  8u             /* inodes named in one "claimed by" line */

/* Per-slot DRAM state. */
enum {
	IF_INUSE  = 0x001,             /* bitmap bit set */
	IF_FREE   = 0x002,             /* bit set, but mode 0 */
	IF_VALID  = 0x004,             /* fields and extent tree are sound */
	IF_DIR    = 0x008,             /* mode says directory */
	IF_SHARED = 0x010,             /* holds a block another inode holds too */
	IF_ONLIST = 0x020,             /* reached from the orphan list head */
	IF_HASENT = 0x040,             /* directory with entries */
	IF_DIRBAD = 0x080,             /* directory with unreadable buckets */
	IF_REACH  = 0x100,             /* connected to the root */
	IF_LOOP   = 0x200,             /* not connected to the root */
	IF_CAND   = 0x400,             /* bit clear, but a sound inode (pass 3a) */
	IF_ADOPT  = 0x800,             /* a candidate a live entry names: in use */
	IF_SALV   = 0x1000,            /* unsound extent tree, its sound part kept */
	IF_BADMODE = 0x2000,           /* mode unknown: a directory entry may tell (pass 4) */
	IF_CLONED = 0x4000,            /* its copies of blocks others hold were made */
	IF_CLONEFAIL = 0x8000,         /* needed copies but could not get them */
};

struct chk {
	struct pfs_fs *fs;
	struct pfs_device *dev;
	bool fix;                      /* repairs allowed and reach the media */
	bool quiet;
	pfs_check_report_fn report;
	pfs_check_report_fn note;      /* NULL: notes go to report */
	pfs_progress_fn progress;
	void *arg;
	unsigned step;                 /* progress: steps of chk_run done */
	struct pfs_check_result *res;
	uint64_t nwords;               /* words of the data-block bitmaps */
	uint64_t *used;                /* blocks some inode holds */
	uint64_t *dup;                 /* blocks held twice; NULL while none */
	uint32_t *refs;                /* per slot: entries naming it */
	uint32_t *named_in;            /* per slot: directory of the first entry */
	uint16_t *iflags;              /* per slot: IF_* */
	bool blocks_unknown;           /* an unreadable tree: do not free "leaked" blocks */
	bool orphans_ok;               /* the orphan list is well formed */
	uint64_t ncand;                /* slots with IF_CAND */
	uint64_t *csum_bad;            /* bitmap blocks whose checksum failed before repairs */
	struct salvage *salv;          /* unsound extent trees to rebuild */
	size_t nsalv, salv_cap;
	struct claims *claims;         /* pass 3b: who holds the blocks held twice */
	struct readd *readd;           /* misplaced names to insert again */
	size_t nreadd, readd_cap;
	uint32_t lf;                   /* slot of lost+found once found or made, 0: not yet */
	bool lf_failed;                /* lost+found cannot be found or made */
	struct remap *remap;           /* directories whose buckets are to be laid out again */
	size_t nremap, remap_cap;
};

/* ---- reporting ---- */

__attribute__((format(printf, 5, 0)))
static void say(struct chk *c, const char *obj, bool counted, bool repaired, const char *fmt,
		va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (counted) {
		c->res->problems++;
		if (repaired)
			c->res->repaired++;
	}
	if (!counted && c->note)
		c->note(c->arg, obj, msg, false);
	else if (c->report)
		c->report(c->arg, obj, msg, repaired);
}

/* ---- progress: CHK_STEPS steps of CHK_UNIT units each ---- */

#define CHK_STEPS 10u
#define CHK_UNIT  1024u
#define CHK_TICK  65536u           /* slots between reports inside a step */

static void chk_progress(struct chk *c, const char *phase, uint64_t done, uint64_t total)
{
	uint64_t part = total ? done * CHK_UNIT / total : CHK_UNIT;

	if (c->progress)
		c->progress(c->arg, phase, c->step * CHK_UNIT + part, CHK_STEPS * CHK_UNIT);
}

static void chk_step_done(struct chk *c, const char *phase)
{
	chk_progress(c, phase, 1, 1);
	c->step++;
}

/* A problem; repaired says whether it was fixed. */
__attribute__((format(printf, 4, 5)))
static void problem(struct chk *c, const char *obj, bool repaired, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(c, obj, true, repaired, fmt, ap);
	va_end(ap);
}

/* Worth saying, not a problem (what a mount does anyway). */
__attribute__((format(printf, 3, 4)))
static void note(struct chk *c, const char *obj, const char *fmt, ...)
{
	va_list ap;

	if (c->quiet)
		return;
	va_start(ap, fmt);
	say(c, obj, false, false, fmt, ap);
	va_end(ap);
}

static const char *inode_obj(char *buf, uint32_t slot)
{
	snprintf(buf, OBJ_MAX, "inode %u", slot);
	return buf;
}

static const char *entry_obj(char *buf, uint32_t dslot, const struct pfs_dirent_pm *de)
{
	int n = snprintf(buf, OBJ_MAX, "directory %u entry '", dslot);

	for (unsigned i = 0; i < de->name_len && n < (int)OBJ_MAX - 6; i++) {
		unsigned char ch = (unsigned char)de->name[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			buf[n++] = (char)ch;
		else
			n += snprintf(buf + n, OBJ_MAX - (size_t)n, "\\x%02x", ch);
	}
	snprintf(buf + n, OBJ_MAX - (size_t)n, "'");
	return buf;
}

/* ---- repairs: each one transaction ---- */

static int fix_begin(struct chk *c, struct pfs_tx **tx)
{
	/* a core helper that met corruption latched read-only; the checker knows */
	atomic_store(&c->fs->readonly, false);
	return pfs_tx_begin(c->fs, tx);
}

static bool fix_set(struct chk *c, void *dst, const void *src, size_t len)
{
	struct pfs_tx *tx;

	if (!c->fix || fix_begin(c, &tx))
		return false;
	return pfs_tx_end(tx, pfs_tx_set(tx, dst, src, len)) == 0;
}

static bool fix_u64(struct chk *c, uint64_t *dst, uint64_t v)
{
	return fix_set(c, dst, &v, sizeof(v));
}

static bool fix_u32(struct chk *c, uint32_t *dst, uint32_t v)
{
	return fix_set(c, dst, &v, sizeof(v));
}

/* ---- bit helpers on DRAM and media bitmaps ---- */

static bool bit_test(const uint64_t *map, uint64_t bit)
{
	return (map[bit / WORD_BITS] >> (bit % WORD_BITS)) & 1u;
}

static uint64_t word_mask(uint64_t b, uint64_t k)
{
	return (k == WORD_BITS ? ~0ull : ((1ull << k) - 1)) << b;
}

/* The bits of word w that stand for something (the last word is partial). */
static uint64_t valid_mask(uint64_t w, uint64_t nbits)
{
	uint64_t left = nbits - w * WORD_BITS;

	return left >= WORD_BITS ? ~0ull : (1ull << left) - 1;
}

/* ---- pass 1: superblocks ---- */

static bool sb_rewrite(struct chk *c, uint64_t blk)
{
	if (!c->fix)
		return false;
	/* the superblock is outside the journal: one copy, then the fence */
	pfs_pm_copy(c->fs->pm, c->fs->base + (blk << PFS_BLOCK_SHIFT), &c->fs->sb,
		    sizeof(c->fs->sb));
	pfs_pm_drain(c->fs->pm);
	return true;
}

static void check_supers(struct chk *c)
{
	struct pfs_super_pm p, r;
	const char *pwhy = NULL, *rwhy = NULL;
	bool pok, rok;
	int prc, rrc;

	memcpy(&p, c->dev->base, sizeof(p));
	memcpy(&r, c->dev->base + PFS_BLOCK_SIZE, sizeof(r));
	prc = pfs_super_validate(&p, c->dev->size, &pwhy);
	rrc = pfs_super_validate(&r, c->dev->size, &rwhy);
	pok = prc == 0;
	rok = rrc == 0;
	/* never overwrite a superblock of a newer format with an older one */
	if (!pok)
		problem(c, "superblock", prc != -EOPNOTSUPP && sb_rewrite(c, PFS_SB_BLOCK),
			"%s (the replica is valid)", pwhy);
	if (!rok)
		problem(c, "replica superblock",
			rrc != -EOPNOTSUPP && sb_rewrite(c, PFS_SB_REPLICA_BLOCK), "%s", rwhy);
	else if (pok && memcmp(&p, &r, sizeof(p)) != 0)
		problem(c, "replica superblock", sb_rewrite(c, PFS_SB_REPLICA_BLOCK),
			"differs from the primary");
}

/* ---- pass 2: journal and state ---- */

struct jscan {
	unsigned n;                    /* records of the interrupted transaction */
	bool bad;                      /* one of them points outside what undo may touch */
	uint64_t bad_pos, bad_off;
};

/* fs/journal.c jrec_target_ok(): state, bitmaps, inodes and data only. */
static bool jrec_target_ok(const struct pfs_fs *fs, const struct pfs_jrec_pm *r)
{
	uint64_t lo = (uint64_t)PFS_STATE_BLOCK << PFS_BLOCK_SHIFT;
	uint64_t jlo = fs->sb.journal_start << PFS_BLOCK_SHIFT;
	uint64_t jhi = jlo + fs->jbytes;
	uint64_t end = r->off + r->len;

	if (r->off < lo || end > fs->sb.device_size || end < r->off)
		return false;
	return end <= jlo || r->off >= jhi;
}

/* The records a rollback would apply, found the way fs/journal.c finds them. */
static void journal_scan(const struct pfs_fs *fs, struct jscan *js)
{
	const char *j = (const char *)fs->jhdr;
	uint64_t seq = fs->jhdr->active_seq, p = sizeof(struct pfs_jhdr_pm);

	memset(js, 0, sizeof(*js));
	while (p + sizeof(struct pfs_jrec_pm) <= fs->jbytes) {
		const struct pfs_jrec_pm *r = (const void *)(j + p);
		uint32_t crc;

		if (r->seq != seq || r->len == 0 || r->len > fs->jbytes - p - sizeof(*r))
			break;
		crc = pfs_crc32c(0, r, offsetof(struct pfs_jrec_pm, csum));
		if (pfs_crc32c(crc, r + 1, r->len) != r->csum)
			break;
		if (!js->bad && !jrec_target_ok(fs, r)) {
			js->bad = true;
			js->bad_pos = p;
			js->bad_off = r->off;
		}
		js->n++;
		p += sizeof(*r) + ((r->len + 7ull) & ~7ull);
	}
}

/* Stores a new active_seq: the journal header is outside the journal. */
static bool jhdr_store(struct chk *c, uint64_t magic, uint64_t seq)
{
	struct pfs_jhdr_pm *h = c->fs->jhdr;
	uint64_t v[2] = { magic, seq };

	if (!c->fix)
		return false;
	pfs_pm_copy(c->fs->pm, &h->magic, v, sizeof(v));
	pfs_pm_drain(c->fs->pm);
	return true;
}

/* A new header whose active_seq matches no record: the journal is empty. */
static bool jhdr_rewrite(struct chk *c)
{
	const struct pfs_jrec_pm *r0 = (const void *)(c->fs->jhdr + 1);
	uint64_t seq = c->fs->jhdr->active_seq + 1;

	if (seq == 0)
		seq = 1;
	if (r0->seq == seq)
		seq++;
	return jhdr_store(c, PFS_JOURNAL_MAGIC, seq);
}

static void journal_recover(struct chk *c, unsigned n)
{
	bool scratch = c->dev->private_map && c->dev->info.kind != PFS_DEV_DAX;
	unsigned done = 0;
	int rc;

	if (!c->fix && !scratch) {
		note(c, "journal", "interrupted transaction with %u records (rolled back at "
		     "mount); checking the state before the rollback", n);
		return;
	}
	rc = pfs_journal_recover(c->fs, &done);
	if (rc) {
		problem(c, "journal", false, "rolling back the interrupted transaction "
			"(%u records) failed: %s", n, strerror(-rc));
		return;
	}
	note(c, "journal", "interrupted transaction with %u records (rolled back%s)", done,
	     c->fix ? "" : " in memory, as mount would");
}

static void check_journal(struct chk *c)
{
	struct pfs_fs *fs = c->fs;
	struct jscan js;
	bool fixed;

	if (fs->jhdr->magic != PFS_JOURNAL_MAGIC) {
		fixed = jhdr_rewrite(c);
		problem(c, "journal", fixed, "bad signature%s", fixed ? " (header reset; an "
			"interrupted transaction, if any, is lost)" : "");
		return;
	}
	journal_scan(fs, &js);
	if (js.n == 0)
		return;
	if (js.bad) {
		fixed = jhdr_store(c, PFS_JOURNAL_MAGIC, fs->jhdr->active_seq + 1);
		problem(c, "journal", fixed, "interrupted transaction of %u records cannot be "
			"rolled back: record at %llu targets offset %llu%s", js.n,
			(unsigned long long)js.bad_pos, (unsigned long long)js.bad_off,
			fixed ? " (transaction discarded)" : "");
		return;
	}
	journal_recover(c, js.n);
}

static void check_state(struct chk *c)
{
	struct pfs_state_pm *st = c->fs->state;

	if (st->magic != PFS_STATE_MAGIC)
		problem(c, "state", fix_u64(c, &st->magic, PFS_STATE_MAGIC), "bad signature");
}

/* ---- pass 3: inodes and their blocks ---- */

static bool mode_ok(uint32_t mode)
{
	return pfs_inode_mode_ok(mode);
}

/* The rules of pfs_inode_validate() (fs/inode.c), with a reason. */
static bool inode_sound(const struct pfs_fs *fs, const struct pfs_inode_pm *ip, char *why,
			size_t len)
{
	return pfs_inode_check(fs, ip, why, len);
}

struct walk;
typedef int (*visit_fn)(struct walk *w, uint64_t pblk, uint64_t len);

/* One inode's extent tree, walked with the rules of fs/extent.c. */
struct walk {
	struct chk *c;
	uint32_t slot;
	visit_fn visit;                /* each data run, node and xattr block */
	void *ctx;
	uint64_t prev_end;             /* end of the previous extent (sorted, disjoint) */
	uint64_t first_lblk;
	uint64_t data, nodes;          /* blocks */
	char why[160];                 /* set when the tree is unsound */
	bool salvage;                  /* skip what is unsound, keep the rest: */
	struct pfs_extvec *keep;       /* the sound extents, in order */
	struct pfs_extvec *keep_nodes; /* the sound node blocks */
	uint64_t skipped;              /* unsound extents and nodes left out */
};

/* An unsound part: the end of the walk, or (salvaging) one part left out. */
static int walk_bad(struct walk *w)
{
	if (!w->salvage)
		return 1;
	w->skipped++;
	return 0;
}

static int walk_extent(struct walk *w, const struct pfs_extent_pm *e, uint64_t lo, uint64_t hi)
{
	const struct pfs_fs *fs = w->c->fs;
	uint64_t end = e->lblk + e->len;
	int rc;

	if (e->len == 0 || !pfs_blk_is_data(fs, e->pblk, e->len) || end < e->lblk) {
		snprintf(w->why, sizeof(w->why), "extent %llu+%u -> %llu is invalid",
			 (unsigned long long)e->lblk, e->len, (unsigned long long)e->pblk);
		return walk_bad(w);
	}
	if (e->lblk < w->prev_end) {
		snprintf(w->why, sizeof(w->why), "extents overlap or are unsorted at file "
			 "block %llu", (unsigned long long)e->lblk);
		return walk_bad(w);
	}
	if (e->lblk < lo || end > hi) {
		snprintf(w->why, sizeof(w->why), "extent at file block %llu lies outside its "
			 "index range %llu-%llu, lookups miss it", (unsigned long long)e->lblk,
			 (unsigned long long)lo, (unsigned long long)hi);
		return walk_bad(w);
	}
	if (w->data == 0)
		w->first_lblk = e->lblk;
	w->prev_end = end;
	w->data += e->len;
	if (w->keep) {
		rc = pfs_extvec_push(w->keep, e->lblk, e->pblk, e->len);
		if (rc)
			return rc;
	}
	return w->visit ? w->visit(w, e->pblk, e->len) : 0;
}

static const struct pfs_node_pm *walk_node(struct walk *w, uint64_t pblk, unsigned level)
{
	const struct pfs_fs *fs = w->c->fs;
	const struct pfs_node_pm *n;

	if (!pfs_blk_is_data(fs, pblk, 1)) {
		snprintf(w->why, sizeof(w->why), "extent node %llu outside the data area",
			 (unsigned long long)pblk);
		return NULL;
	}
	n = pfs_blk(fs, pblk);
	if (n->magic != PFS_NODE_MAGIC || n->level != level || n->count == 0 ||
	    n->count > PFS_NODE_ENTRIES) {
		snprintf(w->why, sizeof(w->why), "extent node %llu: bad header (level %u, "
			 "count %u)", (unsigned long long)pblk, n->level, n->count);
		return NULL;
	}
	return n;
}

/*
 * Entries e[0..count) at level (0: extents). Keys in [lo, hi) lead here: a
 * lookup descends to the last index entry whose lblk <= key (the first one for
 * smaller keys). Recursion is bounded by the tree depth (<= 2).
 */
static int walk_level(struct walk *w, const struct pfs_extent_pm *e, unsigned count,
		      unsigned level, uint64_t lo, uint64_t hi)
{
	for (unsigned i = 0; i < count; i++) {
		uint64_t clo = i && e[i].lblk > lo ? e[i].lblk : lo;
		uint64_t chi = i + 1 < count && e[i + 1].lblk < hi ? e[i + 1].lblk : hi;
		const struct pfs_node_pm *n;
		int rc;

		if (level == 0) {
			rc = walk_extent(w, &e[i], lo, hi);
		} else {
			n = walk_node(w, e[i].pblk, level - 1);
			if (!n) {
				rc = walk_bad(w);
				if (rc)
					return rc;
				continue;
			}
			w->nodes++;
			rc = w->keep_nodes ? pfs_extvec_push(w->keep_nodes, 0, e[i].pblk, 1) : 0;
			if (!rc && w->visit)
				rc = w->visit(w, e[i].pblk, 1);
			if (!rc)
				rc = walk_level(w, n->e, n->count, level - 1, clo, chi);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* 0: sound; 1: unsound (w->why); < 0: error. The root is already validated. */
static int walk_tree(struct walk *w, const struct pfs_inode_pm *ip)
{
	unsigned count = ip->ext_count;
	int rc;

	if (w->salvage && count > PFS_INLINE_EXTENTS)
		count = PFS_INLINE_EXTENTS;
	rc = walk_level(w, ip->ext, count, ip->ext_depth, 0, UINT64_MAX);

	if (rc == 0 && ip->xattr_blk && w->visit)
		rc = w->visit(w, ip->xattr_blk, 1);
	return rc;
}

static int dup_mark(struct chk *c, uint64_t w, uint64_t bits)
{
	if (!c->dup) {
		c->dup = calloc(c->nwords, sizeof(*c->dup));
		if (!c->dup)
			return -ENOMEM;
	}
	c->dup[w] |= bits;
	return 0;
}

/* Pass 3 visitor: marks the run in the used bitmap, noting blocks held twice. */
static int mark_visit(struct walk *w, uint64_t pblk, uint64_t len)
{
	struct chk *c = w->c;
	uint64_t bit = pblk - c->fs->sb.data_start;

	while (len > 0) {
		uint64_t wi = bit / WORD_BITS, b = bit % WORD_BITS;
		uint64_t k = WORD_BITS - b < len ? WORD_BITS - b : len;
		uint64_t mask = word_mask(b, k);
		int rc;

		if (c->used[wi] & mask) {
			rc = dup_mark(c, wi, c->used[wi] & mask);
			if (rc)
				return rc;
			c->iflags[w->slot] |= IF_SHARED;
		}
		c->used[wi] |= mask;
		bit += k;
		len -= k;
	}
	return 0;
}

/* Drops an unreadable xattr block: the file keeps its data, loses its xattrs. */
static bool drop_xattr_block(struct chk *c, struct pfs_inode_pm *ip)
{
	uint64_t bit = ip->xattr_blk - c->fs->sb.data_start;
	struct pfs_tx *tx;
	int rc;

	if (!c->fix || fix_begin(c, &tx))
		return false;
	rc = pfs_tx_set_u64(tx, &ip->xattr_blk, 0);
	if (!rc && ip->blocks)
		rc = pfs_tx_set_u64(tx, &ip->blocks, ip->blocks - 1);
	if (pfs_tx_end(tx, rc))
		return false;
	/* nothing holds it now: pass 5 frees it (unless another inode holds it too) */
	if (!c->dup || !bit_test(c->dup, bit))
		c->used[bit / WORD_BITS] &= ~(1ull << (bit % WORD_BITS));
	return true;
}

static void check_xattr_block(struct chk *c, uint32_t slot, struct pfs_inode_pm *ip)
{
	const struct pfs_xattr_hdr_pm *x;
	uint64_t blk = ip->xattr_blk;
	char obj[OBJ_MAX];

	if (!blk)
		return;
	x = pfs_blk(c->fs, blk);
	if (x->magic != PFS_XATTR_MAGIC || x->used > PFS_BLOCK_SIZE - sizeof(*x))
		problem(c, inode_obj(obj, slot), drop_xattr_block(c, ip), "xattr block %llu: bad "
			"header%s", (unsigned long long)blk, c->fix ? " (extended attributes "
			"dropped, data kept)" : "");
}

/* ---- directories laid out again (after pass 5, which they allocate after) ---- */

struct remap {
	uint32_t slot;
	uint64_t bad, first_bad;       /* buckets unmapped or corrupt */
	const char *why;
};

static void remap_push(struct chk *c, uint32_t slot, uint64_t bad, uint64_t first_bad,
		       const char *why)
{
	for (size_t i = 0; i < c->nremap; i++) {
		if (c->remap[i].slot == slot) {
			if (bad) {
				c->remap[i].bad = bad;
				c->remap[i].first_bad = first_bad;
			}
			return;
		}
	}
	if (pfs_array_reserve(&c->remap, &c->remap_cap, c->nremap + 1, sizeof(*c->remap)))
		return;
	c->remap[c->nremap++] = (struct remap){ slot, bad, first_bad, why };
}

/* A directory whose mapped blocks 0..E-1 have no hole and E is a power of two. */
static bool dir_mapped_whole(const struct walk *w)
{
	uint64_t e = w->prev_end;

	return e && w->data == e && !(e & (e - 1)) && e <= PFS_DIR_MAX_BUCKETS;
}

static bool dir_size_ok(uint64_t size)
{
	uint64_t nb = size >> PFS_BLOCK_SHIFT;

	return nb && !(size & (PFS_BLOCK_SIZE - 1)) && !(nb & (nb - 1)) &&
	       nb <= PFS_DIR_MAX_BUCKETS;
}

/*
 * A size out of range: a regular file's becomes the end of its last mapped
 * block (the bytes of the last block past the real end read as data), a
 * directory's the buckets it maps when they are whole.
 */
static bool mend_size(struct chk *c, uint32_t slot, struct pfs_inode_pm *ip)
{
	struct walk w = { .c = c, .slot = slot };

	if ((!S_ISREG(ip->mode) && !S_ISDIR(ip->mode)) || ip->ext_depth > PFS_MAX_TREE_DEPTH ||
	    ip->ext_count > PFS_INLINE_EXTENTS || walk_tree(&w, ip) != 0)
		return false;
	if (S_ISDIR(ip->mode) && !dir_mapped_whole(&w))
		return false;
	return fix_u64(c, &ip->size, w.prev_end << PFS_BLOCK_SHIFT);
}

/*
 * A depth or count out of range: the first (depth, count) under which the
 * inline entries form a sound tree, the largest count first. Not a guess the
 * tree walk has not confirmed.
 */
static bool mend_ext_root(struct chk *c, struct pfs_inode_pm *ip)
{
	unsigned max = ip->ext_count < PFS_INLINE_EXTENTS ? ip->ext_count : PFS_INLINE_EXTENTS;
	struct pfs_inode_pm t = *ip;

	for (uint16_t d = 0; d <= PFS_MAX_TREE_DEPTH; d++) {
		if (ip->ext_depth <= PFS_MAX_TREE_DEPTH && d != ip->ext_depth)
			continue;
		for (uint16_t n = (uint16_t)(ip->ext_count > PFS_INLINE_EXTENTS ?
				PFS_INLINE_EXTENTS : max); n >= 1; n--) {
			struct walk w = { .c = c };
			uint16_t v[2] = { d, n };

			t.ext_depth = d;
			t.ext_count = n;
			if (walk_tree(&w, &t) != 0)
				continue;
			return fix_set(c, &ip->ext_depth, v, sizeof(v));
		}
	}
	return false;
}

/*
 * Fields of an unsound inode that can be mended without guessing: an xattr
 * block outside the data area (dropped), a directory parent out of range (the
 * root; pass 7 sets the directory that names it). True when now sound.
 */
static bool mend_inode(struct chk *c, uint32_t slot, struct pfs_inode_pm *ip, char *why,
		       size_t len)
{
	char obj[OBJ_MAX];
	bool fixed;

	inode_obj(obj, slot);
	if (!mode_ok(ip->mode) && slot == PFS_ROOT_SLOT) {
		fixed = fix_u32(c, &ip->mode, S_IFDIR | (ip->mode & 07777));
		problem(c, obj, fixed, "bad mode 0%o for the root directory%s", ip->mode,
			fixed ? " (a directory again)" : "");
		if (!fixed)
			return false;
		c->iflags[slot] |= IF_DIR;
	}
	if (!mode_ok(ip->mode)) {
		/* the type of an entry naming it may tell: pass 4, then bad_modes() */
		c->iflags[slot] |= IF_BADMODE;
		return false;
	}
	if (ip->xattr_blk && !pfs_blk_is_data(c->fs, ip->xattr_blk, 1)) {
		uint64_t old = ip->xattr_blk;

		fixed = fix_u64(c, &ip->xattr_blk, 0);
		problem(c, obj, fixed, "xattr block %llu outside the data area%s",
			(unsigned long long)old, fixed ? " (dropped)" : "");
		if (!fixed)
			return false;
	}
	if (ip->ext_depth > PFS_MAX_TREE_DEPTH || ip->ext_count > PFS_INLINE_EXTENTS) {
		unsigned depth = ip->ext_depth, count = ip->ext_count;

		fixed = mend_ext_root(c, ip);
		problem(c, obj, fixed, "bad extent root (depth %u, count %u)%s", depth, count,
			fixed ? " (set to the depth and count its entries form a sound tree with)"
			: "");
		if (!fixed)
			return false;
	}
	if (ip->size > PFS_MAX_FILE_SIZE || (S_ISDIR(ip->mode) && !dir_size_ok(ip->size))) {
		uint64_t old = ip->size;

		fixed = mend_size(c, slot, ip);
		problem(c, obj, fixed, "size %llu impossible for this file%s",
			(unsigned long long)old, fixed ? " (set to the end of the blocks it maps)"
			: "");
		if (!fixed)
			return false;
	}
	if (S_ISDIR(ip->mode) && (ip->parent == 0 || ip->parent >= c->fs->sb.inode_count)) {
		fixed = fix_u64(c, &ip->parent, PFS_ROOT_SLOT);
		problem(c, obj, fixed, "directory parent %llu out of range",
			(unsigned long long)ip->parent);
		if (!fixed)
			return false;
	}
	if (inode_sound(c->fs, ip, why, len))
		return true;
	problem(c, obj, false, "%s", why);
	return false;
}

/* ---- pass 3 salvage: unsound extent trees, rebuilt from their sound parts ---- */

struct salvage {
	uint32_t slot;
	struct pfs_extvec ext, nodes;  /* sound extents and node blocks */
	uint64_t skipped;
	char why[160];
};

/*
 * Walks an unsound tree keeping what is sound (marking its blocks), to be
 * rebuilt after pass 5 (salvage_trees): the rebuild allocates nodes, which
 * needs the rebuilt block bitmap. Directories are left as they are.
 */
static int salvage_tree(struct chk *c, uint32_t slot, struct pfs_inode_pm *ip, const char *why)
{
	struct salvage *sv;
	struct walk w = { .c = c, .slot = slot, .visit = mark_visit, .salvage = true };
	int rc;

	if (S_ISDIR(ip->mode) || ip->ext_depth > PFS_MAX_TREE_DEPTH)
		return 1;
	if (pfs_array_reserve(&c->salv, &c->salv_cap, c->nsalv + 1, sizeof(*c->salv)))
		return -ENOMEM;
	sv = &c->salv[c->nsalv];
	memset(sv, 0, sizeof(*sv));
	sv->slot = slot;
	snprintf(sv->why, sizeof(sv->why), "%s", why);
	w.keep = &sv->ext;
	w.keep_nodes = &sv->nodes;
	rc = walk_tree(&w, ip);
	sv->skipped = w.skipped;
	c->nsalv++;
	return rc < 0 ? rc : 0;
}

/* What each file type may hold. */
/* A symlink's length from its target block: the bytes before the first NUL. */
static uint64_t symlink_len(struct chk *c, const struct pfs_inode_pm *ip)
{
	uint64_t pblk = 0, run;

	if (pfs_ext_map(c->fs, ip, 0, 1, &pblk, &run) || !pblk)
		return 0;
	return strnlen(pfs_blk(c->fs, pblk), PFS_SYMLINK_MAX);
}

static void check_shape(struct chk *c, uint32_t slot, struct pfs_inode_pm *ip,
			const struct walk *w)
{
	uint64_t nb = ip->size >> PFS_BLOCK_SHIFT, len;
	char obj[OBJ_MAX];
	bool fixed;

	inode_obj(obj, slot);
	if (S_ISDIR(ip->mode) && w->prev_end > nb && dir_mapped_whole(w) &&
	    !(c->iflags[slot] & IF_SHARED)) {
		fixed = fix_u64(c, &ip->size, w->prev_end << PFS_BLOCK_SHIFT);
		problem(c, obj, fixed, "directory maps %llu buckets but its size says %llu%s",
			(unsigned long long)w->prev_end, (unsigned long long)nb,
			fixed ? " (size set to the buckets it maps)" : "");
	} else if (S_ISDIR(ip->mode) && w->prev_end > nb && c->fix &&
		   !(c->iflags[slot] & IF_SHARED)) {
		remap_push(c, slot, 0, 0, "maps blocks past its buckets");
	} else if (S_ISDIR(ip->mode) && w->prev_end > nb) {
		problem(c, obj, false, "directory maps blocks past its %llu buckets",
			(unsigned long long)nb);
	}
	if (S_ISLNK(ip->mode) && (ip->size == 0 || ip->size > PFS_SYMLINK_MAX)) {
		uint64_t old = ip->size;

		len = symlink_len(c, ip);
		fixed = len && fix_u64(c, &ip->size, len);
		problem(c, obj, fixed, "symlink length %llu out of range%s",
			(unsigned long long)old, fixed ? " (set to the target's length)" : "");
	}
	else if (S_ISLNK(ip->mode) && (w->data == 0 || w->first_lblk != 0))
		problem(c, obj, false, "symlink target block is not mapped");
	if (!S_ISREG(ip->mode) && !S_ISDIR(ip->mode) && !S_ISLNK(ip->mode) &&
	    w->data + w->nodes > 0)
		problem(c, obj, false, "special file holds %llu data blocks",
			(unsigned long long)(w->data + w->nodes));
}

static int scan_inode(struct chk *c, uint32_t slot)
{
	struct pfs_inode_pm *ip = pfs_inode_at(c->fs, slot);
	struct walk w = { .c = c, .slot = slot, .visit = mark_visit };
	char obj[OBJ_MAX];
	int rc;

	c->iflags[slot] = IF_INUSE;
	/*
	 * Mode 0 with the bit set: a free slot whose bit is wrong (a freed inode
	 * holds no data and no links), or a live inode whose mode word was lost,
	 * whose entry may tell its type (pass 4); never free the latter's data.
	 */
	if (ip->mode == 0 && !ip->nlink && !ip->ext_count && !ip->size) {
		c->iflags[slot] |= IF_FREE; /* reported with its repair in pass 7 */
		return 0;
	}
	if (ip->mode == 0 && slot != PFS_ROOT_SLOT) {
		c->iflags[slot] |= IF_BADMODE;
		return 0;
	}
	if (S_ISDIR(ip->mode))
		c->iflags[slot] |= IF_DIR;
	if (!inode_sound(c->fs, ip, w.why, sizeof(w.why)) &&
	    !mend_inode(c, slot, ip, w.why, sizeof(w.why))) {
		if (!(c->iflags[slot] & IF_BADMODE))
			c->blocks_unknown = true;
		return 0;
	}
	/* a check first: a walk that marks and then fails would mark twice */
	w.visit = NULL;
	rc = walk_tree(&w, ip);
	if (rc > 0) {
		rc = salvage_tree(c, slot, ip, w.why);
		if (rc > 0) {
			problem(c, inode_obj(obj, slot), false, "extent tree: %s", w.why);
			c->blocks_unknown = true;
			return 0;
		}
		if (rc < 0)
			return rc;
		c->iflags[slot] |= IF_VALID | IF_SALV;
		check_xattr_block(c, slot, ip);
		return 0;
	}
	if (rc == 0) {
		struct walk wm = { .c = c, .slot = slot, .visit = mark_visit };

		rc = walk_tree(&wm, ip);
		w = wm;
	}
	if (rc < 0)
		return rc;
	c->iflags[slot] |= IF_VALID;
	check_xattr_block(c, slot, ip);
	check_shape(c, slot, ip, &w);
	return 0;
}

/*
 * A slot whose bitmap bit is clear but which holds a sound inode (mode set,
 * fields and extent tree valid): in use if a live directory entry names it
 * with its generation (pass 3a). A freed slot has mode 0 (pfs_inode_destroy);
 * an inode written by a transaction that never committed, or left by an
 * earlier format (mkfs does not zero the table), is named by no entry.
 */
static void note_candidate(struct chk *c, uint32_t slot)
{
	const struct pfs_inode_pm *ip = pfs_inode_at(c->fs, slot);
	struct walk w = { .c = c, .slot = slot };

	if (ip->mode == 0 || !inode_sound(c->fs, ip, w.why, sizeof(w.why)))
		return;
	if (walk_tree(&w, ip) == 0) {
		c->iflags[slot] = IF_CAND;
		c->ncand++;
	}
}

static int scan_inodes(struct chk *c)
{
	const struct pfs_fs *fs = c->fs;

	for (uint64_t s = PFS_ROOT_SLOT; s < fs->sb.inode_count; s++) {
		int rc;

		if (s % CHK_TICK == 0)
			chk_progress(c, "inodes", s, fs->sb.inode_count);
		if (!bit_test(fs->ibitmap, s)) {
			note_candidate(c, (uint32_t)s);
			continue;
		}
		rc = scan_inode(c, (uint32_t)s);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- pass 3a: inodes in use whose bitmap bit is clear ---- */

struct slotstack {
	uint32_t *v;
	size_t n, cap;
};

static int stack_push(struct slotstack *st, uint32_t slot)
{
	if (pfs_array_reserve(&st->v, &st->cap, st->n + 1, sizeof(*st->v)))
		return -ENOMEM;
	st->v[st->n++] = slot;
	return 0;
}

/* A candidate named by a live entry: scanned as in use from now on. */
static int adopt(struct chk *c, uint32_t slot, struct slotstack *st)
{
	int rc = scan_inode(c, slot);

	if (rc)
		return rc;
	c->iflags[slot] |= IF_ADOPT;
	if ((c->iflags[slot] & (IF_VALID | IF_DIR)) == (IF_VALID | IF_DIR))
		return stack_push(st, slot);
	return 0;
}

static int adopt_from_dir(struct chk *c, uint32_t dslot, struct slotstack *st)
{
	const struct pfs_inode_pm *dip = pfs_inode_at(c->fs, dslot);
	uint64_t nb = dip->size >> PFS_BLOCK_SHIFT;

	for (uint64_t idx = 0; idx < nb; idx++) {
		struct pfs_bucket_hdr_pm *b;
		const char *p;

		if (pfs_dir_bucket(c->fs, dip, idx, &b))
			continue;
		p = (const char *)(b + 1);
		for (uint32_t off = 0; off < b->used;) {
			const struct pfs_dirent_pm *de = (const void *)(p + off);
			uint32_t slot = PFS_SLOT(de->ino);
			int rc;

			off += de->rec_len;
			if (slot <= PFS_ROOT_SLOT || slot >= c->fs->sb.inode_count ||
			    !(c->iflags[slot] & IF_CAND) ||
			    pfs_inode_at(c->fs, slot)->gen != PFS_GEN(de->ino))
				continue;
			rc = adopt(c, slot, st);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Walks the directories in use, adopting the candidates they name. */
static int adopt_named(struct chk *c)
{
	struct slotstack st = { 0 };
	int rc = 0;

	if (!c->ncand)
		return 0;
	/* the root is in use by definition */
	if (c->iflags[PFS_ROOT_SLOT] & IF_CAND)
		rc = adopt(c, PFS_ROOT_SLOT, &st);
	for (uint64_t s = PFS_ROOT_SLOT; s < c->fs->sb.inode_count && !rc; s++)
		if ((c->iflags[s] & (IF_VALID | IF_DIR | IF_ADOPT)) == (IF_VALID | IF_DIR))
			rc = stack_push(&st, (uint32_t)s);
	while (!rc && st.n)
		rc = adopt_from_dir(c, st.v[--st.n], &st);
	free(st.v);
	return rc;
}

/* ---- pass 3b: who holds the blocks held twice ---- */

struct claim {
	uint64_t pblk;
	uint32_t slot;
};

struct claims {
	struct claim *v;
	size_t n, cap;
};

static int claim_push(struct claims *cl, uint64_t pblk, uint32_t slot)
{
	if (pfs_array_reserve(&cl->v, &cl->cap, cl->n + 1, sizeof(*cl->v)))
		return -ENOMEM;
	cl->v[cl->n++] = (struct claim){ pblk, slot };
	return 0;
}

static int owner_visit(struct walk *w, uint64_t pblk, uint64_t len)
{
	struct chk *c = w->c;
	uint64_t start = c->fs->sb.data_start, bit = pblk - start;

	while (len > 0) {
		uint64_t wi = bit / WORD_BITS, b = bit % WORD_BITS;
		uint64_t k = WORD_BITS - b < len ? WORD_BITS - b : len;
		uint64_t d = c->dup[wi] & word_mask(b, k);

		if (d)
			c->iflags[w->slot] |= IF_SHARED;
		while (d) {
			int rc = claim_push(w->ctx, start + wi * WORD_BITS +
					    (uint64_t)__builtin_ctzll(d), w->slot);

			if (rc)
				return rc;
			d &= d - 1;
		}
		bit += k;
		len -= k;
	}
	return 0;
}

static int claim_cmp(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;

	if (x->pblk != y->pblk)
		return x->pblk < y->pblk ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* End (exclusive) of the group of claims on the block of v[i]. */
static size_t group_end(const struct claims *cl, size_t i)
{
	size_t j = i;

	while (j < cl->n && cl->v[j].pblk == cl->v[i].pblk)
		j++;
	return j;
}

static bool same_owners(const struct claims *cl, size_t a, size_t an, size_t b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t k = 0; k < an; k++)
		if (cl->v[a + k].slot != cl->v[b + k].slot)
			return false;
	return true;
}

/* Every claimant but the first (the keeper) got its own copy. */
static bool group_cloned(const struct chk *c, const struct claims *cl, size_t g, size_t gn)
{
	for (size_t k = 1; k < gn; k++)
		if (cl->v[g + k].slot == cl->v[g + k - 1].slot ||
		    !(c->iflags[cl->v[g + k].slot] & IF_CLONED))
			return false;
	return c->fix && gn > 1;
}

static void report_claims(struct chk *c, const struct claims *cl, size_t g, size_t gn,
			  uint64_t last, uint64_t *nlines)
{
	char obj[OBJ_MAX], who[256];
	int n = 0;

	if ((*nlines)++ >= RUNS_MAX)
		return;

	if (cl->v[g].pblk == last)
		snprintf(obj, sizeof(obj), "block %llu", (unsigned long long)last);
	else
		snprintf(obj, sizeof(obj), "blocks %llu-%llu", (unsigned long long)cl->v[g].pblk,
			 (unsigned long long)last);
	for (size_t k = 0; k < gn && k < OWNERS_MAX; k++)
		n += snprintf(who + n, sizeof(who) - (size_t)n, "%s inode %u",
			      k == 0 ? "" : (k + 1 == gn ? " and" : ","), cl->v[g + k].slot);
	if (gn > OWNERS_MAX)
		snprintf(who + n, sizeof(who) - (size_t)n, " and %zu more", gn - OWNERS_MAX);
	if (gn == 1)
		problem(c, obj, false, "claimed by inode %u and by an inode whose extent tree "
			"is unreadable", cl->v[g].slot);
	else if (gn == 2 && cl->v[g].slot == cl->v[g + 1].slot)
		problem(c, obj, false, "claimed twice by inode %u", cl->v[g].slot);
	else if (group_cloned(c, cl, g, gn))
		problem(c, obj, true, "claimed by%s (inode %u keeps them, the others got their "
			"own copies)", who, cl->v[g].slot);
	else
		problem(c, obj, false, "claimed by%s", who);
}

/* One line per run of blocks with the same owners. */
static void report_dups(struct chk *c, const struct claims *cl)
{
	size_t g = 0, gn = 0;
	uint64_t last = 0, nlines = 0;

	for (size_t i = 0; i < cl->n;) {
		size_t j = group_end(cl, i);

		if (gn && cl->v[i].pblk == last + 1 && same_owners(cl, g, gn, i, j - i)) {
			last = cl->v[i].pblk;
		} else {
			if (gn)
				report_claims(c, cl, g, gn, last, &nlines);
			g = i;
			gn = j - i;
			last = cl->v[i].pblk;
		}
		i = j;
	}
	if (gn)
		report_claims(c, cl, g, gn, last, &nlines);
	if (nlines > RUNS_MAX)
		problem(c, "block bitmap", false, "%llu more runs of blocks claimed by more than "
			"one inode", (unsigned long long)(nlines - RUNS_MAX));
}

static int find_owners(struct chk *c)
{
	struct claims cl = { 0 };
	int rc = 0;

	if (!c->dup)
		return 0;
	for (uint64_t s = PFS_ROOT_SLOT; s < c->fs->sb.inode_count && !rc; s++) {
		struct walk w = { .c = c, .slot = (uint32_t)s, .visit = owner_visit, .ctx = &cl,
				  .salvage = (c->iflags[s] & IF_SALV) != 0 };

		if (c->iflags[s] & IF_VALID)
			rc = walk_tree(&w, pfs_inode_at(c->fs, (uint32_t)s));
	}
	if (rc < 0) {
		free(cl.v);
		return rc;
	}
	qsort(cl.v, cl.n, sizeof(*cl.v), claim_cmp);
	/* reported after pass 5, with the copies made (resolve_dups) */
	c->claims = malloc(sizeof(*c->claims));
	if (!c->claims) {
		free(cl.v);
		return -ENOMEM;
	}
	*c->claims = cl;
	return 0;
}

/* ---- pass 3c: block counts ---- */

/*
 * After 3b: an inode that shares blocks may have a corrupt extent claiming
 * another inode's blocks, so its count is not "fixed" to match that extent.
 */
static void check_block_count(struct chk *c, uint32_t slot)
{
	struct pfs_inode_pm *ip = pfs_inode_at(c->fs, slot);
	struct walk w = { .c = c, .slot = slot };
	uint64_t want;
	char obj[OBJ_MAX];

	if (walk_tree(&w, ip) != 0)
		return;
	want = w.data + w.nodes + (ip->xattr_blk ? 1 : 0);
	if (ip->blocks != want)
		problem(c, inode_obj(obj, slot),
			!(c->iflags[slot] & IF_SHARED) && fix_u64(c, &ip->blocks, want),
			"block count %llu, should be %llu", (unsigned long long)ip->blocks,
			(unsigned long long)want);
}

static void check_block_counts(struct chk *c)
{
	for (uint64_t s = PFS_ROOT_SLOT; s < c->fs->sb.inode_count; s++)
		if (c->iflags[s] & IF_VALID)
			check_block_count(c, (uint32_t)s);
}

/* ---- pass 4: directories ---- */

enum { ENTRY_KEEP, ENTRY_GONE };

struct dirscan {
	uint32_t slot;
	struct pfs_inode_pm *dip;
	struct pfs_bucket_hdr_pm *b;
	uint64_t idx;                  /* bucket index */
	unsigned order;                /* log2 of the bucket count */
	bool fix;                      /* repairs allowed in this directory */
	uint64_t count;                /* entries */
	uint64_t nentries;             /* the inode's entry count before any repair */
	uint32_t subdirs;
};

static bool remove_entry(struct chk *c, struct dirscan *ds, struct pfs_dirent_pm *de)
{
	struct pfs_dirloc loc = { .bucket = ds->b, .de = de };
	struct pfs_tx *tx;

	if (!ds->fix || fix_begin(c, &tx))
		return false;
	return pfs_tx_end(tx, pfs_dir_remove(tx, ds->dip, &loc)) == 0;
}

static bool retype_entry(struct chk *c, struct dirscan *ds, struct pfs_dirent_pm *de,
			 uint8_t type)
{
	struct pfs_dirloc loc = { .bucket = ds->b, .de = de };
	struct pfs_tx *tx;

	if (!ds->fix || fix_begin(c, &tx))
		return false;
	return pfs_tx_end(tx, pfs_dir_retarget(tx, &loc, de->ino, type)) == 0;
}

enum { NAME_OK, NAME_BAD, NAME_MISPLACED };

static int check_name(struct chk *c, const struct dirscan *ds, const struct pfs_dirent_pm *de,
		      char *why, size_t len)
{
	uint64_t hash = pfs_dir_hash(c->fs, de->name, de->name_len);
	uint64_t want = ds->order ? hash >> (HASH_BITS - ds->order) : 0;
	bool dots = (de->name_len == 1 && de->name[0] == '.') ||
		    (de->name_len == 2 && de->name[0] == '.' && de->name[1] == '.');

	if (dots || memchr(de->name, '/', de->name_len) || memchr(de->name, 0, de->name_len)) {
		snprintf(why, len, "invalid name");
		return NAME_BAD;
	}
	if (de->hash != hash)
		snprintf(why, len, "hash %#llx, should be %#llx (lookups cannot find it)",
			 (unsigned long long)de->hash, (unsigned long long)hash);
	else if (want != ds->idx)
		snprintf(why, len, "in bucket %llu, belongs in bucket %llu (lookups cannot find "
			 "it)", (unsigned long long)ds->idx, (unsigned long long)want);
	else
		return NAME_OK;
	return NAME_MISPLACED;
}

/* ---- names to put back where lookups find them, after pass 5 ---- */

struct readd {
	uint32_t dslot;
	uint64_t ino;
	uint8_t type;
	char name[PFS_NAME_MAX + 1];
};

/* Takes a misplaced entry out now; readd_entries() inserts it again. */
static bool requeue_entry(struct chk *c, struct dirscan *ds, struct pfs_dirent_pm *de)
{
	uint32_t slot = PFS_SLOT(de->ino);
	struct readd *r;

	if (!ds->fix || pfs_array_reserve(&c->readd, &c->readd_cap, c->nreadd + 1,
					  sizeof(*c->readd)))
		return false;
	r = &c->readd[c->nreadd];
	r->dslot = ds->slot;
	r->ino = de->ino;
	r->type = (c->iflags[slot] & IF_VALID) ?
		  pfs_mode_to_dtype(pfs_inode_at(c->fs, slot)->mode) : de->type;
	memcpy(r->name, de->name, de->name_len);
	r->name[de->name_len] = 0;
	if (!remove_entry(c, ds, de))
		return false;
	c->nreadd++;
	/* still a name of its inode, and a subdirectory of this directory */
	if (c->iflags[slot] & IF_DIR)
		ds->subdirs++;
	if (c->refs[slot]++ == 0)
		c->named_in[slot] = ds->slot;
	return true;
}

static void readd_entries(struct chk *c)
{
	char obj[OBJ_MAX];

	for (size_t i = 0; i < c->nreadd; i++) {
		struct readd *r = &c->readd[i];
		struct pfs_inode_pm *dip = pfs_inode_at(c->fs, r->dslot);
		struct pfs_dirloc loc;
		struct pfs_tx *tx;
		int rc = pfs_dir_find(c->fs, dip, r->name, &loc);

		if (rc == 0)
			rc = -EEXIST;
		else if (rc == -ENOENT)
			rc = fix_begin(c, &tx);
		if (rc == 0)
			rc = pfs_tx_end(tx, pfs_dir_add(tx, dip, r->name, r->ino, r->type));
		if (rc == 0)
			continue;
		snprintf(obj, sizeof(obj), "directory %u entry '%s'", r->dslot, r->name);
		problem(c, obj, false, "could not be inserted again (%s); inode %u is left "
			"without this name", strerror(-rc), PFS_SLOT(r->ino));
	}
}

/* An earlier entry of the bucket with the same name, or NULL. */
static const struct pfs_dirent_pm *earlier_twin(const struct dirscan *ds,
						const struct pfs_dirent_pm *de)
{
	const char *p = (const char *)(ds->b + 1);

	for (const char *q = p; q < (const char *)de;) {
		const struct pfs_dirent_pm *o = (const void *)q;

		if (o->name_len == de->name_len && memcmp(o->name, de->name, de->name_len) == 0)
			return o;
		q += o->rec_len;
	}
	return NULL;
}

static void scan_dir(struct chk *c, uint32_t slot);

/*
 * An inode of unknown mode named by an entry of its generation: the entry's
 * type gives the file type (DT_* << 12 is S_IF*), the permissions are kept.
 */
static void mode_from_entry(struct chk *c, const struct dirscan *ds,
			    const struct pfs_dirent_pm *de)
{
	uint32_t slot = PFS_SLOT(de->ino);
	struct pfs_inode_pm *ip = pfs_inode_at(c->fs, slot);
	uint32_t mode = ((uint32_t)de->type << 12) | (ip->mode & 07777);
	char obj[OBJ_MAX];

	if (!(c->iflags[slot] & IF_BADMODE) || !c->fix || !mode_ok(mode) ||
	    ip->gen != PFS_GEN(de->ino) || !fix_u32(c, &ip->mode, mode))
		return;
	problem(c, inode_obj(obj, slot), true, "bad mode (file type restored from the entry in "
		"directory %u)", ds->slot);
	if (scan_inode(c, slot) < 0)
		return;
	/* directories below this one are scanned by scan_dirs() later */
	if ((c->iflags[slot] & (IF_VALID | IF_DIR)) == (IF_VALID | IF_DIR) && slot < ds->slot)
		scan_dir(c, slot);
}

/* After pass 4: modes no entry told. */
static void bad_modes(struct chk *c)
{
	char obj[OBJ_MAX];

	for (uint64_t s = PFS_ROOT_SLOT; s < c->fs->sb.inode_count; s++) {
		if (!(c->iflags[s] & IF_BADMODE) || (c->iflags[s] & IF_VALID))
			continue;
		problem(c, inode_obj(obj, (uint32_t)s), false, "bad mode 0%o",
			pfs_inode_at(c->fs, (uint32_t)s)->mode);
		c->blocks_unknown = true;
	}
}

/* ENTRY_GONE when the entry is not a live name (removed if repairing). */
static int check_target(struct chk *c, struct dirscan *ds, struct pfs_dirent_pm *de,
			const char *obj)
{
	uint32_t slot = PFS_SLOT(de->ino);
	const struct pfs_inode_pm *ip;

	if (slot == 0 || slot >= c->fs->sb.inode_count ||
	    (c->iflags[slot] & (IF_INUSE | IF_FREE)) != IF_INUSE) {
		problem(c, obj, remove_entry(c, ds, de), "names free inode %u", slot);
		return ENTRY_GONE;
	}
	mode_from_entry(c, ds, de);
	ip = pfs_inode_at(c->fs, slot);
	if (ip->gen != PFS_GEN(de->ino)) {
		problem(c, obj, remove_entry(c, ds, de), "names inode %u generation %u, which "
			"is now generation %u", slot, PFS_GEN(de->ino), ip->gen);
		return ENTRY_GONE;
	}
	if (slot == PFS_ROOT_SLOT) {
		problem(c, obj, remove_entry(c, ds, de), "names the root directory");
		return ENTRY_GONE;
	}
	return ENTRY_KEEP;
}

/* Counts a live entry: names of the target, subdirectories of this directory. */
static void count_entry(struct chk *c, struct dirscan *ds, struct pfs_dirent_pm *de,
			const char *obj)
{
	uint32_t slot = PFS_SLOT(de->ino);
	const struct pfs_inode_pm *ip = pfs_inode_at(c->fs, slot);
	uint8_t type = pfs_mode_to_dtype(ip->mode);

	if ((c->iflags[slot] & IF_VALID) && de->type != type)
		problem(c, obj, retype_entry(c, ds, de, type), "type %u, should be %u", de->type,
			type);
	if (c->iflags[slot] & IF_DIR)
		ds->subdirs++;
	if (c->refs[slot]++ == 0)
		c->named_in[slot] = ds->slot;
	ds->count++;
}

static int check_entry(struct chk *c, struct dirscan *ds, struct pfs_dirent_pm *de)
{
	const struct pfs_dirent_pm *twin;
	char obj[OBJ_MAX], why[160];

	entry_obj(obj, ds->slot, de);
	twin = earlier_twin(ds, de);
	if (twin && twin->ino == de->ino) {
		problem(c, obj, remove_entry(c, ds, de), "appears twice");
		return ENTRY_GONE;
	}
	if (twin) {
		problem(c, obj, remove_entry(c, ds, de), "appears twice, naming inodes %u and %u%s",
			PFS_SLOT(twin->ino), PFS_SLOT(de->ino), ds->fix ? " (the second name "
			"removed; its inode goes to lost+found unless another name holds it)" : "");
		if (ds->fix)
			return ENTRY_GONE;
	}
	switch (check_name(c, ds, de, why, sizeof(why))) {
	case NAME_BAD:
		problem(c, obj, remove_entry(c, ds, de), "%s%s", why, ds->fix ? " (removed; its "
			"inode goes to lost+found unless another name holds it)" : "");
		return ENTRY_GONE;
	case NAME_MISPLACED:
		if (check_target(c, ds, de, obj) == ENTRY_GONE)
			return ENTRY_GONE;
		if (requeue_entry(c, ds, de)) {
			problem(c, obj, true, "%s (inserted again)", why);
			return ENTRY_GONE;
		}
		problem(c, obj, false, "%s", why);
		break;
	default:
		if (check_target(c, ds, de, obj) == ENTRY_GONE)
			return ENTRY_GONE;
	}
	count_entry(c, ds, de, obj);
	return ENTRY_KEEP;
}

static void scan_bucket(struct chk *c, struct dirscan *ds)
{
	char *p = (char *)(ds->b + 1);
	uint32_t off = 0;

	while (off < ds->b->used) {
		struct pfs_dirent_pm *de = (void *)(p + off);
		uint32_t used = ds->b->used;

		/* a removal compacts the bucket: the next entry moves to off */
		if (check_entry(c, ds, de) == ENTRY_GONE && ds->b->used < used)
			continue;
		off += de->rec_len;
	}
}

/* Entry count and link count of a directory whose buckets were all read. */
static void check_dir_counts(struct chk *c, const struct dirscan *ds)
{
	struct pfs_inode_pm *dip = ds->dip;
	char obj[OBJ_MAX];

	inode_obj(obj, ds->slot);
	/* removing entries above changed nentries: compare what the inode said */
	if (ds->nentries != ds->count || dip->nentries != ds->count)
		problem(c, obj, fix_u64(c, &dip->nentries, ds->count),
			"entry count %llu, should be %llu", (unsigned long long)ds->nentries,
			(unsigned long long)ds->count);
	/* nlink 0: an orphan (or a stray), judged in pass 7 */
	if (dip->nlink != 0 && dip->nlink != 2u + ds->subdirs)
		problem(c, obj, fix_u32(c, &dip->nlink, 2u + ds->subdirs),
			"link count %u, should be %u (2 + %u subdirectories)", dip->nlink,
			2u + ds->subdirs, ds->subdirs);
}

/*
 * A bucket that fails validation, rewritten in place to its sound entries:
 * those up to the first whose record is malformed (a hash below the minimum
 * is set to the name's hash; pass 4 then re-inserts a misplaced name). The
 * names after it are lost; their inodes go to lost+found. false: unfixable.
 */
static bool mend_bucket(struct chk *c, struct dirscan *ds, uint64_t *kept)
{
	struct pfs_bucket_hdr_pm *b, hdr = { .magic = PFS_BUCKET_MAGIC };
	uint64_t pblk = 0, run;
	struct pfs_tx *tx;
	const char *p;
	int rc;

	if (!ds->fix || pfs_ext_map(c->fs, ds->dip, ds->idx, 1, &pblk, &run) || pblk == 0 ||
	    !pfs_blk_is_data(c->fs, pblk, 1))
		return false;
	b = pfs_blk(c->fs, pblk);
	p = (const char *)(b + 1);
	*kept = 0;
	if (b->magic == PFS_BUCKET_MAGIC && b->used <= PFS_BUCKET_SPACE) {
		while (hdr.used < b->used) {
			const struct pfs_dirent_pm *de = (const void *)(p + hdr.used);
			uint32_t left = b->used - hdr.used;

			if (left < sizeof(*de) || de->rec_len < PFS_DIRENT_LEN(de->name_len) ||
			    de->rec_len > left || (de->rec_len & 7) || de->name_len == 0)
				break;
			hdr.used += de->rec_len;
			(*kept)++;
		}
	}
	rc = fix_begin(c, &tx);
	if (rc)
		return false;
	rc = pfs_tx_set(tx, b, &hdr, sizeof(hdr));
	for (uint32_t off = 0; !rc && off < hdr.used;) {
		struct pfs_dirent_pm *de = (void *)((char *)(b + 1) + off);

		if (de->hash < PFS_HASH_MIN)
			rc = pfs_tx_set_u64(tx, &de->hash,
					    pfs_dir_hash(c->fs, de->name, de->name_len));
		off += de->rec_len;
	}
	return pfs_tx_end(tx, rc) == 0;
}

static void scan_dir(struct chk *c, uint32_t slot)
{
	struct dirscan ds = { .slot = slot, .dip = pfs_inode_at(c->fs, slot) };
	uint64_t nb = ds.dip->size >> PFS_BLOCK_SHIFT, bad = 0, first_bad = 0;
	char obj[OBJ_MAX];

	ds.order = (unsigned)__builtin_ctzll(nb);
	ds.nentries = ds.dip->nentries;
	/* never rewrite a bucket another inode also holds */
	ds.fix = c->fix && !(c->iflags[slot] & IF_SHARED);
	for (ds.idx = 0; ds.idx < nb; ds.idx++) {
		uint64_t kept;

		if (pfs_dir_bucket(c->fs, ds.dip, ds.idx, &ds.b)) {
			if (!mend_bucket(c, &ds, &kept) ||
			    pfs_dir_bucket(c->fs, ds.dip, ds.idx, &ds.b)) {
				if (bad++ == 0)
					first_bad = ds.idx;
				continue;
			}
			problem(c, inode_obj(obj, slot), true, "directory bucket %llu is corrupt "
				"(rewritten with the %llu sound entries before the damage; the "
				"inodes named after it go to lost+found)",
				(unsigned long long)ds.idx, (unsigned long long)kept);
		}
		scan_bucket(c, &ds);
	}
	if (ds.count)
		c->iflags[slot] |= IF_HASENT;
	if (bad && ds.fix) {
		c->iflags[slot] |= IF_DIRBAD; /* remap_dirs() lays its buckets out again */
		remap_push(c, slot, bad, first_bad, NULL);
		return;
	}
	if (bad) {
		c->iflags[slot] |= IF_DIRBAD;
		problem(c, inode_obj(obj, slot), false, "%llu of %llu directory buckets are "
			"unmapped or corrupt (the first is bucket %llu)", (unsigned long long)bad,
			(unsigned long long)nb, (unsigned long long)first_bad);
		return;
	}
	check_dir_counts(c, &ds);
}

static void scan_dirs(struct chk *c)
{
	for (uint64_t s = PFS_ROOT_SLOT; s < c->fs->sb.inode_count; s++) {
		if (s % CHK_TICK == 0)
			chk_progress(c, "directories", s, c->fs->sb.inode_count);
		if ((c->iflags[s] & (IF_VALID | IF_DIR)) == (IF_VALID | IF_DIR))
			scan_dir(c, (uint32_t)s);
	}
}

/* ---- pass 5: bitmaps and free counts ---- */

static uint64_t count_bits(const uint64_t *map, uint64_t nbits)
{
	uint64_t n = 0;

	for (uint64_t w = 0; w * WORD_BITS < nbits; w++)
		n += (uint64_t)__builtin_popcountll(map[w] & valid_mask(w, nbits));
	return n;
}

/* Sets the bits of adopted slots, FIX_BATCH per transaction. */
static bool mark_adopted(struct chk *c)
{
	uint64_t *ib = c->fs->ibitmap, s = PFS_ROOT_SLOT;

	if (!c->fix)
		return false;
	while (s < c->fs->sb.inode_count) {
		struct pfs_tx *tx;
		unsigned n = 0;
		int rc = fix_begin(c, &tx);

		if (rc)
			return false;
		for (; s < c->fs->sb.inode_count && n < FIX_BATCH && !rc; s++) {
			uint64_t w = s / WORD_BITS, bit = 1ull << (s % WORD_BITS);

			if (!(c->iflags[s] & IF_ADOPT) || (ib[w] & bit))
				continue;
			rc = pfs_tx_set_u64(tx, &ib[w], ib[w] | bit);
			n++;
		}
		if (pfs_tx_end(tx, rc))
			return false;
	}
	return true;
}

/*
 * The inode table is the authority: a named, sound inode keeps its slot.
 * Returns how many such slots are still unmarked.
 */
static uint64_t check_adopted(struct chk *c)
{
	uint64_t n = 0, first = 0;
	bool fixed;
	char obj[OBJ_MAX];

	for (uint64_t s = PFS_ROOT_SLOT; s < c->fs->sb.inode_count; s++)
		if ((c->iflags[s] & IF_ADOPT) && n++ == 0)
			first = s;
	if (!n)
		return 0;
	fixed = mark_adopted(c);
	for (uint64_t s = first, k = 0; s < c->fs->sb.inode_count && k < RUNS_MAX; s++)
		if ((c->iflags[s] & IF_ADOPT) && k++ < RUNS_MAX)
			problem(c, inode_obj(obj, (uint32_t)s), fixed, "in use (a directory "
				"names it) but not marked in the inode bitmap%s",
				fixed ? " (marked)" : "");
	if (n > RUNS_MAX)
		problem(c, "inode bitmap", fixed, "%llu more inodes in use but not marked",
			(unsigned long long)(n - RUNS_MAX));
	return fixed ? 0 : n;
}

static void check_inode_bitmap(struct chk *c)
{
	struct pfs_fs *fs = c->fs;
	uint64_t count = fs->sb.inode_count, set, want;
	uint64_t unmarked = check_adopted(c);

	if (!(fs->ibitmap[0] & 1u))
		problem(c, "inode bitmap", fix_u64(c, &fs->ibitmap[0], fs->ibitmap[0] | 1u),
			"slot 0 is not marked in use");
	set = count_bits(fs->ibitmap, count) + !(fs->ibitmap[0] & 1u) + unmarked;
	want = count - set;
	if (fs->state->free_inodes != want)
		problem(c, "state", fix_u64(c, &fs->state->free_inodes, want),
			"free inode count %llu, should be %llu",
			(unsigned long long)fs->state->free_inodes, (unsigned long long)want);
}

/* Runs of blocks of one kind of damage, reported as ranges. */
struct runs {
	const char *what;
	bool repaired;
	bool kept;                     /* a consequence of another problem: a note */
	uint64_t start, len;           /* current run, in bits */
	uint64_t nruns, nblocks;
};

static void runs_flush(struct chk *c, struct runs *r)
{
	uint64_t first = c->fs->sb.data_start + r->start;
	char obj[64];

	if (r->len == 0)
		return;
	if (r->nruns++ < RUNS_MAX) {
		if (r->len == 1)
			snprintf(obj, sizeof(obj), "block %llu", (unsigned long long)first);
		else
			snprintf(obj, sizeof(obj), "blocks %llu-%llu", (unsigned long long)first,
				 (unsigned long long)(first + r->len - 1));
		/* kept for an unreadable inode, which is the problem reported */
		if (r->kept)
			note(c, obj, "%s", r->what);
		else
			problem(c, obj, r->repaired, "%s", r->what);
	}
	r->nblocks += r->len;
	r->len = 0;
}

static void runs_feed(struct chk *c, struct runs *r, uint64_t w, uint64_t bits)
{
	while (bits) {
		uint64_t bit = w * WORD_BITS + (uint64_t)__builtin_ctzll(bits);

		if (r->len && r->start + r->len == bit) {
			r->len++;
		} else {
			runs_flush(c, r);
			r->start = bit;
			r->len = 1;
		}
		bits &= bits - 1;
	}
}

static void runs_end(struct chk *c, struct runs *r)
{
	runs_flush(c, r);
	if (r->nruns > RUNS_MAX && r->kept)
		note(c, "block bitmap", "%llu more runs of blocks %s (%llu blocks in all)",
		     (unsigned long long)(r->nruns - RUNS_MAX), r->what,
		     (unsigned long long)r->nblocks);
	else if (r->nruns > RUNS_MAX)
		problem(c, "block bitmap", r->repaired, "%llu more runs of blocks %s (%llu "
			"blocks in all)", (unsigned long long)(r->nruns - RUNS_MAX), r->what,
			(unsigned long long)r->nblocks);
}

/* What the bitmap word should hold: what inodes use (and, unsure, what it had). */
static uint64_t bitmap_want(const struct chk *c, uint64_t w, uint64_t cur, bool clear_leaks)
{
	uint64_t valid = valid_mask(w, c->fs->sb.data_blocks);
	uint64_t keep = clear_leaks ? 0 : cur & valid;

	return (cur & ~valid) | (c->used[w] & valid) | keep;
}

/* Rewrites the bitmap words that differ, FIX_BATCH stores per transaction. */
static bool fix_block_bitmap(struct chk *c, bool clear_leaks)
{
	uint64_t *bb = c->fs->bbitmap;
	uint64_t w = 0;

	if (!c->fix)
		return false;
	while (w < c->nwords) {
		struct pfs_tx *tx;
		unsigned changed = 0;
		int rc = fix_begin(c, &tx);

		if (rc)
			return false;
		for (; w < c->nwords && changed < FIX_BATCH && !rc; w++) {
			uint64_t want = bitmap_want(c, w, bb[w], clear_leaks);

			if (want != bb[w]) {
				rc = pfs_tx_set_u64(tx, &bb[w], want);
				changed++;
			}
		}
		if (pfs_tx_end(tx, rc))
			return false;
	}
	return true;
}

static int check_block_bitmap(struct chk *c)
{
	struct pfs_fs *fs = c->fs;
	uint64_t nbits = fs->sb.data_blocks, want;
	uint64_t *orig = malloc((c->nwords ? c->nwords : 1) * sizeof(*orig));
	bool clear_leaks = !c->blocks_unknown, fixed;
	struct runs leaked = { .what = "marked used but owned by nothing" };
	struct runs missing = { .what = "used by an inode but not marked in the bitmap" };

	if (!orig)
		return -ENOMEM;
	memcpy(orig, fs->bbitmap, c->nwords * sizeof(*orig));
	fixed = fix_block_bitmap(c, clear_leaks);
	leaked.repaired = fixed && clear_leaks;
	missing.repaired = fixed;
	if (!clear_leaks) {
		leaked.what = "marked used but owned by nothing (kept: an unreadable inode may "
			      "hold them)";
		leaked.kept = true;
	}
	for (uint64_t w = 0; w < c->nwords; w++) {
		uint64_t marked = orig[w] & valid_mask(w, nbits);

		runs_feed(c, &leaked, w, marked & ~c->used[w]);
		runs_feed(c, &missing, w, c->used[w] & ~marked);
	}
	runs_end(c, &leaked);
	runs_end(c, &missing);
	free(orig);
	want = nbits - count_bits(fs->bbitmap, nbits);
	if (fs->state->free_blocks != want)
		problem(c, "state", fix_u64(c, &fs->state->free_blocks, want),
			"free block count %llu, should be %llu",
			(unsigned long long)fs->state->free_blocks, (unsigned long long)want);
	return 0;
}

/* ---- pass 5d: blocks claimed twice: the first claimant keeps, the others copy ---- */

/* The slot that keeps pblk (the lowest claimant), or 0 when it is not held twice. */
static uint32_t keeper_of(const struct chk *c, uint64_t pblk)
{
	const struct claims *cl = c->claims;
	size_t n = cl ? cl->n : 0, lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cl->v[mid].pblk < pblk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && cl->v[lo].pblk == pblk ? cl->v[lo].slot : 0;
}

static bool must_copy(const struct chk *c, uint32_t slot, uint64_t pblk)
{
	uint32_t k = keeper_of(c, pblk);

	return k && k != slot;
}

/* Fresh copies of [pblk, pblk+len) (unreachable until the commit), as extents. */
static int copy_run(struct pfs_tx *tx, uint64_t lblk, uint64_t pblk, uint64_t len,
		    struct pfs_extvec *out)
{
	struct pfs_fs *fs = tx->fs;

	while (len > 0) {
		uint64_t npblk, got;
		int rc = pfs_alloc_blocks(tx, len, 0, &npblk, &got);

		if (rc)
			return rc;
		pfs_pm_copy(fs->pm, pfs_blk(fs, npblk), pfs_blk(fs, pblk), got << PFS_BLOCK_SHIFT);
		rc = pfs_extvec_push(out, lblk, npblk, got);
		if (rc)
			return rc;
		lblk += got;
		pblk += got;
		len -= got;
	}
	return 0;
}

/* One extent, split into runs it keeps and runs it copies. */
static int copy_extent(struct chk *c, struct pfs_tx *tx, uint32_t slot,
		       const struct pfs_extent_pm *e, struct pfs_extvec *out, bool *copied)
{
	for (uint64_t i = 0; i < e->len;) {
		bool copy = must_copy(c, slot, e->pblk + i);
		uint64_t j = i + 1;
		int rc;

		while (j < e->len && must_copy(c, slot, e->pblk + j) == copy)
			j++;
		if (copy) {
			rc = copy_run(tx, e->lblk + i, e->pblk + i, j - i, out);
			*copied = true;
		} else {
			rc = pfs_extvec_push(out, e->lblk + i, e->pblk + i, j - i);
		}
		if (rc)
			return rc;
		i = j;
	}
	return 0;
}

static int copy_xattr_block(struct chk *c, struct pfs_tx *tx, struct pfs_inode_pm *ip,
			    uint32_t slot, bool *copied)
{
	uint64_t npblk, got;
	int rc;

	if (!ip->xattr_blk || !must_copy(c, slot, ip->xattr_blk))
		return 0;
	rc = pfs_alloc_blocks(tx, 1, 0, &npblk, &got);
	if (rc)
		return rc;
	pfs_pm_copy(c->fs->pm, pfs_blk(c->fs, npblk), pfs_blk(c->fs, ip->xattr_blk),
		    PFS_BLOCK_SIZE);
	*copied = true;
	return pfs_tx_set_u64(tx, &ip->xattr_blk, npblk);
}

/* The inode's tree rebuilt over its own copies of the blocks others keep. */
static int copy_shared(struct chk *c, uint32_t slot)
{
	struct pfs_inode_pm *ip = pfs_inode_at(c->fs, slot);
	struct pfs_extvec old = { 0 }, nodes = { 0 }, neu = { 0 };
	struct walk w = { .c = c, .slot = slot };
	bool copied = false;
	struct pfs_tx *tx;
	int rc = pfs_ext_collect(c->fs, ip, &old);

	if (!rc)
		rc = pfs_ext_nodes(c->fs, ip, &nodes);
	for (size_t i = 0; !rc && i < nodes.n; i++)
		if (keeper_of(c, nodes.v[i].pblk))
			rc = -EBUSY; /* a tree node held twice: not copied */
	if (rc)
		goto out;
	rc = fix_begin(c, &tx);
	if (rc)
		goto out;
	for (size_t i = 0; !rc && i < old.n; i++)
		rc = copy_extent(c, tx, slot, &old.v[i], &neu, &copied);
	if (!rc)
		rc = copy_xattr_block(c, tx, ip, slot, &copied);
	/* the copies are durable before the commit makes them reachable */
	pfs_pm_drain(c->fs->pm);
	if (!rc && copied)
		rc = pfs_tx_set_u16(tx, &ip->ext_count, 0);
	if (!rc && copied)
		rc = pfs_tx_set_u16(tx, &ip->ext_depth, 0);
	if (!rc && copied)
		rc = pfs_ext_rebuild(tx, ip, &neu);
	for (size_t i = 0; !rc && copied && i < nodes.n; i++)
		rc = pfs_tx_free_later(tx, nodes.v[i].pblk, 1);
	if (!rc && copied)
		rc = walk_tree(&w, ip) ? -EUCLEAN : 0;
	if (!rc && copied)
		rc = pfs_tx_set_u64(tx, &ip->blocks, w.data + w.nodes + (ip->xattr_blk ? 1 : 0));
	rc = pfs_tx_end(tx, rc);
out:
	pfs_extvec_free(&old);
	pfs_extvec_free(&nodes);
	pfs_extvec_free(&neu);
	return rc;
}

static void resolve_dups(struct chk *c)
{
	char obj[OBJ_MAX];

	if (!c->claims)
		return;
	for (uint64_t s = PFS_ROOT_SLOT; c->fix && s < c->fs->sb.inode_count; s++) {
		uint16_t f = c->iflags[s];
		int rc;

		if ((f & (IF_SHARED | IF_VALID | IF_SALV)) != (IF_SHARED | IF_VALID))
			continue;
		rc = copy_shared(c, (uint32_t)s);
		c->iflags[s] |= rc ? IF_CLONEFAIL : IF_CLONED;
		if (rc)
			problem(c, inode_obj(obj, (uint32_t)s), false, "copying the blocks it "
				"shares failed: %s", strerror(-rc));
	}
	report_dups(c, c->claims);
}

/* The bucket blocks of a directory, file block i at map[i] (0: a hole). */
static int bucket_map(struct chk *c, struct pfs_inode_pm *ip, uint64_t nb, uint64_t *map,
		      struct pfs_tx *tx)
{
	struct pfs_extvec old = { 0 };
	int rc = pfs_ext_collect(c->fs, ip, &old);

	for (size_t i = 0; !rc && i < old.n; i++) {
		const struct pfs_extent_pm *e = &old.v[i];

		for (uint64_t k = 0; !rc && k < e->len; k++) {
			uint64_t pblk = e->pblk + k;

			if (e->lblk + k < nb)
				map[e->lblk + k] = pblk;
			else if (!keeper_of(c, pblk))
				rc = pfs_tx_free_later(tx, pblk, 1);
		}
	}
	pfs_extvec_free(&old);
	return rc;
}

/* Holes get fresh empty buckets; buckets that fail validation are emptied. */
static int bucket_fill(struct chk *c, struct pfs_tx *tx, uint64_t nb, uint64_t *map)
{
	struct pfs_bucket_hdr_pm h = { .magic = PFS_BUCKET_MAGIC };
	int rc = 0;

	for (uint64_t i = 0; !rc && i < nb; i++) {
		uint64_t got;

		if (map[i]) {
			if (pfs_dir_bucket_validate(c->fs, pfs_blk(c->fs, map[i])))
				rc = pfs_tx_set(tx, pfs_blk(c->fs, map[i]), &h, sizeof(h));
			continue;
		}
		rc = pfs_alloc_blocks(tx, 1, 0, &map[i], &got);
		if (!rc)
			pfs_pm_copy(c->fs->pm, pfs_blk(c->fs, map[i]), &h, sizeof(h));
	}
	return rc;
}

/* Entry count and link count from the buckets as they are now. */
static int dir_recount(struct chk *c, struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t nb)
{
	uint64_t n = 0;
	uint32_t subdirs = 0;
	int rc;

	for (uint64_t i = 0; i < nb; i++) {
		struct pfs_bucket_hdr_pm *b;
		const char *p;

		rc = pfs_dir_bucket(c->fs, ip, i, &b);
		if (rc)
			return rc;
		p = (const char *)(b + 1);
		for (uint32_t off = 0; off < b->used; n++) {
			const struct pfs_dirent_pm *de = (const void *)(p + off);
			uint32_t t = PFS_SLOT(de->ino);

			if (t < c->fs->sb.inode_count && (c->iflags[t] & IF_DIR))
				subdirs++;
			off += de->rec_len;
		}
	}
	rc = pfs_tx_set_u64(tx, &ip->nentries, n);
	if (!rc)
		rc = pfs_tx_set_u32(tx, &ip->nlink, 2 + subdirs);
	return rc;
}

static int remap_dir(struct chk *c, uint32_t slot)
{
	struct pfs_inode_pm *ip = pfs_inode_at(c->fs, slot);
	uint64_t nb = ip->size >> PFS_BLOCK_SHIFT;
	uint64_t *map = calloc(nb, sizeof(*map));
	struct pfs_extvec nodes = { 0 }, neu = { 0 };
	struct walk w = { .c = c, .slot = slot };
	struct pfs_tx *tx;
	int rc = map ? pfs_ext_nodes(c->fs, ip, &nodes) : -ENOMEM;

	if (!rc)
		rc = fix_begin(c, &tx);
	if (rc)
		goto out;
	rc = bucket_map(c, ip, nb, map, tx);
	if (!rc)
		rc = bucket_fill(c, tx, nb, map);
	/* the fresh buckets are durable before the commit makes them reachable */
	pfs_pm_drain(c->fs->pm);
	for (uint64_t i = 0; !rc && i < nb; i++)
		rc = pfs_extvec_push(&neu, i, map[i], 1);
	if (!rc)
		rc = pfs_tx_set_u16(tx, &ip->ext_count, 0);
	if (!rc)
		rc = pfs_tx_set_u16(tx, &ip->ext_depth, 0);
	if (!rc)
		rc = pfs_ext_rebuild(tx, ip, &neu);
	for (size_t i = 0; !rc && i < nodes.n; i++)
		rc = pfs_tx_free_later(tx, nodes.v[i].pblk, 1);
	if (!rc)
		rc = walk_tree(&w, ip) ? -EUCLEAN : 0;
	if (!rc)
		rc = pfs_tx_set_u64(tx, &ip->blocks, w.data + w.nodes + (ip->xattr_blk ? 1 : 0));
	if (!rc)
		rc = dir_recount(c, tx, ip, nb);
	rc = pfs_tx_end(tx, rc);
out:
	free(map);
	pfs_extvec_free(&nodes);
	pfs_extvec_free(&neu);
	return rc;
}

static void remap_dirs(struct chk *c)
{
	char obj[OBJ_MAX];

	for (size_t i = 0; i < c->nremap; i++) {
		const struct remap *r = &c->remap[i];
		int rc = remap_dir(c, r->slot);
		const char *done = rc ? "" : " (laid out again: missing and corrupt buckets "
					    "made empty, blocks past them dropped; the inodes "
					    "they named go to lost+found)";

		inode_obj(obj, r->slot);
		if (r->bad)
			problem(c, obj, rc == 0, "%llu directory buckets are unmapped or corrupt "
				"(the first is bucket %llu)%s", (unsigned long long)r->bad,
				(unsigned long long)r->first_bad, done);
		else
			problem(c, obj, rc == 0, "directory %s%s", r->why, done);
		if (rc)
			problem(c, obj, false, "laying out the directory again failed: %s",
				strerror(-rc));
		else
			c->iflags[r->slot] &= (uint16_t)~IF_DIRBAD;
	}
}

/* ---- pass 5b: salvaged extent trees rebuilt ---- */

/* The tree rebuilt from its sound extents; the old sound nodes freed. */
static int salvage_rebuild(struct chk *c, struct salvage *sv)
{
	struct pfs_inode_pm *ip = pfs_inode_at(c->fs, sv->slot);
	struct walk w = { .c = c, .slot = sv->slot };
	struct pfs_tx *tx;
	int rc = fix_begin(c, &tx);

	if (rc)
		return rc;
	/* an empty root first: pfs_ext_rebuild would walk the unsound old tree */
	rc = pfs_tx_set_u16(tx, &ip->ext_count, 0);
	if (!rc)
		rc = pfs_tx_set_u16(tx, &ip->ext_depth, 0);
	if (!rc)
		rc = pfs_ext_rebuild(tx, ip, &sv->ext);
	for (size_t i = 0; !rc && i < sv->nodes.n; i++)
		rc = pfs_tx_free_later(tx, sv->nodes.v[i].pblk, 1);
	if (!rc)
		rc = walk_tree(&w, ip) ? -EUCLEAN : 0;
	if (!rc)
		rc = pfs_tx_set_u64(tx, &ip->blocks, w.data + w.nodes + (ip->xattr_blk ? 1 : 0));
	return pfs_tx_end(tx, rc);
}

static void salvage_trees(struct chk *c)
{
	char obj[OBJ_MAX];

	for (size_t i = 0; i < c->nsalv; i++) {
		struct salvage *sv = &c->salv[i];
		bool shared = c->iflags[sv->slot] & IF_SHARED;
		int rc = c->fix && !shared ? salvage_rebuild(c, sv) : -EROFS;

		problem(c, inode_obj(obj, sv->slot), rc == 0, "extent tree: %s (%zu sound extents "
			"%s, %llu unsound parts %s)", sv->why, sv->ext.n,
			rc == 0 ? "kept" : "would be kept", (unsigned long long)sv->skipped,
			rc == 0 ? "dropped; the file has holes there" : "would be dropped");
		if (rc && rc != -EROFS)
			problem(c, inode_obj(obj, sv->slot), false, "rebuilding the extent tree "
				"failed: %s", strerror(-rc));
	}
}

/* ---- bitmap checksums (ro_compat BMAP_CSUM) ---- */

/* Pass 2: which bitmap blocks fail their checksum as found. */
static int scan_bmap_csums(struct chk *c)
{
	uint64_t n = pfs_bmap_blocks(c->fs);

	if (!n)
		return 0;
	c->csum_bad = calloc((n + WORD_BITS - 1) / WORD_BITS, sizeof(*c->csum_bad));
	if (!c->csum_bad)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		if (c->fs->bcsum[i] != pfs_bmap_csum(c->fs, i))
			c->csum_bad[i / WORD_BITS] |= 1ull << (i % WORD_BITS);
	return 0;
}

/* Reseals every block whose checksum differs, FIX_BATCH per transaction. */
static bool reseal_bmaps(struct chk *c)
{
	uint64_t n = pfs_bmap_blocks(c->fs), i = 0;

	if (!c->fix)
		return false;
	while (i < n) {
		struct pfs_tx *tx;
		unsigned k = 0;
		int rc = fix_begin(c, &tx);

		if (rc)
			return false;
		for (; i < n && k < FIX_BATCH && !rc; i++) {
			uint32_t want = pfs_bmap_csum(c->fs, i);

			if (c->fs->bcsum[i] != want) {
				rc = pfs_tx_set_u32(tx, &c->fs->bcsum[i], want);
				k++;
			}
		}
		if (pfs_tx_end(tx, rc))
			return false;
	}
	return true;
}

/*
 * Pass 5, after the bitmaps are rebuilt from the inodes: the checksums follow
 * the bitmaps (never the other way round). Blocks the rebuild changed are
 * resealed silently; blocks that failed as found are reported.
 */
static void check_bmap_csums(struct chk *c)
{
	uint64_t n = pfs_bmap_blocks(c->fs), nbad = 0;
	bool fixed;
	char obj[64];

	if (!n)
		return;
	fixed = reseal_bmaps(c);
	for (uint64_t i = 0; i < n; i++) {
		bool ib = i < c->fs->sb.ibitmap_blocks;

		if (!(c->csum_bad[i / WORD_BITS] & (1ull << (i % WORD_BITS))))
			continue;
		if (nbad++ >= RUNS_MAX)
			continue;
		snprintf(obj, sizeof(obj), "%s bitmap block %llu", ib ? "inode" : "block",
			 (unsigned long long)(c->fs->sb.ibitmap_start + i));
		problem(c, obj, fixed, "checksum mismatch%s", fixed ? " (bitmap rebuilt from "
			"the inodes, checksum recomputed)" : "");
	}
	if (nbad > RUNS_MAX)
		problem(c, "bitmap checksums", fixed, "%llu more bitmap blocks fail their "
			"checksum", (unsigned long long)(nbad - RUNS_MAX));
}

/* ---- pass 6: the orphan list ---- */

/* Walks the list from the head, marking IF_ONLIST; NULL when well formed. */
static const char *orphan_walk(struct chk *c, char *why, size_t len)
{
	struct pfs_fs *fs = c->fs;
	uint64_t slot = fs->state->orphan_head, prev = 0;

	while (slot) {
		const struct pfs_inode_pm *ip;

		if (slot < PFS_FIRST_FREE_SLOT || slot >= fs->sb.inode_count) {
			snprintf(why, len, "link %llu after slot %llu is out of range",
				 (unsigned long long)slot, (unsigned long long)prev);
			return why;
		}
		if ((c->iflags[slot] & (IF_INUSE | IF_FREE)) != IF_INUSE ||
		    (c->iflags[slot] & IF_ONLIST)) {
			snprintf(why, len, "links to %s inode %llu", (c->iflags[slot] & IF_ONLIST) ?
				 "(again, a loop) the" : "free", (unsigned long long)slot);
			return why;
		}
		ip = pfs_inode_at(fs, (uint32_t)slot);
		if (!(ip->flags & PFS_INODE_FLAG_ORPHAN) || ip->orphan_prev != prev) {
			snprintf(why, len, "inode %llu on it lacks the orphan flag or links back to "
				 "%llu instead of %llu", (unsigned long long)slot,
				 (unsigned long long)ip->orphan_prev, (unsigned long long)prev);
			return why;
		}
		c->iflags[slot] |= IF_ONLIST;
		prev = slot;
		slot = ip->orphan_next;
	}
	return NULL;
}

/* A flagged orphan the list does not reach, or NULL. */
static const char *orphan_strays(struct chk *c, char *why, size_t len)
{
	for (uint64_t s = PFS_ROOT_SLOT; s < c->fs->sb.inode_count; s++) {
		const struct pfs_inode_pm *ip = pfs_inode_at(c->fs, (uint32_t)s);

		if ((c->iflags[s] & IF_INUSE) && !(c->iflags[s] & IF_ONLIST) &&
		    (ip->flags & PFS_INODE_FLAG_ORPHAN)) {
			snprintf(why, len, "inode %llu is flagged orphan but not on the list",
				 (unsigned long long)s);
			return why;
		}
	}
	return NULL;
}

static int unlink_orphan_fields(struct pfs_tx *tx, struct pfs_inode_pm *ip)
{
	int rc = pfs_tx_set_u32(tx, &ip->flags, ip->flags & ~PFS_INODE_FLAG_ORPHAN);

	if (!rc)
		rc = pfs_tx_set_u64(tx, &ip->orphan_prev, 0);
	if (!rc)
		rc = pfs_tx_set_u64(tx, &ip->orphan_next, 0);
	return rc;
}

/*
 * Empties the list and clears every orphan flag; pass 7 then frees the inodes
 * that were orphans (no name, no link), as the next mount would have.
 */
static bool orphan_rebuild(struct chk *c)
{
	struct pfs_fs *fs = c->fs;
	uint64_t s = PFS_ROOT_SLOT;

	if (!fix_u64(c, &fs->state->orphan_head, 0) && fs->state->orphan_head != 0)
		return false;
	while (s < fs->sb.inode_count) {
		struct pfs_tx *tx;
		unsigned n = 0;
		int rc = fix_begin(c, &tx);

		if (rc)
			return false;
		for (; s < fs->sb.inode_count && n < FIX_BATCH / 4 && !rc; s++) {
			struct pfs_inode_pm *ip = pfs_inode_at(fs, (uint32_t)s);

			c->iflags[s] &= (uint16_t)~IF_ONLIST;
			if (!(c->iflags[s] & IF_INUSE) || !(ip->flags & PFS_INODE_FLAG_ORPHAN))
				continue;
			rc = unlink_orphan_fields(tx, ip);
			n++;
		}
		if (pfs_tx_end(tx, rc))
			return false;
	}
	return true;
}

static void check_orphans(struct chk *c)
{
	char why[160];
	const char *bad = orphan_walk(c, why, sizeof(why));
	unsigned n = 0;

	if (!bad)
		bad = orphan_strays(c, why, sizeof(why));
	if (bad) {
		c->orphans_ok = c->fix && orphan_rebuild(c);
		problem(c, "orphan list", c->orphans_ok, "%s%s", bad,
			c->orphans_ok ? " (list emptied)" : "");
		return;
	}
	c->orphans_ok = true;
	for (uint64_t s = PFS_ROOT_SLOT; s < c->fs->sb.inode_count; s++)
		n += (c->iflags[s] & IF_ONLIST) != 0;
	if (n)
		note(c, "orphan list", "%u orphaned inodes (freed at mount)", n);
}

/* ---- pass 7: link counts, parents, unnamed inodes ---- */

static bool free_slot(struct chk *c, uint32_t slot)
{
	struct pfs_tx *tx;

	if (!c->fix || slot < PFS_FIRST_FREE_SLOT || fix_begin(c, &tx))
		return false;
	if (pfs_tx_end(tx, pfs_free_inode_slot(tx, slot)))
		return false;
	c->iflags[slot] = 0;
	return true;
}

/* Frees an inode and its blocks, unless another inode holds some of them. */
static bool destroy_inode(struct chk *c, uint32_t slot)
{
	struct pfs_tx *tx;

	if (!c->fix || (c->iflags[slot] & IF_SHARED) || fix_begin(c, &tx))
		return false;
	if (pfs_tx_end(tx, pfs_inode_destroy(tx, pfs_inode_at(c->fs, slot))))
		return false;
	c->iflags[slot] = 0;
	return true;
}

/* A named file: nlink = names, and off the orphan list. */
static bool relink_file(struct chk *c, uint32_t slot)
{
	struct pfs_inode_pm *ip = pfs_inode_at(c->fs, slot);
	struct pfs_tx *tx;
	int rc = 0;

	if (!c->fix || ((c->iflags[slot] & IF_ONLIST) && !c->orphans_ok) || fix_begin(c, &tx))
		return false;
	if (c->iflags[slot] & IF_ONLIST)
		rc = pfs_orphan_remove(tx, ip);
	if (!rc)
		rc = pfs_tx_set_u32(tx, &ip->nlink, c->refs[slot]);
	if (pfs_tx_end(tx, rc))
		return false;
	c->iflags[slot] &= (uint16_t)~IF_ONLIST;
	return true;
}

/* ---- lost+found: where sound inodes that no directory names go ---- */

#define LF_NAME "lost+found"

/* A new lost+found in the root, made as mkdir would (pfs_mkdir's create_tx). */
static int lf_create(struct chk *c, uint32_t *out)
{
	struct pfs_fs *fs = c->fs;
	struct pfs_inode_pm *root = pfs_inode_at(fs, PFS_ROOT_SLOT), *ip;
	struct pfs_tx *tx;
	uint32_t slot = 0;
	int rc = fix_begin(c, &tx);

	if (rc)
		return rc;
	rc = pfs_alloc_inode(tx, &slot);
	if (!rc)
		rc = pfs_inode_init(tx, slot, S_IFDIR | 0700, 0, 0, PFS_ROOT_SLOT, 0, &ip);
	if (!rc)
		rc = pfs_dir_init(tx, ip);
	if (!rc)
		rc = pfs_tx_set_u32(tx, &root->nlink, root->nlink + 1);
	if (!rc)
		rc = pfs_dir_add(tx, root, LF_NAME, pfs_inode_ino(fs, ip),
				 pfs_mode_to_dtype(S_IFDIR));
	rc = pfs_tx_end(tx, rc);
	if (rc)
		return rc;
	c->iflags[slot] = IF_INUSE | IF_VALID | IF_DIR | IF_REACH;
	c->refs[slot] = 1;
	c->named_in[slot] = PFS_ROOT_SLOT;
	*out = slot;
	return 0;
}

/* The slot of lost+found, made when missing; 0 when there is none to use. */
static uint32_t lf_get(struct chk *c)
{
	struct pfs_dirloc loc;
	uint32_t slot;
	int rc;

	if (c->lf || c->lf_failed || !c->fix)
		return c->lf;
	c->lf_failed = true;
	if ((c->iflags[PFS_ROOT_SLOT] & (IF_VALID | IF_DIR | IF_DIRBAD)) != (IF_VALID | IF_DIR)) {
		problem(c, LF_NAME, false, "cannot be made: the root directory is unusable");
		return 0;
	}
	rc = pfs_dir_find(c->fs, pfs_inode_at(c->fs, PFS_ROOT_SLOT), LF_NAME, &loc);
	if (rc == 0) {
		slot = PFS_SLOT(loc.de->ino);
		/* a directory the root names is connected whether or not pass 8 got to it */
		if (slot >= c->fs->sb.inode_count || (c->iflags[slot] & (IF_VALID | IF_DIR |
		    IF_DIRBAD)) != (IF_VALID | IF_DIR) || c->refs[slot] != 1) {
			problem(c, LF_NAME, false, "is not a sound directory; nothing can be "
				"reconnected");
			return 0;
		}
	} else if (rc == -ENOENT) {
		rc = lf_create(c, &slot);
		if (rc) {
			problem(c, LF_NAME, false, "cannot be made: %s", strerror(-rc));
			return 0;
		}
		note(c, LF_NAME, "made in the root directory");
	} else {
		return 0;
	}
	c->lf_failed = false;
	c->lf = slot;
	c->iflags[slot] |= IF_REACH;
	return slot;
}

/*
 * Names a sound inode no directory names "#<slot>" in lost+found (e2fsck's
 * convention). A file gets link count 1, a directory lost+found as parent.
 */
static bool lf_link(struct chk *c, uint32_t slot)
{
	struct pfs_inode_pm *ip = pfs_inode_at(c->fs, slot), *lip;
	uint32_t lf = lf_get(c);
	struct pfs_tx *tx;
	char name[32];
	int rc;

	if (!lf || fix_begin(c, &tx))
		return false;
	lip = pfs_inode_at(c->fs, lf);
	snprintf(name, sizeof(name), "#%u", slot);
	rc = pfs_dir_add(tx, lip, name, pfs_inode_ino(c->fs, ip), pfs_mode_to_dtype(ip->mode));
	if (!rc && S_ISDIR(ip->mode))
		rc = pfs_tx_set_u64(tx, &ip->parent, lf);
	if (!rc && S_ISDIR(ip->mode))
		rc = pfs_tx_set_u32(tx, &lip->nlink, lip->nlink + 1);
	if (!rc && !S_ISDIR(ip->mode))
		rc = pfs_tx_set_u32(tx, &ip->nlink, 1);
	if (pfs_tx_end(tx, rc))
		return false;
	c->refs[slot] = 1;
	c->named_in[slot] = lf;
	return true;
}

/*
 * A new, empty root directory in slot 1 (after pass 5: it allocates a bucket).
 * The blocks of an unreadable old root are not freed: they are not known.
 */
static bool root_remake(struct chk *c)
{
	struct pfs_inode_pm *ip = pfs_inode_at(c->fs, PFS_ROOT_SLOT);
	uint64_t *ib = c->fs->ibitmap;
	uint16_t f = c->iflags[PFS_ROOT_SLOT];
	struct pfs_tx *tx;
	int rc;

	if (!c->fix || (f & IF_SHARED) || fix_begin(c, &tx))
		return false;
	rc = 0;
	if ((f & IF_VALID) && (f & IF_DIR))
		rc = pfs_inode_release_data(tx, ip);
	if (!rc && !(ib[0] & (1ull << PFS_ROOT_SLOT)))
		rc = pfs_tx_set_u64(tx, &ib[0], ib[0] | (1ull << PFS_ROOT_SLOT));
	if (!rc)
		rc = pfs_bmap_reseal(tx, &ib[0], sizeof(ib[0]));
	if (!rc)
		rc = pfs_tx_add(tx, ip, sizeof(*ip));
	if (!rc)
		rc = pfs_inode_init(tx, PFS_ROOT_SLOT, S_IFDIR | 0755, 0, 0, PFS_ROOT_SLOT, 0, &ip);
	if (!rc)
		rc = pfs_dir_init(tx, ip);
	if (pfs_tx_end(tx, rc))
		return false;
	c->iflags[PFS_ROOT_SLOT] = IF_INUSE | IF_VALID | IF_DIR | IF_REACH;
	return true;
}

static void check_root(struct chk *c)
{
	struct pfs_inode_pm *ip = pfs_inode_at(c->fs, PFS_ROOT_SLOT);
	uint16_t f = c->iflags[PFS_ROOT_SLOT];
	char obj[OBJ_MAX];

	inode_obj(obj, PFS_ROOT_SLOT);
	if (!(f & IF_INUSE) || (f & IF_FREE))
		problem(c, obj, root_remake(c), "the root directory is missing%s",
			c->fix ? " (made again, empty: what it named goes to lost+found)" : "");
	else if (!(f & IF_DIR))
		problem(c, obj, false, "the root is not a directory (mode 0%o)", ip->mode);
	else if (!(f & IF_VALID) || (f & IF_DIRBAD))
		problem(c, obj, root_remake(c), "the root directory is unreadable%s",
			c->fix ? " (made again, empty: what it named goes to lost+found)" : "");
	else if ((f & IF_VALID) && ip->parent != PFS_ROOT_SLOT)
		problem(c, obj, fix_u64(c, &ip->parent, PFS_ROOT_SLOT),
			"root directory's parent is %llu, should be itself",
			(unsigned long long)ip->parent);
}

/* A sound inode no directory names: into lost+found. */
static void report_unnamed(struct chk *c, uint32_t slot, const char *what)
{
	uint32_t nlink = pfs_inode_at(c->fs, slot)->nlink;
	bool moved = lf_link(c, slot);
	char obj[OBJ_MAX];

	problem(c, inode_obj(obj, slot), moved, "%s (link count %u)%s", what, nlink,
		moved ? "; moved to /" LF_NAME : "");
}

static void check_dir_links(struct chk *c, uint32_t slot)
{
	struct pfs_inode_pm *ip = pfs_inode_at(c->fs, slot);
	uint16_t f = c->iflags[slot];
	uint32_t refs = c->refs[slot];
	char obj[OBJ_MAX];

	inode_obj(obj, slot);
	if (refs == 0 && ip->nlink == 0 && !(f & IF_ONLIST))
		problem(c, obj, !(f & IF_HASENT) && destroy_inode(c, slot), "unnamed directory "
			"with link count 0 is not on the orphan list");
	else if (refs == 0 && ip->nlink != 0)
		report_unnamed(c, slot, "directory is not in any directory");
	else if (refs > 1)
		problem(c, obj, false, "directory is named by %u entries", refs);
	else if (refs == 1 && (ip->nlink == 0 || (f & IF_ONLIST)))
		problem(c, obj, false, "named directory is an orphan (link count %u)", ip->nlink);
	else if (refs == 1 && ip->parent != c->named_in[slot])
		/* only a parent on a path to the root: never make a loop of ".." */
		problem(c, obj, (f & IF_REACH) && fix_u64(c, &ip->parent, c->named_in[slot]),
			"parent is %llu, but directory %u names it", (unsigned long long)ip->parent,
			c->named_in[slot]);
}

static void check_file_links(struct chk *c, uint32_t slot)
{
	struct pfs_inode_pm *ip = pfs_inode_at(c->fs, slot);
	uint16_t f = c->iflags[slot];
	uint32_t refs = c->refs[slot];
	char obj[OBJ_MAX];

	inode_obj(obj, slot);
	if (refs && (f & IF_ONLIST))
		problem(c, obj, relink_file(c, slot), "on the orphan list but named by %u "
			"entries (link count %u)", refs, ip->nlink);
	else if (refs && ip->nlink != refs)
		problem(c, obj, relink_file(c, slot), "link count %u, should be %u", ip->nlink,
			refs);
	else if (!refs && ip->nlink)
		report_unnamed(c, slot, "is not in any directory");
	else if (!refs && !(f & IF_ONLIST))
		problem(c, obj, destroy_inode(c, slot), "link count 0, no name, and not on the "
			"orphan list");
}

static void check_links(struct chk *c)
{
	char obj[OBJ_MAX];

	check_root(c);
	for (uint64_t s = PFS_FIRST_FREE_SLOT; s < c->fs->sb.inode_count; s++) {
		uint32_t slot = (uint32_t)s;
		uint16_t f = c->iflags[slot];

		if ((f & IF_FREE) && !c->refs[slot])
			problem(c, inode_obj(obj, slot), free_slot(c, slot),
				"marked in use but free (mode 0)");
		else if (!(f & IF_VALID))
			continue;
		else if (f & IF_DIR)
			check_dir_links(c, slot);
		else
			check_file_links(c, slot);
	}
}

/* ---- pass 8: directories the root does not reach ---- */

/* The directory whose entry names dir, or 0 when that is not one directory. */
static uint32_t dir_up(const struct chk *c, uint32_t slot)
{
	return c->refs[slot] == 1 ? c->named_in[slot] : 0;
}

/* Follows names upward; the first walk decides, the second marks the path. */
/*
 * Breaks a loop of directories at dir (a member): its name in the directory
 * of the loop that names it goes, and it goes to lost+found.
 */
static bool break_loop(struct chk *c, uint32_t dir)
{
	uint32_t up = c->named_in[dir];
	struct pfs_inode_pm *uip = pfs_inode_at(c->fs, up);
	uint64_t nb = uip->size >> PFS_BLOCK_SHIFT;

	if (!c->fix || (c->iflags[up] & IF_SHARED) || !lf_get(c))
		return false;
	for (uint64_t idx = 0; idx < nb; idx++) {
		struct pfs_dirloc loc = { 0 };
		struct pfs_tx *tx;
		char *p;
		int rc;

		if (pfs_dir_bucket(c->fs, uip, idx, &loc.bucket))
			continue;
		p = (char *)(loc.bucket + 1);
		for (uint32_t off = 0; off < loc.bucket->used && !loc.de;) {
			struct pfs_dirent_pm *de = (void *)(p + off);

			if (PFS_SLOT(de->ino) == dir)
				loc.de = de;
			off += de->rec_len;
		}
		if (!loc.de)
			continue;
		if (fix_begin(c, &tx))
			return false;
		rc = pfs_dir_remove(tx, uip, &loc);
		if (!rc)
			rc = pfs_tx_set_u32(tx, &uip->nlink, uip->nlink - 1);
		if (pfs_tx_end(tx, rc))
			return false;
		c->refs[dir] = 0;
		return lf_link(c, dir);
	}
	return false;
}

static void connect_dir(struct chk *c, uint32_t slot)
{
	uint64_t steps = 0;
	uint32_t s = slot;
	uint16_t mark = IF_REACH;
	bool loop = false;
	char obj[OBJ_MAX];

	while (s != PFS_ROOT_SLOT && !(c->iflags[s] & IF_REACH)) {
		if ((c->iflags[s] & IF_LOOP) || s == 0) {
			mark = IF_LOOP;
			break;
		}
		if (++steps > c->fs->sb.inode_count) {
			mark = IF_LOOP;
			loop = true;
			break;
		}
		s = dir_up(c, s);
	}
	/* after that many steps s is on the loop */
	if (loop && break_loop(c, s)) {
		problem(c, inode_obj(obj, slot), true, "directory is not connected to the root "
			"(its ancestors form a loop; directory %u moved to /" LF_NAME ")", s);
		connect_dir(c, slot);
		return;
	}
	for (s = slot; s && s != PFS_ROOT_SLOT && !(c->iflags[s] & (IF_REACH | IF_LOOP));
	     s = dir_up(c, s))
		c->iflags[s] |= mark;
	if (loop)
		problem(c, inode_obj(obj, slot), false, "directory is not connected to the root "
			"(its ancestors form a loop)");
}

static void check_connectivity(struct chk *c)
{
	for (uint64_t s = PFS_FIRST_FREE_SLOT; s < c->fs->sb.inode_count; s++) {
		uint32_t slot = (uint32_t)s;

		if ((c->iflags[slot] & (IF_VALID | IF_DIR)) == (IF_VALID | IF_DIR) &&
		    c->refs[slot] == 1)
			connect_dir(c, slot);
	}
}

/* ---- driver ---- */

static int chk_alloc(struct chk *c)
{
	uint64_t count = c->fs->sb.inode_count;

	c->nwords = (c->fs->sb.data_blocks + WORD_BITS - 1) / WORD_BITS;
	c->used = calloc(c->nwords ? c->nwords : 1, sizeof(*c->used));
	c->refs = calloc(count, sizeof(*c->refs));
	c->named_in = calloc(count, sizeof(*c->named_in));
	c->iflags = calloc(count, sizeof(*c->iflags));
	return c->used && c->refs && c->named_in && c->iflags ? 0 : -ENOMEM;
}

static void chk_free(struct chk *c)
{
	free(c->used);
	free(c->dup);
	free(c->refs);
	free(c->named_in);
	free(c->iflags);
	free(c->csum_bad);
	for (size_t i = 0; i < c->nsalv; i++) {
		pfs_extvec_free(&c->salv[i].ext);
		pfs_extvec_free(&c->salv[i].nodes);
	}
	free(c->salv);
	free(c->readd);
	free(c->remap);
	if (c->claims)
		free(c->claims->v);
	free(c->claims);
}

static int chk_run(struct chk *c)
{
	int rc;

	check_supers(c);
	chk_step_done(c, "superblocks");
	check_journal(c);
	check_state(c);
	chk_step_done(c, "journal");
	rc = scan_bmap_csums(c);
	if (!rc)
		rc = chk_alloc(c);
	if (!rc)
		rc = scan_inodes(c);
	if (!rc)
		rc = adopt_named(c);
	if (rc)
		return rc;
	chk_step_done(c, "inodes");
	rc = find_owners(c);
	if (rc)
		return rc;
	chk_step_done(c, "shared blocks");
	check_block_counts(c);
	chk_step_done(c, "block counts");
	scan_dirs(c);
	bad_modes(c);
	chk_step_done(c, "directories");
	check_inode_bitmap(c);
	rc = check_block_bitmap(c);
	if (rc)
		return rc;
	check_bmap_csums(c);
	salvage_trees(c);
	resolve_dups(c);
	remap_dirs(c);
	readd_entries(c);
	chk_step_done(c, "bitmaps");
	check_orphans(c);
	chk_step_done(c, "orphans");
	check_connectivity(c);
	chk_step_done(c, "connectivity");
	check_links(c);
	chk_step_done(c, "link counts");
	return 0;
}

int pfs_check(struct pfs_device *dev, unsigned flags, pfs_check_report_fn report, void *arg,
	      struct pfs_check_result *res)
{
	struct pfs_check_hooks hooks = { .report = report, .arg = arg };

	return pfs_check_ex(dev, flags, &hooks, res);
}

int pfs_check_ex(struct pfs_device *dev, unsigned flags, const struct pfs_check_hooks *hooks,
		 struct pfs_check_result *res)
{
	struct pfs_check_result local;
	struct pfs_super_pm sb;
	struct chk c = { .dev = dev };
	int which, rc;

	if (hooks) {
		c.report = hooks->report;
		c.note = hooks->note;
		c.progress = hooks->progress;
		c.arg = hooks->arg;
	}
	c.res = res ? res : &local;
	memset(c.res, 0, sizeof(*c.res));
	c.quiet = flags & PFS_CHECK_QUIET;
	/* a private mapping's stores never reach the device: check only */
	c.fix = (flags & PFS_CHECK_REPAIR) && !dev->private_map && !dev->readonly;
	rc = pfs_super_pick(dev->base, dev->size, &sb, &which);
	if (rc)
		return rc;
	c.fs = calloc(1, sizeof(*c.fs));
	if (!c.fs)
		return -ENOMEM;
	rc = pfs_fs_setup(c.fs, dev, &sb);
	if (rc)
		goto out_free;
	/* the checker reports each finding itself; no "run fsck" line from the core */
	c.fs->corrupt_logged = true;
	rc = chk_run(&c);
	chk_free(&c);
	pfs_fs_teardown(c.fs);
out_free:
	free(c.fs);
	return rc;
}
