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
	const char *target;
};

static void fsck_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-n|-y|-p|-a] [-f] [-v] TARGET\n"
		"\n"
		"Check the pmemfs file system on TARGET (which must not be mounted).\n"
		"\n"
		"  -n     check only, change nothing (TARGET is opened read-only); the default\n"
		"  -y     repair everything that can be repaired safely\n"
		"  -p -a  the same as -y, printing less (\"preen\")\n"
		"  -f     force a full check (pmemfs always checks fully; accepted for fsck(8))\n"
		"  -v     verbose\n"
		"\n"
		"Exit status: 0 no errors, 1 errors corrected, 4 errors left uncorrected,\n"
		"8 operational error, 16 usage error.\n",
		tool_name);
}

static int fsck_parse_args(int argc, char **argv, struct fsck_opts *o)
{
	int c;

	while ((c = getopt(argc, argv, "nypafvVh")) != -1) {
		switch (c) {
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
	(void)arg;
	printf("%s: %s%s\n", object, problem, repaired ? " [fixed]" : "");
	fflush(stdout);
}

/* pfs_check() could not run: say why as precisely as we can. */
static void fsck_explain_failure(const struct fsck_opts *o, struct pfs_device *dev, int rc)
{
	const struct pfs_device_info *info = pfs_device_get_info(dev);
	const char *what = NULL;

	pfs_probe_signature(pfs_device_base(dev), info->size, &what);
	if (what == NULL) {
		tool_err("%s: no pmemfs superblock found (neither the primary nor the "
			 "replica is valid): %s", o->target, strerror(-rc));
		return;
	}
	if (strncmp(what, "pmemfs", 6) != 0) {
		tool_err("%s contains a %s file system, not pmemfs", o->target, what);
		return;
	}
	tool_err("cannot check %s: %s", o->target, strerror(-rc));
}

static int fsck_summary(const struct fsck_opts *o, const struct pfs_check_result *res)
{
	unsigned left = res->repaired >= res->problems ? 0 : res->problems - res->repaired;
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

int main(int argc, char **argv)
{
	struct fsck_opts o = { 0 };
	struct pfs_check_result res = { 0 };
	struct pfs_device *dev = NULL;
	unsigned flags = 0;
	struct stat st;
	int rc;

	tool_name = "fsck.pmemfs";
	rc = fsck_parse_args(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? FSCK_OK : rc;
	tool_log_init(o.verbose ? PFS_LOG_INFO : PFS_LOG_WARN);

	if (!o.repair && !o.check_only)
		fprintf(stderr, "%s: no -n, -y or -p given: checking only, nothing will be "
			"changed (use -y to repair)\n", tool_name);

	rc = tool_stat_target(o.target, &st);
	if (rc == -ENOENT)
		tool_err("%s: %s", o.target, strerror(ENOENT));
	if (rc < 0)
		return FSCK_ERROR;

	rc = pfs_device_open(o.target, !o.repair, &dev);
	if (rc == -EBUSY || rc == -EAGAIN || rc == -EWOULDBLOCK) {
		tool_err("%s is in use (mounted?)", o.target);
		return FSCK_ERROR;
	}
	if (rc < 0) {
		tool_err("cannot open %s: %s", o.target, strerror(-rc));
		return FSCK_ERROR;
	}
	if (o.verbose) {
		const struct pfs_device_info *info = pfs_device_get_info(dev);

		printf("%s: %zu bytes, %s%s\n", o.target, info->size, tool_device_kind(info),
		       o.repair ? "" : ", opened read-only");
	}

	if (o.repair)
		flags |= PFS_CHECK_REPAIR;
	rc = pfs_check(dev, flags, fsck_report, NULL, &res);
	if (rc < 0) {
		fsck_explain_failure(&o, dev, rc);
		pfs_device_close(dev);
		return FSCK_ERROR;
	}
	pfs_device_close(dev);
	return fsck_summary(&o, &res);
}
