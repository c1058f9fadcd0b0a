#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Demo: install what building and running need (scripts/deps.sh, not the
# test bench), build, then format an emulated 256 MiB pmem image in /dev/shm,
# mount it, look around, read its status, write and fsync a file, read it
# back, unmount, and check the image with fsck.pmemfs -n.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
# The build directory: build/ in the source tree, unless PMEMFS_BUILD_DIR
# names another (scripts/chroot.sh's source tree is read-only).
BUILD=${PMEMFS_BUILD_DIR:-build}
if [ -d "$BUILD/meson-private" ]; then
	meson setup --reconfigure "$BUILD"
else
	meson setup "$BUILD"
fi
meson compile -C "$BUILD"

# tmpfs, like the DRAM that emulates pmem: the mount then keeps writes
# durable as they return (durable=write), as on real pmem; on a disk-backed
# file it would fall back to durable=fsync. PMEMFS_DEMO_DIR picks another
# place.
WORK=$(mktemp -d "${PMEMFS_DEMO_DIR:-/dev/shm}/pmemfs-demo.XXXXXX")
IMG=$WORK/pmem.img
MNT=$WORK/mnt
mkdir "$MNT"

server_pids() { pgrep -f -- "pmemfs .*$IMG" || true; }

cleanup() {
	if mountpoint -q "$MNT"; then
		fusermount3 -u -z "$MNT" || true
	fi
	for pid in $(server_pids); do
		kill "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "$BUILD"/tools/mkfs.pmemfs -s 256M "$IMG"
"$BUILD"/tools/mkfs.pmemfs -s 256M "$IMG"

# The server puts itself in the background once the mount is live.
step "$BUILD"/fs/pmemfs "$IMG" "$MNT"
"$BUILD"/fs/pmemfs "$IMG" "$MNT"
for _ in $(seq 1 100); do
	mountpoint -q "$MNT" && [ -d "$MNT/pools" ] && break
	sleep 0.1
done

step find "$MNT" -maxdepth 2
find "$MNT" -maxdepth 2
step ls -l "$MNT"
ls -l "$MNT"
step cat "$MNT/status"
cat "$MNT/status"

step "echo 'hello, persistent memory' | dd of=$MNT/pools/hello.txt conv=fsync"
echo 'hello, persistent memory' | dd of="$MNT/pools/hello.txt" conv=fsync status=none
step cat "$MNT/pools/hello.txt"
cat "$MNT/pools/hello.txt"
step ls -l "$MNT/pools"
ls -l "$MNT/pools"
step df -h "$MNT"
df -h "$MNT"

step fusermount3 -u "$MNT"
fusermount3 -u "$MNT"
# A clean unmount ends the server once everything is durable; wait for that.
for _ in $(seq 1 300); do
	[ -z "$(server_pids)" ] && break
	sleep 0.1
done

step "$BUILD"/tools/fsck.pmemfs -n "$IMG"
rc=0
"$BUILD"/tools/fsck.pmemfs -n "$IMG" || rc=$?
echo "fsck.pmemfs -n exited with $rc ($([ "$rc" -eq 0 ] && echo clean || echo 'problems found'))"
exit "$rc"
