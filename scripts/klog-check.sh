#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Crashes of pmemfs processes in the kernel log, for scripts/test.sh:
#
#   klog-check.sh mark FILE    remember where the kernel log ends now
#   klog-check.sh check FILE   exit 1, printing them, if lines since the mark
#                              report a segfault or trap of a pmemfs process
#                              (the server, its pmemfs-ring*/pmemfs-warden
#                              threads, mkfs/fsck.pmemfs, pmemfs-info)
#
# A server that dies by a signal in a test fails that test (tests/integration/
# lib.sh); this catches what no test waits for: a daemonized server, a crash
# in a thread after the test moved on, a tool run by a script.
#
# The mark is the timestamp of the last line (dmesg's seconds since boot).
# Without access to the kernel log (not root, kernel.dmesg_restrict) both
# verbs say so and succeed: the check cannot be made, which is not a crash.
set -uo pipefail
export LC_ALL=C

DMESG=${KLOG_DMESG:-dmesg}          # a test gives a fake one
CRASH_RE='segfault at|traps:|general protection|trap (divide|invalid|stack|int3)|potentially unexpected fatal signal'
PROC_RE='pmemfs'

usage() {
	echo "usage: $0 mark FILE | check FILE" >&2
	exit 2
}

# The kernel log as "SECONDS TEXT" lines.
klog() {
	$DMESG 2>/dev/null | sed -n 's/^\[ *\([0-9][0-9]*\.[0-9]*\)\] /\1 /p'
}

klog_mark() {
	local last

	if ! $DMESG >/dev/null 2>&1; then
		echo "klog-check: cannot read the kernel log; crashes will not be checked" >&2
		echo none >"$1"
		return 0
	fi
	last=$(klog | tail -n 1 | cut -d' ' -f1)
	echo "${last:-0}" >"$1"
}

klog_check() {
	local mark hits

	mark=$(cat "$1" 2>/dev/null) || { echo "klog-check: no mark in $1" >&2; return 2; }
	if [ "$mark" = none ] || ! $DMESG >/dev/null 2>&1; then
		echo "klog-check: kernel log not readable; not checked" >&2
		return 0
	fi
	hits=$(klog | awk -v m="$mark" '$1 + 0 > m + 0' | grep -E -- "$CRASH_RE" |
		grep -E -- "$PROC_RE")
	if [ -n "$hits" ]; then
		echo "klog-check: the kernel log reports crashes of pmemfs processes:"
		printf '%s\n' "$hits" | sed 's/^\([^ ]*\) /  [\1] /'
		return 1
	fi
	echo "klog-check: no pmemfs crash in the kernel log since the mark"
	return 0
}

[ $# -eq 2 ] || usage
case $1 in
mark) klog_mark "$2" ;;
check) klog_check "$2" ;;
*) usage ;;
esac
