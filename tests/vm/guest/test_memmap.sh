#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Guest script, boot profile 'memmap' (memmap=256M!1G: 256 MiB of the guest's
# RAM at 1 GiB reserved as legacy pmem, which nd_e820 offers as a region with
# no DIMMs): reconfigure its namespace as devdax and run pmemfs on it. The
# contents are RAM; they last until power-off, so a remount must keep them.
# shellcheck disable=SC2016 # jq and awk programs, not shell
. "$(dirname "$0")/lib.sh"

J=$SCRATCH/json
mkdir -p "$J"

check "the kernel was booted with memmap=" grep -q 'memmap=' /proc/cmdline
check "the e820 bus is there" \
	jq -e 'any(.[]; .provider == "e820")' <(nd_list -B)
nd_list -R >"$J/regions"
check "one 256 MiB pmem region, no DIMMs" \
	jq -e 'length == 1 and .[0].type == "pmem" and .[0].size == 268435456 and
		(.[0].mappings // [] | length == 0)' "$J/regions"
REGION=$(jq -r '.[0].dev' "$J/regions")
NS=$(nd_list -N -r "$REGION" | jq -r '.[0].dev')
require "the region has its (label-less) namespace" test -n "$NS" -a "$NS" != null

require "reconfigure $NS as devdax" nd_json "$J/devdax" create-namespace -f -e "$NS" -m devdax
IMG=$(nd_dev_of "$J/devdax")
echo "# $NS is devdax: $IMG"
check "$IMG is a character device" test -c "$IMG"
check "ndctl lists $NS as devdax" \
	jq -e --arg n "$NS" 'any(.[]; .dev == $n and .mode == "devdax")' <(nd_list -N -r "$REGION")

require "mkfs.pmemfs $IMG" "$MKFS" -q "$IMG"
mount_log_mark
require "mount $IMG" pfs_mount
check "the server maps $IMG as real pmem" server_logged 'real pmem: yes'
random_file "$SCRATCH/data" $((2 * 1024 * 1024 + 99))
want=$(sha "$SCRATCH/data")
check "write a file with dd conv=fsync" \
	dd if="$SCRATCH/data" of="$MNT/pools/data" bs=1M conv=fsync status=none
check_out "read it back" "$want" sha "$MNT/pools/data"
check "unmount cleanly" pfs_umount
require "mount $IMG again" pfs_mount
check_out "the file survives the remount" "$want" sha "$MNT/pools/data"
check "unmount cleanly again" pfs_umount
check_rc 0 "fsck.pmemfs -n $IMG is clean" "$FSCK" -n "$IMG"

finish
