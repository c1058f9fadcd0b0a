/* SPDX-License-Identifier: MIT */
/*
 * mkfs.pmemfs: make a pmemfs file system on a devdax namespace, a file on a
 * DAX file system, or a plain file (emulated pmem), following mkfs(8):
 * exit 0 on success, 1 on any error (mke2fs does the same for usage errors).
 *
 * It never overwrites a recognised file system without -f, and a TARGET it
 * created itself is removed again when formatting fails.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <pmemfs/layout.h>
#include <pmemfs/pmemfs.h>

#include "util.h"

struct mkfs_opts {
	bool force, quiet, json;
	bool have_size;
	uint64_t size;
	const char *label;
	uint64_t inode_count;
	uint64_t bytes_per_inode;
	const char *target;
};

static void mkfs_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-f] [-q] [-j] [-s SIZE] [-L LABEL] [-N INODES] [-i BYTES_PER_INODE] TARGET\n"
		"\n"
		"Make a pmemfs file system on TARGET: a devdax device (/dev/daxX.Y), a file on a\n"
		"file system mounted with -o dax, or a plain file (emulated pmem). A TARGET that\n"
		"does not exist is created as a file of SIZE bytes.\n"
		"\n"
		"  -f            overwrite an existing file system\n"
		"  -q            quiet: print nothing on success, no progress bar\n"
		"  -j, --json    print what was made as JSON\n"
		"  -s SIZE       size of a new TARGET; suffixes K, M, G, T (or KiB, MiB, GiB, TiB)\n"
		"                are powers of 1024\n"
		"  -L LABEL      volume label (at most %u bytes)\n"
		"  -N INODES     number of inodes (overrides -i)\n"
		"  -i BYTES      one inode per BYTES of capacity (default 16384)\n"
		"  -V, --version print the version and exit\n"
		"  -h, --help    print this help and exit\n"
		"\n"
		"A progress bar goes to stderr when it is a terminal (not with -q).\n"
		"Exit status: 0 success, 1 any error.\n",
		tool_name, PFS_LABEL_MAX - 1);
}

/*
 * "256M", "1GiB", "4096": a number with an optional binary suffix. Returns
 * false on junk or overflow.
 */
static bool mkfs_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return false;
	if (*end != '\0') {
		const char *u = strchr(units, toupper((unsigned char)end[0]));

		if (u == NULL)
			return false;
		shift = 10u * (unsigned)(u - units + 1);
		end++;
		if (strcmp(end, "iB") == 0 || strcmp(end, "ib") == 0)
			end += 2;
		if (*end != '\0')
			return false;
	}
	if (shift > 0 && v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

/* Returns 0, 1 for a usage error, or -1 after -V. */
static int mkfs_parse_args(int argc, char **argv, struct mkfs_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "fqjs:L:N:i:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->force = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 's':
			if (!mkfs_parse_size(optarg, &o->size) || o->size == 0) {
				tool_err("invalid size '%s'", optarg);
				return 1;
			}
			o->have_size = true;
			break;
		case 'L':
			if (strlen(optarg) > PFS_LABEL_MAX - 1) {
				tool_err("label '%s' is too long (at most %u bytes)", optarg,
					 PFS_LABEL_MAX - 1);
				return 1;
			}
			o->label = optarg;
			break;
		case 'N':
			if (!mkfs_parse_size(optarg, &o->inode_count) || o->inode_count == 0) {
				tool_err("invalid inode count '%s'", optarg);
				return 1;
			}
			break;
		case 'i':
			if (!mkfs_parse_size(optarg, &o->bytes_per_inode) ||
			    o->bytes_per_inode < PFS_INODE_SIZE) {
				tool_err("invalid bytes-per-inode '%s' (at least %u)", optarg,
					 PFS_INODE_SIZE);
				return 1;
			}
			break;
		case 'V':
			printf("%s %s\n", tool_name, PMEMFS_VERSION);
			return -1;
		case 'h':
			mkfs_usage(stdout);
			return -1;
		default:
			mkfs_usage(stderr);
			return 1;
		}
	}
	if (optind != argc - 1) {
		if (optind >= argc)
			tool_err("no TARGET given");
		else
			tool_err("too many arguments");
		mkfs_usage(stderr);
		return 1;
	}
	o->target = argv[optind];
	return 0;
}

static int mkfs_check_min_size(const char *what, uint64_t size)
{
	char h[32];

	if (size >= PFS_MIN_DEVICE_SIZE)
		return 0;
	tool_human_size(size, h, sizeof(h));
	tool_err("%s is too small (%s); pmemfs needs at least %u MiB", what, h,
		 PFS_MIN_DEVICE_SIZE >> 20);
	return -EINVAL;
}

/*
 * A file image is sparse: its blocks are taken from the backing file system
 * as pmemfs fills. If that cannot hold the whole image, a store into the
 * mapping finds no page some day (pmemfs then fails the request with EIO and
 * goes read-only), so refuse such a size now. Checked against statvfs rather
 * than allocated with posix_fallocate: allocating a 64 GiB image in tmpfs up
 * front would take 64 GiB of RAM for blocks never written. The check is a
 * snapshot; space others take later is the run-time case.
 *
 * PATH is the file (existing: ALLOCATED bytes of it are already there) or,
 * for a new one, the directory it goes in.
 */
static int mkfs_check_backing(const char *target, const char *path, uint64_t size,
			      uint64_t allocated)
{
	char need_h[32], free_h[32];
	struct statvfs sv;
	uint64_t avail;

	if (statvfs(path, &sv) < 0) {
		tool_err("cannot check the free space for %s: %s", target, strerror(errno));
		return -errno;
	}
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (allocated >= size || size - allocated <= avail)
		return 0;
	tool_human_size(size, need_h, sizeof(need_h));
	tool_human_size(avail + allocated, free_h, sizeof(free_h));
	tool_err("%s: an image of %s does not fit in the %s its file system has free "
		 "for it; choose a smaller -s", target, need_h, free_h);
	return -ENOSPC;
}

/* The free space for a new TARGET, in the directory it goes in. */
static int mkfs_check_new_target(const struct mkfs_opts *o)
{
	char *copy = strdup(o->target);
	int rc;

	if (!copy)
		return -ENOMEM;
	rc = mkfs_check_backing(o->target, dirname(copy), o->size, 0);
	free(copy);
	return rc;
}

/* Create TARGET as a file of -s bytes. */
static int mkfs_create_target(const struct mkfs_opts *o, struct pfs_device **dev)
{
	int rc;

	if (!o->have_size) {
		tool_err("%s does not exist; give -s SIZE to create it as a file", o->target);
		return -ENOENT;
	}
	rc = mkfs_check_min_size("-s SIZE", o->size);
	if (rc < 0)
		return rc;
	rc = mkfs_check_new_target(o);
	if (rc < 0)
		return rc;
	rc = pfs_device_create(o->target, o->size, dev);
	if (rc < 0)
		tool_err("%s: %s", o->target, tool_reason(rc));
	return rc;
}

/* Open an existing TARGET and make sure it is ours to overwrite. */
static int mkfs_open_target(const struct mkfs_opts *o, struct pfs_device **dev)
{
	const struct pfs_device_info *info;
	const char *what = NULL;
	int rc;

	if (o->have_size) {
		rc = mkfs_check_min_size("-s SIZE", o->size);
		if (rc < 0)
			return rc;
	}
	rc = pfs_device_open(o->target, false, dev);
	if (rc < 0) {
		tool_err("%s: %s", o->target, tool_reason(rc));
		return rc;
	}
	info = pfs_device_get_info(*dev);
	if (o->have_size && o->size > info->size) {
		tool_err("-s larger than TARGET: %s has %zu bytes", o->target, info->size);
		rc = -EINVAL;
		goto out_close;
	}
	if (o->have_size && o->size < info->size) {
		tool_err("-s smaller than TARGET is not supported: pmemfs formats all %zu bytes "
			 "of %s; omit -s", info->size, o->target);
		rc = -EINVAL;
		goto out_close;
	}
	rc = mkfs_check_min_size(o->target, info->size);
	if (rc < 0)
		goto out_close;
	if (o->force)
		return 0;

	rc = pfs_probe_signature(pfs_device_base(*dev), info->size, &what);
	if (rc < 0) {
		tool_err("cannot probe %s: %s", o->target, strerror(-rc));
		goto out_close;
	}
	if (what != NULL) {
		tool_err("%s contains a %s file system; use -f to overwrite", o->target, what);
		rc = -EEXIST;
		goto out_close;
	}
	return 0;

out_close:
	pfs_device_close(*dev);
	*dev = NULL;
	return rc;
}

static void mkfs_report(const struct mkfs_opts *o, const struct pfs_device_info *dinfo,
			const struct pfs_format_info *fi)
{
	char cap[32], jsize[32], uuid[40];

	tool_human_size(fi->device_size, cap, sizeof(cap));
	tool_human_size(fi->journal_blocks * PFS_BLOCK_SIZE, jsize, sizeof(jsize));
	tool_uuid_str(fi->uuid, uuid, sizeof(uuid));
	printf("Made a pmemfs file system on %s\n", o->target);
	printf("  device:         %s, %s\n", dinfo->path[0] ? dinfo->path : o->target,
	       tool_device_kind(dinfo));
	printf("  capacity:       %" PRIu64 " bytes (%s)\n", fi->device_size, cap);
	printf("  block size:     %u\n", PFS_BLOCK_SIZE);
	printf("  data blocks:    %" PRIu64 "\n", fi->data_blocks);
	printf("  inode capacity: %" PRIu64 "\n", fi->inode_count);
	printf("  journal size:   %" PRIu64 " blocks (%s)\n", fi->journal_blocks, jsize);
	printf("  uuid:           %s\n", uuid);
	printf("  label:          %s\n", o->label ? o->label : "(none)");
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static void mkfs_report_json(const struct mkfs_opts *o, const struct pfs_device_info *dinfo,
			     const struct pfs_format_info *fi)
{
	struct json_object *j = json_object_new_object();
	char uuid[40];

	tool_uuid_str(fi->uuid, uuid, sizeof(uuid));
	json_object_object_add(j, "target", json_object_new_string(o->target));
	json_object_object_add(j, "device_kind", json_object_new_string(tool_device_kind(dinfo)));
	json_object_object_add(j, "real_pmem", json_object_new_boolean(dinfo->is_pmem));
	json_object_object_add(j, "uuid", json_object_new_string(uuid));
	json_object_object_add(j, "label", json_object_new_string(o->label ? o->label : ""));
	add_u64(j, "device_size", fi->device_size);
	add_u64(j, "block_size", PFS_BLOCK_SIZE);
	add_u64(j, "total_blocks", fi->total_blocks);
	add_u64(j, "data_blocks", fi->data_blocks);
	add_u64(j, "inode_count", fi->inode_count);
	add_u64(j, "journal_blocks", fi->journal_blocks);
	tool_json_print(j);
}

int main(int argc, char **argv)
{
	struct mkfs_opts o = { 0 };
	struct pfs_format_opts fo = { 0 };
	struct pfs_format_info fi = { 0 };
	struct pfs_device *dev = NULL;
	struct tool_progress bar;
	struct stat st;
	bool created = false;
	int rc;

	tool_name = "mkfs.pmemfs";
	rc = mkfs_parse_args(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? 0 : 1;
	tool_log_init(o.quiet ? PFS_LOG_ERR : PFS_LOG_WARN);

	rc = tool_stat_target(o.target, &st);
	if (rc == -ENOENT) {
		rc = mkfs_create_target(&o, &dev);
		created = rc == 0;
	} else if (rc == 0) {
		rc = S_ISREG(st.st_mode) ? mkfs_check_backing(o.target, o.target,
				(uint64_t)st.st_size, (uint64_t)st.st_blocks * 512) : 0;
		if (rc == 0)
			rc = mkfs_open_target(&o, &dev);
	}
	if (rc < 0)
		return 1;

	fo.label = o.label;
	fo.inode_count = o.inode_count;
	fo.bytes_per_inode = o.bytes_per_inode;
	fo.lost_found = true;
	tool_progress_init(&bar, o.quiet);
	fo.progress = tool_progress_cb;
	fo.progress_arg = &bar;
	rc = pfs_format(dev, &fo, &fi);
	tool_progress_end(&bar);
	if (rc < 0) {
		tool_err("%s: formatting failed: %s", o.target, tool_reason(rc));
		goto out_close;
	}
	if (o.json)
		mkfs_report_json(&o, pfs_device_get_info(dev), &fi);
	else if (!o.quiet)
		mkfs_report(&o, pfs_device_get_info(dev), &fi);

out_close:
	pfs_device_close(dev);
	if (rc < 0 && created && unlink(o.target) < 0)
		tool_err("cannot remove %s: %s", o.target, strerror(errno));
	return rc < 0 ? 1 : 0;
}
