/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the tools. Only the tools have process-wide state
 * (tool_name); the core never sees it.
 */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *tool_name = "pmemfs";

void tool_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", tool_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void tool_log_sink(enum pfs_log_level lvl, const char *msg)
{
	static const char *const names[] = {
		[PFS_LOG_ERR] = "error", [PFS_LOG_WARN] = "warning",
		[PFS_LOG_INFO] = "info", [PFS_LOG_DEBUG] = "debug",
	};
	size_t len = strlen(msg);

	/* The core may or may not end its messages with a newline. */
	while (len > 0 && msg[len - 1] == '\n')
		len--;
	fprintf(stderr, "%s: %s: %.*s\n", tool_name,
		(unsigned)lvl <= PFS_LOG_DEBUG ? names[lvl] : "log", (int)len, msg);
}

void tool_log_init(enum pfs_log_level max_level)
{
	pfs_log_set_sink(tool_log_sink, max_level);
}

int tool_stat_target(const char *path, struct stat *st)
{
	if (stat(path, st) < 0) {
		int rc = -errno;

		if (rc != -ENOENT)
			tool_err("cannot access %s: %s", path, strerror(-rc));
		return rc;
	}
	if (S_ISBLK(st->st_mode)) {
		/*
		 * libpmem cannot map a block device, and /dev/pmemX would go
		 * through the page cache anyway: point at the devdax namespace.
		 */
		tool_err("%s is a block device; pmemfs needs a devdax namespace "
			 "(character device /dev/daxX.Y): reconfigure it with "
			 "`ndctl create-namespace -f -e namespaceX.Y -m devdax`, or use a "
			 "file on a filesystem mounted with -o dax", path);
		return -ENOTBLK;
	}
	if (!S_ISREG(st->st_mode) && !S_ISCHR(st->st_mode)) {
		tool_err("%s is neither a regular file nor a devdax character device", path);
		return -EINVAL;
	}
	return 0;
}

const char *tool_device_kind(const struct pfs_device_info *info)
{
	switch (info->kind) {
	case PFS_DEV_DAX:
		return "devdax character device";
	case PFS_DEV_FILE:
		return info->is_pmem ? "file on a DAX file system (pmem)"
				     : "file (emulated pmem, flushed with msync)";
	case PFS_DEV_DRAM:
		return "DRAM (volatile)";
	}
	return "unknown";
}
