#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install what pmemfs needs to build and test on Debian 12. Runs apt by
# default so a fresh machine works; PMEMFS_SKIP_APT=1 skips it when every
# package is already installed.
set -euo pipefail

PKGS=(
	meson ninja-build pkg-config gcc libc6-dev
	libfuse3-dev fuse3 libpmem-dev libndctl-dev libdaxctl-dev liburing-dev
	libcmocka-dev libjson-c-dev uuid-dev pmdk-tools attr fio stress-ng
	e2fsprogs util-linux coreutils procps
	qemu-system-x86 linux-image-amd64 busybox-static ndctl daxctl jq
	cpio kmod xz-utils
	nfs-kernel-server nfs-common rpcbind iproute2
	clang libclang-rt-14-dev
	man-db groff-base
)
# libc6-dev: gcc only recommends it, and we install without recommends.
# procps: pgrep, used by the integration tests to find stray servers.
# qemu-system-x86 .. xz-utils: the VM tests (tests/vm/): QEMU boots
# linux-image-amd64 with a busybox-static initramfs (cpio; modprobe from kmod;
# xz to unpack vmlinux); ndctl, daxctl and jq run inside the guest.
# nfs-kernel-server .. iproute2: tests/vm/guest/test_nfs.sh starts rpcbind,
# rpc.mountd and nfsd inside the guest, from the host's userland; the host
# itself serves nothing (see below).
# clang, libclang-rt-14-dev: the libFuzzer harnesses (tests/fuzz/run.sh).
# man-db, groff-base: test_man renders the manual pages (man/) with warnings on.

all_installed() {
	local status
	status=$(dpkg-query -W -f='${db:Status-Status}\n' "${PKGS[@]}" 2>/dev/null) || return 1
	! grep -qvx installed <<<"$status"
}

if [ "${PMEMFS_SKIP_APT:-0}" = 1 ] && all_installed; then
	echo "deps: all packages installed; skipping apt (PMEMFS_SKIP_APT=1)"
	exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps: run as root (or install sudo)" >&2; exit 1; }
	SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
had_nfs_server=0
dpkg-query -W -f='${db:Status-Status}' nfs-kernel-server 2>/dev/null | grep -qx installed &&
	had_nfs_server=1
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends "${PKGS[@]}"
# The NFS packages are here only for the VM guest's userland. If this run
# installed them and systemd started the server on this machine, stop it
# and keep it off; a server that was installed before is left alone.
if [ "$had_nfs_server" = 0 ] && [ -d /run/systemd/system ]; then
	"${SUDO[@]}" systemctl disable --now nfs-server.service rpcbind.service rpcbind.socket \
		>/dev/null 2>&1 || true
fi
