#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The harness notices crashes: a test whose server dies by a signal fails
# (lib.sh reaps every server it started), even when the test itself checks
# nothing after the crash; an intended SIGKILL (pfs_kill_server) does not
# fail it; and scripts/klog-check.sh fails a run whose kernel log gained a
# segfault or trap of a pmemfs process.
#
# Each case is a small test script sourcing lib.sh, run as a child with its
# own scratch dir; this test checks the child's exit status and output.
# shellcheck disable=SC2016,SC2317 # bash -c programs; functions run by check
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

LIB=$(cd "$(dirname "$0")" && pwd)/lib.sh
KLOG=$(cd "$(dirname "$0")/../.." && pwd)/scripts/klog-check.sh

# child NAME BODY: a test script that sources lib.sh, mounts a fresh image,
# runs BODY, and finishes.
child() {
	cat >"$SCRATCH/$1.sh" <<EOF
. "$LIB"
require "mkfs" pfs_mkfs
require "mount" pfs_mount
$2
finish
EOF
}

run_child() {
	TEST_TIMEOUT=120 bash "$SCRATCH/$1.sh"
}

child clean 'check "unmount" pfs_umount'
check_rc 0 "a clean unmount: the test passes" run_child clean

child killed 'check "kill -9" pfs_kill_server'
check_rc 0 "a server killed by pfs_kill_server (intended): the test passes" run_child killed

# The test checks nothing after the crash: only lib.sh can notice it. (Under
# AddressSanitizer with abort_on_error, its report of the signal ends in
# SIGABRT.)
SEGV_RE="killed by SIG(SEGV|ABRT)"
child segv_unchecked 'kill -SEGV "$SERVER_PID"; sleep 1'
check_err "a server killed by SIGSEGV, the test checking nothing: the test fails" \
	"$SEGV_RE" run_child segv_unchecked

child segv_umount 'kill -SEGV "$SERVER_PID"; sleep 1; pfs_umount; true'
check_err "a server killed by SIGSEGV, the test ignoring pfs_umount's status: it fails" \
	"$SEGV_RE" run_child segv_umount

# pmemfs handles SIGBUS of media faults; one sent by kill still kills it.
child bus 'kill -BUS "$SERVER_PID"; sleep 1'
check_err "a server killed by a SIGBUS sent with kill: the test fails" \
	"killed by SIG(BUS|ABRT)" run_child bus

child abrt 'kill -ABRT "$SERVER_PID"; sleep 1; check "unmount" pfs_umount'
check_err "a server killed by SIGABRT: the test fails" "killed by SIGABRT" run_child abrt

# ---- scripts/klog-check.sh, on a fake kernel log ----

FAKE_LOG=$SCRATCH/fake.klog
FAKE_DMESG=$SCRATCH/fake-dmesg
printf '#!/bin/sh\ncat "%s"\n' "$FAKE_LOG" >"$FAKE_DMESG"
chmod +x "$FAKE_DMESG"
export KLOG_DMESG=$FAKE_DMESG
cat >"$FAKE_LOG" <<'EOF'
[  100.000001] pmemfs[10]: segfault at 0 ip 0000 sp 0000 error 4 in pmemfs[1000,2000+3000]
[  200.000002] fuse: init (API version 7.45)
EOF
check "klog-check mark" "$KLOG" mark "$SCRATCH/mark"
check_rc 0 "klog-check: a crash before the mark does not count" "$KLOG" check "$SCRATCH/mark"
echo '[  300.000003] sleep[11]: segfault at 0 ip 0000 sp 0000 error 4 in sleep[1000,2000+3000]' \
	>>"$FAKE_LOG"
check_rc 0 "klog-check: a crash of another program does not count" "$KLOG" check "$SCRATCH/mark"
echo '[  400.000004] traps: pmemfs-ring1[12] general protection fault ip:1 sp:2 error:0 in pmemfs[3+4]' \
	>>"$FAKE_LOG"
check_err "klog-check: a trap of a pmemfs thread after the mark fails the run" \
	"pmemfs-ring1\[12\] general protection" "$KLOG" check "$SCRATCH/mark"
unset KLOG_DMESG
if dmesg >/dev/null 2>&1; then
	check "klog-check works on the real kernel log" \
		bash -c '"$1" mark "$2" && "$1" check "$2"' _ "$KLOG" "$SCRATCH/mark2"
else
	skip "klog-check on the real kernel log" "dmesg is not readable here"
fi

finish
