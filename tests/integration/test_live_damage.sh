#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Live damage (issue 11): a mounted image is damaged while it is in use and
# the mount must neither crash nor hang. For each seed: format and populate
# an image (directories of one and of several buckets, a fragmented file with
# an extent tree, xattrs, symlinks, hard links, an open unlinked file on the
# orphan list), then for a few seconds a second process overwrites random
# bytes and targeted fields of the image file (superblock, state block and
# orphan head, journal, bitmaps, inode-table entries, bucket headers and
# dirents, extent nodes, xattr blocks) while the mount is driven with every
# kind of command, each under a timeout. The server maps the image file
# MAP_SHARED, so every overwrite shows at once.
#
# Pass: no server dies by a signal (its exit status says so; the kernel log
# must not gain a segfault or trap of one of its threads), no command hangs,
# and at the end the mount either still works or is latched read-only with
# the "corruption:" line in its status file.
#
#   LIVE_DAMAGE_SEEDS=N          seeds to run (default 20: about a minute)
#   LIVE_DAMAGE_FIRST_SEED=S     the first seed (default 1); a seed replays
#   LIVE_DAMAGE_SECS=T           seconds of damage and load per seed (default 3)
#   LIVE_DAMAGE_HITS=H           at most H overwrites per seed (default 6)
#   LIVE_DAMAGE_KEEP_GOING=1     finish every seed after a crash or a hang
#
# The damage done is logged to $SCRATCH/damage.<seed> (KEEP_SCRATCH=1 keeps it).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ]; then
	export TMPDIR=/dev/shm
fi
SEEDS=${LIVE_DAMAGE_SEEDS:-20}
FIRST=${LIVE_DAMAGE_FIRST_SEED:-1}
SECS=${LIVE_DAMAGE_SECS:-3}
HITS=${LIVE_DAMAGE_HITS:-6}
: "${TEST_TIMEOUT:=$((SEEDS * 12 + 40 > 280 ? SEEDS * 12 + 40 : 280))}"
export TEST_TIMEOUT
CMD_TIMEOUT=30                  # a command this slow is a hang, even on a loaded host
. "$(dirname "$0")/lib.sh"

P=$MNT/pools
BS=4096
CRASHES=0
HANGS=0
LATCHED=0
WORKING=0
RUN=0
TIDS=$SCRATCH/tids
: >"$TIDS"

# ---- the image, read while mounted ----

u64() { od -An -tu8 -j "$1" -N8 "$IMG" | tr -d ' '; }
u16() { od -An -tu2 -j "$1" -N2 "$IMG" | tr -d ' '; }

geometry() {
	JSTART=$(u64 152) JBLOCKS=$(u64 160) IBSTART=$(u64 168) IBBLOCKS=$(u64 176)
	BBSTART=$(u64 184) BBBLOCKS=$(u64 192) ITSTART=$(u64 200) ITBLOCKS=$(u64 208)
	TOTAL=$(u64 136)
}

# inode_off SLOT: the byte offset of that inode in the table.
inode_off() { echo $((ITSTART * BS + $1 * 256)); }

slot_of() { echo $(($(stat -c %i "$1") & 0xffffffff)); }

# ---- damage: seeded, so a seed replays the same overwrites ----

rnd() { echo $(((RANDOM << 15 | RANDOM) % $1)); }

# bytes KIND LEN: printf escapes for LEN bytes of the chosen pattern.
bytes() {
	local kind=$1 len=$2 out="" i v
	for ((i = 0; i < len; i++)); do
		case $kind in
		0) v=$((RANDOM & 255)) ;;
		1) v=255 ;;
		2) v=0 ;;
		3) v=$(((i % 4 == 3) ? 127 : ((i < 4) ? 255 : 0))) ;;  # 0x7fffffff LE
		*) v=$(((i == 0) ? (RANDOM & 255) : 0)) ;;           # a small number
		esac
		out+=$(printf '\\x%02x' "$v")
	done
	printf '%s' "$out"
}

# poke OFF LEN WHAT: overwrite LEN bytes at OFF of the live image.
poke() {
	local off=$1 len=$2 what=$3 kind
	kind=$(rnd 5)
	[ "$off" -ge 0 ] && [ $((off + len)) -le $((TOTAL * BS)) ] || return 0
	echo "$what: $len bytes at $off, pattern $kind" >>"$DLOG"
	# shellcheck disable=SC2059 # the escapes are the data
	printf "$(bytes "$kind" "$len")" |
		dd of="$IMG" bs=1 seek="$off" conv=notrunc status=none 2>/dev/null
}

# A block an inode points at: ext[0].pblk, or its xattr block.
inode_block() {
	local ioff
	ioff=$(inode_off "$1")
	if [ "$2" = xattr ]; then u64 $((ioff + 96)); else u64 $((ioff + 152)); fi
}

damage_one() {
	local t s blk ioff
	t=$(rnd 16)
	case $t in
	0) poke "$(rnd $((TOTAL * BS)))" $((1 + $(rnd 16))) "random" ;;
	1) poke "$(rnd 512)" $((1 + $(rnd 8))) "superblock" ;;
	2) poke $((2 * BS + 8 * $(rnd 6))) 8 "state field" ;;
	3) poke $((2 * BS + 24)) 8 "orphan head" ;;
	4) poke $((JSTART * BS + $(rnd $((JBLOCKS * BS)))))  $((1 + $(rnd 16))) "journal" ;;
	5) poke $((IBSTART * BS + 8 * $(rnd 64))) 8 "inode bitmap" ;;
	6) poke $((BBSTART * BS + 8 * $(rnd 512))) 8 "block bitmap" ;;
	7 | 8)
		s=${SLOTS[$(rnd ${#SLOTS[@]})]}
		poke $(($(inode_off "$s") + 8 * $(rnd 32))) 8 "inode $s field" ;;
	9 | 10)
		s=${DIRS[$(rnd ${#DIRS[@]})]}
		blk=$(inode_block "$s" ext)
		[ "$blk" -gt 0 ] 2>/dev/null || return 0
		# a bucket: the header, or one of the first dirents' fields
		poke $((blk * BS + 8 * $(rnd 24))) $((2 + $(rnd 7))) "dir $s bucket $blk" ;;
	11)
		blk=$(inode_block "$FRAG" ext)
		[ "$blk" -gt 0 ] 2>/dev/null || return 0
		poke $((blk * BS + 8 * $(rnd 40))) $((2 + $(rnd 7))) "extent node $blk" ;;
	12)
		s=${XSLOTS[$(rnd ${#XSLOTS[@]})]}
		blk=$(inode_block "$s" xattr)
		[ "$blk" -gt 0 ] 2>/dev/null || return 0
		poke $((blk * BS + 4 * $(rnd 16))) $((1 + $(rnd 4))) "xattr block $blk" ;;
	13)
		# a dirent hash of all ones (finding 6) or a rec_len
		s=${DIRS[$(rnd ${#DIRS[@]})]}
		blk=$(inode_block "$s" ext)
		[ "$blk" -gt 0 ] 2>/dev/null || return 0
		poke $((blk * BS + 16 + 8 * $(rnd 3))) 8 "dirent of dir $s" ;;
	14)
		s=${SLOTS[$(rnd ${#SLOTS[@]})]}
		ioff=$(inode_off "$s")
		poke $((ioff + 136)) 4 "inode $s extent root" ;;
	*) poke $((ITSTART * BS + $(rnd $((ITBLOCKS * BS))))) $((1 + $(rnd 8))) "inode table" ;;
	esac
}

damager() {
	local seed=$1 end=$2 n
	RANDOM=$seed
	n=$((1 + $(rnd "$HITS")))
	# a few overwrites spread over the round, so the load meets each one
	while ((n-- > 0)) && ((SECONDS < end)); do
		damage_one
		sleep "0.$((1 + $(rnd 6)))"
	done
}

# ---- load: every kind of command, each under a timeout ----

# run CMD...: one command of the load; a timeout is a hang.
run() {
	local rc
	timeout -k 5 "$CMD_TIMEOUT" "$@" >/dev/null 2>&1 </dev/null
	rc=$?
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "# seed $SEED: hang: $*" | tee -a "$DLOG"
	fi
	return 0
}

load_round() {
	local i=$1
	run ls -lR "$P"
	run find "$P" -name '*1*'
	run stat "$P/d1/f1" "$P/big/n100" "$P/frag" "$P/sym"
	run cat "$P/d1/f2" "$P/frag" "$P/big/n7"
	run cp "$P/d1/f3" "$P/d1/copy$i"
	run mkdir "$P/new$i"
	run rm -f "$P/d1/f$((i % 30))"
	run mv "$P/big/n$((i % 300))" "$P/d1/moved$i"
	run ln "$P/d1/f4" "$P/hard$i"
	run ln -s "d1/f5" "$P/sym$i"
	run readlink "$P/sym"
	run setfattr -n user.k$i -v "value$i" "$P/d1/f6"
	run getfattr -d "$P/d1/f6" "$P/xa"
	run truncate -s $((i * 5000)) "$P/d1/f7"
	run bash -c "echo line $i >>'$P/d1/f8'"
	run bash -c "echo new $i >'$P/new$i/file'"
	run rm -rf "$P/new$((i - 2))"
	run cat "$MNT/status" "$MNT/status.json"
	run df "$MNT"
	run du -s "$P"
	if ((i % 4 == 0)); then
		run fio --name=ld --filename="$P/fio$i" --size=256k --bs=4k --rw=randrw \
			--ioengine=psync --numjobs=1 --output=/dev/null
	fi
}

# A second reader meanwhile: damage also lands while a request is under way.
reader() {
	local end=$1
	while ((SECONDS < end)); do
		run ls -lR "$P"
		run cat "$P/frag" "$P/d1/f9" "$P/big/n200"
		run getfattr -d "$P/xa"
	done
}

record_tids() {
	[ -n "$SERVER_PID" ] && ls "/proc/$SERVER_PID/task" >>"$TIDS" 2>/dev/null
	echo "$SERVER_PID" >>"$TIDS"
}

populate() {
	local i
	mkdir -p "$P/d1/d2/d3" "$P/big" && cd "$P" || return 1
	for i in $(seq 0 29); do head -c $((i * 700 + 1)) /dev/urandom >"d1/f$i"; done
	(cd big && touch $(seq -f 'n%g' 0 299)) || return 1
	# every other block: more extents than an inode holds, so a tree node
	for i in $(seq 0 2 300); do
		printf x | dd of=frag bs=1 seek=$((i * BS)) conv=notrunc status=none || return 1
	done
	echo hello >xa && setfattr -n user.a -v alpha xa && setfattr -n user.b -v beta d1/f1 &&
		ln -s d1/f0 sym && ln d1/f0 hard && echo gone >orphan || return 1
	cd / || return 1
}

# ---- one seed ----

seed_run() {
	local end pid rpid rc status ok=1
	SEED=$1
	DLOG=$SCRATCH/damage.$SEED
	: >"$DLOG"
	rm -f "$IMG"
	"$MKFS" -q -s 64M "$IMG" || return 1
	pfs_mount || return 1
	record_tids
	populate || { echo "# seed $SEED: populate failed"; return 1; }
	geometry
	FRAG=$(slot_of "$P/frag")
	DIRS=(1 "$(slot_of "$P/d1")" "$(slot_of "$P/big")" "$(slot_of "$P/d1/d2")")
	XSLOTS=("$(slot_of "$P/xa")" "$(slot_of "$P/d1/f1")")
	SLOTS=("${DIRS[@]}" "$FRAG" "${XSLOTS[@]}" "$(slot_of "$P/sym")" "$(slot_of "$P/orphan")")
	# an open unlinked file: the orphan list is not empty while damaged
	exec 8<"$P/orphan"
	rm -f "$P/orphan"
	end=$((SECONDS + SECS))
	damager "$SEED" "$end" &
	pid=$!
	reader "$end" &
	rpid=$!
	i=0
	while ((SECONDS < end)) && lib_alive "$SERVER_PID"; do
		i=$((i + 1))
		load_round "$i"
		record_tids
	done
	wait "$pid" "$rpid"
	exec 8<&-
	# the verdict: alive, no hang, and working or latched read-only with a reason
	if lib_alive "$SERVER_PID"; then
		run ls -lR "$P"
		status=$(timeout -k 5 "$CMD_TIMEOUT" cat "$MNT/status" 2>&1)
		if ! grep -q '^read-only: yes' <<<"$status"; then
			run bash -c "echo probe >'$P/probe' && grep -qx probe '$P/probe'"
			status=$(timeout -k 5 "$CMD_TIMEOUT" cat "$MNT/status" 2>&1)
		fi
		if grep -q '^read-only: yes' <<<"$status"; then
			if grep -q '^corruption: read-only since .*, first: ' <<<"$status"; then
				LATCHED=$((LATCHED + 1))
			else
				echo "# seed $SEED: read-only without the corruption line"
				ok=0
			fi
		elif timeout -k 5 "$CMD_TIMEOUT" grep -qx probe "$P/probe" 2>/dev/null; then
			WORKING=$((WORKING + 1))
		else
			echo "# seed $SEED: neither working nor latched read-only"
			grep -E '^(read-only|corruption):' <<<"$status" | sed 's/^/#   /'
			ok=0
		fi
		pfs_umount
		rc=$?
	else
		wait "$SERVER_PID"
		rc=$?
		SERVER_PID=
		fusermount3 -u -z "$MNT" 2>/dev/null
	fi
	if [ "$rc" -gt 128 ]; then
		CRASHES=$((CRASHES + 1))
		echo "# seed $SEED: server died by signal $((rc - 128)); damage done:"
		sed 's/^/#   /' "$DLOG"
		ok=0
	elif [ "$rc" -ne 0 ]; then
		echo "# seed $SEED: server exited with status $rc"
		ok=0
	fi
	if grep -q 'hang:' "$DLOG"; then
		HANGS=$((HANGS + $(grep -c 'hang:' "$DLOG")))
		ok=0
	fi
	RUN=$((RUN + 1))
	[ "$ok" = 1 ]
}

# Kernel-log lines of a segfault or trap in one of our servers' threads.
kernel_faults() {
	local since=$1
	dmesg 2>/dev/null | tail -n +"$((since + 1))" |
		grep -E 'segfault at|traps:|general protection' |
		grep -F -f <(sort -u "$TIDS" | grep -v '^$' | sed 's/.*/[&]/') || true
}

# status says read-only since when and why; status.json agrees.
latched_with() {
	grep -q '^read-only: yes' "$MNT/status" &&
		grep -q "^corruption: read-only since .*, first: .*$1" "$MNT/status" &&
		jq -e --arg w "$1" '.read_only and (.corruption.first | contains($w))' \
			"$MNT/status.json"
}

# Finding 5: the orphan-list head overwritten on a mounted image, then rm.
finding_orphan_head() {
	rm -f "$IMG"
	require "finding 5: mkfs" "$MKFS" -q -s 64M "$IMG"
	require "finding 5: mount" pfs_mount
	record_tids
	check "finding 5: files" bash -c "echo a >'$P/a' && echo b >'$P/b'"
	printf '\xff\xff\xff\x7f\0\0\0\0' |
		dd of="$IMG" bs=1 seek=8216 conv=notrunc status=none
	check_err "finding 5: rm fails with EUCLEAN" "Structure needs cleaning" \
		timeout 20 rm "$P/a"
	check "finding 5: latched read-only, status says why" latched_with "orphan list head"
	check_err "finding 5: a later write gets EROFS" "Read-only file system" \
		timeout 20 bash -c "echo c >'$P/c'"
	check "finding 5: still reads" grep -qx b "$P/b"
	check "finding 5: server exits cleanly" pfs_umount
}

# Finding 6: a directory entry hash of all ones; ls used to loop forever.
finding_hash_ones() {
	local slot blk
	rm -f "$IMG"
	require "finding 6: mkfs" "$MKFS" -q -s 64M "$IMG"
	require "finding 6: mount" pfs_mount
	record_tids
	geometry
	check "finding 6: a directory" bash -c "mkdir '$P/d' && touch '$P/d/x' '$P/d/y'"
	slot=$(slot_of "$P/d")
	blk=$(u64 $(($(inode_off "$slot") + 152)))
	printf '\xff\xff\xff\xff\xff\xff\xff\xff' |
		dd of="$IMG" bs=1 seek=$((blk * BS + 16)) conv=notrunc status=none
	check_err "finding 6: ls ends with EUCLEAN" "Structure needs cleaning" \
		timeout 20 ls "$P/d"
	check "finding 6: latched read-only, status says why" latched_with "hash"
	check "finding 6: server exits cleanly" pfs_umount
}

KLOG_START=$(dmesg 2>/dev/null | wc -l)
finding_orphan_head
finding_hash_ones
for ((s = FIRST; s < FIRST + SEEDS; s++)); do
	check "seed $s: no crash, no hang; working or read-only with a reason" seed_run "$s"
	if [ "$FAILED" -gt 0 ] && [ "${LIVE_DAMAGE_KEEP_GOING:-0}" != 1 ]; then
		break
	fi
done
FAULTS=$(kernel_faults "$KLOG_START")
check "the kernel log gained no segfault or trap of a server thread" test -z "$FAULTS"
[ -n "$FAULTS" ] && echo "$FAULTS" | sed 's/^/#   /'
echo "# live damage: $RUN seeds ($FIRST..$((FIRST + RUN - 1))), $CRASHES crashes," \
	"$HANGS hangs, $LATCHED latched read-only, $WORKING still read-write"
finish
