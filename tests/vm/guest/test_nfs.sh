#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Guest script, boot profile 'plain' (no NVDIMMs; pmemfs on an image file in
# the guest's tmpfs): export a pmemfs mount with the kernel NFS server and
# mount it back over loopback NFSv3.
#
#   1. files written through NFS read back through NFS and through FUSE, and
#      the other way round; directories, rename, "..";
#   2. with every cache dropped, nfsd turns the client's file handles back
#      into FUSE nodes by a lookup of "." on the node id (the kernel's FUSE
#      export operations): the data still comes back;
#   3. pmemfs is unmounted and mounted again under the export while a client
#      process holds files open: a handle of a file that still exists keeps
#      working (node ids are on-media inode numbers with a generation), one
#      of a file deleted meanwhile fails with ESTALE, even after its inode
#      slot was reused; never wrong data, never a hang.
#
# No systemd in the guest (guest-init.sh is PID 1): rpcbind, rpc.mountd and
# the nfsd threads are started by hand, with nfs-utils' state in a tmpfs
# (the root is the host's, read-only). The packages come from the host:
# nfs-kernel-server, nfs-common, rpcbind (scripts/deps.sh).
. "$(dirname "$0")/lib.sh"

NFS=$SCRATCH/nfs
EXPORT_OPTS=rw,fsid=1234,no_root_squash,insecure,no_subtree_check,sync
# noac + lookupcache=none: the client asks the server every time, so what a
# check sees is what nfsd answered, not the client's cache.
NFS_OPTS=vers=3,nolock,noac,lookupcache=none,timeo=50,retrans=2,soft

for b in rpcbind rpc.nfsd rpc.mountd exportfs mount.nfs; do
	if ! command -v "$b" >/dev/null; then
		echo "# $b is missing on the host: install nfs-kernel-server nfs-common rpcbind"
		require "the NFS userland is installed ($b)" false
	fi
done

# ---- the NFS server, by hand ----

nfs_up() {
	ip link set lo up &&
		modprobe -a sunrpc lockd nfsd nfs nfsv3 &&
		mount -t tmpfs -o mode=0755 tmpfs /var/lib/nfs &&
		mkdir -p /var/lib/nfs/sm /var/lib/nfs/sm.bak /var/lib/nfs/v4recovery \
			/var/lib/nfs/rpc_pipefs /run/rpcbind &&
		touch /var/lib/nfs/etab /var/lib/nfs/rmtab &&
		mount -t rpc_pipefs sunrpc /var/lib/nfs/rpc_pipefs &&
		mount -t nfsd nfsd /proc/fs/nfsd &&
		rpcbind -w &&
		rpc.mountd &&
		rpc.nfsd -N 4 2
}
require "lo up, nfsd loaded, rpcbind + rpc.mountd + 2 nfsd threads started" nfs_up
check "rpcbind knows mountd and nfs v3" \
	bash -c 'rpcinfo -p 127.0.0.1 | grep -q mountd && rpcinfo -p 127.0.0.1 | grep -qw nfs'

# ---- pmemfs, exported ----

require "mkfs.pmemfs a 256 MiB image in tmpfs" pfs_mkfs
require "mount pmemfs (allow_other)" pfs_mount -o allow_other
require "export it: $EXPORT_OPTS" exportfs -o "$EXPORT_OPTS" "127.0.0.1:$MNT"
check "exportfs lists the export with fsid=1234" \
	bash -c 'exportfs -v | tr -d "\n" | grep -q "$1.*fsid=1234"' _ "$MNT"
mkdir -p "$NFS"
require "mount it over loopback NFSv3" \
	timeout 60 mount -t nfs -o "$NFS_OPTS" "127.0.0.1:$MNT" "$NFS"
check "the NFS mount is there" mountpoint -q "$NFS"
check_out "the client sees the pmemfs root" \
	"dimms namespaces pools regions status status.json topology.json" bash -c 'ls -A "$1" | xargs' _ "$NFS"

# ---- 1. data both ways ----

random_file "$SCRATCH/a" $((3 * 1024 * 1024 + 777))
want_a=$(sha "$SCRATCH/a")
check "write 3 MiB through NFS" \
	dd if="$SCRATCH/a" of="$NFS/pools/a" bs=256K conv=fsync status=none
check_out "read it back through NFS" "$want_a" sha "$NFS/pools/a"
check_out "read it through FUSE" "$want_a" sha "$MNT/pools/a"

random_file "$SCRATCH/b" $((512 * 1024 + 3))
want_b=$(sha "$SCRATCH/b")
check "write a file through FUSE" \
	dd if="$SCRATCH/b" of="$MNT/pools/b" bs=64K conv=fsync status=none
check_out "read it through NFS" "$want_b" sha "$NFS/pools/b"

check "mkdir -p through NFS" mkdir -p "$NFS/pools/d1/d2"
check "the directories exist on the FUSE side" test -d "$MNT/pools/d1/d2"
check "rename through NFS" mv "$NFS/pools/b" "$NFS/pools/d1/d2/b"
check_out "the renamed file reads back through NFS" "$want_b" sha "$NFS/pools/d1/d2/b"
check_out "and through FUSE" "$want_b" sha "$MNT/pools/d1/d2/b"
check_out "'..' through NFS" "a d1 lost+found" bash -c 'cd "$1/pools/d1/d2/.." && cd .. && ls | xargs' _ "$NFS"
check_out "stat of a file through NFS shows its size" "$((512 * 1024 + 3))" \
	stat -c %s "$NFS/pools/d1/d2/b"

# ---- 2. handles resolved with every cache dropped ----

# Client and server share this kernel: drop_caches empties both, so nfsd has
# to find the FUSE nodes of the client's handles anew (lookup of ".").
check "drop the caches" bash -c 'sync && echo 3 >/proc/sys/vm/drop_caches'
check_out "a held directory handle still resolves" "b" ls "$NFS/pools/d1/d2"
check_out "the data comes back after the caches are gone" "$want_a" sha "$NFS/pools/a"

# ---- 3. pmemfs restarted under the export ----

random_file "$SCRATCH/held" $((256 * 1024 + 1))
want_held=$(sha "$SCRATCH/held")
check "write the file to hold open" \
	dd if="$SCRATCH/held" of="$NFS/pools/held" bs=64K conv=fsync status=none
check "write the file to delete" \
	bash -c 'echo "old contents of gone" >"$1/pools/gone" && sync "$1/pools/gone"' _ "$NFS"

# A client process holds both open through NFS and, on a word on its stdin,
# reads both through its descriptors, reporting what it got. It lives across
# the restart; every answer is awaited with a timeout, so a hang is a failure.
HOLDER_IN=$SCRATCH/holder.in
HOLDER_OUT=$SCRATCH/holder.out
mkfifo "$HOLDER_IN"
: >"$HOLDER_OUT"
# shellcheck disable=SC2016 # the holder's own script
bash -c '
	exec 3<"$1/pools/held" 4<"$1/pools/gone" || exit 1
	echo ready
	while read -r cmd; do
		case $cmd in
		read)
			h=$( { sha256sum <&3 || echo ERR; } 2>&1 | head -n 1)
			g=$( { cat <&4 || echo ERR; } 2>&1 | head -n 1)
			echo "held: $h"
			echo "gone: $g"
			echo done
			;;
		quit) exit 0 ;;
		esac
	done' holder "$NFS" <"$HOLDER_IN" >"$HOLDER_OUT" 2>&1 &
HOLDER_PID=$!
exec 9>"$HOLDER_IN"

# holder_wait WORD: wait (up to 60 s) until the holder has printed WORD.
holder_wait() {
	local deadline=$((SECONDS + 60))
	while ((SECONDS < deadline)); do
		grep -qx "$1" "$HOLDER_OUT" && return 0
		lib_alive "$HOLDER_PID" || { cat "$HOLDER_OUT"; return 1; }
		sleep 0.2
	done
	echo "holder did not print '$1' within 60 s"
	cat "$HOLDER_OUT"
	return 1
}
require "a client process holds pools/held and pools/gone open through NFS" holder_wait ready

# Unexport (and flush nfsd's caches, which pin the mount), remount, export.
restart() {
	exportfs -u "127.0.0.1:$MNT" && exportfs -f || return 1
	# delete 'gone' on the server side while nothing serves the client, and
	# let a new file take its inode slot: the handle must not reach it
	gone_ino=$(stat -c %i "$MNT/pools/gone") || return 1
	rm -f "$MNT/pools/gone" || return 1
	echo "new contents in a reused slot" >"$MNT/pools/newfile" || return 1
	new_ino=$(stat -c %i "$MNT/pools/newfile") || return 1
	pfs_umount || return 1
	pfs_mount -o allow_other || return 1
	exportfs -o "$EXPORT_OPTS" "127.0.0.1:$MNT" || return 1
	# nothing cached on either side: the reads go to the new server
	sync && echo 3 >/proc/sys/vm/drop_caches
}
require "unexport, delete one file, unmount and remount pmemfs, export again" restart
echo "# pools/gone was inode $gone_ino; pools/newfile, made after it was deleted, is inode $new_ino"

# The old descriptors: the one of a file that exists must read right or fail
# cleanly; the one of the deleted file must fail, with ESTALE.
echo read >&9
check "the client process answers after the restart (no hang)" holder_wait done
held_line=$(grep '^held: ' "$HOLDER_OUT" | tail -n 1)
gone_line=$(grep '^gone: ' "$HOLDER_OUT" | tail -n 1)
echo "# after the restart: $held_line | $gone_line"
if [[ $held_line == "held: $want_held  -" ]]; then
	check "the held file's old handle still works: right data" true
else
	check "the held file's old handle fails cleanly (ESTALE), never wrong data" \
		grep -q 'Stale file handle' <<<"$held_line"
fi
check "the deleted file's old handle fails with ESTALE" \
	grep -q 'Stale file handle' <<<"$gone_line"
check "no old contents and no reused slot's contents through the old handle" \
	bash -c '! grep -Eq "old contents of gone|new contents" <<<"$1"' _ "$gone_line"
echo quit >&9
exec 9>&-
wait "$HOLDER_PID" 2>/dev/null

check_out "by path, the file reads back after the restart" "$want_held" sha "$NFS/pools/held"
check_out "and the 3 MiB file too" "$want_a" sha "$NFS/pools/a"
check_err "the deleted file is gone by path" "No such file" cat "$NFS/pools/gone"
check_out "the new file reads through NFS" "new contents in a reused slot" cat "$NFS/pools/newfile"
check "write through NFS after the restart" \
	bash -c 'echo after >"$1/pools/after" && sync "$1/pools/after"' _ "$NFS"
check_out "it reads back through FUSE" "after" cat "$MNT/pools/after"

# ---- down ----

check "unmount the NFS client" timeout 60 umount "$NFS"
check "unexport" bash -c 'exportfs -ua && exportfs -f'
check "stop the nfsd threads" rpc.nfsd 0
check "clean unmount of pmemfs" pfs_umount
check_rc 0 "fsck.pmemfs -n finds the image clean" "$FSCK" -n "$IMG"

finish
