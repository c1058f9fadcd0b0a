#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The full test run (what CI runs): install the dependencies and the test
# bench (scripts/deps.sh --test), then on this machine
#   1. build with -Dwerror=true in build/ and run every suite;
#   2. build with ASan+UBSan in build-asan/ and run every suite again but the
#      QEMU guest's (tests/vm boots a kernel under TCG: minutes, not checks
#      of our code that the first phase has not made);
#   3. build with ThreadSanitizer in build-tsan/ and run the concurrency test;
#   4. run the integration suite of build/ again with PMEM_IS_PMEM_FORCE=1,
#      so libpmem takes its real-pmem paths (flush instructions, no msync);
# and then, for each other Debian release in PMEMFS_TEST_RELEASES
# ("trixie testing" by default),
#   5. build with -Dwerror=true in a chroot of that release, with its gcc and
#      libfuse, and run the unit and integration suites (scripts/chroot.sh).
#
#   scripts/test.sh                   all of the above
#   scripts/test.sh --release host    phases 1-4 only (this machine's release)
#   scripts/test.sh --release trixie  phase 5 for that release only
#
# Every phase runs even if an earlier one failed; the exit status is non-zero
# if any failed. The last line sums up meson's results over all phases.
set -euo pipefail
cd "$(dirname "$0")/.."

RELEASES=${PMEMFS_TEST_RELEASES-trixie testing}
RUN_HOST=1
case "${1:-}" in
'') ;;
--release)
	[ $# -eq 2 ] || { echo "usage: scripts/test.sh [--release host|RELEASE]" >&2; exit 2; }
	if [ "$2" = host ]; then
		RELEASES=
	else
		RUN_HOST=0
		RELEASES=$2
	fi
	;;
*)
	echo "usage: scripts/test.sh [--release host|RELEASE]" >&2
	exit 2
	;;
esac

if [ "$RUN_HOST" = 1 ]; then
	./scripts/deps.sh --test
fi

# Emulated images live in tmpfs, like DRAM emulating pmem: on a disk-backed
# file every fence is an msync that waits for the disk (tens of ms each).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi

# FUSE over io_uring (Linux 6.14+) stays off until the fuse module's
# enable_uring parameter is set; pmemfs takes it wherever it is offered. Set
# it for the run, so the suites go over the rings (test_uring, and the
# *_page_cache reruns over /dev/fuse, cover both transports), and put it back
# afterwards. A kernel without it runs everything over /dev/fuse.
URING_PARAM=/sys/module/fuse/parameters/enable_uring
if [ -w "$URING_PARAM" ]; then
	URING_WAS=$(cat "$URING_PARAM")
	trap 'echo "$URING_WAS" >"$URING_PARAM"' EXIT
	echo Y >"$URING_PARAM"
	echo "fuse: enable_uring=Y for the run (was $URING_WAS)"
else
	echo "fuse: this kernel has no FUSE over io_uring; test_uring will skip"
fi

PASSED=0
FAILED=0
SKIPPED=0
PHASE_FAILED=()
# A segfault or trap of a pmemfs process during the run fails it (no test may
# let a crash go unnoticed): mark the kernel log now, check it at the end.
KLOG_MARK=$(mktemp)
./scripts/klog-check.sh mark "$KLOG_MARK"

setup() {
	local dir=$1
	shift
	if [ -d "$dir/meson-private" ]; then
		meson setup --reconfigure "$dir" "$@"
	else
		meson setup "$dir" "$@"
	fi
}

# Add one `meson test` run's results (meson-logs/testlog.json) to the totals.
count() {
	local log=$1/meson-logs/testlog.json n
	[ -f "$log" ] || return 0
	n=$(grep -c '"result": "OK"' "$log" || true)
	PASSED=$((PASSED + n))
	n=$(grep -c '"result": "SKIP"' "$log" || true)
	SKIPPED=$((SKIPPED + n))
	n=$(grep -Ec '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
	FAILED=$((FAILED + n))
}

# phase NAME BUILD_DIR -- SETUP_ARGS... -- TEST_ARGS...
phase() {
	local name=$1 dir=$2 setup_args=() test_args=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do setup_args+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	test_args=("$@")
	echo
	echo "=== $name ==="
	rm -f "$dir/meson-logs/testlog.json"
	if setup "$dir" -Dwerror=true "${setup_args[@]}" && meson compile -C "$dir" &&
		meson test -C "$dir" --print-errorlogs "${test_args[@]}"; then
		:
	else
		PHASE_FAILED+=("$name")
	fi
	count "$dir"
}

# release_phase RELEASE: phase 5, in a chroot of RELEASE; its build
# directory is inside the chroot.
release_phase() {
	local name="Debian $1 chroot: build, unit and integration suites"
	local dir
	dir=$(./scripts/chroot.sh --path "$1")/root/build
	echo
	echo "=== $name ==="
	rm -f "$dir/meson-logs/testlog.json"
	./scripts/chroot.sh "$1" || PHASE_FAILED+=("$name")
	count "$dir"
}

# Phases 1-4, on this machine.
host_phases() {
	phase "build, all suites" build -- --
	# LeakSanitizer stays on: libfuse 3.14 frees everything at a clean exit (its
	# examples run leak-free under ASan), so a leak report is ours. The server
	# must free what fuse_opt_parse() strdup()s for it.
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		phase "ASan+UBSan build, all suites but the VM's" build-asan -- \
		-Db_sanitize=address,undefined -Db_lundef=false -- --no-suite vm --no-suite fuzz
	# Concurrency under ThreadSanitizer: the many-clients test against a TSan
	# build of the server (races are errors: halt_on_error).
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		phase "ThreadSanitizer build, concurrency test" build-tsan -- \
		-Db_sanitize=thread -Db_lundef=false -- test_concurrency
	# The build/ phase above already configured and built; this only reruns.
	PMEM_IS_PMEM_FORCE=1 phase "integration with PMEM_IS_PMEM_FORCE=1" build -- -- \
		--suite integration --no-suite flush_independent
}

if [ "$RUN_HOST" = 1 ]; then
	host_phases
fi
for release in $RELEASES; do
	release_phase "$release"
done

echo
./scripts/klog-check.sh check "$KLOG_MARK" || PHASE_FAILED+=("kernel log: pmemfs crashed")
rm -f "$KLOG_MARK"
if [ "${#PHASE_FAILED[@]}" -gt 0 ]; then
	printf 'failed phase: %s\n' "${PHASE_FAILED[@]}"
fi
[ "$SKIPPED" -eq 0 ] || echo "$SKIPPED skipped"
echo "$PASSED passed, $FAILED failed"
[ "${#PHASE_FAILED[@]}" -eq 0 ] && [ "$FAILED" -eq 0 ]
