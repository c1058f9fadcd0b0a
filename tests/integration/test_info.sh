#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# pmemfs-info (text and --json), mkfs.pmemfs --json and fsck.pmemfs --json,
# on a clean image and on one with a corrupt primary superblock. The JSON is
# validated with jq; pmemfs-info must never change a byte.
. "$(dirname "$0")/lib.sh"

INFO=$BUILD_DIR/tools/pmemfs-info
J=$SCRATCH/out.json

# jqt [jq options] FILTER FILE: the filter holds (jq -e).
jqt() {
	jq -e "$@" >/dev/null
}

# json_of CMD...: CMD's stdout (JSON) into $J, stderr dropped; CMD's status.
json_of() {
	"$@" >"$J" 2>/dev/null
}

# report_of CMD...: CMD's stdout into $R (the text report); CMD's status.
R=$SCRATCH/report.txt
report_of() {
	"$@" >"$R" 2>/dev/null
}

# ---- mkfs --json ----
require "mkfs.pmemfs --json makes an image" \
	bash -c '"$1" --json -s 64M -L infolabel -N 2048 "$2" >"$3"' _ "$MKFS" "$IMG" "$J"
check "its output is JSON with the new file system's numbers" jqt \
	'.device_size == 67108864 and .block_size == 4096 and .inode_count == 2048 and
	 .label == "infolabel" and (.uuid | test("^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$")) and
	 .data_blocks > 0 and .journal_blocks > 0' "$J"
uuid=$(jq -r .uuid "$J")
check_out "mkfs -q --json still prints the JSON" "true" \
	bash -c '"$1" -q -j -s 16M "$2" | jq .data_blocks\>0' _ "$MKFS" "$SCRATCH/q.img"
check_out "mkfs draws no progress bar when stderr is not a terminal" "" \
	bash -c '"$1" -j -f "$2" 2>&1 >/dev/null' _ "$MKFS" "$SCRATCH/q.img"

# ---- pmemfs-info on a clean image ----
sum=$(sha "$IMG")
check_rc 0 "pmemfs-info on a fresh image exits 0" report_of "$INFO" "$IMG"
for w in "uuid: *$uuid" "label: *infolabel" "version: *1\.1" "primary superblock: valid" \
	"replica superblock: valid, identical" "block size: *4096" "inode table" \
	"inodes: *2047 total, 2 used, 2045 free" "mount count: *0" "last mounted: *never" \
	"journal: *clean" "health: *clean"; do
	check "the text report says '$w'" grep -Eq "$w" "$R"
done
check "pmemfs-info --json is valid JSON" bash -c '"$1" --json "$2" >"$3"' _ "$INFO" "$IMG" "$J"
check "with the superblock, areas, usage, journal and health" jqt \
	--arg u "$uuid" '.uuid == $u and .size == 67108864 and .superblock.primary_valid and
	 .superblock.replica_identical and .superblock.in_use == "primary" and
	 (.areas | map(.name)) == ["superblock","replica","state","journal","inode bitmap",
				   "block bitmap","bitmap checksums","inode table","data"] and
	 .inodes.used == 2 and .inodes.total == 2047 and
	 .data_blocks.total == .data_blocks.used + .data_blocks.free and
	 .journal.state == "clean" and .health.state == "clean" and (.health.full_check | not)' "$J"
check_rc 0 "pmemfs-info --check on it exits 0" "$INFO" --check --json "$IMG"
check "and reports a full check, clean" jqt '.health.full_check and .health.state == "clean"' \
	"$LAST_OUT"
check_out "pmemfs-info changed nothing" "$sum" sha "$IMG"

# ---- usage shows after a mount ----
require "mount" pfs_mount
random_file "$SCRATCH/data" 1000000
check "write a file" cp "$SCRATCH/data" "$MNT/pools/data"
check_err "pmemfs-info refuses a mounted image and points at the status file" \
	"in use.*status" "$INFO" "$IMG"
check_rc 8 "with exit 8" "$INFO" "$IMG"
require "unmount" pfs_umount
check "pmemfs-info --json after the mount" bash -c '"$1" -j "$2" >"$3"' _ "$INFO" "$IMG" "$J"
check "counts the mount, the file and its blocks" jqt \
	'.mount_count == 1 and .last_mount_time > 0 and .inodes.used == 3 and
	 .data_blocks.used >= 246' "$J"

# ---- fsck --json ----
check_rc 0 "fsck.pmemfs -n --json on the clean image exits 0" "$FSCK" -n --json "$IMG"
check "and says clean in JSON" jqt \
	'.result == "clean" and .exit_status == 0 and .found == 0 and .problems == [] and
	 .mode == "check" and .error == null' "$LAST_OUT"

# Corrupt the primary superblock: the replica is still there.
dd if=/dev/urandom of="$IMG" bs=1 seek=64 count=64 conv=notrunc status=none
sum=$(sha "$IMG")
check_rc 4 "pmemfs-info on a corrupt primary superblock exits 4" report_of "$INFO" "$IMG"
check "and names the primary superblock's problem" \
	grep -Eq "primary superblock: superblock checksum mismatch" "$R"
check "and uses the replica" grep -Eq "replica superblock: valid.*\(in use\)" "$R"
check_rc 4 "pmemfs-info --json exits 4 too" "$INFO" --json "$IMG"
check "and says so in JSON" jqt \
	'.superblock.in_use == "replica" and (.superblock.primary_valid | not) and
	 .health.state == "problems" and (.health.problems | length) >= 1' "$LAST_OUT"
check_rc 4 "fsck -n --json on it exits 4" json_of "$FSCK" -n --json "$IMG"
check "lists the problem, unrepaired, with totals" jqt \
	'.result == "uncorrected" and .exit_status == 4 and .found >= 1 and .left == .found and
	 (.problems | length) == .found and
	 (.problems[0] | has("object") and has("problem") and .repaired == false)' "$J"
check_out "neither changed a byte" "$sum" sha "$IMG"
check_rc 1 "fsck -y --json repairs it and exits 1" json_of "$FSCK" -y --json "$IMG"
check "and marks each problem repaired" jqt \
	'.result == "corrected" and .exit_status == 1 and .left == 0 and .mode == "repair" and
	 all(.problems[]; .repaired)' "$J"
check_rc 0 "pmemfs-info is clean afterwards" "$INFO" --check "$IMG"

# ---- operational and usage errors ----
check_rc 8 "fsck --json on a missing target exits 8" "$FSCK" -n --json "$SCRATCH/missing"
check "and still prints JSON with the error" bash -c \
	'"$1" -n --json "$2" 2>/dev/null | jq -e ".exit_status == 8 and .error != null"' \
	_ "$FSCK" "$SCRATCH/missing"
truncate -s 16M "$SCRATCH/zero.img"
check_rc 8 "pmemfs-info on a zero-filled file exits 8" "$INFO" "$SCRATCH/zero.img"
check "and says no superblock is usable" grep -q "no usable pmemfs superblock" "$LAST_OUT"
check_rc 16 "pmemfs-info without TARGET is a usage error" "$INFO"
check_rc 16 "pmemfs-info with a bad option is a usage error" "$INFO" --bogus "$IMG"
check_out "pmemfs-info -V prints the version" "pmemfs-info 0.1.0" "$INFO" -V

finish
