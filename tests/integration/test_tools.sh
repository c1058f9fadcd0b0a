#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# mkfs.pmemfs and fsck.pmemfs against their manuals (mkfs(8)/fsck(8) exit
# codes), and the server's refusals: an unformatted file, a second mount.
. "$(dirname "$0")/lib.sh"

MNT2=$SCRATCH/mnt2
mkdir -p "$MNT2"

# ---- mkfs ----
require "mkfs makes an image" pfs_mkfs
sum=$(sha "$IMG")
check_err "mkfs refuses an existing pmemfs without -f" \
	"contains a pmemfs file system; use -f to overwrite" "$MKFS" -q "$IMG"
check_rc 1 "and exits 1" "$MKFS" -q "$IMG"
check_out "the image is unchanged" "$sum" sha "$IMG"
check_rc 0 "mkfs -f overwrites it" "$MKFS" -q -f "$IMG"
check_rc 0 "fsck.pmemfs -n on the fresh image exits 0" "$FSCK" -n "$IMG"
check "and says clean" bash -c '"$1" -n "$2" | tail -n 1 | grep -q "clean"' _ "$FSCK" "$IMG"

if command -v mkfs.ext4 >/dev/null; then
	truncate -s 32M "$SCRATCH/ext4.img"
	mkfs.ext4 -q -F "$SCRATCH/ext4.img"
	sum=$(sha "$SCRATCH/ext4.img")
	check_err "mkfs refuses a file holding ext4" "ext2/3/4 file system; use -f" \
		"$MKFS" -q "$SCRATCH/ext4.img"
	check_rc 1 "and exits 1" "$MKFS" -q "$SCRATCH/ext4.img"
	check_out "the ext4 image is unchanged" "$sum" sha "$SCRATCH/ext4.img"
	check_rc 0 "mkfs -f formats over ext4" "$MKFS" -q -f "$SCRATCH/ext4.img"
	check_rc 0 "which fsck then finds clean" "$FSCK" -n "$SCRATCH/ext4.img"
else
	skip "mkfs refuses a file holding ext4" "mkfs.ext4 not installed"
fi

if [ -b /dev/loop0 ]; then
	check_err "mkfs refuses a block device with the devdax advice" \
		"is a block device; pmemfs needs a devdax namespace.*ndctl create-namespace" \
		"$MKFS" -q /dev/loop0
	check_err "fsck refuses a block device too" "is a block device" "$FSCK" -n /dev/loop0
	check_rc 8 "with exit 8" "$FSCK" -n /dev/loop0
else
	skip "mkfs refuses a block device" "no /dev/loop0"
fi

check_err "mkfs refuses a size below the minimum" "too small" "$MKFS" -q -s 1M "$SCRATCH/small.img"
check_fail "and leaves no file behind" test -e "$SCRATCH/small.img"
check_err "mkfs needs -s for a new file" "-s SIZE" "$MKFS" -q "$SCRATCH/nosize.img"
check_fail "and creates nothing" test -e "$SCRATCH/nosize.img"
truncate -s 8M "$SCRATCH/eight.img"
check_err "mkfs refuses -s larger than an existing file" "-s larger than TARGET" \
	"$MKFS" -q -s 16M "$SCRATCH/eight.img"
check_out "the file keeps its size" 8388608 stat -c %s "$SCRATCH/eight.img"
check_rc 0 "mkfs formats an existing unformatted file without -s" "$MKFS" -q "$SCRATCH/eight.img"
check_rc 0 "mkfs accepts GiB-style suffixes" "$MKFS" -q -s 8MiB -L lbl -N 1000 "$SCRATCH/suffix.img"
check_out "the file has exactly that size" 8388608 stat -c %s "$SCRATCH/suffix.img"
check_err "mkfs rejects a bad size" "invalid size" "$MKFS" -q -s 12Q "$SCRATCH/bad.img"
check_err "mkfs prints usage on a bad option" "Usage: mkfs.pmemfs" "$MKFS" -Z "$IMG"
check_rc 1 "and exits 1" "$MKFS" -Z "$IMG"
check_out "mkfs -V prints the version" "mkfs.pmemfs 0.1.0" "$MKFS" -V
check "mkfs reports what it made" bash -c \
	'"$1" -s 16M "$2" | grep -Eq "uuid: +[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"' \
	_ "$MKFS" "$SCRATCH/verbose.img"

# ---- fsck ----
check_rc 16 "fsck: -n with -y is a usage error" "$FSCK" -n -y "$IMG"
check_rc 16 "fsck: no TARGET is a usage error" "$FSCK"
check_rc 8 "fsck: a missing TARGET is an operational error" "$FSCK" -n "$SCRATCH/missing"
truncate -s 16M "$SCRATCH/zero.img"
check_rc 8 "fsck: a zero-filled file exits 8" "$FSCK" -n "$SCRATCH/zero.img"

# Corrupt the primary superblock of an image holding a file; the replica saves it.
require "mount" pfs_mount
random_file "$SCRATCH/data" 100000
cp "$SCRATCH/data" "$MNT/pools/data"
require "unmount" pfs_umount
dd if=/dev/urandom of="$IMG" bs=1 seek=64 count=64 conv=notrunc status=none
sum=$(sha "$IMG")
check_rc 4 "fsck (no option) on a corrupt superblock exits 4" "$FSCK" "$IMG"
check_rc 4 "fsck -n exits 4" "$FSCK" -n "$IMG"
check "and names the superblock" grep -qi superblock "$LAST_OUT"
check_out "fsck -n changed nothing" "$sum" sha "$IMG"
check_rc 1 "fsck -y repairs it and exits 1" "$FSCK" -y "$IMG"
check "and reports it fixed" grep -q "\[fixed\]" "$LAST_OUT"
check_rc 0 "fsck -n is clean afterwards" "$FSCK" -n "$IMG"
require "the repaired image mounts" pfs_mount
check_out "the file survived" "$(sha "$SCRATCH/data")" sha "$MNT/pools/data"

# ---- the server ----
check_rc 8 "fsck on a mounted image exits 8" "$FSCK" -n "$IMG"
check "and says it is in use" grep -qF "in use (mounted?)" "$LAST_OUT"
check_err "mkfs -f refuses a mounted image" "in use" "$MKFS" -q -f "$IMG"
check_out "the file is still there" "$(sha "$SCRATCH/data")" sha "$MNT/pools/data"

# A second server on the same image must refuse (exclusive lock) and exit by
# itself: status 124 would mean timeout had to stop a server that mounted.
check_err "a second mount of the same image is refused" "in use|busy|locked|already" \
	timeout 20 "$PMEMFS" -f "$IMG" "$MNT2"
check "the second server exited by itself" exited_itself "$LAST_RC"
check_fail "nothing is mounted on the second mountpoint" mountpoint -q "$MNT2"
check "the first mount still works" ls "$MNT/pools"
check "unmount" pfs_umount

truncate -s 64M "$SCRATCH/raw.img"
check_err "pmemfs refuses an unformatted file with a clear message" \
	"not a pmemfs|no pmemfs|superblock|mkfs\.pmemfs" \
	timeout 20 "$PMEMFS" -f "$SCRATCH/raw.img" "$MNT2"
check "the server exited by itself" exited_itself "$LAST_RC"
check_fail "and mounts nothing" mountpoint -q "$MNT2"

finish
