#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Kill the server (SIGKILL) in the middle of a mixed workload, then check that
# the image is consistent (fsck -n exits 0) and that every file recorded as
# durable reads back intact after a remount. A file is recorded in the
# manifest (outside the mount) only after the call that made it durable
# returned: dd conv=fsync, or the rename that published an fsynced file.
# KILL_ROUNDS (default 5) sets the number of rounds.
. "$(dirname "$0")/lib.sh"

ROUNDS=${KILL_ROUNDS:-5}
WRITERS=3
MAX_ITER=150                    # per writer and round: bounds the space used
MANIFEST=$SCRATCH/manifest      # "sha256  pools/..." lines, for sha256sum -c

# writer ROUND W: runs until the mount dies under it (or MAX_ITER). Each
# step either adds a durable file to the manifest or churns metadata that is
# not verified but must leave the image consistent.
writer() {
	local r=$1 w=$2 i name
	local src=$SCRATCH/src.$w d=$MNT/pools/w$w list=$SCRATCH/manifest.$w

	mkdir -p "$d/churn" 2>/dev/null || return 0
	for ((i = 1; i <= MAX_ITER; i++)); do
		name=r${r}_$i
		random_file "$src" $(((RANDOM % 64 + 1) * 1024 + RANDOM % 1000))
		if ((i % 2)); then
			dd if="$src" of="$d/$name" bs=16k conv=fsync status=none 2>/dev/null || return 0
		else
			# Write a temporary name durably, then publish it by rename.
			dd if="$src" of="$d/.$name.tmp" bs=16k conv=fsync status=none 2>/dev/null ||
				return 0
			mv -f "$d/.$name.tmp" "$d/$name" 2>/dev/null || return 0
		fi
		echo "$(sha "$src")  pools/w$w/$name" >>"$list"

		# Churn: appends, renames over existing names, unlinks, directories.
		echo "round $r step $i" 2>/dev/null >>"$d/churn/log" || return 0
		head -c $((RANDOM % 20000)) /dev/urandom 2>/dev/null >"$d/churn/c$((i % 7))" ||
			return 0
		mv -f "$d/churn/c$((i % 7))" "$d/churn/c$(((i + 3) % 7))" 2>/dev/null || return 0
		if ((i % 5 == 0)); then
			mkdir -p "$d/churn/dir$i/sub" 2>/dev/null || return 0
			rm -rf "$d/churn/dir$((i - 5))" 2>/dev/null || return 0
			truncate -s $((RANDOM * 7)) "$d/churn/log" 2>/dev/null || return 0
		fi
	done
}

# A random delay of 0.5 to 3 s.
random_sleep() {
	local ms=$((500 + RANDOM % 2500))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
}

require "mkfs" pfs_mkfs
: >"$MANIFEST"

for ((round = 1; round <= ROUNDS; round++)); do
	echo "# round $round of $ROUNDS"
	require "round $round: mount" pfs_mount
	pids=()
	for ((w = 1; w <= WRITERS; w++)); do
		writer "$round" "$w" &
		pids+=($!)
	done
	random_sleep
	check "round $round: kill -9 the server mid-workload" pfs_kill_server
	# The writers see ENOTCONN and stop.
	for pid in "${pids[@]}"; do
		wait "$pid"
	done
	cat "$SCRATCH"/manifest.* >>"$MANIFEST" 2>/dev/null
	rm -f "$SCRATCH"/manifest.*
	echo "# $(wc -l <"$MANIFEST") durable files recorded so far"

	check_rc 0 "round $round: fsck -n finds the killed image consistent" "$FSCK" -n "$IMG"
	require "round $round: remount after the kill" pfs_mount
	check "round $round: every recorded file reads back intact" \
		bash -c 'cd "$1" && sha256sum --quiet --strict -c "$2"' _ "$MNT" "$MANIFEST"
	check "round $round: clean unmount" pfs_umount
done

check "the workload recorded durable files" test -s "$MANIFEST"
check_rc 0 "fsck -n is clean after the last clean unmount" "$FSCK" -n "$IMG"

finish
