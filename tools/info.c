/* SPDX-License-Identifier: MIT */
/*
 * pmemfs-info: what an unmounted pmemfs device holds, as text or JSON (like
 * `ndctl list`): superblock and replica, area map, usage, the journal, and a
 * health summary; with --check also a full check by the checker.
 *
 * It never changes a byte: the device is opened read-only (a file gets a
 * private mapping), so even --check, which rolls an interrupted transaction
 * back as a mount would, does so in memory only. Exit status as fsck's:
 * 0 clean, 4 problems found, 8 operational error, 16 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pmemfs/pmemfs.h>

#include "util.h"

enum { INFO_OK = 0, INFO_PROBLEMS = 4, INFO_ERROR = 8, INFO_USAGE = 16 };

struct info_opts {
	bool json, check, quiet;
	const char *target;
};

/* Everything one run learns; problems and notes are [{object, problem|note}]. */
struct info_run {
	const struct info_opts *o;
	const struct pfs_device_info *dev;
	struct pfs_info info;
	struct pfs_check_result res;
	bool checked;
	struct json_object *problems;
	struct json_object *notes;
	struct tool_progress bar;
};

static void info_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-j] [-c] [-q] TARGET\n"
		"\n"
		"Print what the pmemfs on TARGET holds: superblock, area map, usage, journal\n"
		"and health. TARGET must not be mounted; it is opened read-only.\n"
		"\n"
		"  -j, --json     print JSON instead of text\n"
		"  -c, --check    also run the full check of fsck.pmemfs -n (read-only)\n"
		"  -q, --quiet    no progress bar during --check\n"
		"  -V, --version  print the version and exit\n"
		"  -h, --help     print this help and exit\n"
		"\n"
		"Exit status: 0 clean, 4 problems found, 8 operational error, 16 usage error.\n",
		tool_name);
}

static int info_parse_args(int argc, char **argv, struct info_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "check", no_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "jcqVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'c':
			o->check = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'V':
			printf("%s %s\n", tool_name, PMEMFS_VERSION);
			return -1;
		case 'h':
			info_usage(stdout);
			return -1;
		default:
			info_usage(stderr);
			return INFO_USAGE;
		}
	}
	if (optind != argc - 1) {
		tool_err(optind >= argc ? "no TARGET given" : "too many arguments");
		info_usage(stderr);
		return INFO_USAGE;
	}
	o->target = argv[optind];
	return 0;
}

/* ---- findings ---- */

static void add_finding(struct json_object *arr, const char *object, const char *key,
			const char *text)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "object", json_object_new_string(object));
	json_object_object_add(p, key, json_object_new_string(text));
	json_object_array_add(arr, p);
}

static void check_report(void *arg, const char *object, const char *problem, bool repaired)
{
	struct info_run *run = arg;

	(void)repaired;
	add_finding(run->problems, object, "problem", problem);
}

static void check_note(void *arg, const char *object, const char *note, bool repaired)
{
	struct info_run *run = arg;

	(void)repaired;
	add_finding(run->notes, object, "note", note);
}

static void check_progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	struct info_run *run = arg;

	tool_progress_cb(&run->bar, phase, done, total);
}

/*
 * Without --check: what the superblocks, the state block and the journal
 * header show at a glance. With --check the checker's findings replace these
 * (it reports the same things, and more).
 */
static void quick_health(struct info_run *run)
{
	const struct pfs_info *in = &run->info;
	char msg[256];

	if (!in->primary_valid)
		add_finding(run->problems, "superblock", "problem", in->primary_why);
	if (!in->replica_valid)
		add_finding(run->problems, "replica superblock", "problem", in->replica_why);
	else if (in->primary_valid && !in->replica_matches)
		add_finding(run->problems, "replica superblock", "problem",
			    "differs from the primary");
	if (!in->state_valid)
		add_finding(run->problems, "state block", "problem",
			    "bad signature or counts out of range");
	if (!in->journal_valid)
		add_finding(run->problems, "journal", "problem", "bad signature");
	if (in->journal_records) {
		snprintf(msg, sizeof(msg), "interrupted transaction with %u records (rolled back "
			 "at the next mount)", in->journal_records);
		add_finding(run->notes, "journal", "note", msg);
	}
	if (in->orphan_head)
		add_finding(run->notes, "orphan list", "note",
			    "orphaned inodes (freed at the next mount)");
}

static int full_check(struct pfs_device *dev, struct info_run *run)
{
	struct pfs_check_hooks hooks = {
		.report = check_report, .note = check_note, .progress = check_progress,
		.arg = run,
	};
	int rc;

	tool_progress_init(&run->bar, run->o->quiet);
	rc = pfs_check_ex(dev, 0, &hooks, &run->res);
	tool_progress_end(&run->bar);
	if (rc < 0)
		tool_err("%s: cannot check: %s", run->o->target, tool_reason(rc));
	else
		run->checked = true;
	return rc;
}

/* ---- output ---- */

static const char *super_verdict(bool valid, const char *why)
{
	return valid ? "valid" : why ? why : "not valid";
}

static void fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || !gmtime_r(&tt, &tm))
		snprintf(buf, len, "never");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static uint64_t inodes_total(const struct pfs_info *in)
{
	return in->inode_count > 0 ? in->inode_count - 1 : 0; /* slot 0 is never used */
}

static void print_findings(const char *title, struct json_object *arr, const char *key)
{
	size_t n = json_object_array_length(arr);

	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(arr, i), *obj, *txt;

		json_object_object_get_ex(p, "object", &obj);
		json_object_object_get_ex(p, key, &txt);
		printf("  %s: %s: %s\n", title, json_object_get_string(obj),
		       json_object_get_string(txt));
	}
}

static void print_text(const struct info_run *run)
{
	const struct pfs_info *in = &run->info;
	size_t nprob = json_object_array_length(run->problems);
	char uuid[40], size[32], t1[32], t2[32];

	tool_uuid_str(in->uuid, uuid, sizeof(uuid));
	tool_human_size(in->device_size, size, sizeof(size));
	fmt_time(in->mkfs_time, t1, sizeof(t1));
	fmt_time(in->last_mount_time, t2, sizeof(t2));
	printf("device:            %s (%s, %zu bytes)\n", run->o->target,
	       tool_device_kind(run->dev), run->dev->size);
	printf("primary superblock: %s%s\n", super_verdict(in->primary_valid, in->primary_why),
	       in->which == 0 ? " (in use)" : "");
	printf("replica superblock: %s%s%s\n", super_verdict(in->replica_valid, in->replica_why),
	       in->replica_matches ? ", identical" : "", in->which == 1 ? " (in use)" : "");
	printf("uuid:              %s\n", uuid);
	printf("label:             %s\n", in->label[0] ? in->label : "(none)");
	printf("version:           %u.%u\n", in->version_major, in->version_minor);
	printf("features:          compat 0x%" PRIx64 ", incompat 0x%" PRIx64
	       ", ro_compat 0x%" PRIx64 "\n", in->feature_compat, in->feature_incompat,
	       in->feature_ro_compat);
	printf("size:              %" PRIu64 " bytes (%s)\n", in->device_size, size);
	printf("block size:        %u\n", in->block_size);
	printf("inode size:        %u\n", in->inode_size);
	printf("created:           %s\n", t1);
	printf("area map:          (start and length in blocks)\n");
	for (unsigned i = 0; i < in->nareas; i++)
		printf("  %-16s %12" PRIu64 " %12" PRIu64 "\n", in->areas[i].name,
		       in->areas[i].start, in->areas[i].blocks);
	printf("inodes:            %" PRIu64 " total, %" PRIu64 " used, %" PRIu64 " free\n",
	       inodes_total(in), inodes_total(in) - in->free_inodes, in->free_inodes);
	printf("data blocks:       %" PRIu64 " total, %" PRIu64 " used, %" PRIu64 " free\n",
	       in->data_blocks, in->data_blocks - in->free_blocks, in->free_blocks);
	printf("mount count:       %" PRIu64 "\n", in->mount_count);
	printf("last mounted:      %s\n", t2);
	if (in->journal_records)
		printf("journal:           interrupted transaction with %u records (sequence %"
		       PRIu64 ")\n", in->journal_records, in->journal_seq);
	else
		printf("journal:           clean (sequence %" PRIu64 ")\n", in->journal_seq);
	if (nprob == 0)
		printf("health:            clean%s\n", run->checked ? " (full check)" : "");
	else
		printf("health:            %zu problem%s%s\n", nprob, nprob == 1 ? "" : "s",
		       run->checked ? " (full check)" : "");
	print_findings("problem", run->problems, "problem");
	print_findings("note", run->notes, "note");
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static struct json_object *json_super(const struct pfs_info *in)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "in_use", json_object_new_string(in->which ? "replica"
									       : "primary"));
	json_object_object_add(o, "primary_valid", json_object_new_boolean(in->primary_valid));
	json_object_object_add(o, "primary_error", in->primary_why ?
			       json_object_new_string(in->primary_why) : NULL);
	json_object_object_add(o, "replica_valid", json_object_new_boolean(in->replica_valid));
	json_object_object_add(o, "replica_error", in->replica_why ?
			       json_object_new_string(in->replica_why) : NULL);
	json_object_object_add(o, "replica_identical",
			       json_object_new_boolean(in->replica_matches));
	return o;
}

static struct json_object *json_counts(uint64_t total, uint64_t free)
{
	struct json_object *o = json_object_new_object();

	add_u64(o, "total", total);
	add_u64(o, "used", total - free);
	add_u64(o, "free", free);
	return o;
}

static void print_json(struct info_run *run)
{
	const struct pfs_info *in = &run->info;
	struct json_object *j = json_object_new_object();
	struct json_object *features = json_object_new_object();
	struct json_object *areas = json_object_new_array();
	struct json_object *journal = json_object_new_object();
	struct json_object *health = json_object_new_object();
	size_t nprob = json_object_array_length(run->problems);
	char uuid[40], ver[24];

	tool_uuid_str(in->uuid, uuid, sizeof(uuid));
	snprintf(ver, sizeof(ver), "%u.%u", in->version_major, in->version_minor);
	json_object_object_add(j, "target", json_object_new_string(run->o->target));
	json_object_object_add(j, "device_kind",
			       json_object_new_string(tool_device_kind(run->dev)));
	json_object_object_add(j, "real_pmem", json_object_new_boolean(run->dev->is_pmem));
	json_object_object_add(j, "superblock", json_super(in));
	json_object_object_add(j, "uuid", json_object_new_string(uuid));
	json_object_object_add(j, "label", json_object_new_string(in->label));
	json_object_object_add(j, "version", json_object_new_string(ver));
	add_u64(features, "compat", in->feature_compat);
	add_u64(features, "incompat", in->feature_incompat);
	add_u64(features, "ro_compat", in->feature_ro_compat);
	json_object_object_add(j, "features", features);
	add_u64(j, "size", in->device_size);
	add_u64(j, "block_size", in->block_size);
	add_u64(j, "inode_size", in->inode_size);
	add_u64(j, "total_blocks", in->total_blocks);
	json_object_object_add(j, "mkfs_time", json_object_new_int64(in->mkfs_time));
	for (unsigned i = 0; i < in->nareas; i++) {
		struct json_object *a = json_object_new_object();

		json_object_object_add(a, "name", json_object_new_string(in->areas[i].name));
		add_u64(a, "start", in->areas[i].start);
		add_u64(a, "blocks", in->areas[i].blocks);
		json_object_array_add(areas, a);
	}
	json_object_object_add(j, "areas", areas);
	json_object_object_add(j, "inodes", json_counts(inodes_total(in), in->free_inodes));
	json_object_object_add(j, "data_blocks", json_counts(in->data_blocks, in->free_blocks));
	add_u64(j, "mount_count", in->mount_count);
	json_object_object_add(j, "last_mount_time", json_object_new_int64(in->last_mount_time));
	json_object_object_add(journal, "state", json_object_new_string(
				       in->journal_records ? "interrupted" : "clean"));
	add_u64(journal, "sequence", in->journal_seq);
	add_u64(journal, "records", in->journal_records);
	json_object_object_add(j, "journal", journal);
	json_object_object_add(health, "state", json_object_new_string(nprob ? "problems"
									      : "clean"));
	json_object_object_add(health, "full_check", json_object_new_boolean(run->checked));
	json_object_object_add(health, "problems", run->problems);
	json_object_object_add(health, "notes", run->notes);
	run->problems = run->notes = NULL;
	json_object_object_add(j, "health", health);
	tool_json_print(j);
}

/* pfs_info failed: neither superblock is usable. */
static void explain_failure(const struct info_run *run)
{
	const struct pfs_info *in = &run->info;

	(void)tool_reason_or(NULL); /* the two verdicts below say it all */
	tool_err("%s: no usable pmemfs superblock: primary: %s; replica: %s",
		 run->o->target, super_verdict(false, in->primary_why),
		 super_verdict(false, in->replica_why));
}

static int info_open(const struct info_opts *o, struct pfs_device **dev)
{
	struct stat st;
	int rc = tool_stat_target(o->target, &st);

	if (rc == -ENOENT)
		tool_err("%s: %s", o->target, strerror(ENOENT));
	if (rc < 0)
		return rc;
	rc = pfs_device_open(o->target, true, dev);
	if (rc == -EBUSY)
		tool_err("%s: %s; a mount's status file tells what this would",
			 o->target, tool_reason(rc));
	else if (rc < 0)
		tool_err("%s: %s", o->target, tool_reason(rc));
	return rc;
}

int main(int argc, char **argv)
{
	struct info_opts o = { 0 };
	struct info_run run = { .o = &o };
	struct pfs_device *dev = NULL;
	int rc, status = INFO_ERROR;

	tool_name = "pmemfs-info";
	rc = info_parse_args(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? INFO_OK : rc;
	/* what the core would log (a bad primary, ...) is in the report itself */
	tool_log_init(PFS_LOG_ERR);
	if (info_open(&o, &dev) < 0)
		return INFO_ERROR;
	run.dev = pfs_device_get_info(dev);
	run.problems = json_object_new_array();
	run.notes = json_object_new_array();
	rc = pfs_info(dev, &run.info);
	if (rc < 0) {
		explain_failure(&run);
		goto out;
	}
	if (o.check)
		rc = full_check(dev, &run);
	else
		quick_health(&run);
	if (rc < 0)
		goto out;
	status = json_object_array_length(run.problems) ? INFO_PROBLEMS : INFO_OK;
	if (o.json)
		print_json(&run);
	else
		print_text(&run);
out:
	json_object_put(run.problems);
	json_object_put(run.notes);
	pfs_device_close(dev);
	return status;
}
