#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# FUSE over io_uring (fs/fuse_uring.c, fs/fuse_warden.c), where the kernel
# offers it (fuse.enable_uring=Y; scripts/test.sh sets it): one queue per
# possible CPU, each served by a thread pinned to that CPU; a request is
# served by the queue of the CPU that issued it; data of every size goes
# through the rings intact; the warden puts the queue threads at idle
# priority while one caller works and back at normal priority when several
# do or none; with every CPU busy it raises starved queue threads, so I/O
# still moves; -o uring=normal keeps them at normal priority and
# -o uring=off leaves the rings alone. A build without the own rings
# (libfuse 3.18 without custom io: pmemfs(8), LIBFUSE) refuses
# uring=idle|normal in one line, and tests libfuse's rings where libfuse
# has them.
. "$(dirname "$0")/lib.sh"

if [ "$(cat /sys/module/fuse/parameters/enable_uring 2>/dev/null)" != Y ]; then
	echo "1..0 # SKIP the kernel does not offer FUSE over io_uring (fuse.enable_uring is not Y)"
	exit 77
fi

P=$MNT/pools
NCPU=$(($(sed 's/.*[-,]//' /sys/devices/system/cpu/possible) + 1))
field() { sed -n "s/^$1: //p" "$MNT/status"; }
# ring_threads: "TID NAME CLASS" of each queue thread
ring_threads() { ps -L -o tid=,comm=,cls= -p "$SERVER_PID" | awk '$2 ~ /^pmemfs-ring/'; }
run_ns() { cut -d' ' -f1 "/proc/$SERVER_PID/task/$1/schedstat"; }

# every queue thread pinned to the CPU of its queue: pmemfs-ringN on CPU N
pinned() {
	local tid name cls
	while read -r tid name cls; do
		[ "$(taskset -c -p "$tid" | sed 's/.*: //')" = "${name#pmemfs-ring}" ] || return 1
	done < <(ring_threads)
}

all_class() {
	local want=$1
	[ "$(ring_threads | wc -l)" -eq "$NCPU" ] &&
		! ring_threads | awk -v c="$want" '$3 != c { bad = 1 } END { exit !bad }'
}

# policies: the scheduling policy of each queue thread (stat field 41: 0
# SCHED_OTHER, 5 SCHED_IDLE), read without ps, which is heavy enough to
# starve an idle-priority thread into being raised
policies() {
	local t
	for t in /proc/"$SERVER_PID"/task/*; do
		case $(<"$t/comm") in
		pmemfs-ring*) awk '{ print $41 }' "$t/stat" ;;
		esac
	done
}

# becomes IDL|TS SECONDS: all queue threads reach that class within the time
becomes() {
	local want i
	want=$([ "$1" = IDL ] && echo 5 || echo 0)
	for ((i = 0; i < $2 * 4; i++)); do
		sleep 0.25
		[ "$(policies | sort -u)" = "$want" ] && return 0
	done
	ring_threads
	grep io_uring "$MNT/status"
	return 1
}

require "mkfs a 1 GiB image" "$MKFS" -q -f -s 1G "$IMG"

BUILT=$("$PMEMFS" --version | sed -n 's/^built with libfuse //p')

# libfuse's own rings (3.18 built with liburing), the default where libfuse
# has them: status says so, and data of every size goes through intact.
libfuse_rings() {
	require "mount (libfuse's rings, the default)" pfs_mount
	check_out "status: uring=libfuse" libfuse bash -c \
		'sed -n "s/^mount options: .*uring=//p" "$1/status"' _ "$MNT"
	random_file "$SCRATCH/l" $((16 << 20))
	check "fio over libfuse's rings: random 4 KiB and 1 MiB I/O from 2 jobs, verified" \
		fio --name=ur --directory="$P" --ioengine=psync --rw=randrw \
		--bssplit=4k/50:1M/50 --size=16M --numjobs=2 --verify=crc32c \
		--verify_fatal=1 --do_verify=1 --verify_state_save=0 --output=/dev/null
	check "16 MiB written and read back" bash -c \
		'dd if="$1" of="$2" bs=1M status=none && cmp "$1" "$2"' _ "$SCRATCH/l" "$P/l"
	check "unmount" pfs_umount
	require "mount -o uring=off" pfs_mount -o uring=off
	check_out "uring=off says so" off bash -c \
		'sed -n "s/^mount options: .*uring=//p" "$1/status"' _ "$MNT"
	check "the data is there" cmp "$SCRATCH/l" "$P/l"
	check "unmount" pfs_umount
}

OWN=()
case $BUILT in
*uring=libfuse,pmemfs*)
	# both: libfuse's are the default, the own rings only when asked for
	libfuse_rings
	mkdir -p "$MNT"
	check_err "-o io_uring and uring=idle exclude each other" 'exclude each other' \
		"$PMEMFS" -f -o io_uring,uring=idle "$IMG" "$MNT"
	OWN=(-o uring=idle)
	;;
*uring=pmemfs*) ;;
*)
	mkdir -p "$MNT"
	check_err "-o uring=normal is refused: $BUILT" \
		'^pmemfs: uring=normal: not available with libfuse [0-9.]+ \(.*custom io' \
		"$PMEMFS" -f -o uring=normal "$IMG" "$MNT"
	check_out "in one line" 1 bash -c '"$1" -f -o uring=idle "$2" "$3" 2>&1 | wc -l' \
		_ "$PMEMFS" "$IMG" "$MNT"
	check "nothing was mounted" bash -c '! mountpoint -q "$1"' _ "$MNT"
	if [[ $BUILT == *uring=libfuse* ]]; then
		libfuse_rings
		finish
	fi
	check_err "-o io_uring is refused too (libfuse without liburing)" \
		'^pmemfs: io_uring: not available with libfuse' \
		"$PMEMFS" -f -o io_uring "$IMG" "$MNT"
	require "mount (over /dev/fuse)" pfs_mount
	check_out "status: uring=off" off bash -c \
		'sed -n "s/^mount options: .*uring=//p" "$1/status"' _ "$MNT"
	check_out "no queue" 0 field "io_uring queues"
	check "unmount" pfs_umount
	skip "FUSE over io_uring" "this build has neither pmemfs's rings nor libfuse's ($BUILT)"
	finish
	;;
esac

require "mount (pmemfs's rings)" pfs_mount "${OWN[@]}"
check_out "one queue per possible CPU" "$NCPU" field "io_uring queues"
check "one queue thread per queue, at normal priority while quiet" all_class TS
check "each pinned to the CPU of its queue" pinned

one_caller() {   # one_caller SECONDS: 4 KiB writes from one process
	timeout "$1" bash -c 'while :; do dd if=/dev/zero of="$0" bs=4k count=1000 \
		status=none || exit 1; done' "$P/one"
	return 0
}

# Every CPU busy with normal-priority work: the idle-priority queue threads
# would hardly run; the warden raises them.
random_file "$SCRATCH/a" $((64 << 20))
stress-ng --cpu "$NCPU" --timeout 120s >/dev/null 2>&1 &
HOGS=$!
# (one caller for a while, on a fresh mount: the warden puts the threads at
# idle priority, then finds them starved)
one_caller 6
check "with every CPU busy: the warden raised starved queue threads" \
	test "$(field "io_uring threads raised")" -gt 0
check "and 64 MiB written" dd if="$SCRATCH/a" of="$P/busy" bs=1M status=none
check "read back" cmp "$SCRATCH/a" "$P/busy"
kill "$HOGS" 2>/dev/null
wait "$HOGS" 2>/dev/null
check "unmount" pfs_umount

# One caller: idle priority; two at once: normal; none for a while: normal.
require "mount again (the warden starts afresh)" pfs_mount "${OWN[@]}"
one_caller 8 &
JOB=$!
check "one caller at work: the queue threads go to idle priority" becomes IDL 6
wait "$JOB"
fio_two() {
	fio --name=two --directory="$P" --ioengine=psync --rw=randwrite --bs=4k --size=8M \
		--numjobs=2 --time_based --runtime="$1" --output=/dev/null
}
one_caller 2
fio_two 8 &
JOB=$!
check "two callers at once: back at normal priority" becomes TS 6
wait "$JOB"
one_caller 2
check "no callers for a while: normal priority" becomes TS 5

check "fio: random 4 KiB and 1 MiB writes and reads from 2 jobs, verified (crc32c)" \
	fio --name=ur --directory="$P" --ioengine=psync --rw=randrw \
	--bssplit=4k/50:1M/50 --size=32M --numjobs=2 --verify=crc32c \
	--verify_fatal=1 --do_verify=1 --verify_state_save=0 --output=/dev/null
check "the requests came over the rings" test "$(field "io_uring requests")" -gt 1000

# A caller on CPU N is served by queue N: its thread ran the most meanwhile.
run_times() {
	local tid name cls
	while read -r tid name cls; do echo "${name#pmemfs-ring} $(run_ns "$tid")"; done < <(ring_threads)
}
busiest_since() {   # busiest_since FILE: the queue whose thread ran most since FILE
	join <(sort "$1") <(run_times | sort) | awk '{ d = $3 - $2 } d > max { max = d; q = $1 } END { print q }'
}
for ((cpu = 0; cpu < NCPU; cpu++)); do
	run_times >"$SCRATCH/runs"
	check "2,000 writes from CPU $cpu" taskset -c "$cpu" \
		dd if=/dev/zero of="$P/cpu$cpu" bs=4k count=2000 oflag=sync status=none
	check_out "were served by queue $cpu" "$cpu" busiest_since "$SCRATCH/runs"
done

# Names, directories and attributes through the payload buffer.
long=$(printf 'n%.0s' $(seq 255))
check "a 255-byte name" touch "$P/$long"
check "is listed" test -e "$P/$long"
check "2,000 entries in a directory" bash -c 'mkdir "$1/d" && cd "$1/d" && seq 2000 | xargs touch' _ "$P"
check_out "all listed" 2000 bash -c 'ls "$1/d" | wc -l' _ "$P"
check "an extended attribute" setfattr -n user.k -v "$(head -c 3000 /dev/zero | tr '\0' v)" "$P/cpu0"
check_out "reads back" 3000 bash -c 'getfattr --only-values -n user.k "$1" | wc -c' _ "$P/cpu0"

check "unmount" pfs_umount

require "mount -o uring=normal" pfs_mount -o uring=normal
check "queue threads at normal priority" all_class TS
check "I/O works" dd if="$SCRATCH/a" of="$P/normal" bs=1M status=none
check "and reads back" cmp "$SCRATCH/a" "$P/normal"
check "unmount" pfs_umount

require "mount -o uring=off" pfs_mount -o uring=off
check_out "no queue" 0 field "io_uring queues"
check_out "no queue threads" 0 bash -c "ps -L -o comm= -p $SERVER_PID | grep -c '^pmemfs-ring' || true"
check "the data is all there" cmp "$SCRATCH/a" "$P/busy"
check "unmount" pfs_umount
check "fsck is clean" "$FSCK" -n "$IMG"

finish
