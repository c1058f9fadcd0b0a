#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install what pmemfs needs, on Debian 12 "bookworm", 13 "trixie" or testing.
#
#   scripts/deps.sh           build and run: compiler, meson, the libraries,
#                             fuse3 (what scripts/demo.sh needs)
#   scripts/deps.sh --suites  that, plus the tools the unit and integration
#                             suites call (what the release chroots install)
#   scripts/deps.sh --test    that, plus the whole test bench: QEMU and a
#                             kernel image, the NFS server, clang and its
#                             sanitizer/fuzzer runtime, stress tools
#                             (what scripts/test.sh needs)
#   scripts/deps.sh --list [--suites | --test]
#                             print the names resolved for this release, one
#                             a line, after checking the archive has each;
#                             installs nothing
#
# Package names are the same on every release but one, resolved here from the
# release's own archive: clang's runtime (libclang-rt-NN-dev) follows the
# release's default clang-NN. A name the release lacks stops the script with
# one line before apt runs.
#
# Runs apt by default so a fresh machine works; PMEMFS_SKIP_APT=1 skips it
# when every package is already installed.
set -euo pipefail

KIND=run
LIST=0
for arg in "$@"; do
	case $arg in
	--suites) KIND=suites ;;
	--test) KIND=test ;;
	--list) LIST=1 ;;
	*)
		echo "usage: scripts/deps.sh [--list] [--suites | --test]" >&2
		exit 2
		;;
	esac
done

# (a) Build and run.
RUN_PKGS=(
	meson ninja-build pkg-config gcc libc6-dev
	libfuse3-dev fuse3 libpmem-dev libndctl-dev libdaxctl-dev liburing-dev
	libjson-c-dev uuid-dev libcmocka-dev
	util-linux procps coreutils
)
# libc6-dev: gcc only recommends it, and we install without recommends.
# libcmocka-dev: meson setup wants it (the unit tests are part of the build).
# fuse3: fusermount3 and the mount.fuse3 helper.
# util-linux, procps: mountpoint and pgrep, which the demo uses.

# (b1) What the unit and integration suites call.
SUITE_PKGS=(
	pmdk-tools attr fio stress-ng e2fsprogs ndctl daxctl jq
	man-db groff-base python3
)
# pmdk-tools: pmempool (test_pmempool). attr: getfattr/setfattr.
# fio, stress-ng: load in test_concurrency, test_uring, test_zerocopy.
# e2fsprogs: mkfs.ext4 (test_tools, test_install). jq: --json output checks.
# man-db, groff-base: test_man renders the manual pages with warnings on.
# python3: test_install reads the installed tree's listing.

# (b2) The rest of the test bench (tests/vm, tests/fuzz, the sanitizer builds).
BENCH_PKGS=(
	qemu-system-x86 linux-image-amd64 busybox-static
	cpio kmod xz-utils
	nfs-kernel-server nfs-common rpcbind iproute2
	clang
	mmdebstrap
)
# qemu-system-x86 .. xz-utils: the VM tests (tests/vm/): QEMU boots
# linux-image-amd64 with a busybox-static initramfs (cpio; modprobe from kmod;
# xz to unpack vmlinux); ndctl, daxctl and jq run inside the guest.
# nfs-kernel-server .. iproute2: tests/vm/guest/test_nfs.sh starts rpcbind,
# rpc.mountd and nfsd inside the guest, from the host's userland; the host
# itself serves nothing (see below).
# clang and libclang-rt-NN-dev (added below, NN from the release's clang):
# the libFuzzer harnesses (tests/fuzz/run.sh).
# mmdebstrap: scripts/chroot.sh makes the Debian 13 and testing chroots.

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps: run as root (or install sudo)" >&2; exit 1; }
	SUDO=(sudo)
fi

# The default clang's major version, from the archive (clang depends on
# clang-NN), or from the installed clang when apt is skipped.
clang_major() {
	local nn
	nn=$(apt-cache depends clang 2>/dev/null |
		sed -n 's/^ *Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n 1)
	if [ -z "$nn" ] && command -v clang >/dev/null; then
		nn=$(clang -dumpversion | cut -d. -f1)
	fi
	echo "$nn"
}

# Names apt cannot install here, one a line.
missing_in_archive() {
	local p
	for p in "$@"; do
		apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || echo "$p"
	done
}

all_installed() {
	local status
	status=$(dpkg-query -W -f='${db:Status-Status}\n' "$@" 2>/dev/null) || return 1
	! grep -qvx installed <<<"$status"
}

# PKGS: the packages of this KIND; after apt-get update, so that clang's
# version comes from the archive.
resolve() {
	PKGS=("${RUN_PKGS[@]}")
	case $KIND in
	suites) PKGS+=("${SUITE_PKGS[@]}") ;;
	test)
		PKGS+=("${SUITE_PKGS[@]}" "${BENCH_PKGS[@]}")
		local nn
		nn=$(clang_major)
		if [ -z "$nn" ]; then
			echo "deps: cannot tell this release's clang version (apt-cache depends clang)" >&2
			exit 1
		fi
		PKGS+=("libclang-rt-$nn-dev")
		;;
	esac
}

if [ "${PMEMFS_SKIP_APT:-0}" = 1 ] && [ "$LIST" = 0 ]; then
	resolve
	if all_installed "${PKGS[@]}"; then
		echo "deps: all packages installed; skipping apt (PMEMFS_SKIP_APT=1)"
		exit 0
	fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
resolve
missing=$(missing_in_archive "${PKGS[@]}")
if [ -n "$missing" ]; then
	echo "deps: not in this release's archive: $(echo $missing)" >&2
	exit 1
fi
if [ "$LIST" = 1 ]; then
	printf '%s\n' "${PKGS[@]}"
	exit 0
fi
if all_installed "${PKGS[@]}"; then
	echo "deps: all ${#PKGS[@]} packages installed ($KIND)"
	exit 0
fi
had_nfs_server=0
dpkg-query -W -f='${db:Status-Status}' nfs-kernel-server 2>/dev/null | grep -qx installed &&
	had_nfs_server=1
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends "${PKGS[@]}"
# The NFS packages are here only for the VM guest's userland. If this run
# installed them and systemd started the server on this machine, stop it
# and keep it off; a server that was installed before is left alone.
if [ "$KIND" = test ] && [ "$had_nfs_server" = 0 ] && [ -d /run/systemd/system ]; then
	"${SUDO[@]}" systemctl disable --now nfs-server.service rpcbind.service rpcbind.socket \
		>/dev/null 2>&1 || true
fi
