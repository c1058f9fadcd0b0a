// SPDX-License-Identifier: MIT
/*
 * The status file at the mount's root, and its JSON twin status.json: what
 * an operator checks first. One snapshot (struct status) is taken per read
 * and rendered either way, so both files always say the same things:
 * the device and how stores become persistent on it, capacity and free
 * space, inodes, the mount options, and the adapter's and the core's
 * counters since the mount.
 */
#define FUSE_USE_VERSION 314

#include "fuse_ops.h"
#include "fuse_compat.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

struct status {
	const struct pfs_device_info *dev;
	const char *kind;
	const char *domain;
	struct statvfs vfs;
	struct pfs_fs_stats fs;
	char options[112];
	const char *ro_reason;         /* NULL: read-write */
	char since[32];                /* the mount time, UTC, ISO 8601 */
	char corrupt_since[32];        /* when corrupt media latched read-only; "" if never */
	uint64_t reads, writes, fsyncs, bytes_read, bytes_written, errors, zero_copy;
	unsigned ring_queues;          /* 0: requests come through /dev/fuse */
	uint64_t ring_requests, ring_raised;
};

static const char *dev_kind(const struct pfs_device_info *info)
{
	switch (info->kind) {
	case PFS_DEV_DAX:
		return "devdax";
	case PFS_DEV_FILE:
		return info->is_pmem ? "file on a DAX file system" : "file (emulated pmem)";
	case PFS_DEV_DRAM:
		return "dram";
	}
	return "unknown";
}

static uint64_t load(atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void iso_time(int64_t secs, char *buf, size_t size)
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%lld", (long long)secs);
}

static int status_take(struct pmemfs_server *srv, struct status *st)
{
	int rc;

	memset(st, 0, sizeof(*st));
	st->dev = pfs_fs_device_info(srv->fs);
	st->kind = dev_kind(st->dev);
	st->domain = pfs_persistence_domain(st->dev);
	rc = pfs_statfs(srv->fs, &st->vfs);
	if (rc)
		return rc;
	pfs_fs_get_stats(srv->fs, &st->fs);
	if (st->fs.readonly_requested)
		st->ro_reason = "mounted with -o ro";
	else if (st->fs.media_errors)
		st->ro_reason = "media error: a device page failed; run fsck.pmemfs after unmounting";
	else if (st->fs.readonly)
		st->ro_reason = "corrupt metadata found; run fsck.pmemfs after unmounting";
	st->ring_queues = pmemfs_compat_uring_queues(srv);
	snprintf(st->options, sizeof(st->options), "%s,cache_timeout=%g,%s,durable=%s%s,uring=%s",
		 st->fs.readonly_requested ? "ro" : "rw", srv->cache_timeout,
		 pmemfs_direct_io(srv) ? "direct_io" : "page_cache",
		 srv->durable_writes ? "write" : "fsync", srv->zerocopy ? ",zerocopy" : "",
		 pmemfs_compat_uring_name(srv));
	iso_time(srv->mount_time.tv_sec, st->since, sizeof(st->since));
	if (st->fs.corrupt_time)
		iso_time(st->fs.corrupt_time, st->corrupt_since, sizeof(st->corrupt_since));
	st->reads = load(&srv->count.reads);
	st->writes = load(&srv->count.writes);
	st->fsyncs = load(&srv->count.fsyncs);
	st->bytes_read = load(&srv->count.bytes_read);
	st->bytes_written = load(&srv->count.bytes_written);
	st->errors = load(&srv->count.errors);
	st->zero_copy = load(&srv->count.zero_copy_writes);
	st->ring_requests = pmemfs_compat_uring_requests(srv);
	st->ring_raised = pmemfs_compat_uring_raised(srv);
	return 0;
}

static int status_text(const struct pmemfs_server *srv, const struct status *st, char **text,
		       size_t *len)
{
	uint64_t bsize = st->vfs.f_frsize;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return -ENOMEM;
	fprintf(f, "device: %s\n", st->dev->path);
	fprintf(f, "device kind: %s\n", st->kind);
	fprintf(f, "real pmem: %s\n", st->dev->is_pmem ? "yes" : "no");
	fprintf(f, "persistence domain: %s\n", st->domain);
	fprintf(f, "capacity: %" PRIu64 " bytes\n", (uint64_t)st->vfs.f_blocks * bsize);
	fprintf(f, "free: %" PRIu64 " bytes\n", (uint64_t)st->vfs.f_bfree * bsize);
	fprintf(f, "inodes: %" PRIu64 " total, %" PRIu64 " used, %" PRIu64 " free\n",
		(uint64_t)st->vfs.f_files, (uint64_t)(st->vfs.f_files - st->vfs.f_ffree),
		(uint64_t)st->vfs.f_ffree);
	fprintf(f, "mount options: %s\n", st->options);
	fprintf(f, "read-only: %s%s%s\n", st->ro_reason ? "yes (" : "no",
		st->ro_reason ? st->ro_reason : "", st->ro_reason ? ")" : "");
	fprintf(f, "mounted since: %s\n", st->since);
	if (st->fs.corrupt_time)
		fprintf(f, "corruption: read-only since %s, first: %s\n", st->corrupt_since,
			st->fs.corrupt_first);
	else
		fprintf(f, "corruption: none found\n");
	fprintf(f, "media errors: %llu\n", (unsigned long long)st->fs.media_errors);
	fprintf(f, "reads: %" PRIu64 "\n", st->reads);
	fprintf(f, "bytes read: %" PRIu64 "\n", st->bytes_read);
	fprintf(f, "writes: %" PRIu64 "\n", st->writes);
	fprintf(f, "bytes written: %" PRIu64 "\n", st->bytes_written);
	fprintf(f, "zero-copy writes: %" PRIu64 "\n", st->zero_copy);
	fprintf(f, "io_uring queues: %u\n", st->ring_queues);
	fprintf(f, "io_uring requests: %" PRIu64 "\n", st->ring_requests);
	fprintf(f, "io_uring threads raised: %" PRIu64 "\n", st->ring_raised);
	fprintf(f, "fsyncs: %" PRIu64 "\n", st->fsyncs);
	fprintf(f, "journal commits: %" PRIu64 "\n", st->fs.journal_commits);
	fprintf(f, "errors: %" PRIu64 "\n", st->errors);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*text = buf;
	*len = size;
	return 0;
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

/* null while no corruption was found; else when the mount latched read-only, and why */
static struct json_object *corruption_object(const struct status *st)
{
	struct json_object *o;

	if (!st->fs.corrupt_time)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "since", json_object_new_string(st->corrupt_since));
	json_object_object_add(o, "time", json_object_new_int64(st->fs.corrupt_time));
	json_object_object_add(o, "first", json_object_new_string(st->fs.corrupt_first));
	return o;
}

static struct json_object *status_object(const struct pmemfs_server *srv,
					 const struct status *st)
{
	uint64_t bsize = st->vfs.f_frsize;
	struct json_object *o = json_object_new_object();
	struct json_object *inodes = json_object_new_object();
	struct json_object *counters = json_object_new_object();

	json_object_object_add(o, "device", json_object_new_string(st->dev->path));
	json_object_object_add(o, "device_kind", json_object_new_string(st->kind));
	json_object_object_add(o, "real_pmem", json_object_new_boolean(st->dev->is_pmem));
	json_object_object_add(o, "persistence_domain", json_object_new_string(st->domain));
	add_u64(o, "block_size", bsize);
	add_u64(o, "capacity_bytes", (uint64_t)st->vfs.f_blocks * bsize);
	add_u64(o, "free_bytes", (uint64_t)st->vfs.f_bfree * bsize);
	add_u64(inodes, "total", st->vfs.f_files);
	add_u64(inodes, "used", st->vfs.f_files - st->vfs.f_ffree);
	add_u64(inodes, "free", st->vfs.f_ffree);
	json_object_object_add(o, "inodes", inodes);
	json_object_object_add(o, "mount_options", json_object_new_string(st->options));
	add_u64(o, "io_uring_queues", st->ring_queues);
	json_object_object_add(o, "read_only", json_object_new_boolean(st->ro_reason != NULL));
	json_object_object_add(o, "read_only_reason",
			       st->ro_reason ? json_object_new_string(st->ro_reason) : NULL);
	json_object_object_add(o, "mount_time", json_object_new_int64(srv->mount_time.tv_sec));
	json_object_object_add(o, "corruption", corruption_object(st));
	json_object_object_add(o, "media_errors", json_object_new_int64((int64_t)st->fs.media_errors));
	add_u64(counters, "reads", st->reads);
	add_u64(counters, "bytes_read", st->bytes_read);
	add_u64(counters, "writes", st->writes);
	add_u64(counters, "bytes_written", st->bytes_written);
	add_u64(counters, "zero_copy_writes", st->zero_copy);
	add_u64(counters, "io_uring_requests", st->ring_requests);
	add_u64(counters, "io_uring_threads_raised", st->ring_raised);
	add_u64(counters, "fsyncs", st->fsyncs);
	add_u64(counters, "journal_commits", st->fs.journal_commits);
	add_u64(counters, "errors", st->errors);
	json_object_object_add(o, "counters", counters);
	return o;
}

static int status_json(const struct pmemfs_server *srv, const struct status *st, char **text,
		       size_t *len)
{
	struct json_object *o = status_object(srv, st);
	const char *s;
	int rc = 0;

	if (!o)
		return -ENOMEM;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s || asprintf(text, "%s\n", s) < 0)
		rc = -ENOMEM;
	else
		*len = strlen(*text);
	json_object_put(o);
	return rc;
}

int pmemfs_status_text(struct pmemfs_server *srv, bool json, char **text, size_t *len)
{
	struct status st;
	int rc = status_take(srv, &st);

	if (rc)
		return rc;
	return json ? status_json(srv, &st, text, len) : status_text(srv, &st, text, len);
}
