#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Writes the hand-made seeds of tests/fuzz/corpus/ (the fuzzers add their own
# in $BUILD_DIR/fuzz/corpus/). Image seeds are patch lists (fuzz_image.h):
# a flags byte, then records "op off:3 n data". Inode slots of the base
# image: 1 root, 2 d, 3 d/e, 4 d/a, 5 d/b (extent tree), 6 d/l, 7 d/e/fifo,
# 8 d/e/f, 9 big (several buckets), 10 the orphan.
set -euo pipefail
cd "$(dirname "$0")/corpus"

# seed DIR NAME BYTES...: BYTES are printf escapes (\xNN)
seed() {
	local dir=$1 name=$2
	shift 2
	# shellcheck disable=SC2059 # the arguments are printf escapes on purpose
	printf "$*" >"$dir/$name"
}
# op AREA KIND: the op byte
op() { printf '\\x%02x' $(($1 | $2 << 3)); }
# off N: 3 little-endian bytes
off() { printf '\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)); }
SET=0 XOR=1 RESEAL_SB=2 RESEAL_J=3
SB=0 REPLICA=1 STATE=2 JOURNAL=3 IBITMAP=4 BBITMAP=5 ITABLE=6 DATA=7
u64() { # 8 LE bytes of N (decimal or 0x)
	local v=$(($1)) i s=
	for i in 0 1 2 3 4 5 6 7; do s+=$(printf '\\x%02x' $((v >> (8 * i) & 255))); done
	printf '%s' "$s"
}
n() { printf '\\x%02x' $(($1 - 1)); }

for d in fuzz_mount fuzz_check; do
	mkdir -p "$d"
	seed $d clean '\x00'
	seed $d interrupted-tx '\x01'
	seed $d readonly-interrupted-tx '\x03'
	seed $d sb-bad-magic "\\x00$(op $SB $SET)$(off 0)$(n 1)X"
	seed $d sb-both-bad "\\x00$(op $SB $XOR)$(off 64)$(n 4)\\xff\\xff\\xff\\xff$(op $REPLICA $XOR)$(off 64)$(n 1)\\x01"
	seed $d sb-future-version "\\x00$(op $SB $SET)$(off 8)$(n 1)\\x02$(op 0 $RESEAL_SB)"
	seed $d sb-geometry "\\x00$(op $SB $SET)$(off 136)$(n 8)$(u64 0x100000)$(op 0 $RESEAL_SB)"
	seed $d sb-journal-blocks "\\x00$(op $SB $SET)$(off 160)$(n 8)$(u64 1)$(op $REPLICA $SET)$(off 160)$(n 8)$(u64 1)$(op 0 $RESEAL_SB)"
	seed $d state-bad-magic "\\x00$(op $STATE $XOR)$(off 0)$(n 1)\\x01"
	seed $d state-orphan-head "\\x00$(op $STATE $SET)$(off 24)$(n 8)$(u64 4)"
	seed $d journal-record-data "\\x01$(op $JOURNAL $XOR)$(off 88)$(n 4)\\x55\\x55\\x55\\x55"
	seed $d journal-record-resealed "\\x01$(op $JOURNAL $XOR)$(off 88)$(n 4)\\x55\\x55\\x55\\x55$(op 0 $RESEAL_J)"
	seed $d journal-record-target "\\x01$(op $JOURNAL $SET)$(off 72)$(n 8)$(u64 0)$(op 0 $RESEAL_J)"
	seed $d journal-record-len "\\x01$(op $JOURNAL $SET)$(off 80)$(n 4)\\xf8\\x0f\\x00\\x00$(op 0 $RESEAL_J)"
	seed $d ibitmap-cleared "\\x00$(op $IBITMAP $SET)$(off 0)$(n 8)$(u64 0)"
	seed $d bbitmap-cleared "\\x00$(op $BBITMAP $SET)$(off 0)$(n 16)$(u64 0)$(u64 0)"
	seed $d inode-dir-bad-mode "\\x00$(op $ITABLE $SET)$(off $((2 * 256 + 1)))$(n 1)\\xff"
	seed $d inode-root-size "\\x00$(op $ITABLE $SET)$(off $((1 * 256 + 24)))$(n 8)$(u64 0x3000)"
	seed $d inode-tree-depth "\\x00$(op $ITABLE $SET)$(off $((5 * 256 + 136)))$(n 2)\\x02\\x00"
	seed $d inode-tree-root "\\x00$(op $ITABLE $XOR)$(off $((5 * 256 + 152)))$(n 2)\\x07\\x01"
	seed $d inode-extent-pblk "\\x00$(op $ITABLE $SET)$(off $((4 * 256 + 152)))$(n 8)$(u64 0xffffffff)"
	seed $d inode-xattr-blk "\\x00$(op $ITABLE $SET)$(off $((4 * 256 + 96)))$(n 8)$(u64 3)"
	seed $d inode-orphan-links "\\x00$(op $ITABLE $SET)$(off $((10 * 256 + 112)))$(n 8)$(u64 10)"
	seed $d inode-nlink-zero "\\x00$(op $ITABLE $SET)$(off $((4 * 256 + 4)))$(n 4)\\x00\\x00\\x00\\x00"
	seed $d dir-parent-loop "\\x00$(op $ITABLE $SET)$(off $((2 * 256 + 88)))$(n 8)$(u64 3)"
	for b in 0 1 2 3 4 5 6 7 8 9 10 11; do
		seed $d data-block-$b-head "\\x00$(op $DATA $XOR)$(off $((b * 4096 + 4)))$(n 2)\\x30\\x01"
		seed $d data-block-$b-entry "\\x00$(op $DATA $XOR)$(off $((b * 4096 + 16 + 16)))$(n 4)\\x11\\x00\\xff\\x01"
	done
done

d=fuzz_ctl
mkdir -p $d
# byte 0: 0 ctl_parse_size, 1 ctl_parse_create, 2.. a writable control file
seed $d size '\x00256M'
seed $d size-gib '\x001GiB'
seed $d size-huge '\x0099999999999999999999T'
seed $d create '\x01size=200M mode=devdax name=db align=2M'
seed $d create-twice '\x01size=1M size=2M'
seed $d create-sector '\x01mode=sector sector_size=4096 name=s'
for t in $(seq 2 15); do
	seed $d write-$t-mode "\\x$(printf %02x $t)devdax\\n"
	seed $d write-$t-size "\\x$(printf %02x $t)512M\\n"
	seed $d write-$t-bool "\\x$(printf %02x $t)1"
	seed $d write-$t-create "\\x$(printf %02x $t)size=64M name=x"
done
seed $d write-busy '\x82raw'
