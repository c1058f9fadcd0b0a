#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The benchmark from a fresh clone (as root, on Debian 12): install the
# dependencies (scripts/deps.sh, which includes fio and jq), build an
# optimised server in build-bench/, and run bench/run.sh with the arguments
# given here (--quick, --json FILE, --reps N). It reports; it never fails on
# a number.
set -euo pipefail

cd "$(dirname "$0")/.."
./scripts/deps.sh
if [ ! -d build-bench ]; then
	meson setup build-bench --buildtype=release
fi
meson compile -C build-bench
BUILD_DIR=$PWD/build-bench exec ./bench/run.sh "$@"
