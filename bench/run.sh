#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The pmemfs benchmark (issue 5): in one run on one machine it measures
#   - pmemfs pools/ on an emulated pmem image in /dev/shm, in the default
#     mode (direct_io, data durable at write, requests over io_uring where
#     the kernel has it: the run sets fuse.enable_uring=Y and puts it back
#     after), with -o uring=off (requests read from /dev/fuse) and with
#     -o page_cache,
#   - kernel tmpfs (a directory in /dev/shm),
#   - the raw copy limit of the same kind of mapping through libpmem
#     (bench/memcpy_limit.c),
# and prints one table (median of the repetitions, min-max) with the
# pmemfs/tmpfs and pmemfs/limit ratios, and the same as JSON.
#
#   ./bench/run.sh [--quick] [--json FILE] [--reps N]
#
# It is a benchmark, not a test: it reports and never fails on a number; it
# exits non-zero only when it cannot run (a tool missing, a mount failing).
# It installs and builds nothing of pmemfs: it uses $BUILD_DIR (default
# ./build). The two C helpers are taken from $BUILD_DIR/bench/ when the build
# has them, else compiled into the scratch directory with cc.
#
# Knobs (environment), mainly to weigh one technique at a time:
#   PMEMFS_OPTS      extra -o options for every pmemfs mount (max_threads=2,
#                    clone_fd, cache_timeout=...)
#   BENCH_SECTIONS   subset of "io meta mount many" (default: all)
#   BENCH_RUNTIME    seconds per fio job (default 3; --quick 1)
#   BENCH_SIZE       MiB per fio job file (default 256; --quick 64)
#   BENCH_META_N     files for create/stat/unlink (default 50000; --quick 5000)
#   BENCH_DIR_N      entries in the readdir directory (default 100000; --quick 10000)
#   BENCH_MANY_N     files for the mount/memory case (default 1000000; --quick 20000)
#   BENCH_SETTLE     seconds to wait before stat/unlink/readdir so the FUSE
#                    entry/attr cache (cache_timeout, 1 s) has expired (1.5)
set -uo pipefail
export LC_ALL=C

QUICK=0
JSON_OUT=
REPS=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--json) JSON_OUT=${2:?--json needs a file}; shift ;;
	--json=*) JSON_OUT=${1#--json=} ;;
	--reps) REPS=${2:?--reps needs a number}; shift ;;
	-h|--help) sed -n '3,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$(cd "${BUILD_DIR:-$SRC_DIR/build}" 2>/dev/null && pwd) || {
	echo "bench: build directory ${BUILD_DIR:-$SRC_DIR/build} not found;" \
		"build first (./scripts/bench.sh does it)" >&2
	exit 1
}
if [ "$QUICK" = 1 ]; then
	: "${REPS:=1}" "${BENCH_RUNTIME:=1}" "${BENCH_SIZE:=64}" "${BENCH_META_N:=5000}"
	: "${BENCH_DIR_N:=10000}" "${BENCH_MANY_N:=20000}"
fi
REPS=${REPS:-3}
RUNTIME=${BENCH_RUNTIME:-3}
SIZE_MIB=${BENCH_SIZE:-256}
META_N=${BENCH_META_N:-50000}
DIR_N=${BENCH_DIR_N:-100000}
MANY_N=${BENCH_MANY_N:-1000000}
SETTLE=${BENCH_SETTLE:-1.5}
SECTIONS=" ${BENCH_SECTIONS:-io meta mount many} "
PMEMFS_OPTS=${PMEMFS_OPTS:-}

MKFS=$BUILD_DIR/tools/mkfs.pmemfs
PMEMFS=$BUILD_DIR/fs/pmemfs

# ---- environment checks: say which Debian package is missing ----

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2 (for $1)"); }
need fio fio
need jq jq
need mountpoint util-linux
need fusermount3 fuse3
need find findutils
need du coreutils
[ -x "$BUILD_DIR/bench/pmemfs-bench-metadata" ] || need cc gcc
if [ ${#missing[@]} -gt 0 ]; then
	echo "bench: missing: ${missing[*]}; apt-get install them (scripts/deps.sh does)" >&2
	exit 1
fi
for bin in "$MKFS" "$PMEMFS"; do
	[ -x "$bin" ] || { echo "bench: $bin missing; build first" >&2; exit 1; }
done
[ -c /dev/fuse ] || { echo "bench: /dev/fuse missing (modprobe fuse)" >&2; exit 1; }
[ -d /dev/shm ] || { echo "bench: /dev/shm (tmpfs) missing" >&2; exit 1; }

WORK=$(mktemp -d /dev/shm/pmemfs-bench.XXXXXX) || exit 1
RAW=$WORK/raw.tsv
: >"$RAW"
SERVERS=()
MOUNTS=()

cleanup() {
	local m p
	for m in "${MOUNTS[@]}"; do
		mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m" 2>/dev/null
	done
	for p in "${SERVERS[@]}"; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$WORK"
	[ -n "$URING_WAS" ] && echo "$URING_WAS" >"$URING_PARAM"
}
trap cleanup EXIT

# FUSE over io_uring (Linux 6.14+) is offered only with the fuse module's
# enable_uring set; pmemfs takes it by default where it is offered.
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_WAS=
if [ -w "$URING_PARAM" ]; then
	URING_WAS=$(cat "$URING_PARAM")
	echo Y >"$URING_PARAM"
	TRANSPORT="io_uring (fuse.enable_uring=Y for the run; was $URING_WAS)"
else
	TRANSPORT="/dev/fuse (this kernel has no FUSE over io_uring)"
fi
trap 'exit 130' INT TERM

# ---- helpers ----

if [ -x "$BUILD_DIR/bench/pmemfs-bench-metadata" ] && [ -x "$BUILD_DIR/bench/pmemfs-bench-memcpy" ]; then
	METADATA=$BUILD_DIR/bench/pmemfs-bench-metadata
	LIMIT=$BUILD_DIR/bench/pmemfs-bench-memcpy
else
	METADATA=$WORK/metadata
	LIMIT=$WORK/memcpy_limit
	cc -O2 -pthread -o "$METADATA" "$SRC_DIR/bench/metadata.c" ||
		{ echo "bench: cannot compile bench/metadata.c" >&2; exit 1; }
	cc -O2 -pthread -o "$LIMIT" "$SRC_DIR/bench/memcpy_limit.c" -lpmem ||
		{ echo "bench: cannot compile bench/memcpy_limit.c (libpmem-dev?)" >&2; exit 1; }
fi

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# record SECTION METRIC JOBS TARGET VALUE UNIT
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RAW"; }

loadavg() { cut -d' ' -f1 /proc/loadavg; }
record_load() { record load loadavg1 0 "$1" "$(loadavg)" load; }

now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

SRV_PID=
SRV_MOUNT_MS=
# start_server IMG MNT [OPT,...]: mounts in the foreground of a background job
start_server() {
	local img=$1 mnt=$2 opts=${3:-} t0 i
	mkdir -p "$mnt"
	[ -n "$PMEMFS_OPTS" ] && opts=${opts:+$opts,}$PMEMFS_OPTS
	t0=$(now_ns)
	"$PMEMFS" -f ${opts:+-o "$opts"} "$img" "$mnt" >>"$WORK/server.log" 2>&1 &
	SRV_PID=$!
	SERVERS+=("$SRV_PID")
	MOUNTS+=("$mnt")
	for ((i = 0; i < 120000; i++)); do
		mountpoint -q "$mnt" && break
		kill -0 "$SRV_PID" 2>/dev/null || break
	done
	if ! mountpoint -q "$mnt"; then
		echo "bench: pmemfs did not mount $img on $mnt; server log:" >&2
		tail -20 "$WORK/server.log" >&2
		exit 1
	fi
	SRV_MOUNT_MS=$(ms_since "$t0")
}

SRV_UMOUNT_MS=
stop_server() {
	local mnt=$1 t0
	t0=$(now_ns)
	fusermount3 -u "$mnt" || { echo "bench: cannot unmount $mnt" >&2; exit 1; }
	wait "$SRV_PID"
	SRV_UMOUNT_MS=$(ms_since "$t0")
	SERVERS=("${SERVERS[@]/$SRV_PID}")
	SRV_PID=
}

new_image() { rm -f "$1"; "$MKFS" -q -f -s "$2" "$1" || exit 1; }

# ---- the fio workloads ----

WORKLOADS="seqwrite seqread randread randwrite fsyncwrite"

# fio_one DIR WORKLOAD JOBS -> prints "value unit"
fio_one() {
	local dir=$1 wl=$2 jobs=$3 args dirn field out
	args=(--name="$wl" --directory="$dir" --filename_format='bench.$jobnum'
		--ioengine=psync --size="${SIZE_MIB}M" --numjobs="$jobs" --fallocate=none
		--time_based --runtime="$RUNTIME" --group_reporting --output-format=json)
	case $wl in
	seqwrite) args+=(--rw=write --bs=1M); dirn=write; field=bw ;;
	seqread) args+=(--rw=read --bs=1M); dirn=read; field=bw ;;
	randread) args+=(--rw=randread --bs=4k); dirn=read; field=iops ;;
	randwrite) args+=(--rw=randwrite --bs=4k); dirn=write; field=iops ;;
	fsyncwrite) args+=(--rw=randwrite --bs=4k --fsync=1); dirn=write; field=iops ;;
	esac
	out=$(fio "${args[@]}" 2>>"$WORK/fio.err") || { echo "0 err"; return; }
	if [ "$field" = bw ]; then
		jq -r ".jobs[0].$dirn.bw_bytes / 1048576 | \"\\(.) MiB/s\"" <<<"$out"
	else
		jq -r ".jobs[0].$dirn.iops | \"\\(.) IOPS\"" <<<"$out"
	fi
}

# io_target LABEL DIR: every workload at 1 and 2 jobs
io_target() {
	local label=$1 dir=$2 wl jobs v u
	for jobs in 1 2; do
		rm -f "$dir"/bench.*
		for wl in $WORKLOADS; do
			read -r v u < <(fio_one "$dir" "$wl" "$jobs")
			record io "$wl" "$jobs" "$label" "$v" "$u"
		done
	done
}

io_pmemfs() {
	local label=$1 opts=$2 img=$WORK/io.img mnt=$WORK/mnt-io
	# at least 1 GiB: the size of device zero-copy writes start at (fs/fuse_stage.c)
	new_image "$img" $(( SIZE_MIB * 2 + 256 > 1024 ? SIZE_MIB * 2 + 256 : 1024 ))M
	start_server "$img" "$mnt" "$opts"
	io_target "$label" "$mnt/pools"
	record io server_vmhwm 0 "$label" "$(( $(status_kb "$SRV_PID" VmHWM) / 1024 ))" MiB
	record io server_rss_anon 0 "$label" "$(( $(status_kb "$SRV_PID" RssAnon) / 1024 ))" MiB
	stop_server "$mnt"
	rm -f "$img"
}

io_limit() {
	local jobs line wl v
	for jobs in 1 2; do
		while read -r line; do
			wl=$(jq -r .workload <<<"$line")
			case $wl in
			seqwrite|seqread) v=$(jq -r .mib_per_sec <<<"$line"); record io "$wl" "$jobs" limit "$v" MiB/s ;;
			*) v=$(jq -r .iops <<<"$line"); record io "$wl" "$jobs" limit "$v" IOPS ;;
			esac
		done < <("$LIMIT" "$WORK/limit.img" "$SIZE_MIB" "$RUNTIME" "$jobs")
		rm -f "$WORK/limit.img"
	done
}

# ---- metadata ----

meta_target() {
	local label=$1 dir=$2 line op v
	while read -r line; do
		op=$(jq -r .op <<<"$line")
		v=$(jq -r .ops_per_sec <<<"$line")
		record meta "$op" 1 "$label" "$v" ops/s
	done < <("$METADATA" ops "$dir" "$META_N" "$SETTLE" && "$METADATA" readdir "$dir" "$DIR_N" "$SETTLE")
	rm -rf "${dir:?}"/ops "${dir:?}"/big
}

meta_pmemfs() {
	local img=$WORK/meta.img mnt=$WORK/mnt-meta
	new_image "$img" 2G
	start_server "$img" "$mnt"
	meta_target pmemfs "$mnt/pools"
	record meta server_vmhwm 0 pmemfs "$(( $(status_kb "$SRV_PID" VmHWM) / 1024 ))" MiB
	record meta server_rss_anon 0 pmemfs "$(( $(status_kb "$SRV_PID" RssAnon) / 1024 ))" MiB
	stop_server "$mnt"
	rm -f "$img"
}

# ---- mount time and memory ----

mount_size() {
	local size=$1 img=$WORK/mount.img mnt=$WORK/mnt-mount t0
	rm -f "$img"
	t0=$(now_ns)
	"$MKFS" -q -f -s "$size" "$img" || exit 1
	record mount "mkfs_$size" 0 pmemfs "$(ms_since "$t0")" ms
	record mount "image_used_$size" 0 pmemfs "$(du -k "$img" | cut -f1)" KiB
	start_server "$img" "$mnt"
	ls "$mnt/pools" >/dev/null
	record mount "mount_$size" 0 pmemfs "$SRV_MOUNT_MS" ms
	record mount "vmhwm_$size" 0 pmemfs "$(status_kb "$SRV_PID" VmHWM)" KiB
	record mount "rss_anon_$size" 0 pmemfs "$(status_kb "$SRV_PID" RssAnon)" KiB
	stop_server "$mnt"
	record mount "umount_$size" 0 pmemfs "$SRV_UMOUNT_MS" ms
	rm -f "$img"
}

# One pass only (it is long): 1,000,000 files in 100 directories of the 64 GiB image.
many_files() {
	local img=$WORK/many.img mnt=$WORK/mnt-many line rss0 rss1 t0 n ndirs=100
	[ "$MANY_N" -lt 100000 ] && ndirs=10
	new_image "$img" 64G
	start_server "$img" "$mnt"
	log "many: creating $MANY_N files"
	line=$("$METADATA" populate "$mnt/pools" "$MANY_N" "$ndirs" 2) || exit 1
	record many populate_2threads 1 pmemfs "$(jq -r .ops_per_sec <<<"$line")" ops/s
	record many rss_anon_after_populate 0 pmemfs "$(status_kb "$SRV_PID" RssAnon)" KiB
	stop_server "$mnt"
	record many umount_after_populate 0 pmemfs "$SRV_UMOUNT_MS" ms
	record many image_used 0 pmemfs "$(du -k "$img" | cut -f1)" KiB
	start_server "$img" "$mnt"
	ls "$mnt/pools" >/dev/null
	record many remount 0 pmemfs "$SRV_MOUNT_MS" ms
	rss0=$(status_kb "$SRV_PID" RssAnon)
	record many vmhwm_after_remount 0 pmemfs "$(status_kb "$SRV_PID" VmHWM)" KiB
	record many rss_anon_after_remount 0 pmemfs "$rss0" KiB
	t0=$(now_ns)
	n=$(find "$mnt/pools" -mindepth 2 -printf '%s\n' | wc -l)
	record many find_entries_per_sec 0 pmemfs "$(( n * 1000 / ($(ms_since "$t0") + 1) ))" ops/s
	rss1=$(status_kb "$SRV_PID" RssAnon)
	record many rss_anon_after_find 0 pmemfs "$rss1" KiB
	record many rss_shmem_after_find 0 pmemfs "$(status_kb "$SRV_PID" RssShmem)" KiB
	# the server's own memory (heap) per inode the kernel holds; the image
	# pages it touched are RssShmem, the pmem itself, not DRAM overhead
	record many anon_bytes_per_cached_inode 0 pmemfs "$(( (rss1 - rss0) * 1024 / (n ? n : 1) ))" B
	record many vmhwm_after_find 0 pmemfs "$(status_kb "$SRV_PID" VmHWM)" KiB
	t0=$(now_ns)
	stop_server "$mnt"
	record many umount_after_find 0 pmemfs "$SRV_UMOUNT_MS" ms
	rm -f "$img"
}

# ---- the run ----

KERNEL=$(uname -r)
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
NPROC=$(nproc)
log "pmemfs bench: $NPROC cpus ($CPU), kernel $KERNEL, load $(loadavg), reps $REPS," \
	"fio ${RUNTIME}s x ${SIZE_MIB} MiB/job${PMEMFS_OPTS:+, PMEMFS_OPTS=$PMEMFS_OPTS}"
LOAD_START=$(loadavg)

for ((rep = 1; rep <= REPS; rep++)); do
	if [[ $SECTIONS == *" io "* ]]; then
		log "rep $rep/$REPS: fio on tmpfs"
		record_load "io-$rep"
		mkdir -p "$WORK/tmpfs"
		io_target tmpfs "$WORK/tmpfs"
		rm -rf "$WORK/tmpfs"
		log "rep $rep/$REPS: fio on pmemfs (default: direct_io, durable=write, uring=idle)"
		io_pmemfs pmemfs ""
		log "rep $rep/$REPS: fio on pmemfs -o uring=off"
		io_pmemfs pmemfs-dev uring=off
		log "rep $rep/$REPS: fio on pmemfs -o page_cache"
		io_pmemfs pmemfs-pc page_cache
		log "rep $rep/$REPS: libpmem copy limit"
		io_limit
	fi
	if [[ $SECTIONS == *" meta "* ]]; then
		log "rep $rep/$REPS: metadata on tmpfs and pmemfs"
		record_load "meta-$rep"
		mkdir -p "$WORK/tmpfs"
		meta_target tmpfs "$WORK/tmpfs"
		rm -rf "$WORK/tmpfs"
		meta_pmemfs
	fi
	if [[ $SECTIONS == *" mount "* ]]; then
		log "rep $rep/$REPS: mount time and memory, 1G and 64G"
		record_load "mount-$rep"
		mount_size 1G
		mount_size 64G
	fi
done
if [[ $SECTIONS == *" many "* ]]; then
	record_load many
	many_files
fi
LOAD_END=$(loadavg)

# ---- summary: medians, min-max, ratios; table and JSON ----

SUMMARY=$(jq -R -s \
	--arg kernel "$KERNEL" --arg cpu "$CPU" --argjson nproc "$NPROC" \
	--argjson reps "$REPS" --argjson quick "$QUICK" --argjson runtime "$RUNTIME" \
	--argjson size "$SIZE_MIB" --arg opts "$PMEMFS_OPTS" \
	--arg transport "$TRANSPORT" --arg load_start "$LOAD_START" --arg load_end "$LOAD_END" \
	--arg date "$(date -u +%FT%TZ)" --arg commit "$(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)" '
	def median: sort | if length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	[split("\n")[] | select(length > 0) | split("\t")
	 | {section: .[0], metric: .[1], jobs: (.[2] | tonumber), target: .[3],
	    value: (.[4] | tonumber), unit: .[5]}] as $rows
	| ($rows | group_by([.section, .metric, .jobs, .target])
	   | map({section: .[0].section, metric: .[0].metric, jobs: .[0].jobs,
		  target: .[0].target, unit: .[0].unit, n: length,
		  median: (map(.value) | median), min: (map(.value) | min),
		  max: (map(.value) | max), values: map(.value)})) as $res
	| {machine: {nproc: $nproc, cpu: $cpu, kernel: $kernel, date: $date, commit: $commit,
		     fuse_transport: $transport},
	   config: {reps: $reps, quick: ($quick == 1), fio_runtime_s: $runtime,
		    fio_size_mib_per_job: $size, pmemfs_opts: $opts},
	   load: {start: ($load_start | tonumber), end: ($load_end | tonumber),
		  per_section: [$res[] | select(.section == "load") | {(.target): .median}] | add},
	   results: [$res[] | select(.section != "load")]}
	| .ratios = [.results as $r
	   | $r[] | select(.section == "io" or .section == "meta") | select(.target | startswith("pmemfs"))
	   | . as $p
	   | ($r[] | select(.section == $p.section and .metric == $p.metric and .jobs == $p.jobs
			     and .target == "tmpfs") | .median) as $t
	   | {section, metric, jobs, target,
	      vs_tmpfs: (if $t > 0 then .median / $t else null end),
	      vs_limit: ([$r[] | select(.section == "io" and .metric == $p.metric and .jobs == $p.jobs
				and .target == "limit") | .median] | first
			 | if . != null and . > 0 then $p.median / . else null end)}]
	' "$RAW") || { echo "bench: summary failed; raw results:" >&2; cat "$RAW" >&2; exit 1; }

if [ -n "$JSON_OUT" ]; then
	printf '%s\n' "$SUMMARY" >"$JSON_OUT"
fi

ORDER='["seqwrite","seqread","randread","randwrite","fsyncwrite","create","stat","stat_cached","unlink","mknod","readdir","readdir_again","server_vmhwm","server_rss_anon"]'
jq -r '
	. as $s
	| "pmemfs benchmark  \($s.machine.date)  commit \($s.machine.commit)",
	  "machine: \($s.machine.nproc) cpus, \($s.machine.cpu), kernel \($s.machine.kernel)",
	  "FUSE transport of the default mount: \($s.machine.fuse_transport)",
	  "load average (1 min): start \($s.load.start), end \($s.load.end); per section: \($s.load.per_section | tostring)",
	  "reps \($s.config.reps), fio \($s.config.fio_runtime_s) s x \($s.config.fio_size_mib_per_job) MiB per job, psync\(if $s.config.pmemfs_opts != "" then ", pmemfs -o " + $s.config.pmemfs_opts else "" end)",
	  "cells: median (min-max); pmemfs = the default (direct_io, durable=write, uring=idle),",
	  "pmemfs-dev = -o uring=off (requests read from /dev/fuse), pmemfs-pc = -o page_cache;",
	  "limit = libpmem copy of the same kind of mapping (bench/memcpy_limit.c); jobs 0 = not a fio job",
	  ""' <<<"$SUMMARY"
jq -r --argjson order "$ORDER" '
	def f: if . == null then "-" elif . >= 1000 then (. | round | tostring)
		elif . >= 10 then ((. * 10 | round) / 10 | tostring)
		else ((. * 100 | round) / 100 | tostring) end;
	def cell: if . == null then "-" elif .n > 1 then "\(.median | f) (\(.min | f)-\(.max | f))"
		else (.median | f) end;
	def pct: if . == null then "-" else "\(. * 100 | round)%" end;
	. as $s
	| (["section", "workload", "jobs", "unit", "tmpfs", "pmemfs", "pmemfs-dev", "pmemfs-pc", "limit",
	    "pm/tmpfs", "dev/tmpfs", "pc/tmpfs", "pm/limit"] | @tsv),
	  ($s.results | map(select(.section == "io" or .section == "meta"))
	   | group_by([.section, .metric, .jobs])
	   | sort_by(.[0].section, (.[0].jobs | if . == 0 then 9 else . end),
		     (.[0].metric as $m | $order | index($m) // 99)) | .[]
	   | . as $g
	   | def t($x): ($g | map(select(.target == $x)) | first);
	     def r($x; $k): ($s.ratios | map(select(.section == $g[0].section and .metric == $g[0].metric
			and .jobs == $g[0].jobs and .target == $x)) | first | if . == null then null else .[$k] end);
	   [$g[0].section, $g[0].metric, ($g[0].jobs | tostring), $g[0].unit,
	    (t("tmpfs") | cell), (t("pmemfs") | cell), (t("pmemfs-dev") | cell),
	    (t("pmemfs-pc") | cell), (t("limit") | cell),
	    (r("pmemfs"; "vs_tmpfs") | pct), (r("pmemfs-dev"; "vs_tmpfs") | pct),
	    (r("pmemfs-pc"; "vs_tmpfs") | pct), (r("pmemfs"; "vs_limit") | pct)] | @tsv)
	' <<<"$SUMMARY" | column -t -s $'\t'
echo
jq -r '
	def f: if . == null then "-" elif . >= 1000 then (. | round | tostring)
		elif . >= 10 then ((. * 10 | round) / 10 | tostring)
		else ((. * 100 | round) / 100 | tostring) end;
	def cell: if . == null then "-" elif .n > 1 then "\(.median | f) (\(.min | f)-\(.max | f))"
		else (.median | f) end;
	(["section", "measure", "unit", "pmemfs"] | @tsv),
	(.results | map(select(.section == "mount" or .section == "many"))[]
	 | [.section, .metric, .unit, cell] | @tsv)
	' <<<"$SUMMARY" | column -t -s $'\t'
[ -n "$JSON_OUT" ] && log "JSON written to $JSON_OUT"
exit 0
