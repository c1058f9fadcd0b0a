#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Bad memory is EIO, not death. When a page of the mapped image cannot be had
# (the image's tmpfs is full and the page was a hole, or the image was cut
# short under the mount), the access raises SIGBUS; pmemfs fails that
# request with EIO, goes read-only (status says so), keeps failing every
# request that touches the lost pages, never serves their bytes as zeros,
# and unmounts cleanly (exit 0). ext4 on a loop device whose backing file is
# truncated answers the same way: EIO for the blocks that are gone.
#
# Each case runs over io_uring (where the kernel offers it), over /dev/fuse,
# and with PMEM_IS_PMEM_FORCE=1 over /dev/fuse, where reads are answered
# straight from the mapping: there the kernel meets the lost page while
# copying the reply (EFAULT, no signal) and the request must still get EIO.
# shellcheck disable=SC2016,SC2317 # bash -c programs; functions run by check
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

SMALL=$SCRATCH/small
SRC=$SCRATCH/src
mkdir -p "$SMALL"
random_file "$SRC" $((96 << 20))
random_file "$SCRATCH/before" $((1 << 20))

# read_only: status reports the latch.
read_only() {
	grep -q '^read-only: yes (media error' "$MNT/status" &&
		grep -Eq '^media errors: [1-9]' "$MNT/status"
}

# same_prefix FILE: FILE's bytes are the first bytes of $SRC (nothing read
# back as zeros from a replaced page).
same_prefix() { cmp -n "$(stat -c %s "$1")" "$1" "$SRC"; }

# eio CMD...: CMD fails with EIO (not ENOTCONN: the server is alive).
eio() {
	local out
	out=$(timeout 60 "$@" 2>&1) && { echo "succeeded: $out"; return 1; }
	echo "$out"
	grep -q 'Input/output error' <<<"$out"
}

# mount_as FORCE [OPTION...]: pfs_mount, with PMEM_IS_PMEM_FORCE=1 if FORCE is 1.
mount_as() {
	local force=$1
	shift
	if [ "$force" = 1 ]; then
		PMEM_IS_PMEM_FORCE=1 pfs_mount "$@"
	else
		pfs_mount "$@"
	fi
}

# log_says REGEX: the server logged it since the case began.
LOG_MARK=0
log_says() { tail -n +$((LOG_MARK + 1)) "$LOG" | grep -Eq -- "$1"; }

# ---- the image's tmpfs fills up ----
fill_case() {
	local name=$1
	shift
	echo "# ---- tmpfs full: $name ----"
	require "$name: a 320 MiB tmpfs" mount -t tmpfs -o size=320M tmpfs "$SMALL"
	IMG=$SMALL/img
	require "$name: mkfs a 256 MiB image in it (sparse)" "$MKFS" -q -s 256M "$IMG"
	# another tenant takes all but about 24 MiB
	require "$name: fill the tmpfs but 24 MiB" bash -c \
		'fallocate -l $(( $(stat -f -c "%a*%S" "$1") - (24 << 20) )) "$1/filler"' _ "$SMALL"
	LOG_MARK=$(wc -l <"$LOG")
	require "$name: mount" mount_as "$@"
	check "$name: a file written before" cp "$SCRATCH/before" "$MNT/pools/before"
	check_err "$name: writing 96 MiB fails with EIO or ENOSPC" \
		'Input/output error|No space left on device' \
		dd if="$SRC" of="$MNT/pools/big" bs=1M conv=fsync status=none
	check "$name: the server logged the media error" log_says 'media error'
	check "$name: the server is alive" lib_alive "$SERVER_PID"
	check "$name: status says read-only" read_only
	check_err "$name: a new file is refused (EROFS)" 'Read-only file system' \
		touch "$MNT/pools/new"
	check "$name: what the big file holds is what was written (no zeros)" \
		same_prefix "$MNT/pools/big"
	check_out "$name: the file written before reads back" "$(sha "$SCRATCH/before")" \
		sha "$MNT/pools/before"
	check "$name: ls works" ls -l "$MNT/pools"
	check "$name: unmount; the server exits 0" pfs_umount
	check "$name: free the tmpfs" rm -f "$SMALL/filler"
	check_rc 0 "$name: fsck -n finds the image consistent" "$FSCK" -n "$IMG"
	umount "$SMALL"
	IMG=$SCRATCH/img
}

# ---- the tmpfs fills while files are created (inode table, directory, journal) ----
# The format leaves the inode table sparse: new inodes land on holes too.
create_case() {
	local name=$1 n
	shift
	echo "# ---- tmpfs full, creating files: $name ----"
	require "$name: a 320 MiB tmpfs" mount -t tmpfs -o size=320M tmpfs "$SMALL"
	IMG=$SMALL/img
	require "$name: mkfs a 256 MiB image in it" "$MKFS" -q -s 256M "$IMG"
	require "$name: fill the tmpfs but 1 MiB" bash -c \
		'fallocate -l $(( $(stat -f -c "%a*%S" "$1") - (1 << 20) )) "$1/filler"' _ "$SMALL"
	LOG_MARK=$(wc -l <"$LOG")
	require "$name: mount" mount_as "$@"
	check_err "$name: creating 20000 files fails with EIO or ENOSPC" \
		'Input/output error|No space left on device' bash -c \
		'for i in $(seq 1 20000); do echo "$i" >"$1/f$i" || exit 1; done' _ "$MNT/pools"
	check "$name: the server logged the media error" log_says 'media error'
	check "$name: the server is alive" lib_alive "$SERVER_PID"
	check "$name: status says read-only" read_only
	n=$(find "$MNT/pools" -type f | wc -l)
	check "$name: the files made before read back (all $n)" bash -c \
		'for ((i = 1; i < $2; i++)); do [ "$(cat "$1/f$i")" = "$i" ] || exit 1; done' \
		_ "$MNT/pools" "$n"
	check "$name: unmount; the server exits 0" pfs_umount
	check "$name: free the tmpfs" rm -f "$SMALL/filler"
	check_rc 0 "$name: fsck -n finds the image consistent" "$FSCK" -n "$IMG"
	umount "$SMALL"
	IMG=$SCRATCH/img
}

# ---- the image is truncated under the mount ----
truncate_case() {
	local name=$1
	shift
	echo "# ---- image truncated: $name ----"
	rm -f "$IMG"
	require "$name: mkfs a 64 MiB image" "$MKFS" -q -s 64M "$IMG"
	require "$name: mount" mount_as "$@"
	check "$name: write a 16 MiB file" bash -c 'head -c 16M "$1" >"$2/pools/f"' _ "$SRC" "$MNT"
	check "$name: and a small one" cp "$SCRATCH/before" "$MNT/pools/before"
	check "$name: unmount (no cached pages afterwards)" pfs_umount
	require "$name: mount again" mount_as "$@"
	LOG_MARK=$(wc -l <"$LOG")
	check "$name: truncate the image to 8 MiB under the mount" truncate -s 8M "$IMG"
	check "$name: reading the file fails with EIO" eio cat "$MNT/pools/f"
	check "$name: the server logged the media error" log_says 'media error'
	check "$name: and again (the lost pages stay lost, not zeros)" eio cat "$MNT/pools/f"
	check "$name: the server is alive" lib_alive "$SERVER_PID"
	check "$name: status says read-only" read_only
	check_fail "$name: a write fails" bash -c 'echo x >"$1/pools/new"' _ "$MNT"
	check_fail "$name: the mount is not disconnected" \
		bash -c 'ls "$1/pools" 2>&1 | grep -q "not connected"' _ "$MNT"
	check "$name: the server is still alive" lib_alive "$SERVER_PID"
	check "$name: unmount; the server exits 0" pfs_umount
}

# ---- the reference: ext4 on a loop device whose backing file is cut short ----
ext4_reference() {
	local e=$SCRATCH/ext4.img m=$SCRATCH/ext4 loop
	if ! command -v mkfs.ext4 >/dev/null || ! command -v losetup >/dev/null; then
		skip "ext4 reference" "mkfs.ext4 or losetup missing"
		return
	fi
	truncate -s 64M "$e" && mkfs.ext4 -q "$e" && mkdir -p "$m" || return
	if ! loop=$(losetup -f --show "$e" 2>/dev/null); then
		skip "ext4 reference" "no loop device here"
		return
	fi
	if mount "$loop" "$m"; then
		check "ext4 reference: write a 16 MiB file" \
			bash -c 'head -c 16M "$1" >"$2/f" && sync' _ "$SRC" "$m"
		umount "$m" && mount "$loop" "$m"
		check "ext4 reference: truncate the backing file to 8 MiB" truncate -s 8M "$e"
		check "ext4 reference: reading the file fails with EIO" eio cat "$m/f"
		umount "$m"
	else
		skip "ext4 reference" "cannot mount the loop device"
	fi
	losetup -d "$loop"
}
ext4_reference

# the default transport: io_uring where the build has rings (pmemfs --version)
rings=$("$PMEMFS" --version | sed -n 's/.* uring=\([^ ]*\).*/\1/p')
DEF="io_uring (default)"
[ "$rings" = no ] && DEF="default (/dev/fuse: this build has no io_uring)"
fill_case "$DEF" 0
fill_case "/dev/fuse" 0 -o uring=off
create_case "$DEF" 0
truncate_case "$DEF" 0
truncate_case "/dev/fuse" 0 -o uring=off
truncate_case "$DEF, reads from the mapping (PMEM_IS_PMEM_FORCE=1)" 1
truncate_case "/dev/fuse, reads from the mapping (PMEM_IS_PMEM_FORCE=1)" 1 -o uring=off

finish
