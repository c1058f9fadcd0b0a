#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `meson install` into a staging directory (--destdir), then the installed
# binaries, run from there:
#
#   PREFIX/sbin/pmemfs, mkfs.pmemfs, fsck.pmemfs   where mount.fuse3 (the
#       shell's default PATH), mkfs(8) and fsck(8) find them once installed;
#       sbin, as for mkfs.ext4/fsck.ext4: they serve the administrator
#   PREFIX/share/doc/pmemfs/examples/mnt-pm.mount, 60-pmemfs-dax.rules
#       the systemd mount unit example (checked with systemd-analyze verify
#       where systemd is installed) and the udev rule it needs for devdax
#   PREFIX/share/man/man8/*.8   the man pages, once man/meson.build exists
#
# PREFIX is the build's prefix (meson's default /usr/local). Nothing is
# installed on the machine itself.
# shellcheck disable=SC2016 # bash -c programs, not this shell's
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
STAGE=$SCRATCH/stage
INTRO=$SCRATCH/intro.json

meson_opt() {
	# meson introspect --buildoptions: one option's value
	python3 -c 'import json, sys
for o in json.load(open(sys.argv[1])):
    if o["name"] == sys.argv[2]:
        print(o["value"])' "$INTRO" "$1"
}

require "meson introspect the build's options" \
	bash -c 'meson introspect --buildoptions "$1" >"$2"' _ "$BUILD_DIR" "$INTRO"
PREFIX=$(meson_opt prefix)
SBINDIR=$(meson_opt sbindir)
DATADIR=$(meson_opt datadir)
MANDIR=$(meson_opt mandir)
# Relative option values are under the prefix.
for v in SBINDIR DATADIR MANDIR; do
	[[ ${!v} == /* ]] || printf -v "$v" '%s/%s' "$PREFIX" "${!v}"
done
echo "# prefix $PREFIX, sbindir $SBINDIR, datadir $DATADIR, mandir $MANDIR"
S=$STAGE$SBINDIR
EX=$STAGE$DATADIR/doc/pmemfs/examples

# --no-rebuild: the build is meson test's to make; we only copy it.
require "meson install --destdir STAGE" \
	meson install -C "$BUILD_DIR" --no-rebuild --destdir "$STAGE"

# ---- the file list ----

for b in pmemfs mkfs.pmemfs fsck.pmemfs; do
	check "$b is installed in $SBINDIR, executable" test -x "$S/$b"
done
check "the mount unit example is installed" test -f "$EX/mnt-pm.mount"
check "the udev rule for devdax is installed" test -f "$EX/60-pmemfs-dax.rules"
check "nothing lands outside the prefix" \
	bash -c '[ -z "$(find "$1" -mindepth 1 -path "$1$2" -prune -o -type f -print -quit)" ]' \
	_ "$STAGE" "$PREFIX"
# Every installed program is in sbindir, and no test program is installed.
check_out "every installed program is in $SBINDIR" "" \
	bash -c 'find "$1" -type f -perm -u+x ! -path "$1$2/*" | sed "s|^$1||"' _ "$STAGE" "$SBINDIR"
check_out "no test program is installed" "" \
	bash -c 'find "$1" -type f -perm -u+x | sed "s|.*/||" | grep -vE "^(pmemfs|mkfs\.pmemfs|fsck\.pmemfs|pmemfs-[a-z]+)$" || true' \
	_ "$STAGE"

if [ -f "$SRC_DIR/man/meson.build" ]; then
	for m in "$SRC_DIR"/man/*.8; do
		m=$(basename "$m")
		check "man page $m is installed in $MANDIR/man8" \
			bash -c 'test -f "$1" || test -f "$1.gz"' _ "$STAGE$MANDIR/man8/$m"
	done
else
	skip "man pages are installed" "no man/meson.build yet"
fi

# ---- the installed binaries ----

check "installed pmemfs --version" "$S/pmemfs" --version
check_out "it names this version" "pmemfs $(meson introspect --projectinfo "$BUILD_DIR" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')" \
	bash -c '"$1" --version | head -n 1' _ "$S/pmemfs"
check "installed mkfs.pmemfs -V" "$S/mkfs.pmemfs" -V
if [ -e "$S/pmemfs-info" ]; then
	check "installed pmemfs-info --help" "$S/pmemfs-info" --help
fi
check "installed mkfs.pmemfs makes an image" "$S/mkfs.pmemfs" -q -s 256M "$IMG"
check_rc 0 "installed fsck.pmemfs -n: clean" "$S/fsck.pmemfs" -n "$IMG"

# pfs_mount runs $PMEMFS: the installed one.
PMEMFS=$S/pmemfs
random_file "$SCRATCH/data" $((1024 * 1024 + 11))
want=$(sha "$SCRATCH/data")
require "the installed pmemfs mounts the image" pfs_mount
check "its server is the installed binary" \
	bash -c '[ "$(readlink "/proc/$1/exe")" = "$2" ]' _ "$SERVER_PID" "$S/pmemfs"
check "write a file" dd if="$SCRATCH/data" of="$MNT/pools/data" bs=256K conv=fsync status=none
check_out "read it back" "$want" sha "$MNT/pools/data"
check "clean unmount (server exits 0)" pfs_umount
require "mount again" pfs_mount
check_out "the file survives the remount" "$want" sha "$MNT/pools/data"
check "clean unmount" pfs_umount
check_rc 0 "installed fsck.pmemfs -n: clean after use" "$S/fsck.pmemfs" -n "$IMG"

# ---- the systemd mount unit ----

if ! command -v systemd-analyze >/dev/null; then
	skip "systemd-analyze verify mnt-pm.mount" "systemd-analyze is not installed (package systemd)"
else
	UNITS=$SCRATCH/units
	mkdir -p "$UNITS"
	cp "$EX/mnt-pm.mount" "$UNITS/"
	# Documentation=man:pmemfs(8) is checked against the staged man pages if
	# there are any (and man is there to read them); otherwise not.
	man_arg=--man=no
	if command -v man >/dev/null && [ -f "$STAGE$MANDIR/man8/pmemfs.8" ]; then
		man_arg=--man=yes
	fi
	# It warns (and still exits 0) about bad settings: no output is the test.
	# The device need not exist: verify does not look for it.
	check_out "systemd-analyze verify mnt-pm.mount: no complaints" "" \
		env MANPATH="$STAGE$MANDIR" systemd-analyze verify "$man_arg" "$UNITS/mnt-pm.mount"
	check "the unit mounts fuse.pmemfs on /mnt/pm" \
		grep -qx 'Type=fuse.pmemfs' "$UNITS/mnt-pm.mount"
	# And the check has teeth: the same unit under another name is refused.
	cp "$UNITS/mnt-pm.mount" "$UNITS/mnt-other.mount"
	check_err "verify refuses a unit whose name does not match Where=" "doesn't match unit name" \
		systemd-analyze verify --man=no "$UNITS/mnt-other.mount"
fi

finish
