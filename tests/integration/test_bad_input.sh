#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The bad-input table (docs/bad-input.md), one group per row, with the real
# server and tools: each bad input gets its clear error, and a proof that
# nothing else changed (the image's sha256, or every byte of it but the state
# block and the journal a read-write mount writes). Rows proved on a DRAM
# device instead (corrupt journal record, junk in control files) are in
# tests/unit/test_bad_input.c.
. "$(dirname "$0")/lib.sh"

PATCH=$BUILD_DIR/tests/integration/pfs_patch
MNT2=$SCRATCH/mnt2
mkdir -p "$MNT2"

# once FILE: FILE (a command's stdout and stderr) is one line: each failure
# is said once, not once by the core and again by the tool. Prints FILE, for
# the "not ok" report.
once() {
	cat "$1"
	[ "$(wc -l <"$1")" -eq 1 ]
}

# check_err1 DESC REGEX CMD...: check_err, and the error is one line
# (LAST_RC stays CMD's).
check_err1() {
	local rc

	check_err "$@"
	rc=$LAST_RC
	check "$1: said in one line" once "$LAST_OUT"
	LAST_RC=$rc
}

# refuses DESC REGEX [OPTION...] IMAGE: the server refuses IMAGE with a
# message matching REGEX, in one line, exits by itself and mounts nothing.
refuses() {
	local desc=$1 re=$2

	shift 2
	check_err1 "$desc: pmemfs refuses it" "$re" timeout 20 "$PMEMFS" -f "$@" "$MNT2"
	check "$desc: the server exited by itself" exited_itself "$LAST_RC"
	check_fail "$desc: nothing is mounted" mountpoint -q "$MNT2"
}

# fsck_refuses DESC REGEX IMAGE: fsck -n and fsck -y both exit 8 (operational
# error: no file system to check) with a message matching REGEX, in one line.
fsck_refuses() {
	check_rc 8 "$1: fsck -n exits 8" "$FSCK" -n "$3"
	check "$1: in one line" once "$LAST_OUT"
	check "$1: and says why" grep -Eq -- "$2" "$LAST_OUT"
	check_rc 8 "$1: fsck -y exits 8 too" "$FSCK" -y "$3"
	check "$1: fsck -y says it in one line too" once "$LAST_OUT"
}

# only_state_changed IMAGE COPY: IMAGE differs from COPY at most in the state
# block and the journal (what a read-write mount's transactions write).
only_state_changed() {
	local js jb lo hi
	[ -f "$1" ] && [ -f "$2" ] || return 1
	js=$("$PATCH" -g "$2" journal_start) && jb=$("$PATCH" -g "$2" journal_blocks) || return 1
	lo=$((2 * 4096))
	hi=$(((js + jb) * 4096))
	# cmp -l: 1-based offsets of differing bytes
	{ cmp -l "$1" "$2" || true; } | awk -v lo="$lo" -v hi="$hi" '
		{ off = $1 - 1; if (off < lo || off >= hi) { bad++; if (bad < 20) print "byte " off " changed" } }
		END { exit (bad ? 1 : 0) }'
}

# ---- zero-filled device ----
Z=$SCRATCH/zero.img
truncate -s 16M "$Z"
sum=$(sha "$Z")
refuses "zero-filled" "not a pmemfs device.*format it with mkfs\.pmemfs" "$Z"
fsck_refuses "zero-filled" "not a pmemfs device.*format it with mkfs\.pmemfs" "$Z"
check_out "zero-filled: the device is unchanged" "$sum" sha "$Z"
check_rc 0 "zero-filled: mkfs formats it (no -f needed)" "$MKFS" -q "$Z"
check_rc 0 "zero-filled: and fsck finds it clean" "$FSCK" -n "$Z"

# ---- random bytes ----
R=$SCRATCH/random.img
random_file "$R" $((16 << 20))
sum=$(sha "$R")
refuses "random bytes" "not a pmemfs device" "$R"
fsck_refuses "random bytes" "not a pmemfs device" "$R"
check_out "random bytes: the device is unchanged" "$sum" sha "$R"
check_rc 0 "random bytes: mkfs -f formats it" "$MKFS" -q -f "$R"
check_rc 0 "random bytes: and fsck finds it clean" "$FSCK" -n "$R"

# ---- a valid image, kept to copy from ----
GOOD=$SCRATCH/good.img
require "mkfs a 32 MiB image" "$MKFS" -q -s 32M "$GOOD"
cp "$GOOD" "$IMG"
require "mount it" pfs_mount
random_file "$SCRATCH/data" 300000
cp "$SCRATCH/data" "$MNT/pools/data"
echo small >"$MNT/pools/other"
require "unmount" pfs_umount
cp "$IMG" "$GOOD"
DATA_SUM=$(sha "$SCRATCH/data")

# ---- bad mount options: refused before the device is touched ----
refuses "-o durable=sometimes" "durable=sometimes: expected 'write' or 'fsync'" \
	-odurable=sometimes "$GOOD"
refuses "-o uring=fast" "uring=fast: expected 'idle', 'normal' or 'off'" -ouring=fast "$GOOD"
refuses "-o direct_io,page_cache" "direct_io and page_cache exclude each other" \
	-odirect_io,page_cache "$GOOD"
check "bad options changed nothing" cmp "$IMG" "$GOOD"

# ---- wrong magic (both superblocks) ----
W=$SCRATCH/magic.img
cp "$GOOD" "$W"
check "wrong magic: patch both superblocks" "$PATCH" -b "$W" magic=0x5858585858585858
sum=$(sha "$W")
refuses "wrong magic" "not a pmemfs device" "$W"
fsck_refuses "wrong magic" "not a pmemfs device" "$W"
check_out "wrong magic: the device is unchanged" "$sum" sha "$W"

# ---- a damaged root directory ----
# Every request would find it corrupt: the mount is refused, naming the repair;
# fsck -y makes the root again and the image mounts.
R=$SCRATCH/root.img
cp "$GOOD" "$R"
itable=$("$BUILD_DIR/tools/pmemfs-info" --json "$R" |
	jq '.areas[] | select(.name == "inode table") | .start')
check "damaged root: zero inode 1" dd if=/dev/zero of="$R" bs=1 \
	seek=$((itable * 4096 + 256)) count=256 conv=notrunc status=none
sum=$(sha "$R")
refuses "damaged root" "the root directory \(inode 1\) is damaged: .*\(run fsck\.pmemfs\)" "$R"
check_out "damaged root: the device is unchanged" "$sum" sha "$R"
check_rc 1 "damaged root: fsck -y makes the root again" "$FSCK" -y "$R"
check_rc 0 "damaged root: fsck -n is clean afterwards" "$FSCK" -n "$R"

# ---- a future format version ----
V=$SCRATCH/future.img
cp "$GOOD" "$V"
check "future version: version_major 2, checksums resealed" "$PATCH" -b "$V" version_major=2
sum=$(sha "$V")
refuses "future version" "format version or incompatible features not supported" "$V"
fsck_refuses "future version" "not supported" "$V"
check_out "future version: the device is unchanged (never downgraded)" "$sum" sha "$V"
cp "$GOOD" "$V"
check "unknown incompatible feature: patched and resealed" "$PATCH" -b "$V" feature_incompat=0x100
sum=$(sha "$V")
refuses "unknown incompatible feature" "not supported" "$V"
check_out "unknown incompatible feature: the device is unchanged" "$sum" sha "$V"

# ---- a truncated image ----
T=$SCRATCH/trunc.img
cp "$GOOD" "$T"
truncate -s 16M "$T"
sum=$(sha "$T")
refuses "truncated" "smaller than the file system on it \(truncated\?\)" "$T"
fsck_refuses "truncated" "cannot check: .*truncated\?" "$T"
check_out "truncated: the device is unchanged" "$sum" sha "$T"

# ---- an image larger than its file system can hold ----
# A sparse image would fill its tmpfs before itself (SIGBUS-time failures,
# test_media_fault): mkfs refuses it, new or existing, and changes nothing.
SMALL=$SCRATCH/small
mkdir -p "$SMALL"
if mount -t tmpfs -o size=64M tmpfs "$SMALL"; then
	check_err "image bigger than its fs: mkfs -s 1G on a 64 MiB tmpfs is refused" \
		"small/new: an image of 1\.0 GiB does not fit in the 64\.0 MiB its file system has free" \
		"$MKFS" -q -s 1G "$SMALL/new"
	check_out "image bigger than its fs: one line of error" 1 bash -c 'wc -l <"$1"' _ "$LAST_OUT"
	check_fail "image bigger than its fs: no file is left behind" test -e "$SMALL/new"
	truncate -s 1G "$SMALL/sparse"
	before=$(stat -c '%s %b %Y' "$SMALL/sparse")
	check_err "image bigger than its fs: mkfs on an existing 1 GiB sparse file is refused" \
		"does not fit in the .* free" "$MKFS" -q "$SMALL/sparse"
	check_out "image bigger than its fs: the file is unchanged (size, blocks, mtime)" \
		"$before" stat -c '%s %b %Y' "$SMALL/sparse"
	check_rc 0 "image bigger than its fs: an image that fits (48 MiB) is made" \
		"$MKFS" -q -s 48M "$SMALL/fits"
	umount "$SMALL"
else
	skip "image bigger than its fs" "cannot mount a tmpfs"
fi

# ---- a device below the minimum size ----
S=$SCRATCH/small.img
truncate -s 1M "$S"
sum=$(sha "$S")
refuses "1 MiB device" "not a pmemfs device" "$S"
fsck_refuses "1 MiB device" "not a pmemfs device" "$S"
check_err1 "1 MiB device: mkfs refuses it" "too small" "$MKFS" -q -f "$S"
check_out "1 MiB device: the device is unchanged" "$sum" sha "$S"
truncate -s 4096 "$SCRATCH/tiny.img"
sum=$(sha "$SCRATCH/tiny.img")
refuses "one-block device" "too small" "$SCRATCH/tiny.img"
fsck_refuses "one-block device" "too small" "$SCRATCH/tiny.img"
check_err1 "one-block device: mkfs refuses it" "too small" "$MKFS" -q -f "$SCRATCH/tiny.img"
check_out "one-block device: the device is unchanged" "$sum" sha "$SCRATCH/tiny.img"

# ---- a device in use: each tool and a second server refuse it ----
cp "$GOOD" "$IMG"
require "in use: mount" pfs_mount
sum=$(sha "$IMG")
refuses "in use: a second pmemfs" "in use \(mounted\?\)" "$IMG"
check_rc 8 "in use: fsck -n exits 8" "$FSCK" -n "$IMG"
check "in use: and says so in one line" once "$LAST_OUT"
check_rc 8 "in use: fsck -y exits 8" "$FSCK" -y "$IMG"
check "in use: and says so in one line" once "$LAST_OUT"
check_err1 "in use: mkfs -f refuses it" "in use \(mounted\?\)" "$MKFS" -q -f "$IMG"
check_err1 "in use: pmemfs-info refuses it" "in use \(mounted\?\).*status file" \
	"$BUILD_DIR/tools/pmemfs-info" "$IMG"
check_out "in use: the files read back" "$DATA_SUM" sha "$MNT/pools/data"
check "in use: unmount" pfs_umount
check "in use: nothing but the mount's own state changed" only_state_changed "$IMG" "$GOOD"

# ---- not a file nor a devdax device ----
refuses "/dev/null" "/dev/null: a character device but not a device-dax instance" /dev/null
fsck_refuses "/dev/null" "not a device-dax instance" /dev/null
check_err1 "/dev/null: mkfs refuses it" "not a device-dax instance" "$MKFS" -q -f /dev/null
check_err1 "a directory: mkfs refuses it" "neither a regular file nor a devdax" \
	"$MKFS" -q -f "$SCRATCH"

# ---- a device holding another file system ----
if command -v mkfs.ext4 >/dev/null; then
	E=$SCRATCH/ext4.img
	truncate -s 16M "$E"
	require "another file system: mkfs.ext4" mkfs.ext4 -q -F "$E"
	sum=$(sha "$E")
	refuses "ext4" "not a pmemfs device \(holds ext2/3/4\)" "$E"
	fsck_refuses "ext4" "contains a ext2/3/4 file system, not pmemfs" "$E"
	check_err1 "ext4: mkfs refuses it without -f" "contains a ext2/3/4 file system; use -f" \
		"$MKFS" -q "$E"
	check_out "ext4: the device is unchanged" "$sum" sha "$E"
else
	skip "a device holding ext4" "no mkfs.ext4"
fi

# ---- a corrupt primary superblock: the replica is used, fsck repairs it ----
P=$SCRATCH/primary.img
cp "$GOOD" "$P"
dd if=/dev/urandom of="$P" bs=1 seek=100 count=32 conv=notrunc status=none
sum=$(sha "$P")
check_rc 4 "corrupt primary: fsck -n exits 4" "$FSCK" -n "$P"
check "corrupt primary: and names the superblock" grep -q "^superblock:" "$LAST_OUT"
check_out "corrupt primary: fsck -n changed nothing" "$sum" sha "$P"
check_rc 1 "corrupt primary: fsck -y repairs it, exit 1" "$FSCK" -y "$P"
check_rc 0 "corrupt primary: fsck -n then exits 0" "$FSCK" -n "$P"
check_out "corrupt primary: the repair rewrote only the superblock" \
	"$(tail -c +4097 "$GOOD" | sha256sum | cut -d' ' -f1)" \
	bash -c 'tail -c +4097 "$1" | sha256sum | cut -d" " -f1' _ "$P"
cp "$GOOD" "$IMG"
dd if=/dev/urandom of="$IMG" bs=1 seek=100 count=32 conv=notrunc status=none
: >"$LOG"
require "corrupt primary: the server mounts from the replica" pfs_mount
check "corrupt primary: and logs a warning" grep -q "using the replica" "$LOG"
check_out "corrupt primary: the file reads back" "$DATA_SUM" sha "$MNT/pools/data"
check "corrupt primary: unmount" pfs_umount
check_rc 0 "corrupt primary: the mount rewrote the primary (fsck -n clean)" "$FSCK" -n "$IMG"

# ---- a corrupt inode and directory block met at run time ----
cp "$GOOD" "$IMG"
require "run-time corruption: mount" pfs_mount
mkdir "$MNT/pools/dir"
echo entry >"$MNT/pools/dir/entry"
ino=$(stat -c %i "$MNT/pools/other")
dino=$(stat -c %i "$MNT/pools/dir")
require "run-time corruption: unmount" pfs_umount
itable=$("$PATCH" -g "$IMG" itable_start)
# the inode's mode (offset 0 of its 256-byte slot) becomes an unknown type
printf '\xa4\x01\x00\xf0' | dd of="$IMG" bs=1 seek=$((itable * 4096 + (ino & 0xffffffff) * 256)) \
	conv=notrunc status=none
cp "$IMG" "$SCRATCH/before.img"
require "run-time corruption: mount the image with a corrupt inode" pfs_mount
check_err1 "corrupt inode: stat fails with EUCLEAN" "Structure needs cleaning" \
	stat "$MNT/pools/other"
check_err1 "corrupt inode: the mount is now read-only" "Read-only file system" \
	touch "$MNT/pools/new"
check_fail "corrupt inode: nothing was created" test -e "$MNT/pools/new"
check_out "corrupt inode: other files still read" "$DATA_SUM" sha "$MNT/pools/data"
check_out "corrupt inode: and other directories list" "entry" ls "$MNT/pools/dir"
check "corrupt inode: the server logged it once, naming the inode" \
	bash -c '[ "$(grep -c "corrupt metadata: inode $1" "$2")" -eq 1 ]' _ \
	$((ino & 0xffffffff)) "$LOG"
check "corrupt inode: unmount" pfs_umount
check "corrupt inode: nothing but the mount's own state changed" \
	only_state_changed "$IMG" "$SCRATCH/before.img"
check_rc 4 "corrupt inode: fsck -n finds it" "$FSCK" -n "$IMG"

# the directory's first bucket: its header's magic is overwritten
cp "$GOOD" "$IMG"
require "run-time corruption: mount again" pfs_mount
mkdir "$MNT/pools/dir"
echo entry >"$MNT/pools/dir/entry"
dino=$(stat -c %i "$MNT/pools/dir")
require "run-time corruption: unmount again" pfs_umount
# the directory's extent 0 (inode offset 144 + 8: pblk) holds bucket 0
off=$((itable * 4096 + (dino & 0xffffffff) * 256 + 152))
pblk=$(od -An -t u8 -j "$off" -N 8 "$IMG" | tr -d ' ')
check "corrupt bucket: the directory's bucket is in the data area" \
	test "$pblk" -ge "$("$PATCH" -g "$IMG" data_start)"
printf 'JUNK' | dd of="$IMG" bs=1 seek=$((pblk * 4096)) conv=notrunc status=none
cp "$IMG" "$SCRATCH/before.img"
require "corrupt bucket: mount" pfs_mount
check_err1 "corrupt bucket: listing the directory fails with EUCLEAN" \
	"Structure needs cleaning" ls "$MNT/pools/dir"
check_err1 "corrupt bucket: the mount is now read-only" "Read-only file system" \
	mkdir "$MNT/pools/newdir"
check_out "corrupt bucket: other files still read" "$DATA_SUM" sha "$MNT/pools/data"
check "corrupt bucket: unmount" pfs_umount
check "corrupt bucket: nothing but the mount's own state changed" \
	only_state_changed "$IMG" "$SCRATCH/before.img"

# ---- names of 256 bytes ----
cp "$GOOD" "$IMG"
require "long names: mount" pfs_mount
long=$(printf 'n%.0s' $(seq 1 256))
listing=$(ls -la "$MNT/pools" | sha256sum)
check_err1 "256-byte name: create fails with ENAMETOOLONG" "File name too long" \
	touch "$MNT/pools/$long"
check_err1 "256-byte name: mkdir too" "File name too long" mkdir "$MNT/pools/$long"
check_err1 "256-byte name: rename too" "File name too long" mv "$MNT/pools/other" "$MNT/pools/$long"
check_out "256-byte name: the directory is unchanged" "$listing" \
	bash -c 'ls -la "$1" | sha256sum' _ "$MNT/pools"
check "255-byte name: works" touch "$MNT/pools/${long:1}"

# ---- writes past the maximum file size (16 TiB) ----
echo data >"$MNT/pools/big"
check_err1 "write at 16 TiB: EFBIG" "File too large" \
	dd if=/dev/zero of="$MNT/pools/big" bs=1 seek=$((1 << 44)) count=1 conv=notrunc status=none
check_err1 "truncate to 17 TiB: EFBIG" "File too large" truncate -s 17T "$MNT/pools/big"
check_out "the file is unchanged" "data" cat "$MNT/pools/big"
check_out "and so is its size" 5 stat -c %s "$MNT/pools/big"
check "a write just below the maximum works" \
	dd if=/dev/zero of="$MNT/pools/big" bs=1 seek=$(((1 << 44) - 1)) count=1 conv=notrunc status=none
check "long names: unmount" pfs_umount
check_rc 0 "long names and big files: fsck -n clean" "$FSCK" -n "$IMG"

# ---- ENOSPC in the middle of a write ----
rm -f "$IMG"
require "ENOSPC: mkfs an 8 MiB image" "$MKFS" -q -s 8M "$IMG"
require "ENOSPC: mount" pfs_mount
random_file "$SCRATCH/keep" 200000
cp "$SCRATCH/keep" "$MNT/pools/keep"
check_err1 "ENOSPC: filling the device fails with ENOSPC" "No space left on device" \
	dd if=/dev/urandom of="$MNT/pools/filler" bs=64K status=none
fsum=$(sha "$MNT/pools/filler")
fsize=$(stat -c %s "$MNT/pools/filler")
check_err1 "ENOSPC: a 1 MiB append to the full file fails" "No space left on device" \
	dd if=/dev/urandom of="$MNT/pools/filler" bs=1M count=1 oflag=append conv=notrunc status=none
check_out "ENOSPC: the file keeps its size" "$fsize" stat -c %s "$MNT/pools/filler"
check_out "ENOSPC: and its contents" "$fsum" sha "$MNT/pools/filler"
check_err1 "ENOSPC: a new file's write fails" "No space left on device" \
	bash -c 'head -c 1000000 /dev/urandom >"$1"' _ "$MNT/pools/new"
check "ENOSPC: the new file holds only what fit (a short write, then the error)" \
	test "$(stat -c %s "$MNT/pools/new")" -lt 1000000
check_out "ENOSPC: the other file is intact" "$(sha "$SCRATCH/keep")" sha "$MNT/pools/keep"
check "ENOSPC: deleting frees space" rm "$MNT/pools/filler"
random_file "$SCRATCH/after" 1000000
check "ENOSPC: a new write then works" cp "$SCRATCH/after" "$MNT/pools/new"
check_out "ENOSPC: and reads back" "$(sha "$SCRATCH/after")" sha "$MNT/pools/new"
check "ENOSPC: unmount" pfs_umount
check_rc 0 "ENOSPC: fsck -n clean" "$FSCK" -n "$IMG"

finish
