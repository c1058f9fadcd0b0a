// SPDX-License-Identifier: MIT
/*
 * The pmemfs server: pmemfs [options] DEVICE MOUNTPOINT.
 *
 * Order matters: the device is opened and the core mounted before anything
 * touches the kernel, so a bad device fails with a one-line message and no
 * mount; fuse_daemonize() runs only once the mount is live, so the parent
 * exits when the mount exists. SIGTERM/SIGINT end the loop and the same
 * teardown runs as for fusermount -u. All state lives in main's frame.
 */
#define FUSE_USE_VERSION 314

#include "fuse_coherence.h"
#include "fuse_ops.h"
#include "media_fault.h"
#include "fuse_compat.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <fuse_opt.h>

/* Command-line state that is ours (libfuse parses the rest). */
struct pmemfs_cli {
	char *device;
	int direct_io;
	int page_cache;
	char *durable;
	int durable_write;             /* from durable=: 1 write, 0 fsync, -1 not given */
	int zerocopy;
	char *uring;
	int io_uring;                  /* libfuse's -o io_uring or io_uring_q_depth= given */
	struct pmemfs_compat_opts compat;  /* the transport, from uring= and io_uring */
	double cache_timeout;
	int readonly;
	int has_fsname;
	int has_subtype;
};

enum { KEY_RO, KEY_FSNAME, KEY_SUBTYPE, KEY_IO_URING };

#define CLI_OPT(t, p, v) { t, offsetof(struct pmemfs_cli, p), v }

static const struct fuse_opt cli_opts[] = {
	CLI_OPT("direct_io", direct_io, 1),
	CLI_OPT("page_cache", page_cache, 1),
	CLI_OPT("durable=%s", durable, 0),
	CLI_OPT("zerocopy", zerocopy, 1),
	CLI_OPT("uring=%s", uring, 0),
	CLI_OPT("cache_timeout=%lf", cache_timeout, 0),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("fsname=", KEY_FSNAME),
	FUSE_OPT_KEY("subtype=", KEY_SUBTYPE),
	/* libfuse's (3.18); noted so that one error refuses them before */
	FUSE_OPT_KEY("io_uring", KEY_IO_URING),
	FUSE_OPT_KEY("io_uring_q_depth=", KEY_IO_URING),
	FUSE_OPT_END
};

static void print_usage(const char *prog)
{
	printf("usage: %s [options] DEVICE MOUNTPOINT\n\n", prog);
	printf("DEVICE is one of:\n"
	       "    /dev/daxX.Y            a devdax namespace (real persistent memory)\n"
	       "    FILE on a DAX fs       a file on a file system mounted with -o dax\n"
	       "    FILE                   a plain file: pmem emulation (msync)\n"
	       "Format it first with mkfs.pmemfs.\n\n"
	       "The mount holds pools/ (the file system), the read-only status\n"
	       "files status and status.json, and the NVDIMM topology: regions/,\n"
	       "namespaces/, dimms/ and topology.json. See pmemfs(8).\n"
	       "-o default_permissions is always on: the kernel checks permissions\n"
	       "as for a kernel file system.\n\n");
	printf("pmemfs options:\n"
	       "    -o direct_io           bypass the kernel page cache (the default\n"
	       "                           where the kernel allows shared mmap of\n"
	       "                           direct_io files, FUSE 7.39, Linux 6.6)\n"
	       "    -o page_cache          keep the kernel page cache in front (the\n"
	       "                           default on older kernels)\n"
	       "    -o durable=WHEN        when written data becomes durable: 'write'\n"
	       "                           (before write() returns; fsync has nothing\n"
	       "                           left to do) or 'fsync'. Default: write on\n"
	       "                           pmem and on images in tmpfs, fsync on images\n"
	       "                           on disk (each msync waits for the disk)\n"
	       "    -o zerocopy            read large writes into free device blocks\n"
	       "                           and relink them into the file instead of\n"
	       "                           copying (experimental; slower on emulated\n"
	       "                           images; needs libfuse custom io: not with\n"
	       "                           Debian's libfuse 3.18, see pmemfs(8))\n"
	       "    -o uring=HOW           requests over per-CPU io_uring queues when\n"
	       "                           the kernel offers them (Linux 6.14+ with\n"
	       "                           fuse.enable_uring=1), pmemfs's own rings:\n"
	       "                           'idle' (queue threads at idle priority,\n"
	       "                           raised when starved; the default before\n"
	       "                           libfuse 3.18), 'normal'; or 'off' (only\n"
	       "                           /dev/fuse, with any libfuse)\n"
	       "    -o io_uring            libfuse's own FUSE over io_uring (libfuse\n"
	       "                           3.18+ built with liburing, where it is the\n"
	       "                           default; Debian's 3.18 is not)\n"
	       "    -o io_uring_q_depth=N  its queue depth (same libfuse)\n"
	       "    -o cache_timeout=SECS  entry and attribute timeout (default 1)\n"
	       "    -o ro                  mount read-only; DEVICE is opened read-only\n"
	       "    -o fsname=NAME         source shown in /proc/mounts (default DEVICE)\n"
	       "    -o subtype=TYPE        type shown as fuse.TYPE (default pmemfs)\n"
	       "    -o max_threads=N       worker threads (default 10)\n\n");
}

static void print_version(void)
{
	printf("pmemfs %s\n", PMEMFS_VERSION);
	printf("libfuse %s\n", fuse_pkgversion());
	pmemfs_compat_print(stdout);
	/* fuse_lowlevel_version() runs fusermount3: keep the lines in order. */
	fflush(stdout);
	fuse_lowlevel_version();
}

/* The first non-option is DEVICE; the mountpoint is left for libfuse. */
static int cli_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct pmemfs_cli *cli = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (cli->device)
			return 1;
		cli->device = strdup(arg);
		return cli->device ? 0 : -1;
	case KEY_RO:
		cli->readonly = 1;
		return 1;
	case KEY_FSNAME:
		cli->has_fsname = 1;
		return 1;
	case KEY_SUBTYPE:
		cli->has_subtype = 1;
		return 1;
	case KEY_IO_URING:
		cli->io_uring = 1;
		return 1;
	default:
		return 1;
	}
}

/* Kernel mount options we always pass; fsname and subtype unless given. */
static int cli_add_mount_opts(struct fuse_args *args, const struct pmemfs_cli *cli)
{
	char *mo = NULL;
	char *fsname = NULL;
	char max_read[32];
	int rc = -1;

	snprintf(max_read, sizeof(max_read), "max_read=%u", PMEMFS_MAX_IO);
	if (fuse_opt_add_opt(&mo, "default_permissions") || fuse_opt_add_opt(&mo, max_read))
		goto out;
	if (!cli->has_subtype && fuse_opt_add_opt(&mo, "subtype=pmemfs"))
		goto out;
	if (!cli->has_fsname) {
		if (asprintf(&fsname, "fsname=%s", cli->device) < 0) {
			fsname = NULL;
			goto out;
		}
		if (fuse_opt_add_opt_escaped(&mo, fsname))
			goto out;
	}
	if (fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, mo))
		goto out;
	rc = 0;
out:
	free(fsname);
	free(mo);
	return rc;
}

/* uring= and libfuse's io_uring into the transport; 0, or -1 after printing why. */
static int cli_parse_uring(struct pmemfs_cli *cli)
{
	struct pmemfs_compat_opts *o = &cli->compat;
	int mode = !cli->uring ? PMEMFS_URING_DEFAULT :
		   strcmp(cli->uring, "idle") == 0 ? PMEMFS_URING_IDLE :
		   strcmp(cli->uring, "normal") == 0 ? PMEMFS_URING_NORMAL :
		   strcmp(cli->uring, "off") == 0 ? PMEMFS_URING_OFF : -1;

	o->zerocopy = cli->zerocopy;
	if (mode < 0) {
		fprintf(stderr, "pmemfs: uring=%s: expected 'idle', 'normal' or 'off'\n", cli->uring);
		return -1;
	}
	if (cli->io_uring && cli->uring) {
		fprintf(stderr, "pmemfs: io_uring (libfuse's rings) and uring=%s exclude each other\n",
			cli->uring);
		return -1;
	}
	o->uring = cli->io_uring ? PMEMFS_URING_LIBFUSE : (enum pmemfs_uring)mode;
	return 0;
}

/* Returns 0, or -1 after printing why. */
static int cli_parse(struct fuse_args *args, struct pmemfs_cli *cli,
		     struct fuse_cmdline_opts *cmd)
{
	if (fuse_opt_parse(args, cli, cli_opts, cli_opt_proc) != 0)
		return -1;
	if (fuse_parse_cmdline(args, cmd) != 0)
		return -1;
	if (cmd->show_help || cmd->show_version)
		return 0;
	if (!cli->device || !cmd->mountpoint) {
		fprintf(stderr, "usage: %s [options] DEVICE MOUNTPOINT (--help for more)\n",
			args->argv[0]);
		return -1;
	}
	if (isnan(cli->cache_timeout) || cli->cache_timeout < 0) {
		fprintf(stderr, "pmemfs: cache_timeout must be >= 0\n");
		return -1;
	}
	if (cli->durable && strcmp(cli->durable, "write") != 0 &&
	    strcmp(cli->durable, "fsync") != 0) {
		fprintf(stderr, "pmemfs: durable=%s: expected 'write' or 'fsync'\n", cli->durable);
		return -1;
	}
	cli->durable_write = cli->durable ? strcmp(cli->durable, "write") == 0 : -1;
	if (cli_parse_uring(cli) != 0)
		return -1;
	if (cli->direct_io && cli->page_cache) {
		fprintf(stderr, "pmemfs: direct_io and page_cache exclude each other\n");
		return -1;
	}
	if (pmemfs_compat_check(&cli->compat, args) != 0)
		return -1;
	if (cli_add_mount_opts(args, cli) != 0) {
		fprintf(stderr, "pmemfs: out of memory\n");
		return -1;
	}
	return 0;
}

/* ---- logging ---- */

static enum fuse_log_level log_level_to_fuse(enum pfs_log_level lvl)
{
	switch (lvl) {
	case PFS_LOG_ERR:
		return FUSE_LOG_ERR;
	case PFS_LOG_WARN:
		return FUSE_LOG_WARNING;
	case PFS_LOG_INFO:
		return FUSE_LOG_INFO;
	default:
		return FUSE_LOG_DEBUG;
	}
}

static void log_sink(enum pfs_log_level lvl, const char *msg)
{
	fuse_log(log_level_to_fuse(lvl), "pmemfs: %s\n", msg);
}

/*
 * While the device is opened and mounted, the core's latest error (why it
 * failed, without the path) is held, so that the server says it once, in the
 * line that names the device. One that no line takes is logged as it came.
 */
static char open_why[512];
static bool open_holding;

static void open_flush(void)
{
	if (!open_holding)
		return;
	open_holding = false;
	log_sink(PFS_LOG_ERR, open_why);
}

static void open_sink(enum pfs_log_level lvl, const char *msg)
{
	open_flush();
	if (lvl != PFS_LOG_ERR) {
		log_sink(lvl, msg);
		return;
	}
	snprintf(open_why, sizeof(open_why), "%s", msg);
	open_holding = true;
}

/* The held error, else fallback. */
static const char *open_reason_or(const char *fallback)
{
	if (!open_holding)
		return fallback;
	open_holding = false;
	return open_why;
}

/* fuse_log_level values are the syslog priorities (fuse_log.h). */
static void log_to_syslog(enum fuse_log_level level, const char *fmt, va_list ap)
{
	vsyslog((int)level, fmt, ap);
}

/* ---- device and core ---- */

/* pfs_mount failed: say whether the device holds pmemfs at all. */
static void report_mount_error(struct pfs_device *dev, const char *path, int rc)
{
	const struct pfs_device_info *info = pfs_device_get_info(dev);
	const char *what = NULL;
	int prc;

	prc = pfs_probe_signature(pfs_device_base(dev), info->size, &what);
	/* prc: 1 when it recognised a signature, 0 when none */
	if (prc >= 0 && what && strncmp(what, "pmemfs", 6) != 0) {
		(void)open_reason_or(NULL); /* what it holds says more */
		fprintf(stderr, "pmemfs: %s: not a pmemfs device (holds %s); "
			"format it with mkfs.pmemfs\n", path, what);
		return;
	}
	if (prc >= 0 && !what) {
		fprintf(stderr, "pmemfs: %s: %s\n", path,
			open_reason_or("not a pmemfs device; format it with mkfs.pmemfs"));
		return;
	}
	fprintf(stderr, "pmemfs: %s: %s%s\n", path, open_reason_or(strerror(-rc)),
		rc == -EUCLEAN ? " (run fsck.pmemfs)" : "");
}

static int server_open(struct pmemfs_server *srv, struct pfs_device **devp,
		       const struct pmemfs_cli *cli)
{
	const struct pfs_device_info *info;
	struct pfs_device *dev;
	struct nd_backend be;
	int rc;

	rc = pfs_device_open(cli->device, cli->readonly, &dev);
	if (rc) {
		fprintf(stderr, "pmemfs: %s: %s\n", cli->device, open_reason_or(strerror(-rc)));
		return rc;
	}
	rc = pfs_mount(dev, cli->readonly ? PFS_MOUNT_RDONLY : 0, &srv->fs);
	if (rc) {
		report_mount_error(dev, cli->device, rc);
		pfs_device_close(dev);
		return rc;
	}
	info = pfs_fs_device_info(srv->fs);
	pfs_log(PFS_LOG_INFO, "mapped %s: %zu bytes, real pmem: %s", cli->device,
		info->size, info->is_pmem ? "yes" : "no");
	nd_ndctl_backend(&be);
	rc = pfs_ctl_new(&be, cli->device, &srv->ctl);
	if (rc) {
		fprintf(stderr, "pmemfs: cannot set up the topology tree: %s\n", strerror(-rc));
		pfs_unmount(srv->fs);
		pfs_device_close(dev);
		return rc;
	}
	clock_gettime(CLOCK_REALTIME, &srv->mount_time);
	srv->cache_timeout = cli->cache_timeout;
	srv->durable_writes = cli->durable_write >= 0 ? cli->durable_write == 1 :
			      info->is_pmem || info->ram_backed;
	srv->zerocopy = cli->zerocopy;
	rc = pmemfs_compat_new(srv, &cli->compat);
	if (rc) {
		fprintf(stderr, "pmemfs: %s\n", strerror(-rc));
		pfs_ctl_free(srv->ctl);
		pfs_unmount(srv->fs);
		pfs_device_close(dev);
		return rc;
	}
	srv->bounce_reads = !info->is_pmem;
	srv->cache_opt = cli->direct_io ? PMEMFS_CACHE_DIRECT :
			 cli->page_cache ? PMEMFS_CACHE_PAGE : PMEMFS_CACHE_AUTO;
	*devp = dev;
	return 0;
}

static void server_close(struct pmemfs_server *srv, struct pfs_device *dev)
{
	pmemfs_compat_free(srv);
	pfs_ctl_free(srv->ctl);
	pfs_unmount(srv->fs);
	pfs_device_close(dev);
}

/* The core may come up read-only by itself (e.g. after corruption): tell the kernel. */
static int server_mount_opts(const struct pmemfs_server *srv, const struct pmemfs_cli *cli,
			     struct fuse_args *args)
{
	if (cli->readonly || !pfs_is_readonly(srv->fs))
		return 0;
	pfs_log(PFS_LOG_WARN, "%s: mounted read-only by the file system", cli->device);
	return fuse_opt_add_arg(args, "-oro");
}

/* Returns the loop's result: < 0 is a failure; > 0 the signal that ended it. */
static int server_loop(struct fuse_session *se, const struct fuse_cmdline_opts *cmd)
{
	struct fuse_loop_config *cfg;
	int rc;

	pmemfs_coh_set_workers((int)cmd->max_threads, cmd->singlethread);
	if (cmd->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)cmd->clone_fd);
	fuse_loop_cfg_set_max_threads(cfg, cmd->max_threads);
	if (cmd->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, cmd->max_idle_threads);
	rc = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc;
}

/* Mount, serve until unmounted or signalled, unmount. Returns the exit status. */
static int serve(struct pmemfs_server *srv, struct fuse_args *args,
		 const struct fuse_cmdline_opts *cmd)
{
	struct fuse_session *se;
	int status = 1;

	se = fuse_session_new(args, &pmemfs_ll_ops, sizeof(pmemfs_ll_ops), srv);
	if (!se)
		return 1;
	srv->se = se;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, cmd->mountpoint) != 0)
		goto out_signals;
	/* without the wire, where built, direct_io writes could not clear suid */
	if (pmemfs_compat_attach(srv, se) != 0) {
		pfs_log(PFS_LOG_ERR, "cannot attach to the FUSE device (libfuse %s without custom io?)",
			fuse_pkgversion());
		goto out_unmount;
	}
	if (fuse_daemonize(cmd->foreground) != 0)
		goto out_unmount;
	if (!cmd->foreground) {
		openlog("pmemfs", LOG_PID, LOG_DAEMON);
		fuse_set_log_func(log_to_syslog);
	}
	status = server_loop(se, cmd) < 0 ? 1 : 0;
	pmemfs_compat_detach(srv);
	if (!cmd->foreground)
		closelog();
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
	return status;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct pmemfs_cli cli = { .cache_timeout = 1.0 };
	struct fuse_cmdline_opts cmd = { 0 };
	struct pmemfs_server srv = { 0 };
	struct pfs_device *dev = NULL;
	enum pfs_log_level log_level;
	int status = 1, rc;

	if (cli_parse(&args, &cli, &cmd) != 0)
		goto out_args;
	if (cmd.show_help || cmd.show_version) {
		if (cmd.show_help) {
			print_usage(argv[0]);
			fuse_cmdline_help();
			fuse_lowlevel_help();
		} else {
			print_version();
		}
		status = 0;
		goto out_args;
	}
	log_level = cmd.debug ? PFS_LOG_DEBUG : PFS_LOG_INFO;
	pfs_log_set_sink(open_sink, log_level);
	/* a failing page of the device is EIO and read-only, not SIGBUS */
	rc = pfs_media_fault_install();
	if (rc == 0)
		rc = server_open(&srv, &dev, &cli);
	open_flush();
	pfs_log_set_sink(log_sink, log_level);
	if (rc != 0)
		goto out_args;
	if (server_mount_opts(&srv, &cli, &args) != 0)
		goto out_close;
	status = serve(&srv, &args, &cmd);
out_close:
	server_close(&srv, dev);
out_args:
	free(cmd.mountpoint);
	free(cli.device);
	free(cli.durable);
	free(cli.uring);
	fuse_opt_free_args(&args);
	return status;
}
