/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the command-line tools (mkfs.pmemfs, fsck.pmemfs,
 * pmemfs-info): the message prefix, routing the core's log into stderr, the
 * checks on a TARGET that every tool makes before handing it to
 * pfs_device_open(), the progress bar and JSON output.
 */
#ifndef PMEMFS_TOOLS_UTIL_H
#define PMEMFS_TOOLS_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include <pmemfs/pmemfs.h>

/* Set once by main(); prefixes every message ("mkfs.pmemfs: ..."). */
extern const char *tool_name;

void tool_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Why the last core call failed, for the tool's one error line: the error the
 * core logged for it (then not printed on its own), else strerror(-rc) or
 * fallback. Each failure is told once, in one line that names the TARGET.
 */
const char *tool_reason(int rc);
const char *tool_reason_or(const char *fallback);

/* Route pfs_log() to stderr, prefixed with tool_name, up to max_level. */
void tool_log_init(enum pfs_log_level max_level);

/*
 * stat() TARGET and refuse what pmemfs cannot live on (block devices get the
 * ndctl advice). Returns 0, -ENOENT when it does not exist (st untouched), or
 * another negative errno after printing why.
 */
int tool_stat_target(const char *path, struct stat *st);

/* Human-readable kind of an opened device, for reports. */
const char *tool_device_kind(const struct pfs_device_info *info);

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into buf (at least 37 bytes). */
void tool_uuid_str(const uint8_t u[16], char *buf, size_t len);

/* "64.0 MiB", "512 bytes" */
void tool_human_size(uint64_t bytes, char *buf, size_t len);

/*
 * A progress bar on stderr, drawn only when stderr is a terminal and the
 * tool is not quiet; scripts and pipes see nothing. tool_progress_cb is a
 * pfs_progress_fn whose arg is the struct tool_progress.
 */
struct tool_progress {
	bool on;
	bool drawn;
	int last_pct;
	const char *last_phase;
};
void tool_progress_init(struct tool_progress *p, bool quiet);
void tool_progress_cb(void *arg, const char *phase, uint64_t done, uint64_t total);
/* Erases the bar, so what follows starts on a clean line. */
void tool_progress_end(struct tool_progress *p);

/* Prints o to stdout, pretty, with a newline, and drops the reference. */
void tool_json_print(struct json_object *o);

#endif /* PMEMFS_TOOLS_UTIL_H */
