#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The status files at the mount's root: status and status.json report the
# device, persistence, capacity, inodes, mount options and counters; the
# counters move with I/O; both files are read-only.
. "$(dirname "$0")/lib.sh"

P=$MNT/pools
S=$MNT/status
SJ=$MNT/status.json

# field NAME: the value of "NAME: value" in status.
field() {
	sed -n "s/^$1: //p" "$S"
}

require "mkfs" pfs_mkfs
require "mount" pfs_mount

check "status is a regular file, mode 0444" test "$(stat -c %F:%a "$S")" = "regular file:444"
check "status.json too" test "$(stat -c %F:%a "$SJ")" = "regular file:444"
check "ls -l shows the size a read gets" \
	test "$(stat -c %s "$S")" -eq "$(wc -c <"$S")"
check "status.json is valid JSON" jq -e . "$SJ"
for k in device "device kind" "real pmem" "persistence domain" capacity free inodes \
	"mount options" read-only "mounted since" reads "bytes read" writes "bytes written" \
	"zero-copy writes" "io_uring queues" "io_uring requests" "io_uring threads raised" \
	fsyncs "journal commits" errors corruption "media errors"; do
	check "status has '$k'" grep -q "^$k: " "$S"
done
check_out "the device is the image" "$IMG" field device
# PMEM_IS_PMEM_FORCE=1 (scripts/test.sh's last phase) makes libpmem treat
# the emulated image as real pmem, flushed with CPU instructions.
if [ "${PMEM_IS_PMEM_FORCE:-0}" = 1 ]; then
	PMEM=yes PMEM_JSON=true
	check "forced real pmem: persistence domain from libpmem" \
		bash -c '[ "$1" != "none (emulation: msync)" ]' _ "$(field "persistence domain")"
else
	PMEM=no PMEM_JSON=false
	check_out "and persists by msync" "none (emulation: msync)" field "persistence domain"
fi
check_out "an emulated image is real pmem: $PMEM" "$PMEM" field "real pmem"
# The defaults: direct_io where the kernel maps direct_io files shared
# (FUSE 7.39, Linux 6.6); data durable at write() on pmem and in tmpfs.
kver=$(uname -r | cut -d- -f1)
if [ "$(printf '%s\n6.6\n' "$kver" | sort -V | head -1)" = 6.6 ]; then
	CACHE=direct_io
else
	CACHE=page_cache
fi
case $PMEM:$(stat -f -c %T "$IMG") in
yes:* | *:tmpfs | *:ramfs) DURABLE=write ;;
*) DURABLE=fsync ;;
esac
# io_uring where the kernel offers it (fuse.enable_uring): libfuse's rings
# where libfuse has them, else pmemfs's own at idle priority where the build
# has them (pmemfs --version; pmemfs(8), LIBFUSE), else none
BUILT=$("$PMEMFS" --version | sed -n 's/^built with libfuse //p')
if [ "$(cat /sys/module/fuse/parameters/enable_uring 2>/dev/null)" != Y ]; then
	URING=off
else
	case $BUILT in
	*uring=libfuse*) URING=libfuse ;;
	*uring=pmemfs*) URING=idle ;;
	*) URING=off ;;
	esac
fi
CACHE_OPTS="cache_timeout=1,$CACHE,durable=$DURABLE"
OPTS="$CACHE_OPTS,uring=$URING"
check_out "mount options" "rw,$OPTS" field "mount options"
if [ "$URING" = idle ]; then
	NCPU=$(( $(sed 's/.*[-,]//' /sys/devices/system/cpu/possible) + 1 ))
	check_out "one io_uring queue per possible CPU" "$NCPU" field "io_uring queues"
	ls "$MNT/pools" >/dev/null
	check "requests on pools/ came over io_uring" test "$(field "io_uring requests")" -gt 0
	check "status.json counts them too" jq -e '.io_uring_queues > 0 and
		.counters.io_uring_requests > 0' "$SJ"
fi
check_out "read-write" "no" field read-only
check_out "no corruption found" "none found" field corruption
check "status.json: corruption is null" jq -e '.corruption == null' "$SJ"
check_out "no media errors" 0 field "media errors"
check "status.json: media_errors is 0" jq -e '.media_errors == 0' "$SJ"
check "status.json says the same" jq -e --arg d "$IMG" --argjson p "$PMEM_JSON" \
	'.device == $d and .real_pmem == $p and
	 ($p or .persistence_domain == "none (emulation: msync)") and .read_only == false and
	 .capacity_bytes > 0 and .free_bytes <= .capacity_bytes and
	 .inodes.total == .inodes.used + .inodes.free and .mount_options == "rw," + $o' \
	--arg o "$OPTS" "$SJ"
before=$(cat "$SJ")

# I/O: two writes of 1 MiB, an fsync, a read, a mkdir (journal commits).
random_file "$SCRATCH/src" $((2 * 1024 * 1024))
check "write 2 MiB with fsync" dd if="$SCRATCH/src" of="$P/f" bs=1M conv=fsync status=none
check "mkdir" mkdir "$P/d"
check "read it back with O_DIRECT-free cat" cmp "$SCRATCH/src" "$P/f"
after=$(cat "$SJ")
check "writes and bytes written moved" jq -en --argjson a "$before" --argjson b "$after" \
	'$b.counters.writes > $a.counters.writes and
	 $b.counters.bytes_written - $a.counters.bytes_written >= 2097152'
check "fsyncs moved" jq -en --argjson a "$before" --argjson b "$after" \
	'$b.counters.fsyncs > $a.counters.fsyncs'
check "journal commits moved" jq -en --argjson a "$before" --argjson b "$after" \
	'$b.counters.journal_commits >= $a.counters.journal_commits + 2'
check "free space and inodes went down" jq -en --argjson a "$before" --argjson b "$after" \
	'$b.free_bytes <= $a.free_bytes - 2097152 and $b.inodes.used == $a.inodes.used + 2'
check "no errors" jq -en --argjson b "$after" '$b.counters.errors == 0'
echo 3 >/proc/sys/vm/drop_caches
check "a read after dropping the page cache" cmp "$SCRATCH/src" "$P/f"
check "moves reads and bytes read" jq -en --argjson a "$after" --argjson b "$(cat "$SJ")" \
	'$b.counters.reads > $a.counters.reads and
	 $b.counters.bytes_read >= $a.counters.bytes_read + 2097152'
check "the text file agrees with the JSON" test "$(field "journal commits")" -ge \
	"$(jq .counters.journal_commits <<<"$after")"

# Read-only, also for root.
check_err "writing status fails with EACCES" "Permission denied" bash -c 'echo x >"$1"' _ "$S"
check_err "appending to status.json too" "Permission denied" bash -c 'echo x >>"$1"' _ "$SJ"
check_err "so does truncating it" "Permission denied" truncate -s 0 "$S"
check_err "it cannot be removed" "Permission denied" rm -f "$S"
check_err "nor chmod-ed" "Operation not permitted" chmod 0666 "$S"
check_err "it is not a directory" "Not a directory" ls "$S/x"
check "status still reads" grep -q "^errors: 0$" "$S"
require "unmount" pfs_umount

# A read-only mount says so.
require "mount -o ro" pfs_mount -o ro
check_out "mount options say ro" "ro,$OPTS" field "mount options"
check_out "read-only, and why" "yes (mounted with -o ro)" field read-only
check "status.json agrees" jq -e '.read_only and .read_only_reason == "mounted with -o ro"' "$SJ"
check "unmount" pfs_umount

# The other cache mode and durability, when asked for.
if [[ $BUILT == *zerocopy=no ]]; then
	require "mount -o page_cache,durable=fsync" pfs_mount -o page_cache,durable=fsync
	check_out "mount options say so" \
		"rw,cache_timeout=1,page_cache,durable=fsync,uring=$URING" field "mount options"
else
	require "mount -o page_cache,durable=fsync,zerocopy" \
		pfs_mount -o page_cache,durable=fsync,zerocopy
	check_out "mount options say so (zerocopy reads /dev/fuse)" \
		"rw,cache_timeout=1,page_cache,durable=fsync,zerocopy,uring=off" field "mount options"
fi
check "unmount" pfs_umount
require "mount -o uring=off" pfs_mount -o uring=off
check_out "uring=off says so" "rw,$CACHE_OPTS,uring=off" field "mount options"
check_out "and no queue serves" "0" field "io_uring queues"
check "unmount" pfs_umount
if [ "$URING" = idle ]; then
	require "mount -o uring=normal" pfs_mount -o uring=normal
	check_out "uring=normal says so" "rw,$CACHE_OPTS,uring=normal" field "mount options"
	check "unmount" pfs_umount
fi

finish
