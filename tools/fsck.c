/* SPDX-License-Identifier: MIT */
/*
 * fsck.pmemfs: check (and with -y/-p/-a repair) an unmounted pmemfs, following
 * fsck(8) and e2fsck: exit 0 clean, 1 errors corrected, 4 errors left
 * uncorrected, 8 operational error, 16 usage error.
 *
 * We never prompt: without -n/-y/-p/-a it checks only, like -n, and says so.
 * -n opens the device read-only, so a check cannot change it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pmemfs/pmemfs.h>

#include "util.h"

enum {
	FSCK_OK = 0,
	FSCK_NONDESTRUCT = 1,          /* errors corrected */
	FSCK_UNCORRECTED = 4,
	FSCK_ERROR = 8,                /* operational error */
	FSCK_USAGE = 16,
};

struct fsck_opts {
	bool repair;                   /* -y, -p or -a */
	bool check_only;               /* -n */
	bool preen;                    /* -p or -a: fewer words */
	bool verbose;
	bool quiet;                    /* -q: no progress bar, no notice */
	bool json;
	const char *target;
};

/* What the checker's hooks fill in. */
struct fsck_run {
	const struct fsck_opts *o;
	struct tool_progress bar;
	struct json_object *problems;  /* --json: [{object, problem, repaired}] */
	struct json_object *notes;     /* --json: [{object, note}] */
};

static void fsck_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-n|-y|-p|-a] [-f] [-v] [-q] [-j] TARGET\n"
		"\n"
		"Check the pmemfs file system on TARGET (which must not be mounted).\n"
		"\n"
		"  -n     check only, change nothing (TARGET is opened read-only); the default\n"
		"  -y     repair everything that can be repaired safely\n"
		"  -p -a  the same as -y, printing less (\"preen\")\n"
		"  -f     force a full check (pmemfs always checks fully; accepted for fsck(8))\n"
		"  -v     verbose\n"
		"  -q     quiet: no progress bar, no notice that nothing will be changed\n"
		"  -j, --json\n"
		"         print the result as JSON: problems, totals, exit status\n"
		"  -V, --version\n"
		"         print the version and exit\n"
		"  -h, --help\n"
		"         print this help and exit\n"
		"\n"
		"A progress bar goes to stderr when it is a terminal (not with -q).\n"
		"Exit status: 0 no errors, 1 errors corrected, 4 errors left uncorrected,\n"
		"8 operational error, 16 usage error.\n",
		tool_name);
}

static int fsck_parse_args(int argc, char **argv, struct fsck_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "nypafvqjVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			o->quiet = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'n':
			o->check_only = true;
			break;
		case 'p':
		case 'a':
			o->preen = true;
			o->repair = true;
			break;
		case 'y':
			o->repair = true;
			break;
		case 'f':
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'V':
			printf("%s %s\n", tool_name, PMEMFS_VERSION);
			return -1;
		case 'h':
			fsck_usage(stdout);
			return -1;
		default:
			fsck_usage(stderr);
			return FSCK_USAGE;
		}
	}
	if (o->check_only && o->repair) {
		tool_err("only one of the options -n and -y/-p/-a may be given");
		return FSCK_USAGE;
	}
	if (optind != argc - 1) {
		tool_err(optind >= argc ? "no TARGET given" : "too many arguments");
		fsck_usage(stderr);
		return FSCK_USAGE;
	}
	o->target = argv[optind];
	return 0;
}

static void fsck_report(void *arg, const char *object, const char *problem, bool repaired)
{
	struct fsck_run *run = arg;
	struct json_object *p;

	if (!run->o->json) {
		tool_progress_end(&run->bar);
		printf("%s: %s%s\n", object, problem, repaired ? " [fixed]" : "");
		fflush(stdout);
		return;
	}
	p = json_object_new_object();
	json_object_object_add(p, "object", json_object_new_string(object));
	json_object_object_add(p, "problem", json_object_new_string(problem));
	json_object_object_add(p, "repaired", json_object_new_boolean(repaired));
	json_object_array_add(run->problems, p);
}

/* Not a problem: what a mount does anyway (a transaction to roll back, orphans). */
static void fsck_note(void *arg, const char *object, const char *note, bool repaired)
{
	struct fsck_run *run = arg;
	struct json_object *n;

	if (!run->o->json) {
		fsck_report(arg, object, note, repaired);
		return;
	}
	n = json_object_new_object();
	json_object_object_add(n, "object", json_object_new_string(object));
	json_object_object_add(n, "note", json_object_new_string(note));
	json_object_array_add(run->notes, n);
}

static void fsck_progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	struct fsck_run *run = arg;

	tool_progress_cb(&run->bar, phase, done, total);
}

/* pfs_check() could not run: say why as precisely as we can. */
static void fsck_explain_failure(const struct fsck_opts *o, struct pfs_device *dev, int rc)
{
	const struct pfs_device_info *info = pfs_device_get_info(dev);
	const char *what = NULL;

	pfs_probe_signature(pfs_device_base(dev), info->size, &what);
	if (what == NULL) {
		tool_err("%s: %s", o->target, tool_reason_or("no pmemfs superblock found "
			 "(neither the primary nor the replica is valid)"));
		return;
	}
	if (strncmp(what, "pmemfs", 6) != 0) {
		(void)tool_reason_or(NULL); /* the file system named below says more */
		tool_err("%s contains a %s file system, not pmemfs", o->target, what);
		return;
	}
	tool_err("%s: cannot check: %s", o->target, tool_reason(rc));
}

static unsigned fsck_left(const struct pfs_check_result *res)
{
	return res->repaired >= res->problems ? 0 : res->problems - res->repaired;
}

static int fsck_status(const struct pfs_check_result *res)
{
	if (res->problems == 0)
		return FSCK_OK;
	return fsck_left(res) == 0 ? FSCK_NONDESTRUCT : FSCK_UNCORRECTED;
}

static const char *fsck_status_word(int status)
{
	switch (status) {
	case FSCK_OK:
		return "clean";
	case FSCK_NONDESTRUCT:
		return "corrected";
	case FSCK_UNCORRECTED:
		return "uncorrected";
	case FSCK_USAGE:
		return "usage error";
	default:
		return "operational error";
	}
}

/*
 * --json: one object on stdout, also when the check could not run
 * (status 8, error says why; problems then empty).
 */
static int fsck_json(const struct fsck_opts *o, struct fsck_run *run,
		     const struct pfs_check_result *res, int status, const char *error)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "target", json_object_new_string(o->target));
	json_object_object_add(j, "mode", json_object_new_string(o->repair ? "repair" : "check"));
	json_object_object_add(j, "problems", run->problems);
	json_object_object_add(j, "notes", run->notes);
	run->problems = run->notes = NULL;
	json_object_object_add(j, "found", json_object_new_int64(res->problems));
	json_object_object_add(j, "repaired", json_object_new_int64(res->repaired));
	json_object_object_add(j, "left", json_object_new_int64(fsck_left(res)));
	json_object_object_add(j, "result", json_object_new_string(fsck_status_word(status)));
	json_object_object_add(j, "exit_status", json_object_new_int(status));
	json_object_object_add(j, "error", error ? json_object_new_string(error) : NULL);
	tool_json_print(j);
	return status;
}

static int fsck_summary(const struct fsck_opts *o, const struct pfs_check_result *res)
{
	unsigned left = fsck_left(res);
	const char *s = res->problems == 1 ? "" : "s";

	if (res->problems == 0) {
		printf("%s: clean, 0 problems\n", o->target);
		return FSCK_OK;
	}
	if (left == 0) {
		if (!o->preen)
			printf("\n***** FILE SYSTEM WAS MODIFIED *****\n");
		printf("%s: %u problem%s, all fixed\n", o->target, res->problems, s);
		return FSCK_NONDESTRUCT;
	}
	if (!o->repair)
		printf("%s: run %s -y to repair\n", o->target, tool_name);
	printf("%s: %u problem%s, %u fixed, %u left uncorrected\n", o->target, res->problems, s,
	       res->repaired, left);
	return FSCK_UNCORRECTED;
}

/* Opens TARGET as the options say; 0, or -errno after saying why. */
static int fsck_open(const struct fsck_opts *o, struct pfs_device **dev)
{
	struct stat st;
	int rc = tool_stat_target(o->target, &st);

	if (rc == -ENOENT)
		tool_err("%s: %s", o->target, strerror(ENOENT));
	if (rc < 0)
		return rc;
	rc = pfs_device_open(o->target, !o->repair, dev);
	if (rc < 0)
		tool_err("%s: %s", o->target, tool_reason(rc));
	return rc;
}

/* The exit status; with --json also the JSON object. */
static int fsck_finish(const struct fsck_opts *o, struct fsck_run *run,
		       const struct pfs_check_result *res, int rc)
{
	int status = rc < 0 ? FSCK_ERROR : fsck_status(res);

	if (o->json)
		return fsck_json(o, run, res, status, rc < 0 ? strerror(-rc) : NULL);
	return rc < 0 ? FSCK_ERROR : fsck_summary(o, res);
}

int main(int argc, char **argv)
{
	struct fsck_opts o = { 0 };
	struct pfs_check_result res = { 0 };
	struct fsck_run run = { .o = &o };
	struct pfs_check_hooks hooks = {
		.report = fsck_report, .note = fsck_note, .progress = fsck_progress, .arg = &run,
	};
	struct pfs_device *dev = NULL;
	unsigned flags = 0;
	int rc, status;

	tool_name = "fsck.pmemfs";
	rc = fsck_parse_args(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? FSCK_OK : rc;
	tool_log_init(o.verbose ? PFS_LOG_INFO : PFS_LOG_WARN);
	tool_progress_init(&run.bar, o.quiet);
	run.problems = json_object_new_array();
	run.notes = json_object_new_array();

	if (!o.repair && !o.check_only && !o.quiet && !o.json)
		fprintf(stderr, "%s: no -n, -y or -p given: checking only, nothing will be "
			"changed (use -y to repair)\n", tool_name);

	rc = fsck_open(&o, &dev);
	if (rc < 0) {
		status = fsck_finish(&o, &run, &res, rc);
		goto out;
	}
	if (o.verbose && !o.json) {
		const struct pfs_device_info *info = pfs_device_get_info(dev);

		printf("%s: %zu bytes, %s%s\n", o.target, info->size, tool_device_kind(info),
		       o.repair ? "" : ", opened read-only");
	}

	if (o.repair)
		flags |= PFS_CHECK_REPAIR;
	rc = pfs_check_ex(dev, flags, &hooks, &res);
	tool_progress_end(&run.bar);
	if (rc < 0)
		fsck_explain_failure(&o, dev, rc);
	pfs_device_close(dev);
	status = fsck_finish(&o, &run, &res, rc);
out:
	json_object_put(run.problems);
	json_object_put(run.notes);
	return status;
}
