#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Demo: install the dependencies, build, then format an emulated 256 MiB pmem
# image in a temporary directory, mount it, look around, write and fsync a
# file, read it back, unmount, and check the image with fsck.pmemfs -n.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
if [ -d build/meson-private ]; then
	meson setup --reconfigure build
else
	meson setup build
fi
meson compile -C build

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmemfs-demo.XXXXXX")
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

step build/tools/mkfs.pmemfs -s 256M "$IMG"
build/tools/mkfs.pmemfs -s 256M "$IMG"

# The server puts itself in the background once the mount is live.
step build/fs/pmemfs "$IMG" "$MNT"
build/fs/pmemfs "$IMG" "$MNT"
for _ in $(seq 1 100); do
	mountpoint -q "$MNT" && [ -d "$MNT/pools" ] && break
	sleep 0.1
done

step find "$MNT" -maxdepth 2
find "$MNT" -maxdepth 2
step ls -l "$MNT"
ls -l "$MNT"

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

step build/tools/fsck.pmemfs -n "$IMG"
rc=0
build/tools/fsck.pmemfs -n "$IMG" || rc=$?
echo "fsck.pmemfs -n exited with $rc ($([ "$rc" -eq 0 ] && echo clean || echo 'problems found'))"
exit "$rc"
