// SPDX-License-Identifier: MIT
/*
 * Extent maps: which device blocks hold which file blocks. Theory of operation:
 *
 * The map is a tree of fixed depth 0..2 rooted in the inode: up to 4 entries
 * inline, nodes of 170 entries below. Entries are sorted by lblk and never
 * overlap; holes are simply absent.
 *
 * The common changes are done in place inside the caller's transaction:
 * growing the extent that ends where new blocks begin (sequential writes),
 * inserting into a non-full inline root or leaf, splitting a full leaf in
 * two when its parent has room (random writes into a sparse file).
 * Everything else (removals, a full parent, an insert left of every key)
 * collects the map, edits it in DRAM, and rebuilds the tree copy-on-write
 * into fresh blocks 3/4 full, swapping the root in the transaction; the old
 * nodes are freed at commit. O(extents) for those cases, and simple to keep
 * crash-consistent.
 */
#include <stdlib.h>

#include "pfs.h"

struct ext_root {
	struct pfs_extent_pm *e;
	unsigned count;
	unsigned level;               /* 0: entries are extents */
};

static int node_get(struct pfs_fs *fs, uint64_t pblk, unsigned level, struct ext_root *out)
{
	struct pfs_node_pm *n;
	uint16_t count;

	if (pfs_fault_hit(fs->fault, PFS_FAULT_READ))
		return -EIO;
	if (!pfs_blk_is_data(fs, pblk, 1))
		return pfs_corrupt(fs, "extent node %llu outside the data area",
				   (unsigned long long)pblk);
	n = pfs_blk(fs, pblk);
	count = PFS_LOAD(n->count);
	if (PFS_LOAD(n->magic) != PFS_NODE_MAGIC || PFS_LOAD(n->level) != level || count == 0 ||
	    count > PFS_NODE_ENTRIES)
		return pfs_corrupt(fs, "extent node %llu: bad header (level %u, count %u)",
				   (unsigned long long)pblk, n->level, count);
	out->e = n->e;
	out->count = count;
	out->level = level;
	return 0;
}

static void root_of(const struct pfs_inode_pm *ip, struct ext_root *r)
{
	/* checked by pfs_inode_validate; clamped against a change since */
	r->e = (struct pfs_extent_pm *)ip->ext;
	r->count = PFS_LOAD(ip->ext_count);
	r->level = PFS_LOAD(ip->ext_depth);
	if (r->count > PFS_INLINE_EXTENTS)
		r->count = PFS_INLINE_EXTENTS;
	if (r->level > PFS_MAX_TREE_DEPTH)
		r->level = PFS_MAX_TREE_DEPTH;
}

/* Index of the last entry with lblk <= key, or -1. */
static int find_le(const struct ext_root *r, uint64_t key)
{
	int lo = 0, hi = (int)r->count - 1, ans = -1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (r->e[mid].lblk <= key) {
			ans = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return ans;
}

/*
 * Descends to the leaf that covers lblk. *upper: first lblk mapped after that
 * leaf (UINT64_MAX if none). Returns the leaf in *leaf.
 */
static int descend(struct pfs_fs *fs, const struct pfs_inode_pm *ip, uint64_t lblk,
		   struct ext_root *leaf, uint64_t *upper, bool *rightmost)
{
	struct ext_root r;
	int rc;

	root_of(ip, &r);
	*upper = UINT64_MAX;
	*rightmost = true;
	while (r.level > 0) {
		int i = find_le(&r, lblk);

		if (i < 0)
			i = 0;
		if ((unsigned)i + 1 < r.count) {
			*upper = r.e[i + 1].lblk;
			*rightmost = false;
		}
		rc = node_get(fs, r.e[i].pblk, r.level - 1, &r);
		if (rc)
			return rc;
	}
	*leaf = r;
	return 0;
}

static int ext_check(struct pfs_fs *fs, const struct pfs_inode_pm *ip,
		     const struct pfs_extent_pm *e)
{
	if (e->len == 0 || !pfs_blk_is_data(fs, e->pblk, e->len) ||
	    e->lblk + e->len < e->lblk)
		return pfs_corrupt(fs, "inode %u: extent %llu+%u -> %llu is invalid",
				   (uint32_t)(ip - fs->itable), (unsigned long long)e->lblk, e->len,
				   (unsigned long long)e->pblk);
	return 0;
}

int pfs_ext_map(struct pfs_fs *fs, const struct pfs_inode_pm *ip, uint64_t lblk, uint64_t max,
		uint64_t *pblk, uint64_t *run)
{
	struct ext_root leaf;
	uint64_t upper, end;
	bool rightmost;
	int i, rc;

	rc = descend(fs, ip, lblk, &leaf, &upper, &rightmost);
	if (rc)
		return rc;
	i = find_le(&leaf, lblk);
	if (i >= 0) {
		/* one copy, checked and used: the media may change meanwhile */
		const struct pfs_extent_pm e = leaf.e[i];

		rc = ext_check(fs, ip, &e);
		if (rc)
			return rc;
		if (lblk < e.lblk + e.len) {
			*pblk = e.pblk + (lblk - e.lblk);
			end = e.lblk + e.len - lblk;
			*run = end < max ? end : max;
			return 0;
		}
	}
	if ((unsigned)(i + 1) < leaf.count)
		upper = leaf.e[i + 1].lblk;
	/* unsorted keys would make a hole of no length, and callers loop on it */
	if (upper <= lblk)
		return pfs_corrupt(fs, "inode %u: extent keys out of order at block %llu",
				   (uint32_t)(ip - fs->itable), (unsigned long long)lblk);
	*pblk = 0;
	end = upper - lblk;
	*run = end < max ? end : max;
	return 0;
}

/* ---- collection ---- */

int pfs_extvec_push(struct pfs_extvec *vec, uint64_t lblk, uint64_t pblk, uint64_t len)
{
	if (pfs_array_reserve(&vec->v, &vec->cap, vec->n + 1, sizeof(*vec->v)))
		return -ENOMEM;
	vec->v[vec->n++] = (struct pfs_extent_pm){ .lblk = lblk, .pblk = pblk,
						   .len = (uint32_t)len };
	return 0;
}

void pfs_extvec_free(struct pfs_extvec *vec)
{
	free(vec->v);
	memset(vec, 0, sizeof(*vec));
}

/* Walks the tree: leaf extents into ext (if not NULL), node blocks into nodes. */
static int walk(struct pfs_fs *fs, const struct pfs_inode_pm *ip, const struct ext_root *r,
		struct pfs_extvec *ext, struct pfs_extvec *nodes, uint64_t *prev_end)
{
	for (unsigned i = 0; i < r->count; i++) {
		const struct pfs_extent_pm e = r->e[i]; /* checked and used as one copy */
		struct ext_root child;
		int rc;

		if (r->level == 0) {
			rc = ext_check(fs, ip, &e);
			if (rc)
				return rc;
			if (e.lblk < *prev_end)
				return pfs_corrupt(fs, "inode %u: extents overlap or are unsorted at "
						   "%llu", (uint32_t)(ip - fs->itable),
						   (unsigned long long)e.lblk);
			*prev_end = e.lblk + e.len;
			if (ext && (rc = pfs_extvec_push(ext, e.lblk, e.pblk, e.len)))
				return rc;
			continue;
		}
		rc = node_get(fs, e.pblk, r->level - 1, &child);
		if (rc)
			return rc;
		if (nodes && (rc = pfs_extvec_push(nodes, e.lblk, e.pblk, 1)))
			return rc;
		rc = walk(fs, ip, &child, ext, nodes, prev_end);
		if (rc)
			return rc;
	}
	return 0;
}

int pfs_ext_collect(struct pfs_fs *fs, const struct pfs_inode_pm *ip, struct pfs_extvec *vec)
{
	struct ext_root r;
	uint64_t prev = 0;

	root_of(ip, &r);
	/* the vector's allocations, as the Nth one failing (fault.h) */
	if (pfs_fault_hit(fs->fault, PFS_FAULT_ALLOC))
		return -ENOMEM;
	return walk(fs, ip, &r, vec, NULL, &prev);
}

int pfs_ext_nodes(struct pfs_fs *fs, const struct pfs_inode_pm *ip, struct pfs_extvec *nodes)
{
	struct ext_root r;
	uint64_t prev = 0;

	root_of(ip, &r);
	if (pfs_fault_hit(fs->fault, PFS_FAULT_ALLOC))
		return -ENOMEM;
	return walk(fs, ip, &r, NULL, nodes, &prev);
}

/* ---- rebuild (copy-on-write) ---- */

static int write_nodes(struct pfs_tx *tx, const struct pfs_extent_pm *src, size_t n,
		       unsigned level, size_t fill, struct pfs_extvec *parents)
{
	size_t nnodes = (n + fill - 1) / fill;
	size_t done = 0;
	int rc;

	while (done < nnodes) {
		uint64_t pblk, got;

		rc = pfs_alloc_blocks(tx, nnodes - done, 0, &pblk, &got);
		if (rc)
			return rc;
		for (uint64_t k = 0; k < got; k++, done++) {
			struct pfs_node_pm node = { .magic = PFS_NODE_MAGIC, .level = (uint16_t)level };
			size_t first = done * fill;
			size_t cnt = n - first < fill ? n - first : fill;

			node.count = (uint16_t)cnt;
			memcpy(node.e, src + first, cnt * sizeof(*src));
			/* fresh block: unreachable until the root swap commits */
			pfs_pm_copy(tx->fs->pm, pfs_blk(tx->fs, pblk + k), &node, sizeof(node));
			rc = pfs_extvec_push(parents, src[first].lblk, pblk + k, 0);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int set_root(struct pfs_tx *tx, struct pfs_inode_pm *ip, const struct pfs_extent_pm *e,
		    size_t n, unsigned depth)
{
	struct pfs_extent_pm ext[PFS_INLINE_EXTENTS] = { 0 };
	int rc;

	if (n)
		memcpy(ext, e, n * sizeof(*e));
	rc = pfs_tx_set(tx, ip->ext, ext, sizeof(ext));
	if (!rc)
		rc = pfs_tx_set_u16(tx, &ip->ext_depth, (uint16_t)depth);
	if (!rc)
		rc = pfs_tx_set_u16(tx, &ip->ext_count, (uint16_t)n);
	return rc;
}

static int free_nodes(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t *count)
{
	struct pfs_extvec nodes = { 0 };
	int rc = pfs_ext_nodes(tx->fs, ip, &nodes);

	for (size_t i = 0; !rc && i < nodes.n; i++)
		rc = pfs_tx_free_later(tx, nodes.v[i].pblk, 1);
	*count = nodes.n;
	pfs_extvec_free(&nodes);
	return rc;
}

/*
 * Entries per rebuilt node: 3/4 full, so that later inserts go in place or
 * split locally (try_leaf_insert) for a long while before the next rebuild;
 * packed full only when the slack would not fit in depth 2.
 */
#define PFS_NODE_FILL (PFS_NODE_ENTRIES * 3 / 4)

static size_t rebuild_fill(size_t n)
{
	size_t l1 = (n + PFS_NODE_FILL - 1) / PFS_NODE_FILL;
	size_t l2 = (l1 + PFS_NODE_FILL - 1) / PFS_NODE_FILL;

	return l1 <= PFS_INLINE_EXTENTS || l2 <= PFS_INLINE_EXTENTS ? PFS_NODE_FILL
								     : PFS_NODE_ENTRIES;
}

int pfs_ext_rebuild(struct pfs_tx *tx, struct pfs_inode_pm *ip, const struct pfs_extvec *vec)
{
	struct pfs_extvec l1 = { 0 }, l2 = { 0 };
	uint64_t old_nodes = 0, new_nodes = 0;
	size_t fill = rebuild_fill(vec->n);
	int rc;

	if (pfs_fault_hit(tx->fs->fault, PFS_FAULT_ALLOC))
		return -ENOMEM;
	rc = free_nodes(tx, ip, &old_nodes);
	if (rc)
		goto out;
	if (vec->n <= PFS_INLINE_EXTENTS) {
		rc = set_root(tx, ip, vec->v, vec->n, 0);
		goto blocks;
	}
	rc = write_nodes(tx, vec->v, vec->n, 0, fill, &l1);
	if (rc)
		goto out;
	new_nodes = l1.n;
	if (l1.n <= PFS_INLINE_EXTENTS) {
		rc = set_root(tx, ip, l1.v, l1.n, 1);
		goto blocks;
	}
	rc = write_nodes(tx, l1.v, l1.n, 1, fill, &l2);
	if (rc)
		goto out;
	new_nodes += l2.n;
	if (l2.n > PFS_INLINE_EXTENTS) {
		rc = -EFBIG; /* too fragmented: more than 115,600 extents */
		goto out;
	}
	rc = set_root(tx, ip, l2.v, l2.n, 2);
blocks:
	if (!rc)
		rc = pfs_tx_set_u64(tx, &ip->blocks, ip->blocks - old_nodes + new_nodes);
out:
	pfs_extvec_free(&l1);
	pfs_extvec_free(&l2);
	return rc;
}

/* ---- insert ---- */

/* Grow the extent ending at lblk if its blocks end at pblk. 1 if done. */
static int try_merge(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t lblk, uint64_t pblk,
		     uint64_t len)
{
	struct ext_root leaf;
	uint64_t upper;
	bool rightmost;
	struct pfs_extent_pm *e;
	int i, rc;

	if (lblk == 0 || ip->ext_count == 0)
		return 0;
	rc = descend(tx->fs, ip, lblk - 1, &leaf, &upper, &rightmost);
	if (rc)
		return rc;
	i = find_le(&leaf, lblk - 1);
	if (i < 0)
		return 0;
	e = &leaf.e[i];
	if (e->lblk + e->len != lblk || e->pblk + e->len != pblk ||
	    (uint64_t)e->len + len > 0xffffffffull)
		return 0;
	rc = pfs_tx_set_u32(tx, &e->len, (uint32_t)(e->len + len));
	return rc ? rc : 1;
}

/* Append after the last extent of the rightmost leaf, when it has room. 1 if done. */
static int try_append(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t lblk, uint64_t pblk,
		      uint64_t len)
{
	struct pfs_extent_pm ne = { .lblk = lblk, .pblk = pblk, .len = (uint32_t)len };
	struct ext_root leaf;
	struct pfs_node_pm *node;
	uint64_t upper;
	bool rightmost;
	int rc;

	if (ip->ext_depth == 0) {
		struct pfs_extent_pm ext[PFS_INLINE_EXTENTS];
		unsigned n = ip->ext_count, pos = n;

		if (n >= PFS_INLINE_EXTENTS)
			return 0;
		memcpy(ext, ip->ext, sizeof(ext));
		while (pos > 0 && ext[pos - 1].lblk > lblk) {
			ext[pos] = ext[pos - 1];
			pos--;
		}
		ext[pos] = ne;
		rc = pfs_tx_set(tx, ip->ext, ext, (n + 1) * sizeof(ne));
		if (!rc)
			rc = pfs_tx_set_u16(tx, &ip->ext_count, (uint16_t)(n + 1));
		return rc ? rc : 1;
	}
	rc = descend(tx->fs, ip, lblk, &leaf, &upper, &rightmost);
	if (rc)
		return rc;
	if (!rightmost || leaf.count >= PFS_NODE_ENTRIES || leaf.e[leaf.count - 1].lblk > lblk)
		return 0;
	node = (struct pfs_node_pm *)((char *)leaf.e - offsetof(struct pfs_node_pm, e));
	rc = pfs_tx_set(tx, &node->e[leaf.count], &ne, sizeof(ne));
	if (!rc)
		rc = pfs_tx_set_u16(tx, &node->count, (uint16_t)(leaf.count + 1));
	return rc ? rc : 1;
}

/* ---- local insert into a leaf node, splitting it when full ---- */

/* The route from the root down to the leaf that covers lblk. */
struct ext_path {
	struct ext_root lv[3];        /* lv[0]: root; lv[depth]: the leaf */
	int idx[3];                   /* entry taken at each inner level */
	unsigned depth;
};

static int descend_path(struct pfs_fs *fs, const struct pfs_inode_pm *ip, uint64_t lblk,
			struct ext_path *p)
{
	int rc;

	p->depth = ip->ext_depth;
	root_of(ip, &p->lv[0]);
	for (unsigned d = 0; d < p->depth; d++) {
		int i = find_le(&p->lv[d], lblk);

		if (i < 0)
			return 0;  /* left of everything: the keys above would change */
		p->idx[d] = i;
		rc = node_get(fs, p->lv[d].e[i].pblk, p->lv[d].level - 1, &p->lv[d + 1]);
		if (rc)
			return rc;
	}
	return 1;
}

static struct pfs_node_pm *node_of(const struct ext_root *r)
{
	return (struct pfs_node_pm *)((char *)r->e - offsetof(struct pfs_node_pm, e));
}

/* Entry count field of an inner level: the inode's for the root, else the node's. */
static uint16_t *count_field(struct pfs_inode_pm *ip, const struct ext_path *p, unsigned d)
{
	return d == 0 ? &ip->ext_count : &node_of(&p->lv[d])->count;
}

/* Puts ne at pos of level d (which has room), shifting the rest right. */
static int level_insert(struct pfs_tx *tx, struct pfs_inode_pm *ip, const struct ext_path *p,
			unsigned d, unsigned pos, const struct pfs_extent_pm *ne)
{
	const struct ext_root *r = &p->lv[d];
	struct pfs_extent_pm tail[PFS_NODE_ENTRIES];
	unsigned n = r->count - pos;
	int rc;

	tail[0] = *ne;
	memcpy(tail + 1, r->e + pos, n * sizeof(*ne));
	rc = pfs_tx_set(tx, r->e + pos, tail, (n + 1) * sizeof(*ne));
	if (!rc)
		rc = pfs_tx_set_u16(tx, count_field(ip, p, d), (uint16_t)(r->count + 1));
	return rc;
}

/*
 * The leaf is full: its entries plus ne are split in two, the upper half
 * into a fresh node (unreachable until the parent, journaled, points to it),
 * the lower half kept in place. The parent must have room.
 */
static int leaf_split(struct pfs_tx *tx, struct pfs_inode_pm *ip, const struct ext_path *p,
		      unsigned pos, const struct pfs_extent_pm *ne)
{
	const struct ext_root *leaf = &p->lv[p->depth];
	unsigned d = p->depth - 1, half = (PFS_NODE_ENTRIES + 1) / 2 + 1;
	struct pfs_extent_pm all[PFS_NODE_ENTRIES + 1];
	struct pfs_node_pm node = { .magic = PFS_NODE_MAGIC, .level = 0 };
	struct pfs_extent_pm up = { 0 };
	uint64_t pblk, got;
	int rc;

	memcpy(all, leaf->e, pos * sizeof(*ne));
	all[pos] = *ne;
	memcpy(all + pos + 1, leaf->e + pos, (leaf->count - pos) * sizeof(*ne));
	rc = pfs_alloc_blocks(tx, 1, 0, &pblk, &got);
	if (rc)
		return rc;
	node.count = (uint16_t)(PFS_NODE_ENTRIES + 1 - half);
	memcpy(node.e, all + half, node.count * sizeof(*ne));
	pfs_pm_copy(tx->fs->pm, pfs_blk(tx->fs, pblk), &node, sizeof(node));
	rc = pfs_tx_set(tx, leaf->e, all, half * sizeof(*ne));
	if (!rc)
		rc = pfs_tx_set_u16(tx, &node_of(leaf)->count, (uint16_t)half);
	up.lblk = all[half].lblk;
	up.pblk = pblk;
	if (!rc)
		rc = level_insert(tx, ip, p, d, (unsigned)p->idx[d] + 1, &up);
	if (!rc)
		rc = pfs_tx_set_u64(tx, &ip->blocks, ip->blocks + 1);
	return rc;
}

static unsigned level_cap(unsigned d)
{
	return d == 0 ? PFS_INLINE_EXTENTS : PFS_NODE_ENTRIES;
}

/*
 * Into the leaf that covers lblk: in place when it has room, else split
 * when its parent has room. O(node) instead of the rebuild's O(extents):
 * random writes into a sparse file take this path. 1 if done.
 */
static int try_leaf_insert(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t lblk,
			   uint64_t pblk, uint64_t len)
{
	struct pfs_extent_pm ne = { .lblk = lblk, .pblk = pblk, .len = (uint32_t)len };
	struct ext_path p;
	const struct ext_root *leaf;
	unsigned pos;
	int rc;

	if (ip->ext_depth == 0)
		return 0;
	rc = descend_path(tx->fs, ip, lblk, &p);
	if (rc <= 0)
		return rc;
	leaf = &p.lv[p.depth];
	pos = (unsigned)(find_le(leaf, lblk) + 1);
	if (pos == 0)
		return 0;
	if (leaf->count < PFS_NODE_ENTRIES)
		rc = level_insert(tx, ip, &p, p.depth, pos, &ne);
	else if (p.lv[p.depth - 1].count < level_cap(p.depth - 1))
		rc = leaf_split(tx, ip, &p, pos, &ne);
	else
		return 0;
	return rc ? rc : 1;
}

static int insert_rebuild(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t lblk,
			  uint64_t pblk, uint64_t len)
{
	struct pfs_extvec vec = { 0 };
	size_t pos;
	int rc = pfs_ext_collect(tx->fs, ip, &vec);

	if (!rc)
		rc = pfs_extvec_push(&vec, lblk, pblk, len);
	if (rc)
		goto out;
	pos = vec.n - 1;
	while (pos > 0 && vec.v[pos - 1].lblk > lblk) {
		struct pfs_extent_pm t = vec.v[pos];

		vec.v[pos] = vec.v[pos - 1];
		vec.v[pos - 1] = t;
		pos--;
	}
	rc = pfs_ext_rebuild(tx, ip, &vec);
out:
	pfs_extvec_free(&vec);
	return rc;
}

int pfs_ext_insert(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t lblk, uint64_t pblk,
		   uint64_t len)
{
	int rc = try_merge(tx, ip, lblk, pblk, len);

	if (rc == 0)
		rc = try_append(tx, ip, lblk, pblk, len);
	if (rc == 0)
		rc = try_leaf_insert(tx, ip, lblk, pblk, len);
	if (rc == 0)
		rc = insert_rebuild(tx, ip, lblk, pblk, len);
	if (rc < 0)
		return rc;
	return pfs_tx_set_u64(tx, &ip->blocks, ip->blocks + len);
}

/* ---- remove ---- */

static int remove_all(struct pfs_tx *tx, struct pfs_inode_pm *ip, const struct pfs_extvec *vec)
{
	uint64_t nodes = 0, freed = 0;
	int rc = free_nodes(tx, ip, &nodes);

	for (size_t i = 0; !rc && i < vec->n; i++) {
		rc = pfs_tx_free_later(tx, vec->v[i].pblk, vec->v[i].len);
		freed += vec->v[i].len;
	}
	if (!rc)
		rc = set_root(tx, ip, NULL, 0, 0);
	if (!rc)
		rc = pfs_tx_set_u64(tx, &ip->blocks, ip->blocks - freed - nodes);
	return rc;
}

int pfs_ext_remove(struct pfs_tx *tx, struct pfs_inode_pm *ip, uint64_t start, uint64_t end)
{
	struct pfs_extvec vec = { 0 }, keep = { 0 };
	uint64_t freed = 0;
	int rc;

	if (ip->ext_count == 0 || start >= end)
		return 0;
	rc = pfs_ext_collect(tx->fs, ip, &vec);
	if (rc)
		goto out;
	if (start == 0 && end == UINT64_MAX) {
		rc = remove_all(tx, ip, &vec);
		goto out;
	}
	for (size_t i = 0; i < vec.n && !rc; i++) {
		const struct pfs_extent_pm *e = &vec.v[i];
		uint64_t es = e->lblk, ee = e->lblk + e->len;
		uint64_t cs = es > start ? es : start, ce = ee < end ? ee : end;

		if (cs >= ce) {
			rc = pfs_extvec_push(&keep, es, e->pblk, e->len);
			continue;
		}
		rc = pfs_tx_free_later(tx, e->pblk + (cs - es), ce - cs);
		freed += ce - cs;
		if (!rc && es < cs)
			rc = pfs_extvec_push(&keep, es, e->pblk, cs - es);
		if (!rc && ce < ee)
			rc = pfs_extvec_push(&keep, ce, e->pblk + (ce - es), ee - ce);
	}
	if (rc || freed == 0)
		goto out;
	rc = pfs_tx_set_u64(tx, &ip->blocks, ip->blocks - freed);
	if (!rc)
		rc = pfs_ext_rebuild(tx, ip, &keep);
out:
	pfs_extvec_free(&vec);
	pfs_extvec_free(&keep);
	return rc;
}
