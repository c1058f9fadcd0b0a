# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared helpers for the integration tests; each test sources it first:
#
#   . "$(dirname "$0")/lib.sh"
#
# It gives the test its own scratch dir ($SCRATCH) with an image path ($IMG),
# a mountpoint ($MNT) and a server log ($LOG); an EXIT trap that unmounts,
# stops every server it started by pid and prints the server log on failure;
# a watchdog that aborts a hung test (it kills the servers, which fails every
# request stuck in the kernel, then TERMs the test); and check helpers that
# count passes and failures. End a test with `finish`.
#
# Servers run in the foreground (-f) in the background of the test, so their
# pid and stderr are ours; a clean unmount must end them with status 0.
# PMEMFS_TEST_OPTS (e.g. page_cache,durable=fsync) goes to every mount as -o.

set -uo pipefail
export LC_ALL=C

: "${BUILD_DIR:?set BUILD_DIR to the meson build directory}"
MKFS=$BUILD_DIR/tools/mkfs.pmemfs
FSCK=$BUILD_DIR/tools/fsck.pmemfs
PMEMFS=$BUILD_DIR/fs/pmemfs
RENAMEAT2=$BUILD_DIR/tests/integration/renameat2_client

TEST_NAME=$(basename "$0" .sh)
TEST_TIMEOUT=${TEST_TIMEOUT:-280}       # under meson's 300 s, so our trap runs
MOUNT_TIMEOUT=${MOUNT_TIMEOUT:-20}
UMOUNT_TIMEOUT=${UMOUNT_TIMEOUT:-60}

PASSED=0
FAILED=0
SKIPPED=0
SERVER_PID=
WATCHDOG_PID=

# ---- environment ----

for _bin in "$MKFS" "$FSCK" "$PMEMFS"; do
	if [ ! -x "$_bin" ]; then
		echo "$TEST_NAME: $_bin is missing; build first (meson compile -C \$BUILD_DIR)" >&2
		exit 1
	fi
done
if [ "$(id -u)" -ne 0 ]; then
	echo "$TEST_NAME: integration tests must run as root (FUSE mounts, chown, setpriv)" >&2
	exit 1
fi
if [ ! -c /dev/fuse ]; then
	echo "$TEST_NAME: /dev/fuse is missing (modprobe fuse?)" >&2
	exit 1
fi

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pmemfs-$TEST_NAME.XXXXXX") || exit 1
# Other users (setpriv tests) must be able to reach mountpoints inside.
chmod 0755 "$SCRATCH"
IMG=$SCRATCH/img
MNT=$SCRATCH/mnt
LOG=$SCRATCH/server.log
CHECK_OUT=$SCRATCH/check.out
: >"$LOG"
: >"$SCRATCH/server.pids"
: >"$SCRATCH/server.exits"
: >"$SCRATCH/server.killed"
: >"$SCRATCH/server.reported"

# ---- processes ----

# True while $1 runs (a zombie awaiting `wait` counts as gone).
lib_alive() {
	local state
	state=$(cut -d')' -f2 "/proc/$1/stat" 2>/dev/null) || return 1
	[[ $state != " Z"* ]]
}

# ---- server exit status ----
#
# Every server the test started is reaped through lib_reap, which records its
# status in $SCRATCH/server.exits. A server that died by a signal fails the
# test (lib_cleanup counts it), whatever the test itself checked, unless the
# death was the SIGKILL of pfs_kill_server or of an abort, recorded in
# $SCRATCH/server.killed.

# lib_reap PID: wait for our child PID and record how it ended. Returns its
# status.
lib_reap() {
	local rc
	wait "$1"
	rc=$?
	echo "$1 $rc" >>"$SCRATCH/server.exits"
	return "$rc"
}

# lib_signal_deaths: "pid N: killed by SIGX" for each recorded death by a
# signal that was not an intended SIGKILL.
lib_signal_deaths() {
	local pid rc
	while read -r pid rc; do
		((rc > 128 && rc < 128 + 65)) || continue
		grep -qx "$pid" "$SCRATCH/server.reported" && continue
		if ((rc == 128 + 9)) && grep -qx "$pid" "$SCRATCH/server.killed"; then
			continue
		fi
		echo "server $pid: killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"
	done <"$SCRATCH/server.exits"
}

# lib_check_servers: reap every server that has ended unseen, and fail the
# test for each death by a signal. Run by lib_cleanup; a test may call it.
lib_check_servers() {
	local pid deaths
	while read -r pid; do
		[ -n "$pid" ] || continue
		grep -q "^$pid " "$SCRATCH/server.exits" && continue
		lib_alive "$pid" && continue
		lib_reap "$pid" 2>/dev/null
	done <"$SCRATCH/server.pids"
	deaths=$(lib_signal_deaths)
	[ -z "$deaths" ] && return 0
	FAILED=$((FAILED + 1))
	echo "not ok $((PASSED + FAILED + SKIPPED)) - every server exited by itself, not by a signal"
	printf '#   %s\n' "$deaths"
	awk '{ sub(":", "", $2); print $2 }' <<<"$deaths" >>"$SCRATCH/server.reported"
	echo "=== $(date +%T) $deaths" >>"$LOG"
	return 1
}

# Server pids we started, plus any server whose command line names a file of
# our scratch dir (a second mount attempt, a server started by hand).
lib_server_pids() {
	local pid
	while read -r pid; do
		[ -n "$pid" ] && lib_alive "$pid" && echo "$pid"
	done <"$SCRATCH/server.pids"
	pgrep -f -- "^$PMEMFS .*$SCRATCH/" || true
}

# Every mountpoint under the scratch dir.
lib_mounts() {
	awk -v d="$SCRATCH/" 'index($2, d) == 1 { print $2 }' /proc/mounts
}

lib_abort_all() {
	local pid m
	for pid in $(lib_server_pids | sort -u); do
		echo "$pid" >>"$SCRATCH/server.killed"
		kill -9 "$pid" 2>/dev/null
	done
	for m in $(lib_mounts); do
		fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
}

lib_watchdog_start() {
	(
		trap - EXIT
		sleep "$TEST_TIMEOUT" </dev/null >/dev/null 2>&1 &
		_sleep=$!
		trap 'kill "$_sleep" 2>/dev/null; exit 0' TERM
		wait "$_sleep"
		echo "$TEST_NAME: timed out after ${TEST_TIMEOUT}s; killing the servers" >&2
		lib_abort_all
		kill -TERM $$
	) &
	WATCHDOG_PID=$!
}

lib_cleanup() {
	local rc=$? pid _
	trap - EXIT TERM INT
	[ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
	# A server that died on its own is judged before any is stopped below.
	lib_check_servers || rc=1
	# Give a live server the chance of a clean unmount first.
	if [ -n "$SERVER_PID" ] && lib_alive "$SERVER_PID"; then
		fusermount3 -u -z "$MNT" 2>/dev/null
		for _ in $(seq 1 50); do
			lib_alive "$SERVER_PID" || break
			sleep 0.1
		done
	fi
	for pid in $(lib_server_pids | sort -u); do
		echo "$pid" >>"$SCRATCH/server.killed"
		kill -TERM "$pid" 2>/dev/null
	done
	sleep 0.2
	lib_abort_all
	if [ "$rc" -ne 0 ] || [ "$FAILED" -ne 0 ]; then
		[ "$rc" -ne 0 ] || rc=1
		echo "----- server log ($LOG) -----"
		cat "$LOG"
		echo "----- end of server log -----"
		if [ -d "$BUILD_DIR/meson-logs" ]; then
			cp "$LOG" "$BUILD_DIR/meson-logs/$TEST_NAME.server.log" 2>/dev/null &&
				echo "(kept as $BUILD_DIR/meson-logs/$TEST_NAME.server.log)"
		fi
	fi
	if [ -n "$(lib_mounts)" ]; then
		echo "$TEST_NAME: mounts remain under $SCRATCH; not removing it" >&2
	elif [ "${KEEP_SCRATCH:-0}" = 1 ]; then
		echo "$TEST_NAME: scratch kept in $SCRATCH"
	else
		rm -rf "$SCRATCH"
	fi
	exit "$rc"
}

trap lib_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
lib_watchdog_start

# ---- the file system ----

# pfs_mkfs [mkfs options...]: format $IMG as a new 256 MiB emulated image.
pfs_mkfs() {
	"$MKFS" -q -s 256M "$@" "$IMG"
}

# pfs_mount [server options...]: mount $IMG on $MNT, server in the background
# logging to $LOG; returns once the mount is live.
pfs_mount() {
	local deadline=$((SECONDS + MOUNT_TIMEOUT)) rc

	mkdir -p "$MNT"
	echo "=== $(date +%T) $PMEMFS -f ${PMEMFS_TEST_OPTS:+-o $PMEMFS_TEST_OPTS }$* $IMG $MNT" >>"$LOG"
	"$PMEMFS" -f ${PMEMFS_TEST_OPTS:+-o "$PMEMFS_TEST_OPTS"} "$@" "$IMG" "$MNT" \
		</dev/null >>"$LOG" 2>&1 &
	SERVER_PID=$!
	echo "$SERVER_PID" >>"$SCRATCH/server.pids"
	while ((SECONDS < deadline)); do
		if ! lib_alive "$SERVER_PID"; then
			lib_reap "$SERVER_PID"
			rc=$?
			echo "pfs_mount: pmemfs exited with status $rc before the mount was live" >&2
			SERVER_PID=
			return 1
		fi
		if mountpoint -q "$MNT" && [ -d "$MNT/pools" ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "pfs_mount: $MNT not live after ${MOUNT_TIMEOUT}s" >&2
	return 1
}

# pfs_umount: unmount $MNT and wait for the server to exit. Returns the
# server's exit status, which must be 0 (a clean unmount makes all durable).
pfs_umount() {
	local pid=$SERVER_PID deadline rc _

	[ -n "$pid" ] || return 0
	for _ in $(seq 1 50); do
		# EBUSY just after a close is normal: retry for a while.
		timeout 20 fusermount3 -u "$MNT" 2>>"$LOG" && break
		sleep 0.2
	done
	deadline=$((SECONDS + UMOUNT_TIMEOUT))
	while lib_alive "$pid" && ((SECONDS < deadline)); do
		sleep 0.1
	done
	if lib_alive "$pid"; then
		echo "pfs_umount: server $pid still running ${UMOUNT_TIMEOUT}s after unmount" >&2
		echo "$pid" >>"$SCRATCH/server.killed"
		kill -9 "$pid"
		lib_reap "$pid"
		SERVER_PID=
		return 1
	fi
	lib_reap "$pid"
	rc=$?
	SERVER_PID=
	echo "=== $(date +%T) server $pid exited with status $rc" >>"$LOG"
	[ "$rc" -eq 0 ] || echo "pfs_umount: server exited with status $rc" >&2
	return "$rc"
}

# exited_itself STATUS: a server run under timeout(1) ended by itself, not
# by a signal (124: timeout had to stop it; 128+N: it died by signal N).
exited_itself() {
	[ "$1" -ne 124 ] && [ "$1" -lt 128 ]
}

# pfs_kill_server: SIGKILL the server (a crash), then detach the dead mount.
pfs_kill_server() {
	[ -n "$SERVER_PID" ] || return 0
	echo "$SERVER_PID" >>"$SCRATCH/server.killed"
	kill -9 "$SERVER_PID" 2>/dev/null
	lib_reap "$SERVER_PID" 2>/dev/null
	echo "=== $(date +%T) server $SERVER_PID killed" >>"$LOG"
	SERVER_PID=
	fusermount3 -u -z "$MNT"
}

# ---- checks ----
#
# Every check runs its command with output to $CHECK_OUT; afterwards that
# output stays in $LAST_OUT and the status in $LAST_RC, for a following check
# to look at (check "names the superblock" grep -q superblock "$LAST_OUT").

LAST_OUT=$SCRATCH/last.out
LAST_RC=0

lib_run() {
	"$@" >"$CHECK_OUT" 2>&1
	LAST_RC=$?
}

lib_pass() {
	PASSED=$((PASSED + 1))
	cp "$CHECK_OUT" "$LAST_OUT"
	echo "ok $((PASSED + FAILED + SKIPPED)) - $1"
}

# lib_fail DESC WHY: WHY and the command's output go under the "not ok" line.
lib_fail() {
	FAILED=$((FAILED + 1))
	cp "$CHECK_OUT" "$LAST_OUT"
	echo "not ok $((PASSED + FAILED + SKIPPED)) - $1"
	echo "#   $2"
	if [ -s "$CHECK_OUT" ]; then
		sed 's/^/#   | /' "$CHECK_OUT" | head -n 40
	fi
	return 0
}

# check DESC CMD...: CMD succeeds.
check() {
	local desc=$1
	shift
	lib_run "$@"
	if [ "$LAST_RC" -eq 0 ]; then
		lib_pass "$desc"
	else
		lib_fail "$desc" "exit $LAST_RC: $*"
	fi
}

# check_rc STATUS DESC CMD...: CMD exits with STATUS.
check_rc() {
	local want=$1 desc=$2
	shift 2
	lib_run "$@"
	if [ "$LAST_RC" -eq "$want" ]; then
		lib_pass "$desc"
	else
		lib_fail "$desc" "exit $LAST_RC, expected $want: $*"
	fi
}

# check_fail DESC CMD...: CMD fails (any non-zero status).
check_fail() {
	local desc=$1
	shift
	lib_run "$@"
	if [ "$LAST_RC" -ne 0 ]; then
		lib_pass "$desc"
	else
		lib_fail "$desc" "succeeded, expected failure: $*"
	fi
}

# check_err DESC REGEX CMD...: CMD fails and its output matches REGEX (grep -E).
check_err() {
	local desc=$1 re=$2
	shift 2
	lib_run "$@"
	if [ "$LAST_RC" -eq 0 ]; then
		lib_fail "$desc" "succeeded, expected failure matching /$re/: $*"
	elif ! grep -Eq -- "$re" "$CHECK_OUT"; then
		lib_fail "$desc" "exit $LAST_RC but output does not match /$re/: $*"
	else
		lib_pass "$desc"
	fi
}

# check_out DESC EXPECTED CMD...: CMD succeeds and prints exactly EXPECTED on
# stdout (trailing newlines aside).
check_out() {
	local desc=$1 want=$2 got
	shift 2
	got=$("$@" 2>"$CHECK_OUT")
	LAST_RC=$?
	if [ "$LAST_RC" -ne 0 ]; then
		lib_fail "$desc" "exit $LAST_RC: $*"
	elif [ "$got" != "$want" ]; then
		printf '%s\n' "$got" >>"$CHECK_OUT"
		lib_fail "$desc" "expected '$want', got the output below: $*"
	else
		printf '%s\n' "$got" >>"$CHECK_OUT"
		lib_pass "$desc"
	fi
}

# skip DESC WHY
skip() {
	SKIPPED=$((SKIPPED + 1))
	echo "ok $((PASSED + FAILED + SKIPPED)) - $1 # SKIP $2"
}

# require DESC CMD...: like check, but the test cannot go on without it.
require() {
	local before=$FAILED
	check "$@"
	if [ "$FAILED" -ne "$before" ]; then
		echo "# cannot continue without: $1"
		finish
	fi
}

# finish: the summary line, and the exit status meson reads.
finish() {
	lib_check_servers
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ] || exit 1
	exit 0
}

# ---- small helpers ----

# sha FILE: its sha256, alone.
sha() {
	local h
	h=$(sha256sum <"$1") || return 1
	echo "${h%% *}"
}

# random_file FILE BYTES
random_file() {
	head -c "$2" /dev/urandom >"$1"
}
