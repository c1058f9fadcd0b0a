#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Several clients at once on one mount: fio with verify=crc32c, stress-ng's
# file-system stressors and the multi-threaded C client (mt_client), all
# running together; then fsck must find the image clean. Then the same load
# again, with the server killed (SIGKILL) in the middle: the image must be
# consistent (fsck -n clean), mount again and serve. Meant to run under the
# ASan/UBSan build as well (scripts/test.sh does both).
# CONC_SECONDS (default 12) sets how long each load runs.
. "$(dirname "$0")/lib.sh"

SECS=${CONC_SECONDS:-12}
MT=$BUILD_DIR/tests/integration/mt_client

for tool in fio stress-ng; do
	if ! command -v "$tool" >/dev/null; then
		echo "$tool not installed (scripts/deps.sh installs it); skipping"
		exit 77
	fi
done

# The stress-ng stressors that exercise a file system through its mount.
STRESSORS=(--dir 1 --rename 1 --link 1 --symlink 1 --dentry 1 --fallocate 1
	--hdd 1 --hdd-bytes 8M --chmod 1 --utime 1 --xattr 1 --seek 1 --seek-size 8M)

# load DIR: start every client on DIR; their pids in LOAD_PIDS
load() {
	local d=$1
	mkdir -p "$d/fio" "$d/sng" "$d/mt"
	LOAD_PIDS=()
	fio --name=randrw --directory="$d/fio" --rw=randrw --bs=4k --size=16M \
		--numjobs=2 --ioengine=psync --verify=crc32c --verify_fatal=1 --verify_state_save=0 \
		--time_based --runtime="$SECS" --group_reporting \
		--output="$SCRATCH/fio.out" >/dev/null 2>&1 &
	LOAD_PIDS+=($!)
	fio --name=append --directory="$d/fio" --rw=write --bs=64k --size=24M \
		--ioengine=psync --verify=crc32c --verify_fatal=1 --verify_state_save=0 --fdatasync=8 \
		--output="$SCRATCH/fio-append.out" >/dev/null 2>&1 &
	LOAD_PIDS+=($!)
	stress-ng --temp-path "$d/sng" "${STRESSORS[@]}" --timeout "${SECS}s" \
		--metrics-brief >"$SCRATCH/stress-ng.out" 2>&1 &
	LOAD_PIDS+=($!)
	"$MT" "$d/mt" 4 "$SECS" >"$SCRATCH/mt.out" 2>&1 &
	LOAD_PIDS+=($!)
}

# wait_load: 0 only if every client succeeded
wait_load() {
	local pid rc=0
	for pid in "${LOAD_PIDS[@]}"; do
		wait "$pid" || rc=1
	done
	return "$rc"
}

require "mkfs a 1 GiB image" "$MKFS" -q -s 1G "$IMG"
require "mount" pfs_mount

load "$MNT/pools"
check "fio, stress-ng and mt_client all succeed together" wait_load
check "fio verified its data (crc32c)" grep -q "randrw" "$SCRATCH/fio.out"
check "fio reports no verify errors" bash -c '! grep -qi "verify.*bad\|crc32c.*mismatch" "$1"' _ "$SCRATCH/fio.out"
check "stress-ng reports no failed stressors" \
	bash -c '! grep -Eq "failed: [1-9]|unsuccessful run" "$1"' _ "$SCRATCH/stress-ng.out"
check "mt_client saw no error" grep -q " 0 errors" "$SCRATCH/mt.out"
check "clean unmount" pfs_umount
check_rc 0 "fsck -n is clean after the load" "$FSCK" -n "$IMG"

# The same load, and a SIGKILL of the server in the middle of it.
require "mount again" pfs_mount
load "$MNT/pools/round2"
sleep $((SECS / 2))
check "kill -9 the server mid-load" pfs_kill_server
wait_load
check_rc 0 "fsck -n finds the killed image consistent" "$FSCK" -n "$IMG"
require "mount after the kill" pfs_mount
check "the first round's files are still there" test -d "$MNT/pools/mt"
check "and readable" bash -c 'cat "$1"/pools/mt/* >/dev/null' _ "$MNT"
check "clean unmount" pfs_umount
check_rc 0 "fsck -n is clean at the end" "$FSCK" -n "$IMG"

finish
