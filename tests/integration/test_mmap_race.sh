#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A shared mapping and pwrite() on one file never lose each other's bytes
# (fs/fuse_coherence.c). mmap_race stores through a MAP_SHARED mapping
# while another thread pwrite()s 8-byte markers into the same pages, then
# checks every byte through the mapping, pread() and a reopen. It runs
# MMAP_RACE_RUNS times (default 100) of MMAP_RACE_ROUNDS rounds (default 5,
# each on a fresh file) in each mode: the default (direct_io,
# requests over io_uring when the fuse module offers it and the build has
# rings: pmemfs --version), direct_io over
# /dev/fuse (-o uring=off), -o page_cache; and on tmpfs, the reference.
# Before the fix, direct_io lost a marker in most runs of this program.
# Prints "MODE: N runs of R rounds, B bytes lost in F runs" for the
# README's table.
# 500 rounds per mode take 20-50 s each on 2 loaded CPUs; meson allows 600 s
TEST_TIMEOUT=${TEST_TIMEOUT:-580}
. "$(dirname "$0")/lib.sh"

RUNS=${MMAP_RACE_RUNS:-100}
ROUNDS=${MMAP_RACE_ROUNDS:-5}
RACE=$BUILD_DIR/tests/integration/mmap_race
status_value() { sed -n "s/^$1: //p" "$MNT/status"; }

# race_runs NAME DIR: RUNS runs of mmap_race in DIR; fails on any lost byte.
race_runs() {
	local name=$1 dir=$2 i out lost=0 failed=0 rc=0 n

	for ((i = 1; i <= RUNS; i++)); do
		out=$(timeout 60 "$RACE" "$dir" "$ROUNDS" 2>&1)
		n=$?
		if [ "$n" -ne 0 ]; then
			printf 'run %d (exit %d):\n%s\n' "$i" "$n" "$out"
			failed=$((failed + 1))
			rc=1
		fi
		n=$(sed -n 's/.* \([0-9]*\) bytes lost.*/\1/p' <<<"$out")
		lost=$((lost + ${n:-0}))
	done
	echo "$name: $RUNS runs of $ROUNDS rounds, $lost bytes lost in $failed runs"
	echo "# $name: $RUNS runs of $ROUNDS rounds, $lost bytes lost in $failed runs" >&3
	return "$rc"
}
exec 3>&1

# race_parallel DIR: 8 instances at once, each on its own file, under a
# timeout: more direct writes waiting for invalidations than a ring queue
# has entries (a deadlock before the waits were bounded), no byte lost.
race_parallel() {
	local dir=$1 i pids=() rc=0

	for i in 1 2 3 4 5 6 7 8; do
		mkdir -p "$dir/p$i"
		timeout -k 10 120 "$RACE" "$dir/p$i" "$ROUNDS" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || rc=1
	done
	return "$rc"
}

TMPFS_DIR=$(mktemp -d /dev/shm/pmemfs-mmap-race.XXXXXX) || exit 1
if [ "$(stat -f -c %T "$TMPFS_DIR")" = tmpfs ]; then
	check "tmpfs (reference): $RUNS runs, no byte lost" race_runs tmpfs "$TMPFS_DIR"
else
	skip "tmpfs reference" "/dev/shm is not tmpfs"
fi
rm -rf "$TMPFS_DIR"

require "mkfs" pfs_mkfs

# which rings this build has: pmemfs's own (counted in status), libfuse's
# (3.18 built with liburing), or none (Debian's 3.18: /dev/fuse only)
rings=$("$PMEMFS" --version | sed -n 's/.* uring=\([^ ]*\).*/\1/p')
uring=$(cat /sys/module/fuse/parameters/enable_uring 2>/dev/null)
if [ "$uring" != Y ]; then
	skip "direct_io over io_uring" "the fuse module's enable_uring is not Y"
elif [ "$rings" = no ]; then
	skip "direct_io over io_uring" "this build has no FUSE over io_uring ($("$PMEMFS" --version | sed -n 's/^built with //p'))"
else
	require "mount (default: direct_io over io_uring)" pfs_mount
	before=$(status_value "io_uring requests")
	check "direct_io over io_uring: $RUNS runs, no byte lost" \
		race_runs "direct_io, io_uring" "$MNT/pools"
	case $rings in
	libfuse*)
		check_out "the requests went over libfuse's rings" libfuse bash -c \
			'sed -n "s/^mount options: .*uring=//p" "$1/status"' _ "$MNT" ;;
	*)
		check "the requests went over io_uring" \
			test "$(status_value "io_uring requests")" -gt "$((before + RUNS * ROUNDS * 1000))" ;;
	esac
	check "direct_io over io_uring: 8 at once, no hang, no byte lost" \
		race_parallel "$MNT/pools"
	check "unmount: the server exits with status 0" pfs_umount
fi

require "mount -o uring=off (direct_io over /dev/fuse)" pfs_mount -o uring=off
check "direct_io over /dev/fuse: $RUNS runs, no byte lost" \
	race_runs "direct_io, /dev/fuse" "$MNT/pools"
check "direct_io over /dev/fuse: 8 at once, no hang, no byte lost" \
	race_parallel "$MNT/pools"
check "unmount: the server exits with status 0" pfs_umount

require "mount -o page_cache" pfs_mount -o page_cache
check "page_cache: $RUNS runs, no byte lost" race_runs page_cache "$MNT/pools"
check "unmount: the server exits with status 0" pfs_umount

check "fsck finds the image clean" "$FSCK" -n "$IMG"
finish
