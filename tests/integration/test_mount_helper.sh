#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# mount(8), fstab, umount(8), mkfs(8) and fsck(8) with pmemfs, for real:
#
#   mkfs -t pmemfs       runs mkfs.pmemfs (mkfs searches /sbin, then PATH)
#   fsck -t pmemfs       runs fsck.pmemfs and passes its exit status on
#   mount -t fuse.pmemfs IMG MNT -o allow_other
#                        mount(8) runs fuse3's /sbin/mount.fuse3 (as
#                        mount.fuse), which runs `pmemfs IMG MNT -o OPTS`
#   mount --fstab FILE MNT, with `IMG MNT fuse.pmemfs defaults,allow_other 0 0`
#                        the same through an fstab line (a file of our own:
#                        the machine's /etc/fstab is never touched)
#   umount MNT           the kernel detaches the mount; the server then makes
#                        everything durable and exits
#
# mount(8) drops the caller's PATH before it runs a helper, so mount.fuse3's
# `sh -c pmemfs ...` finds pmemfs on the shell's default PATH
# (/usr/local/sbin:/usr/local/bin:/usr/sbin:...), where `meson install`
# puts it. So that this build is the pmemfs found there without installing
# anything on the machine, the test re-runs itself in a private mount
# namespace and bind-mounts a directory holding links to the built binaries
# over /usr/local/sbin (and over any installed /usr/sbin/*pmemfs). Mounts
# made in there are seen only in there.
#
# umount(8) returns once the kernel has detached the mount (for a FUSE file
# system that is not fuseblk the kernel does not wait for the server); the
# server exits a moment later, once everything is durable. The test waits for
# the server to exit, then proves durability by remounting, reading back and
# fsck -n.
# shellcheck disable=SC2016,SC2317 # bash -c programs; functions run by check
if [ "${PMEMFS_MOUNT_NS:-0}" != 1 ]; then
	if ! command -v unshare >/dev/null; then
		echo "test_mount_helper: unshare (util-linux) is missing" >&2
		exit 1
	fi
	PMEMFS_MOUNT_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

P=$MNT/pools
FSTAB=$SCRATCH/fstab
STAGE=$SCRATCH/sbin

# ---- this build as the installed pmemfs, in this namespace only ----

stage_binaries() {
	local b
	mkdir -p "$STAGE" || return 1
	for b in "$PMEMFS" "$MKFS" "$FSCK"; do
		ln -s "$b" "$STAGE/$(basename "$b")" || return 1
	done
	mount --bind "$STAGE" /usr/local/sbin || return 1
	# An installed copy earlier on mkfs's and fsck's search path (/sbin is
	# /usr/sbin on Debian) would win: cover it with ours.
	for b in pmemfs mkfs.pmemfs fsck.pmemfs; do
		if [ -e "/usr/sbin/$b" ]; then
			mount --bind "$STAGE/$b" "/usr/sbin/$b" || return 1
		fi
	done
}
require "fuse3's mount helper is installed" test -x /sbin/mount.fuse3
require "links to this build's binaries over /usr/local/sbin (private mount namespace)" \
	stage_binaries
export PATH=/usr/local/sbin:$PATH

# ---- the server a mount helper started ----

HELPER_PID=

# helper_live: the mount is live, and the server that serves it is found
# (its command line is mount.fuse3's: pmemfs IMG MNT -o OPTS).
helper_live() {
	local deadline=$((SECONDS + MOUNT_TIMEOUT))
	while ((SECONDS < deadline)); do
		if mountpoint -q "$MNT" && [ -d "$P" ]; then
			HELPER_PID=$(pgrep -f -- "^pmemfs $IMG $MNT( |\$)" | head -n 1)
			if [ -n "$HELPER_PID" ]; then
				SERVER_PID=$HELPER_PID # lib_cleanup unmounts it on failure
				echo "$HELPER_PID" >>"$SCRATCH/server.pids"
				return 0
			fi
		fi
		sleep 0.1
	done
	echo "no live mount on $MNT with its server after ${MOUNT_TIMEOUT}s"
	grep " $MNT " /proc/mounts
	pgrep -af pmemfs
	return 1
}

# helper_mount ARG...: mount(8) under the reaper, which records the exit
# status of the server mount.fuse3 daemonizes (no child of ours) where
# lib.sh judges those of the servers it starts: a death by a signal fails.
helper_mount() {
	"$BUILD_DIR/tests/integration/reaper" "$SCRATCH/server.exits" mount "$@"
}

# helper_gone: the server of the last mount has exited, by itself (status 0).
helper_gone() {
	local deadline=$((SECONDS + UMOUNT_TIMEOUT)) rc
	[ -n "$HELPER_PID" ] || return 0
	while lib_alive "$HELPER_PID" && ((SECONDS < deadline)); do
		sleep 0.05
	done
	if lib_alive "$HELPER_PID"; then
		echo "server $HELPER_PID still running ${UMOUNT_TIMEOUT}s after umount"
		return 1
	fi
	while ! grep -q "^$HELPER_PID " "$SCRATCH/server.exits" && ((SECONDS < deadline)); do
		sleep 0.05
	done
	rc=$(awk -v p="$HELPER_PID" '$1 == p { print $2 }' "$SCRATCH/server.exits")
	if [ "$rc" != 0 ]; then
		echo "server $HELPER_PID exited with status ${rc:-unknown}"
		return 1
	fi
	HELPER_PID=
		SERVER_PID=
}

# do_umount: umount(8) with the retries of a busy mount just after a close.
do_umount() {
	local _
	for _ in $(seq 1 50); do
		umount "$MNT" && return 0
		sleep 0.2
	done
	return 1
}

# mount_field N: field N of the mount's /proc/mounts line.
mount_field() {
	awk -v m="$MNT" -v n="$1" '$2 == m { print $n }' /proc/mounts
}

mkdir -p "$MNT"

# ---- mkfs(8) and fsck(8) ----

check "mkfs -t pmemfs -s 256M runs mkfs.pmemfs" mkfs -t pmemfs -s 256M "$IMG"
check "mkfs.pmemfs made it (its report)" grep -q 'Made a pmemfs file system' "$LAST_OUT"
check_rc 0 "fsck -t pmemfs -n runs fsck.pmemfs: clean" fsck -t pmemfs -n "$IMG"
check "fsck.pmemfs's summary comes through" grep -q "$IMG: clean, 0 problems" "$LAST_OUT"
check_rc 1 "mkfs -t pmemfs refuses the existing pmemfs without -f (status 1)" \
	mkfs -t pmemfs "$IMG"

# ---- mount -t fuse.pmemfs ----

require "mount -t fuse.pmemfs IMG MNT -o allow_other" \
	helper_mount -t fuse.pmemfs "$IMG" "$MNT" -o allow_other
require "the mount is live with its server" helper_live
echo "# server started by mount.fuse3: $(tr '\0' ' ' <"/proc/$HELPER_PID/cmdline")"
check_out "/proc/mounts: type fuse.pmemfs" "fuse.pmemfs" mount_field 3
check_out "/proc/mounts: the source is the device" "$IMG" mount_field 1
check "/proc/mounts: allow_other reached the kernel" \
	bash -c '[[ ,$1, == *,allow_other,* ]]' _ "$(mount_field 4)"
check_rc 8 "fsck -t pmemfs refuses the mounted device (status 8)" fsck -t pmemfs -n "$IMG"

random_file "$SCRATCH/f1" $((2 * 1024 * 1024 + 5))
want1=$(sha "$SCRATCH/f1")
# no fsync: the clean unmount is what makes it durable
check "write a 2 MiB file (no fsync)" cp "$SCRATCH/f1" "$P/f1"
check "mkdir and symlink" bash -c 'mkdir "$1/dir" && ln -s ../f1 "$1/dir/link"' _ "$P"
check "umount MNT" do_umount
check "umount detached the mount" bash -c '! mountpoint -q "$1"' _ "$MNT"
check "the server exits after umount" helper_gone
check_rc 0 "fsck -t pmemfs -n: clean after umount" fsck -t pmemfs -n "$IMG"

# ---- an fstab line ----

printf '# pmemfs test fstab\n%s %s fuse.pmemfs defaults,allow_other 0 0\n' \
	"$IMG" "$MNT" >"$FSTAB"
require "mount --fstab FILE MNT (fuse.pmemfs defaults,allow_other)" \
	helper_mount --fstab "$FSTAB" "$MNT"
require "the mount is live with its server" helper_live
check_out "the file written before umount reads back" "$want1" sha "$P/f1"
check_out "the symlink too" "$want1" sha "$P/dir/link"
random_file "$SCRATCH/f2" $((300 * 1024 + 7))
want2=$(sha "$SCRATCH/f2")
check "write a second file (no fsync)" cp "$SCRATCH/f2" "$P/f2"
check "umount MNT" do_umount
check "the server exits after umount" helper_gone
check_rc 0 "fsck -t pmemfs -n: clean" fsck -t pmemfs -n "$IMG"

# Options of the fstab line reach the server: ro.
printf '%s %s fuse.pmemfs ro,allow_other 0 0\n' "$IMG" "$MNT" >"$FSTAB"
require "mount --fstab FILE MNT (fuse.pmemfs ro,allow_other)" helper_mount --fstab "$FSTAB" "$MNT"
require "the mount is live with its server" helper_live
check_out "/proc/mounts: ro" "ro" bash -c 'cut -d, -f1 <<<"$1"' _ "$(mount_field 4)"
check_out "the second file reads back" "$want2" sha "$P/f2"
check_err "a write fails with EROFS" "Read-only file system" touch "$P/new"
check "umount MNT" do_umount
check "the server exits after umount" helper_gone

# Once more by mount -t, everything there.
require "mount -t fuse.pmemfs again" helper_mount -t fuse.pmemfs "$IMG" "$MNT"
require "the mount is live with its server" helper_live
check_out "first file intact" "$want1" sha "$P/f1"
check_out "second file intact" "$want2" sha "$P/f2"
check "umount MNT" do_umount
check "the server exits after umount" helper_gone
check_rc 0 "fsck -t pmemfs -n: clean at the end" fsck -t pmemfs -n "$IMG"

finish
