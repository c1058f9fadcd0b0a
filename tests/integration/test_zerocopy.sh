#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Zero-copy writes (-o zerocopy; fs/stage.c, fs/fuse_stage.c): on a device of
# 1 GiB or more, a worker thread's large block-aligned writes are read into free
# device blocks and relinked into the file. The data must read back exactly,
# overwrites must give the old blocks back, unaligned and appending writes
# still work, the stages vanish at unmount and after a SIGKILL, and
# without -o zerocopy (the default) every write is copied.
. "$(dirname "$0")/lib.sh"

P=$MNT/pools
counter() { sed -n 's/^zero-copy writes: //p' "$MNT/status"; }
free_bytes() { sed -n 's/^free: \([0-9]*\) bytes$/\1/p' "$MNT/status"; }

require "mkfs a 2 GiB image" "$MKFS" -q -f -s 2G "$IMG"

# The landing zone needs pmemfs's wire over libfuse's custom io (pmemfs(8),
# LIBFUSE): a build without it (Debian's libfuse 3.18) refuses the option
# with one line and mounts nothing.
BUILT=$("$PMEMFS" --version | sed -n 's/^built with libfuse //p')
if [[ $BUILT == *zerocopy=no* ]]; then
	mkdir -p "$MNT"
	check_err "-o zerocopy is refused: $BUILT" \
		'^pmemfs: zerocopy: not available with libfuse [0-9.]+ \(.*custom io' \
		"$PMEMFS" -f -o zerocopy "$IMG" "$MNT"
	check_out "in one line" 1 bash -c '"$1" -f -o zerocopy "$2" "$3" 2>&1 | wc -l' \
		_ "$PMEMFS" "$IMG" "$MNT"
	check "nothing was mounted" bash -c '! mountpoint -q "$1"' _ "$MNT"
	skip "zero-copy writes" "this build has no wire (libfuse without custom io)"
	finish
fi
require "mount -o zerocopy" pfs_mount -o zerocopy

random_file "$SCRATCH/a" $((64 << 20))
random_file "$SCRATCH/b" $((8 << 20))
check "write 64 MiB in 1 MiB writes" dd if="$SCRATCH/a" of="$P/f" bs=1M status=none
check "it reads back" cmp "$SCRATCH/a" "$P/f"
check "writes were relinked, not copied" test "$(counter)" -gt 0
check "overwrite 8 MiB in the middle" \
	dd if="$SCRATCH/b" of="$P/f" bs=1M seek=20 conv=notrunc status=none
cp "$SCRATCH/a" "$SCRATCH/want"
dd if="$SCRATCH/b" of="$SCRATCH/want" bs=1M seek=20 conv=notrunc status=none
check "the overwrite reads back, the rest unchanged" cmp "$SCRATCH/want" "$P/f"
before=$(free_bytes)
check "overwrite all of it again" dd if="$SCRATCH/a" of="$P/f" bs=1M conv=notrunc status=none
# (a worker thread that had none may take a 1 MiB stage meanwhile: at most
# max_threads of them, 10 MiB, against the 64 MiB a leak would cost)
check "overwrites take no space: the old blocks went back" \
	test $((before - $(free_bytes))) -le $((10 << 20))
check "it reads back" cmp "$SCRATCH/a" "$P/f"
check "unaligned 1000 KiB writes" dd if="$SCRATCH/a" of="$P/u" bs=1000k status=none
check "read back" cmp "$SCRATCH/a" "$P/u"
check "appends of 1 MiB (O_APPEND)" bash -c '
	for i in 0 1 2 3; do
		dd if="$1" bs=1M skip=$i count=1 status=none >>"$2" || exit 1
	done' _ "$SCRATCH/a" "$P/app"
check "read back" cmp <(head -c $((4 << 20)) "$SCRATCH/a") "$P/app"
check "a sparse write far out" dd if="$SCRATCH/b" of="$P/s" bs=1M seek=512 status=none
check_out "its size" $(((512 + 8) << 20)) stat -c %s "$P/s"
check "the hole reads as zeros" cmp <(head -c $((1 << 20)) /dev/zero) \
	<(dd if="$P/s" bs=1M skip=100 count=1 status=none)
check "4 fio jobs: random 1 MiB and 256 KiB writes, then verify (crc32c)" \
	fio --name=zc --directory="$P" --ioengine=psync --rw=randwrite \
	--bssplit=1M/50:256k/50 --size=48M --numjobs=4 --verify=crc32c \
	--verify_fatal=1 --do_verify=1 --output=/dev/null
# A full device: stages give their blocks back as space runs short, and an
# overwrite that cannot be relinked (no room for a stage's fresh blocks) is
# copied, since it needs no space.
check "fill the device (dd ends with ENOSPC)" bash -c \
	'dd if=/dev/zero of="$1" bs=1M status=none 2>/dev/null; [ $? -ne 0 ]' _ "$P/fill"
check "full: overwrite 8 MiB of a file in 1 MiB writes" \
	dd if="$SCRATCH/b" of="$P/f" bs=1M seek=30 conv=notrunc status=none
cp "$SCRATCH/a" "$SCRATCH/want2"
dd if="$SCRATCH/b" of="$SCRATCH/want2" bs=1M seek=30 conv=notrunc status=none
check "it reads back" cmp "$SCRATCH/want2" "$P/f"
check "remove the filler" rm "$P/fill"
check "unmount" pfs_umount
check "fsck: clean, no stage left behind" "$FSCK" -n "$IMG"

# A SIGKILL while stages are held: the next mount frees them (orphans).
require "mount again" pfs_mount -o zerocopy
check "data survived the remount" cmp "$SCRATCH/want2" "$P/f"
check "write again to make stages" dd if="$SCRATCH/b" of="$P/g" bs=1M status=none
check "kill -9 the server" pfs_kill_server
check "fsck after the kill: only orphans to free" bash -c '"$1" -n "$2"; [ $? -le 1 ]' \
	_ "$FSCK" "$IMG"
require "mount after the kill" pfs_mount -o zerocopy
check "the files are whole" cmp "$SCRATCH/b" "$P/g"
check "unmount" pfs_umount
check "fsck: clean" "$FSCK" -n "$IMG"

# Without -o zerocopy (the default): every write copied.
require "mount without it" pfs_mount
check "write 8 MiB" dd if="$SCRATCH/b" of="$P/n" bs=1M status=none
check_out "nothing relinked" 0 counter
check "read back" cmp "$SCRATCH/b" "$P/n"
check "unmount" pfs_umount

finish
