#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A PMDK pool inside pools/: pmempool creates an obj pool (which needs shared
# mmap of a file on the mount, so the default cache mode must allow it), and
# pmempool check finds it consistent before and after a remount.
. "$(dirname "$0")/lib.sh"

if ! command -v pmempool >/dev/null; then
	echo "pmempool not installed (pmdk-tools); skipping"
	exit 77
fi

POOL=$MNT/pools/pool.obj

require "mkfs" pfs_mkfs
require "mount" pfs_mount
check "pmempool create obj --layout=test -s 32M" \
	pmempool create obj --layout=test -s 32M "$POOL"
check_out "the pool file is 32 MiB" 33554432 stat -c %s "$POOL"
check "pmempool check finds the pool consistent" pmempool check "$POOL"
check "pmempool info reads its header" bash -c 'pmempool info "$1" | grep -q "Layout.*test"' _ "$POOL"
require "unmount" pfs_umount
require "remount" pfs_mount
check "pmempool check after a remount" pmempool check "$POOL"
check "unmount" pfs_umount
check_rc 0 "fsck -n is clean" "$FSCK" -n "$IMG"

finish
