#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Repair never destroys what it could keep (issue 11). An image with a few
# hundred files of every kind is damaged, one metadata area at a time on a
# fresh copy (pfs_damage: bit flips and zeroed blocks); fsck.pmemfs -y must
# repair it, fsck.pmemfs -n must then find it clean, and after a mount every
# file whose own inode and data were not hit must still be there with the same
# content (anywhere, lost+found included: files are matched by inode number).
# Then random damage in three metadata blocks, for REPAIR_SEEDS seeds: how many
# are left unrepaired is reported; fsck saying "fixed" while fsck -n still
# finds problems fails the test.
. "$(dirname "$0")/lib.sh"

DAMAGE=${PFS_DAMAGE:-$BUILD_DIR/tests/integration/pfs_damage}
SEEDS=${REPAIR_SEEDS:-60}
GOLD=$SCRATCH/gold.img
WANT=$SCRATCH/want
P=$MNT/pools

# ---- an image with files of every kind ----

# "INO sha" per regular file, "INO -> target" per symlink, xattrs per file.
manifest() {
	(cd "$1" && find . -xdev \( -type f -o -type l \) -printf '%i %y %p\n' | sort -u -k1,1 |
		while read -r ino type path; do
			if [ "$type" = l ]; then
				echo "$ino -> $(readlink "$path")"
			else
				echo "$ino $(sha256sum <"$path" | cut -c1-64)"
			fi
		done | sort)
}

populate() {
	local i d k
	for d in $(seq 0 9); do
		mkdir -p "$P/d$d/s0/t" "$P/d$d/s1" "$P/d$d/s2"
	done
	# 150 names in one directory: more than one bucket
	for i in $(seq 0 149); do
		head -c $((i * 97 % 9000)) /dev/urandom >"$P/d0/small$i"
	done
	for i in $(seq 0 99); do
		head -c $((i * 331 % 20000 + 1)) /dev/urandom >"$P/d$((i % 10))/s$((i % 3))/f$i"
	done
	# holes between 4 KiB pieces: more extents than the inode holds, a tree
	for i in $(seq 0 5); do
		truncate -s 1M "$P/d$i/sparse"
		for k in $(seq 0 2 60); do
			head -c 4096 /dev/urandom |
				dd of="$P/d$i/sparse" bs=4096 seek=$k conv=notrunc status=none
		done
	done
	for i in 0 1 2; do
		head -c $(((i + 1) << 20)) /dev/urandom >"$P/d$i/s0/t/big$i"
	done
	for i in $(seq 0 29); do
		ln -s "../s$((i % 3))/f$i" "$P/d$((i % 10))/s1/link$i"
	done
	for i in $(seq 0 39); do
		setfattr -n user.k$i -v "value-$i" "$P/d$((i % 10))/s$((i % 3))/f$i" || return 1
	done
	for i in $(seq 0 19); do
		ln "$P/d0/small$((i + 10))" "$P/d$((i % 10))/s2/hard$i"
	done
}

require "mkfs a 64 MiB image" "$MKFS" -q -s 64M "$IMG"
require "mount" pfs_mount
require "populate it with a few hundred files" populate
manifest "$P" >"$WANT"
check "the manifest lists them" test "$(wc -l <"$WANT")" -ge 280
require "unmount" pfs_umount
check_rc 0 "fsck -n finds the populated image clean" "$FSCK" -n "$IMG"
cp --sparse=always "$IMG" "$GOLD"

# ---- one area at a time ----

# After fsck -y exit 4: what fsck -n still finds is only about the inodes the
# damage hit (fsck may leave what it cannot repair, but must say so).
only_lost_left() {
	local slot
	grep -v -e ': run fsck.pmemfs -y' -e 'problems\?, ' "$SCRATCH/fsck.n" >"$SCRATCH/left"
	[ -s "$SCRATCH/left" ] || return 1
	while read -r _ ino; do
		slot=$((ino & 0xffffffff))
		sed -i "/^inode $slot: /d" "$SCRATCH/left"
	done < <(grep '^lost ' "$SCRATCH/damage")
	if [ -s "$SCRATCH/left" ]; then
		sed 's/^/#   | /' "$SCRATCH/left"
		return 1
	fi
	grep -v -e ': run fsck.pmemfs -y' -e 'problems\?, ' "$SCRATCH/fsck.n" >"$SCRATCH/left"
}

# repair_one AREA MODE SEED: prints "area mode kept/expected" and checks.
TABLE=$SCRATCH/table
repair_one() {
	local area=$1 mode=$2 seed=$3 rc kept expected
	cp --sparse=always "$GOLD" "$IMG"
	"$DAMAGE" "$IMG" "$area" "$mode" "$seed" >"$SCRATCH/damage" || {
		skip "$area $mode" "the image has no such structure"
		return
	}
	"$FSCK" -y "$IMG" >"$SCRATCH/fsck.y" 2>&1
	rc=$?
	"$FSCK" -n "$IMG" >"$SCRATCH/fsck.n" 2>&1
	nrc=$?
	if [ "$rc" -le 2 ]; then
		lib_pass "$area $mode: fsck -y repairs it (exit $rc)"
		check "$area $mode: fsck -n then finds it clean" test "$nrc" -eq 0
	elif [ "$rc" -eq 4 ] && only_lost_left; then
		lib_pass "$area $mode: fsck -y repairs all but the damaged inode, which it names (exit 4)"
		sed 's/^/# left: /' "$SCRATCH/left"
	else
		lib_fail "$area $mode: fsck -y repairs it" "exit $rc"
		sed 's/^/#   | /' "$SCRATCH/fsck.y" | head -20
	fi
	if ! pfs_mount; then
		lib_fail "$area $mode: mounts after the repair" "mount failed"
		pfs_kill_server
		printf '%-8s %-5s no mount\n' "$area" "$mode" >>"$TABLE"
		return
	fi
	manifest "$P" >"$SCRATCH/got"
	pfs_umount
	grep '^lost ' "$SCRATCH/damage" | cut -d' ' -f2 >"$SCRATCH/lost"
	grep -v -F -w -f "$SCRATCH/lost" "$WANT" >"$SCRATCH/expect" || true
	[ -s "$SCRATCH/lost" ] || cp "$WANT" "$SCRATCH/expect"
	expected=$(wc -l <"$SCRATCH/expect")
	kept=$(grep -c -x -F -f "$SCRATCH/got" "$SCRATCH/expect")
	check "$area $mode: every file whose inode and data survived is kept ($kept/$expected)" \
		test "$kept" -eq "$expected"
	[ "$kept" -eq "$expected" ] || diff "$SCRATCH/expect" "$SCRATCH/got" | head -10 | sed 's/^/#   | /'
	printf '%-8s %-5s %4s/%s\n' "$area" "$mode" "$kept" "$expected" >>"$TABLE"
}

: >"$TABLE"
for area in super replica state journal ibitmap bbitmap bcsum itable root bucket node xattr; do
	for mode in flip zero; do
		repair_one "$area" "$mode" 1
	done
done
# a second pick of the structures that differ from file to file
for area in itable bucket node xattr; do
	for mode in flip zero; do
		repair_one "$area" "$mode" 2
	done
done
echo "# area     mode  files kept/expected"
sed 's/^/# /' "$TABLE"

# ---- a damaged block bitmap is never used at run time (finding 3) ----

cp --sparse=always "$GOLD" "$IMG"
"$DAMAGE" "$IMG" bbitmap zero 1 >/dev/null
require "mount an image whose block bitmap was zeroed" pfs_mount
check_err "a new file cannot take blocks the damaged bitmap calls free" \
	"Structure needs cleaning" bash -c 'head -c 100000 /dev/urandom >"$1/new"' _ "$P"
check_err "the mount is read-only from then on" "Read-only" touch "$P/another"
manifest "$P" >"$SCRATCH/got"
check "and every file is intact" bash -c '! grep -v -x -F -f "$1" "$2" | grep -q .' _ \
	"$SCRATCH/got" "$WANT"
require "unmount" pfs_umount
check_rc 1 "fsck -y rebuilds the bitmap from the inodes (exit 1)" "$FSCK" -y "$IMG"
check_rc 0 "fsck -n then finds it clean" "$FSCK" -n "$IMG"
require "mount again" pfs_mount
check "a new file gets blocks of its own" bash -c 'head -c 100000 /dev/urandom >"$1/new2"' _ "$P"
manifest "$P" >"$SCRATCH/got"
check "and every old file is still intact" bash -c '! grep -v -x -F -f "$1" "$2" | grep -q .' \
	_ "$SCRATCH/got" "$WANT"
require "unmount" pfs_umount

# ---- random damage ----

unrepaired=0
false_fixed=0
for seed in $(seq 1 "$SEEDS"); do
	cp --sparse=always "$GOLD" "$IMG"
	"$DAMAGE" "$IMG" random "$seed" >"$SCRATCH/damage"
	"$FSCK" -y "$IMG" >"$SCRATCH/fsck.y" 2>&1
	rc=$?
	if [ "$rc" -eq 8 ] && grep -q 'superblock: .*; replica: ' "$SCRATCH/fsck.y"; then
		unrepaired=$((unrepaired + 1))
		echo "# seed $seed: left unrepaired: both superblocks damaged (fsck exit 8)"
		continue
	fi
	if [ "$rc" -ge 8 ]; then
		lib_fail "seed $seed: fsck -y ran" "exit $rc"
		sed 's/^/#   | /' "$SCRATCH/fsck.y" | tail -5
		continue
	fi
	"$FSCK" -n "$IMG" >"$SCRATCH/fsck.n" 2>&1
	nrc=$?
	if [ "$rc" -ge 4 ]; then
		unrepaired=$((unrepaired + 1))
		echo "# seed $seed: left unrepaired: $(grep -v -e 'fixed\]' -e warning "$SCRATCH/fsck.y" | head -1)"
	elif [ "$nrc" -ne 0 ]; then
		false_fixed=$((false_fixed + 1))
		echo "# seed $seed: fsck -y exit $rc, but fsck -n still finds:"
		sed 's/^/#   | /' "$SCRATCH/fsck.n" | head -5
	fi
done
echo "# random damage: $SEEDS seeds, $unrepaired left unrepaired (fsck -y exit 4 or 8)"
check "random damage: fsck -y never says fixed when fsck -n still finds problems" \
	test "$false_fixed" -eq 0

finish
