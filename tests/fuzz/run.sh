#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build the libFuzzer harnesses with clang (ASan + UBSan) and run each for
# SECONDS (default 20; CI runs 20 through meson's 'fuzz' suite):
#
#   tests/fuzz/run.sh            # the short run CI does
#   tests/fuzz/run.sh 3600       # the long run: an hour per harness
#   tests/fuzz/run.sh 60 fuzz_ctl   # one harness
#
# Harnesses: fuzz_mount (open + recover + walk + change a mutated image),
# fuzz_check (the checker: check, repair, check), fuzz_ctl (every
# control-file parser). Binaries, the growing corpora and any findings go to
# $BUILD_DIR/fuzz/ (BUILD_DIR defaults to build/). Each run starts from the
# seeds in tests/fuzz/corpus/<harness>/ (which also hold the inputs of bugs
# found, as regressions) plus what earlier runs in this build dir found.
# A finding is any crash, hang (-timeout), leak, out-of-memory or sanitizer
# report; it is kept as $BUILD_DIR/fuzz/artifacts/<harness>-crash-<sha1> and
# replays with `$BUILD_DIR/fuzz/<harness> FILE`.
#
# Exits 77 (meson: skipped) when clang or its libFuzzer runtime is missing
# (Debian: clang, libclang-rt-14-dev; scripts/deps.sh installs both).
set -uo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-20}
shift || true
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
OUT=$BUILD_DIR/fuzz
HARNESSES=("$@")
[ "${#HARNESSES[@]}" -gt 0 ] || HARNESSES=(fuzz_mount fuzz_check fuzz_ctl)
CC=${FUZZ_CC:-clang}

if ! [[ $SECS =~ ^[0-9]+$ ]] || [ "$SECS" -eq 0 ]; then
	echo "usage: $0 [SECONDS] [HARNESS...]" >&2
	exit 2
fi
if ! command -v "$CC" >/dev/null; then
	echo "fuzz: $CC not found (apt-get install clang libclang-rt-14-dev); skipping"
	exit 77
fi
mkdir -p "$OUT/artifacts" || exit 1
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
	"$CC" -x c -fsanitize=fuzzer -o "$OUT/probe" - 2>"$OUT/probe.log"; then
	echo "fuzz: $CC cannot link -fsanitize=fuzzer (libclang-rt-14-dev missing?); skipping"
	exit 77
fi

# The sources of a static_library/files() block of fs/meson.build, so the
# harnesses always build what the core builds.
meson_sources() {
	sed -n "/$1/,/)/p" "$ROOT/fs/meson.build" | grep -o "'[a-z_0-9]*\\.c'" | tr -d "'" |
		sed "s|^|$ROOT/fs/|"
}
mapfile -t CORE < <(meson_sources '^core_src = files(')
mapfile -t CTL < <(meson_sources "^pfs_ctl = static_library('pfs_ctl'," | grep -v nd_busy.c)

# shellcheck disable=SC2054 # commas inside -fsanitize=, not array separators
CFLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
	-I"$ROOT/include" -I"$ROOT/fs" -I"$ROOT/tests/unit" -I"$ROOT/tests/fuzz")
PMEM_LIBS=$(pkg-config --libs libpmem 2>/dev/null || echo -lpmem)
JSON_LIBS=$(pkg-config --libs json-c 2>/dev/null || echo -ljson-c)

build() {
	local h=$1 srcs=()
	case $h in
	fuzz_mount|fuzz_check)
		srcs=("$ROOT/tests/fuzz/$h.c" "$ROOT/tests/fuzz/fuzz_image.c" "${CORE[@]}") ;;
	fuzz_ctl)
		srcs=("$ROOT/tests/fuzz/$h.c" "$ROOT/tests/unit/nd_fake.c" "${CTL[@]}" "${CORE[@]}")
		;;
	*)
		echo "fuzz: unknown harness $h" >&2
		return 1 ;;
	esac
	# shellcheck disable=SC2086
	"$CC" "${CFLAGS[@]}" -o "$OUT/$h" "${srcs[@]}" $PMEM_LIBS $JSON_LIBS -lpthread \
		>"$OUT/$h.build.log" 2>&1
}

declare -A BUILD_PID
for h in "${HARNESSES[@]}"; do
	build "$h" &
	BUILD_PID[$h]=$!
done

PASSED=0
FAILED=0
for h in "${HARNESSES[@]}"; do
	if ! wait "${BUILD_PID[$h]}"; then
		echo "not ok - $h: build failed"
		sed 's/^/#   | /' "$OUT/$h.build.log" | head -n 40
		FAILED=$((FAILED + 1))
		continue
	fi
	seeds=$ROOT/tests/fuzz/corpus/$h
	work=$OUT/corpus/$h
	mkdir -p "$work"
	dict=()
	[ -f "$ROOT/tests/fuzz/$h.dict" ] && dict=(-dict="$ROOT/tests/fuzz/$h.dict")
	before=$(find "$OUT/artifacts" -name "$h-*" | wc -l)
	start=$SECONDS
	"$OUT/$h" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
		-use_value_profile=1 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$h-" \
		"${dict[@]}" "$work" "$seeds" >"$OUT/$h.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$h.log" | tail -n 1)
	cov=$(grep -Eo 'cov: [0-9]+' "$OUT/$h.log" | tail -n 1)
	found=$(($(find "$OUT/artifacts" -name "$h-*" | wc -l) - before))
	[ "$rc" -eq 0 ] || [ "$found" -gt 0 ] || found=1
	echo "# $h: ${execs:-0} executions in $((SECONDS - start)) s, ${cov:-cov: ?}," \
		"corpus $(find "$work" -type f | wc -l) inputs, $found findings"
	if [ "$rc" -eq 0 ] && [ "$found" -eq 0 ]; then
		PASSED=$((PASSED + 1))
		echo "ok - $h"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - $h (exit $rc; log $OUT/$h.log)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written)' \
			"$OUT/$h.log" | head -n 20 | sed 's/^/#   | /'
	fi
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
