#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Smoke test: format, mount, see the four trees, write a file with fsync, read
# it back before and after a remount, and fsck the unmounted image.
. "$(dirname "$0")/lib.sh"

P=$MNT/pools
SRC=$SCRATCH/src

require "mkfs.pmemfs makes a 256 MiB image" pfs_mkfs
require "pmemfs mounts the image" pfs_mount

check_out "the root holds exactly dimms namespaces pools regions status status.json topology.json" \
	"dimms namespaces pools regions status status.json topology.json" \
	bash -c 'ls -A "$1" | xargs' _ "$MNT"
check "pools/ is a directory" test -d "$P"
if ! ls /sys/bus/nd/devices/region* >/dev/null 2>&1; then
	# no nvdimm bus here: the topology directories are present and empty
	check_out "regions/ is empty without an nvdimm bus" "" ls -A "$MNT/regions"
	check_out "namespaces/ is empty too" "" ls -A "$MNT/namespaces"
	check_out "dimms/ is empty too" "" ls -A "$MNT/dimms"
	check "topology.json says so in JSON" \
		grep -qz '"dimms":\[\s*\],\s*"regions":\[\s*\]' "$MNT/topology.json"
fi
check_err "a file cannot be created beside pools/" "Permission denied" touch "$MNT/x"

random_file "$SRC" $((4 * 1024 * 1024 + 123))
want=$(sha "$SRC")
check "dd conv=fsync writes a 4 MiB file into pools/" \
	dd if="$SRC" of="$P/file" bs=1M conv=fsync status=none
check "sync -d on the file succeeds" sync -d "$P/file"
check_out "the file has its size" "$(stat -c %s "$SRC")" stat -c %s "$P/file"
check_out "the file reads back unchanged" "$want" sha "$P/file"

require "clean unmount (server exits 0)" pfs_umount
require "remount" pfs_mount
check_out "the file reads back unchanged after a remount" "$want" sha "$P/file"
check "clean unmount after the remount" pfs_umount

check_rc 0 "fsck.pmemfs -n finds the image clean" "$FSCK" -n "$IMG"

finish
