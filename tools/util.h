/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the command-line tools (mkfs.pmemfs, fsck.pmemfs): the
 * message prefix, routing the core's log into stderr, and the checks on a
 * TARGET that every tool makes before handing it to pfs_device_open().
 */
#ifndef PMEMFS_TOOLS_UTIL_H
#define PMEMFS_TOOLS_UTIL_H

#include <stdbool.h>
#include <sys/stat.h>

#include <pmemfs/pmemfs.h>

/* Set once by main(); prefixes every message ("mkfs.pmemfs: ..."). */
extern const char *tool_name;

void tool_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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

#endif /* PMEMFS_TOOLS_UTIL_H */
