/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the tools. Only the tools have process-wide state
 * (tool_name); the core never sees it.
 */
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *tool_name = "pmemfs";

/*
 * The core logs why opening or mounting a device failed, in words a user
 * reads, but without the TARGET; the tool then prints the line that names it.
 * So that the reason is read once, the core's latest error is held here: the
 * tool's own line takes it (tool_reason), and one that nobody takes is
 * printed as it came, before the next message or at exit.
 */
static char held_err[512];
static bool holding;

static void held_flush(void)
{
	if (!holding)
		return;
	holding = false;
	fprintf(stderr, "%s: error: %s\n", tool_name, held_err);
}

const char *tool_reason_or(const char *fallback)
{
	if (!holding)
		return fallback;
	holding = false;
	return held_err;
}

const char *tool_reason(int rc)
{
	return tool_reason_or(strerror(-rc));
}

void tool_err(const char *fmt, ...)
{
	va_list ap;

	held_flush();
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
	held_flush();
	if (lvl == PFS_LOG_ERR) {
		snprintf(held_err, sizeof(held_err), "%.*s", (int)len, msg);
		holding = true;
		return;
	}
	fprintf(stderr, "%s: %s: %.*s\n", tool_name,
		(unsigned)lvl <= PFS_LOG_DEBUG ? names[lvl] : "log", (int)len, msg);
}

void tool_log_init(enum pfs_log_level max_level)
{
	pfs_log_set_sink(tool_log_sink, max_level);
	atexit(held_flush);
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

void tool_uuid_str(const uint8_t u[16], char *buf, size_t len)
{
	snprintf(buf, len,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}

void tool_human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	unsigned i = 0;

	while (v >= 1024.0 && i + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	else
		snprintf(buf, len, "%.1f %s", v, units[i]);
}

/* ---- progress bar ---- */

#define BAR_WIDTH 30

void tool_progress_init(struct tool_progress *p, bool quiet)
{
	memset(p, 0, sizeof(*p));
	p->on = !quiet && isatty(STDERR_FILENO);
	p->last_pct = -1;
}

void tool_progress_cb(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	struct tool_progress *p = arg;
	char bar[BAR_WIDTH + 1];
	int pct, fill;

	if (!p || !p->on || total == 0)
		return;
	if (done > total)
		done = total;
	pct = (int)(done * 100 / total);
	/* redraw only when something visible changes: a terminal is slow */
	if (pct == p->last_pct && phase == p->last_phase)
		return;
	p->last_pct = pct;
	p->last_phase = phase;
	fill = pct * BAR_WIDTH / 100;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(BAR_WIDTH - fill));
	bar[BAR_WIDTH] = '\0';
	fprintf(stderr, "\r\033[K%s: %-18.18s [%s] %3d%%", tool_name, phase, bar, pct);
	fflush(stderr);
	p->drawn = true;
}

void tool_progress_end(struct tool_progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	p->drawn = false;
	p->last_pct = -1;
	p->last_phase = NULL;
}

void tool_json_print(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE);

	puts(s ? s : "null");
	fflush(stdout);
	json_object_put(o);
}
