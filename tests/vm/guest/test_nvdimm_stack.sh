#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Guest script, boot profile 'nvdimm' (one labelled DIMM of 1 GiB + 128 KiB
# label area, one label-less DIMM of 1 GiB): the kernel's nfit/libnvdimm
# stack as ndctl sees it, then pmemfs on a devdax namespace and on a file of
# an ext4 -o dax mount of an fsdax namespace, both real pmem to libpmem.
#
# Region and namespace names are not stable; everything is found by its
# properties (which DIMM a region maps, a namespace's uuid) and by the JSON
# that create-namespace prints.
# shellcheck disable=SC2016 # jq and awk programs, not shell
. "$(dirname "$0")/lib.sh"

J=$SCRATCH/json
mkdir -p "$J"

# ---- the topology ----

check "ndctl lists two DIMMs" \
	jq -e 'length == 2' <(nd_list -D)
check "ndctl lists two pmem regions of 1 GiB" \
	jq -e 'length == 2 and all(.[]; .type == "pmem" and .size == 1073741824)' <(nd_list -R)

LABELLED=$(nd_labelled_dimms)
require "exactly one DIMM has a label area" test "$(echo "$LABELLED" | grep -c .)" -eq 1
require "init-labels on $LABELLED (region disabled meanwhile)" nd_init_labels "$LABELLED"
check "$LABELLED has a valid label index" ndctl check-labels "$LABELLED"

REGION=$(nd_region_of "$LABELLED")
require "the labelled region is found by its DIMM" test -n "$REGION"
nd_list -R -r "$REGION" >"$J/region"
check "$REGION has an iset_id and all 1 GiB available" \
	jq -e '.[0] |
		has("iset_id") and .available_size == 1073741824' "$J/region"

# The other region: label-less, one raw namespace over all of it, which
# cannot be subdivided.
OTHER=$(nd_list -R | jq -r --arg r "$REGION" '.[] | select(.dev != $r) | .dev')
require "the label-less region is found" test -n "$OTHER"
check "$OTHER has one 1 GiB namespace" \
	jq -e 'length == 1 and .[0].size == 1073741824' <(nd_list -N -r "$OTHER")
check_err "$OTHER (label-less) cannot be subdivided" 'sub-dividing|Retry without' \
	ndctl create-namespace -r "$OTHER" -s 256M -m devdax

# ---- pmemfs on a devdax namespace ----

require "create a 256M devdax namespace on $REGION" \
	nd_json "$J/devdax" create-namespace -r "$REGION" -s 256M -m devdax -n pmemfs-devdax
NS=$(jqf .dev "$J/devdax")
UUID=$(jqf .uuid "$J/devdax")
IMG=$(nd_dev_of "$J/devdax")
echo "# devdax namespace $NS ($UUID): $IMG"
check "$IMG is a character device" test -c "$IMG"
check "ndctl list finds the namespace by uuid, devdax, named" \
	jq -e --arg u "$UUID" 'any(.[]; .uuid == $u and .mode == "devdax" and .name == "pmemfs-devdax")' \
	<(nd_list -N -r "$REGION")

require "mkfs.pmemfs $IMG" "$MKFS" -q "$IMG"
mount_log_mark
require "mount $IMG" pfs_mount
check "the server maps $IMG as real pmem" server_logged 'real pmem: yes'

random_file "$SCRATCH/data" $((3 * 1024 * 1024 + 4321))
want=$(sha "$SCRATCH/data")
check "write a file with dd conv=fsync" \
	dd if="$SCRATCH/data" of="$MNT/pools/data" bs=1M conv=fsync status=none
check_out "read it back" "$want" sha "$MNT/pools/data"
check "unmount cleanly" pfs_umount
require "mount $IMG again" pfs_mount
check_out "the file survives the remount" "$want" sha "$MNT/pools/data"
check "unmount cleanly again" pfs_umount
check_rc 0 "fsck.pmemfs -n $IMG is clean" "$FSCK" -n "$IMG"
check "destroy $NS" ndctl destroy-namespace -f "$NS"
check "the namespace is gone" \
	jq -e --arg u "$UUID" 'all(.[]?; .uuid != $u)' <(nd_list -N -r "$REGION")

# ---- pmemfs on a file of ext4 -o dax on an fsdax namespace ----

require "create a 256M fsdax namespace on $REGION" \
	nd_json "$J/fsdax" create-namespace -r "$REGION" -s 256M -m fsdax -n pmemfs-fsdax
PMEM=$(nd_dev_of "$J/fsdax")
echo "# fsdax namespace $(jqf .dev "$J/fsdax"): $PMEM"
check "$PMEM is a block device" test -b "$PMEM"
# 1 KiB blocks, mkfs.ext4's choice for a small device, cannot do DAX.
require "mkfs.ext4 -b 4096 $PMEM" mkfs.ext4 -q -F -b 4096 "$PMEM"
EXT4=$SCRATCH/ext4
mkdir -p "$EXT4"
require "mount -o dax $PMEM" mount -t ext4 -o dax "$PMEM" "$EXT4"
check "the ext4 mount is dax" \
	awk -v m="$EXT4" '$2 == m && $4 ~ /(^|,)dax/ { found = 1 } END { exit !found }' /proc/mounts

IMG=$EXT4/pmemfs.img
require "mkfs.pmemfs -s 64M on a file there" "$MKFS" -q -s 64M "$IMG"
mount_log_mark
require "mount the file" pfs_mount
check "the server maps the file as real pmem" server_logged 'real pmem: yes'
random_file "$SCRATCH/data2" $((1024 * 1024 + 17))
want=$(sha "$SCRATCH/data2")
check "write a file with dd conv=fsync" \
	dd if="$SCRATCH/data2" of="$MNT/pools/data2" bs=64K conv=fsync status=none
check_out "read it back" "$want" sha "$MNT/pools/data2"
check "unmount cleanly" pfs_umount
require "mount the file again" pfs_mount
check_out "the file survives the remount" "$want" sha "$MNT/pools/data2"
check "unmount cleanly again" pfs_umount
check_rc 0 "fsck.pmemfs -n on the file is clean" "$FSCK" -n "$IMG"
check "unmount ext4" umount "$EXT4"
check "destroy the fsdax namespace" ndctl destroy-namespace -f "$(jqf .dev "$J/fsdax")"

finish
