// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: every parser of control-file text. Byte 0 picks the
 * target, the rest is the text:
 *
 *   0          ctl_parse_size()
 *   1          ctl_parse_create()
 *   2..        pfs_ctl_write() to one writable control file of the nd_fake
 *              topology (found by walking the tree once), as root; bit 7
 *              of byte 0 makes every namespace look busy
 *
 * After a write the whole tree is read back (every file, link and last_error /
 * last_result), so the text a fuzzed write leaves behind (a namespace name,
 * an error message) goes through every printer, topology.json included.
 * The busy check (nd_busy.c scans /proc) is replaced by a stub: it parses no
 * input, and the fuzzer should spend its time on the parsers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_int.h"
#include "nd_fake.h"
#include "pmemfs/pmemfs.h"

#define MAX_FILES 64
#define MAX_DEPTH 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char files[MAX_FILES][128];
static unsigned nfiles;
static bool all_busy;

int nd_dev_busy(const char *busy_dev, const struct nd_ns *ns, char *why, size_t len)
{
	(void)busy_dev;
	if (!all_busy)
		return 0;
	snprintf(why, len, "%s is busy (fuzz stub)", ns->dev);
	return -EBUSY;
}

static void quiet(enum pfs_log_level lvl, const char *msg)
{
	(void)lvl;
	(void)msg;
}

struct walk {
	struct pfs_ctl *ctl;
	char path[128];
	unsigned depth;
	bool collect;
};

struct entries {
	char name[32][64];
	struct pfs_ctl_stat st[32];
	unsigned n;
};

/* readdir holds the tree's lock while it calls us: only note the entries */
static int note(void *arg, const char *name, const struct pfs_ctl_stat *st)
{
	struct entries *e = arg;

	if (e->n == 32)
		return 1;
	snprintf(e->name[e->n], sizeof(e->name[0]), "%s", name);
	e->st[e->n++] = *st;
	return 0;
}

static void walk_dir(struct walk *w, uint64_t id)
{
	size_t plen = strlen(w->path);
	struct entries e = { .n = 0 };
	uint64_t parent;
	char *text, buf[256];
	size_t len;

	pfs_ctl_parent(w->ctl, id, &parent);
	pfs_ctl_readdir(w->ctl, id, note, &e);
	for (unsigned i = 0; i < e.n; i++) {
		const struct pfs_ctl_stat *st = &e.st[i];

		if (plen + strlen(e.name[i]) + 2 > sizeof(w->path))
			continue;
		sprintf(w->path + plen, "%s%s", plen ? "/" : "", e.name[i]);
		switch (st->kind) {
		case PFS_CTL_DIR:
			if (w->depth < MAX_DEPTH) {
				w->depth++;
				walk_dir(w, st->id);
				w->depth--;
			}
			break;
		case PFS_CTL_FILE:
			if (pfs_ctl_read(w->ctl, st->id, &text, &len) == 0)
				free(text);
			if (w->collect && (st->mode & 0200) && nfiles < MAX_FILES)
				snprintf(files[nfiles++], sizeof(files[0]), "%s", w->path);
			break;
		case PFS_CTL_LINK:
			pfs_ctl_readlink(w->ctl, st->id, buf, sizeof(buf));
			break;
		}
		w->path[plen] = '\0';
	}
}

static uint64_t resolve(struct pfs_ctl *ctl, const char *path)
{
	char buf[128], *save = NULL;
	uint64_t id = PFS_CTL_ROOT_ID;
	struct pfs_ctl_stat st;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (pfs_ctl_lookup(ctl, id, tok, &st))
			return 0;
		id = st.id;
	}
	return id;
}

static struct pfs_ctl *ctl_open(struct nd_fake *f)
{
	struct nd_backend be;
	struct pfs_ctl *ctl;

	nd_fake_init(f);
	nd_fake_backend(f, &be);
	if (pfs_ctl_new(&be, "/nonexistent/device", &ctl))
		abort();
	return ctl;
}

static void init(void)
{
	struct nd_fake f;
	struct walk w = { .collect = true };

	pfs_log_set_sink(quiet, PFS_LOG_ERR);
	w.ctl = ctl_open(&f);
	walk_dir(&w, PFS_CTL_ROOT_ID);
	pfs_ctl_free(w.ctl);
	nd_fake_fini(&f);
	if (nfiles == 0)
		abort();
	/* FUZZ_CTL_LIST=1: which byte-0 value writes which file */
	for (unsigned i = 0; getenv("FUZZ_CTL_LIST") && i < nfiles; i++)
		fprintf(stderr, "%u %s\n", i + 2, files[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct nd_ns_params p;
	char err[ND_ERR_LEN] = "", *text;
	struct nd_fake f;
	struct walk w = { 0 };
	unsigned target;
	bool has_size;
	uint64_t v;

	if (!ready) {
		init();
		ready = true;
	}
	if (size == 0)
		return 0;
	target = (data[0] & 0x7f) % (2 + nfiles);
	all_busy = data[0] & 0x80;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (target == 0) {
		ctl_parse_size(text, &v);
	} else if (target == 1) {
		ctl_parse_create(text, &p, &has_size, err);
		if (strnlen(err, sizeof(err)) == sizeof(err))
			abort();
	} else {
		w.ctl = ctl_open(&f);
		/* not NUL-terminated: the write path gets exactly size - 1 bytes */
		pfs_ctl_write(w.ctl, resolve(w.ctl, files[target - 2]), 0,
			      (const char *)data + 1, size - 1);
		walk_dir(&w, PFS_CTL_ROOT_ID);
		pfs_ctl_free(w.ctl);
		nd_fake_fini(&f);
	}
	free(text);
	return 0;
}
