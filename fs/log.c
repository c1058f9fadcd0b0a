// SPDX-License-Identifier: MIT
/*
 * The core's one logger. The server routes it into fuse_log; tools print it.
 * Sink and level are set once at start-up, before any thread runs.
 */
#include <stdarg.h>
#include <stdio.h>

#include "pmemfs/pmemfs.h"

static pfs_log_sink log_sink;
static enum pfs_log_level log_max = PFS_LOG_WARN;

void pfs_log_set_sink(pfs_log_sink sink, enum pfs_log_level max_level)
{
	log_sink = sink;
	log_max = max_level;
}

void pfs_log(enum pfs_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char msg[1024];
	va_list ap;

	if (lvl > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_sink)
		log_sink(lvl, msg);
	else
		fprintf(stderr, "pmemfs: %s: %s\n", names[lvl], msg);
}
