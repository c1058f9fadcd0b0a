#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build and test pmemfs in a chroot of another Debian release.
#
#   scripts/chroot.sh RELEASE              build with -Dwerror=true and run the
#                                          unit and integration suites
#   scripts/chroot.sh RELEASE COMMAND...   run COMMAND in the chroot instead
#                                          (in /src: e.g. bash, scripts/demo.sh)
#   scripts/chroot.sh --path RELEASE       print the chroot's directory
#
# RELEASE is a suite or code name of Debian's archive: trixie (13), testing,
# forky, bookworm (12). The chroot is made with mmdebstrap from
# deb.debian.org, with what `scripts/deps.sh --suites` resolves for that
# release, and kept in /var/cache/pmemfs/chroot-RELEASE
# (PMEMFS_CHROOT_CACHE); it is reused, after an apt-get upgrade, while it is
# younger than PMEMFS_CHROOT_MAX_AGE days (7), and made anew after that.
#
# Only /dev/fuse, /dev/shm, /proc and /sys are bound in, and the source tree
# read-only on /src; the build directory is /root/build inside the chroot,
# made afresh on each run. The mounts live in a private mount namespace, so
# none of them (nor the FUSE mounts of the tests) shows in the host's mount
# table, and they go with it on every exit path. Must run as root.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${PMEMFS_CHROOT_CACHE:-/var/cache/pmemfs}
MAX_AGE=${PMEMFS_CHROOT_MAX_AGE:-7}
MIRROR=${PMEMFS_MIRROR:-http://deb.debian.org/debian}
STAMP=.pmemfs-chroot
BIND_DIRS=(/dev/shm /proc /sys)

usage() {
	echo "usage: scripts/chroot.sh [--path] RELEASE [COMMAND...]" >&2
	exit 2
}

say() { echo "chroot $RELEASE: $*"; }
die() {
	echo "chroot ${RELEASE:-}: $*" >&2
	exit 1
}

# --- inside the private mount namespace ---------------------------------

ns_umount_all() {
	local m
	for m in /src /dev/fuse "${BIND_DIRS[@]}" ''; do
		umount -l "$ROOT$m" 2>/dev/null || true
	done
}

# ns_enter ROOT COMMAND...: bind the host's pieces in, run COMMAND in the
# chroot with a clean environment, unbind.
ns_enter() {
	local d
	trap ns_umount_all EXIT
	# Nothing mounted here reaches the host's namespace, nor comes back.
	mount --make-rprivate /
	# The root a mount point of its own, as / is outside: tools such as
	# unshare --propagation (test_mount_helper) want one.
	mount --bind "$ROOT" "$ROOT"
	for d in "${BIND_DIRS[@]}"; do
		mkdir -p "$ROOT$d"
		mount --bind "$d" "$ROOT$d"
	done
	[ -e "$ROOT/dev/fuse" ] || touch "$ROOT/dev/fuse"
	mount --bind /dev/fuse "$ROOT/dev/fuse"
	mkdir -p "$ROOT/src"
	mount --bind "$SRC" "$ROOT/src"
	mount -o remount,bind,ro "$ROOT/src"
	cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
	local rc=0
	chroot "$ROOT" /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" TMPDIR=/dev/shm \
		PMEMFS_BUILD_DIR=/root/build \
		CI="${CI:-}" DEBIAN_FRONTEND=noninteractive \
		/bin/bash -c 'cd /src && exec "$@"' chroot "$@" || rc=$?
	return "$rc"
}

# --- on the host ----------------------------------------------------------

# in_chroot COMMAND...: run COMMAND in the chroot, in its own namespace.
# In the background with a wait, so that a signal to this script is taken at
# once (bash defers traps while a foreground child runs); stdin stays the
# terminal's, for `scripts/chroot.sh RELEASE bash`.
in_chroot() {
	local rc=0
	unshare --mount --propagation private -- \
		"$SRC/scripts/chroot.sh" --in-namespace "$RELEASE" "$ROOT" "$@" <&0 &
	wait $! || rc=$?
	kill_leftovers
	return "$rc"
}

# Processes still running in the chroot when the command ends (a server the
# tests left behind keeps the namespace and its mounts alive): end them.
chroot_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && echo "${p#/proc/}"
	done
	return 0
}
kill_leftovers() {
	local pids
	pids=$(chroot_pids)
	[ -n "$pids" ] || return 0
	say "ending processes left in the chroot: $(echo $pids)"
	kill $pids 2>/dev/null || true
	sleep 2
	pids=$(chroot_pids)
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

fresh() {
	[ -f "$ROOT/$STAMP" ] && [ -z "$(find "$ROOT/$STAMP" -mmin +$((MAX_AGE * 1440)))" ]
}

create() {
	if ! command -v mmdebstrap >/dev/null; then
		say "installing mmdebstrap on this machine"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			mmdebstrap >/dev/null || die "cannot install mmdebstrap"
	fi
	local t0=$SECONDS final=$ROOT
	rm -rf "$ROOT.new"
	say "making $ROOT from $MIRROR"
	# Check-Valid-Until: testing's Release file is valid for a week only;
	# a machine whose clock runs ahead of the mirror (or a snapshot of the
	# archive) would otherwise refuse it. The signatures are still checked.
	mmdebstrap --variant=minbase --quiet \
		--aptopt='Acquire::Retries "3"' --aptopt='Acquire::Check-Valid-Until "false"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		"$RELEASE" "$ROOT.new" "$MIRROR" ||
		{ rm -rf "$ROOT.new"; die "mmdebstrap $RELEASE failed"; }
	ROOT=$ROOT.new
	if ! in_chroot scripts/deps.sh --suites >"$LOG" 2>&1; then
		tail -n 20 "$LOG" >&2
		rm -rf "$ROOT"
		ROOT=$final
		die "installing the packages (scripts/deps.sh --suites) failed; see $LOG"
	fi
	date -u +%FT%TZ >"$ROOT/$STAMP"
	ROOT=$final
	rm -rf "$ROOT"
	mv "$ROOT.new" "$ROOT"
	say "made in $((SECONDS - t0)) s"
}

refresh() {
	local t0=$SECONDS
	say "reusing $ROOT (made $(cat "$ROOT/$STAMP")); apt-get upgrade"
	if ! in_chroot /bin/sh -c 'apt-get update -qq && apt-get -y -q upgrade &&
			scripts/deps.sh --suites' >"$LOG" 2>&1; then
		tail -n 20 "$LOG" >&2
		die "apt-get upgrade or scripts/deps.sh --suites failed; see $LOG"
	fi
	say "refreshed in $((SECONDS - t0)) s"
}

main() {
	PRINT_PATH=0
	if [ "${1:-}" = --path ]; then
		PRINT_PATH=1
		shift
	fi
	[ $# -ge 1 ] || usage
	RELEASE=$1
	shift
	case $RELEASE in
	*[!a-z0-9-]* | '') usage ;;
	esac
	ROOT=$CACHE/chroot-$RELEASE
	LOG=$CACHE/chroot-$RELEASE.log
	if [ "$PRINT_PATH" = 1 ]; then
		echo "$ROOT"
		exit 0
	fi
	[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap, chroot, mount)"
	[ -c /dev/fuse ] || die "no /dev/fuse on this machine"

	# Interrupted or not, nothing started in the chroot outlives the run.
	trap kill_leftovers EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	mkdir -p "$CACHE"
	# One run at a time per release.
	exec 9>"$CACHE/chroot-$RELEASE.lock"
	flock 9

	if fresh; then
		refresh
	else
		create
	fi

	if [ $# -eq 0 ]; then
		set -- /bin/sh -ec '
			echo "chroot: $(. /etc/os-release; echo "$PRETTY_NAME"), $(gcc --version | head -n 1),"\
				"libfuse $(pkg-config --modversion fuse3), kernel $(uname -r)"
			rm -rf /root/build
			meson setup /root/build /src -Dwerror=true >/root/setup.log ||
				{ cat /root/setup.log; exit 1; }
			meson compile -C /root/build
			meson test -C /root/build --print-errorlogs --suite unit --suite integration'
	fi
	t0=$SECONDS
	rc=0
	in_chroot "$@" || rc=$?
	say "exit $rc after $((SECONDS - t0)) s"
	if grep -qF " $ROOT/" /proc/self/mountinfo; then
		echo "chroot $RELEASE: mounts left in the host's table:" >&2
		grep -F " $ROOT/" /proc/self/mountinfo >&2
		rc=1
	fi
	exit "$rc"
}

# Bash reads a script as it runs it: everything above is only definitions,
# so editing this file under a running copy cannot derail it.
if [ "${1:-}" = --in-namespace ]; then
	RELEASE=$2 ROOT=$3
	shift 3
	ns_enter "$@"
	exit
fi
main "$@"
exit
