#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Guest script, boot profile 'nvdimm': the topology tree under a pmemfs mount
# against the kernel's real nfit/libnvdimm stack. Every attribute is compared
# with `ndctl list`, every control file is driven (create, mode, size,
# enabled, destroy), every refusal is checked to change nothing, and a full
# cycle provisions a devdax namespace through the tree, formats it and serves
# pmemfs from it.
# shellcheck disable=SC2016 # jq programs, not shell
. "$(dirname "$0")/lib.sh"

J=$SCRATCH/json
mkdir -p "$J"

LABELLED=$(nd_labelled_dimms)
require "exactly one DIMM has a label area" test "$(echo "$LABELLED" | grep -c .)" -eq 1
require "init-labels on $LABELLED" nd_init_labels "$LABELLED"
REGION=$(nd_region_of "$LABELLED")
OTHER=$(nd_list -R | jq -r --arg r "$REGION" '.[] | select(.dev != $r) | .dev')
require "both regions found" test -n "$REGION" -a -n "$OTHER"

# The control mount: pmemfs on a plain file in the guest's tmpfs.
require "mkfs a control image" pfs_mkfs
require "mount it" pfs_mount
T=$MNT
R=$T/regions/$REGION
RO=$T/regions/$OTHER

# rd FILE: one attribute's value
rd() { cat "$1"; }
# nd_region_field REGION FIELD: a region's field from ndctl list -Rv
nd_region_field() { nd_list -R -v -r "$1" | jq -r ".[0].$2 // empty"; }
# ns_json NAME: the namespace JSON named NAME (ndctl list -N), or nothing
ns_json() { nd_list -N | jq -c --arg n "$1" '.[] | select(.name == $n)'; }
# ns_dir NAME: our directory for the namespace named NAME, via namespaces/
ns_dir() {
	local dev
	dev=$(ns_json "$1" | jq -r .dev) || return 1
	[ -n "$dev" ] && readlink -f "$T/namespaces/$dev"
}

# ---- the tree agrees with ndctl ----

check_out "regions/ lists both regions" "$(nd_list -R | jq -r '.[].dev' | sort | xargs)" \
	bash -c 'ls "$1" | xargs' _ "$T/regions"
for f in size available_size max_available_extent align; do
	check_out "$REGION/$f agrees with ndctl" "$(nd_region_field "$REGION" "$f")" rd "$R/$f"
done
check_out "$REGION/type is pmem" pmem rd "$R/type"
check_out "$REGION/persistence_domain agrees with ndctl" \
	"$(nd_region_field "$REGION" persistence_domain)" rd "$R/persistence_domain"
check_out "$REGION/iset_id agrees with ndctl" \
	"$(printf '%#x' "$(nd_region_field "$REGION" iset_id)")" rd "$R/iset_id"
check "$OTHER (label-less) has no iset_id" test ! -e "$RO/iset_id"
check_out "$REGION/mappings names $LABELLED" "$LABELLED" \
	bash -c 'cut -d" " -f1 "$1"' _ "$R/mappings"
for f in read_only enabled interleave_ways numa_node target_node; do
	check "$REGION/$f is readable" test -s "$R/$f"
done
check_out "dimms/ lists both DIMMs" "$(nd_list -D | jq -r '.[].dev' | sort | xargs)" \
	bash -c 'ls "$1" | xargs' _ "$T/dimms"
check_out "dimms/$LABELLED/id agrees with ndctl" \
	"$(nd_list -D -d "$LABELLED" | jq -r '.[0].id')" rd "$T/dimms/$LABELLED/id"
check_out "dimms/$LABELLED/handle agrees with ndctl (hex, as ndctl -u prints it)" \
	"$(printf '%#x' "$(nd_list -D -d "$LABELLED" | jq -r '.[0].handle')")" \
	rd "$T/dimms/$LABELLED/handle"
check "topology.json is JSON with both regions" \
	jq -e '(.regions | length) == 2 and (.dimms | length) == 2' "$T/topology.json"
check "topology.json agrees with ndctl on region sizes" \
	diff <(jq -S '[.regions[] | {dev, size, available_size}] | sort_by(.dev)' "$T/topology.json") \
	<(nd_list -R | jq -S '[.[] | {dev, size, available_size}] | sort_by(.dev)')
check "$REGION/create explains its keys" grep -q 'size=' "$R/create"

# ---- malformed and refused writes change nothing ----

nd_list -RN >"$J/before"
check_err "an unknown create key is EINVAL" "Invalid argument" \
	bash -c 'echo "size=64M colour=red" >"$1"' _ "$R/create"
check "and last_error says why" grep -q colour "$R/last_error"
check_err "junk bytes are EINVAL" "Invalid argument" \
	bash -c 'printf "size=\001\002" >"$1"' _ "$R/create"
check_err "a bad size is EINVAL" "Invalid argument" \
	bash -c 'echo "size=lots" >"$1"' _ "$R/create"
check_err "more than the region holds is ENOSPC" "No space left" \
	bash -c 'echo "size=4G" >"$1"' _ "$R/create"
check_err "a label-less region cannot be subdivided" "Operation not supported" \
	bash -c 'echo "size=64M" >"$1"' _ "$RO/create"
check_err "only root may write a control file" "Permission denied" \
	setpriv --reuid=1000 --regid=1000 --clear-groups bash -c 'echo "size=64M" >"$1"' _ "$R/create"
check "none of that changed anything" diff <(nd_list -RN) "$J/before"

# ---- create, then every namespace file ----

check "create a 200M fsdax namespace named t1 (rounded up)" \
	bash -c 'echo "size=200M mode=fsdax name=t1" >"$1"' _ "$R/create"
check "last_result reports the rounding" grep -q "rounded up" "$R/last_result"
ns_json t1 >"$J/t1"
check "ndctl lists t1 as fsdax" jq -e '.mode == "fsdax"' "$J/t1"
D=$(ns_dir t1)
require "namespaces/ links to t1's directory" test -d "$D"
for f in mode size uuid name dev blockdev align map; do
	check_out "t1/$f agrees with ndctl" "$(jq -r ".$f" "$J/t1")" rd "$D/$f"
done
check_err "a second namespace named t1 is refused" "File exists" \
	bash -c 'echo "size=64M name=t1" >"$1"' _ "$R/create"

check "echo devdax > mode" bash -c 'echo devdax >"$1"' _ "$D/mode"
D=$(ns_dir t1)
ns_json t1 >"$J/t1"
check "ndctl now says devdax, name kept" jq -e '.mode == "devdax" and .name == "t1"' "$J/t1"
check_out "t1/chardev agrees with ndctl" "$(jq -r .chardev "$J/t1")" rd "$D/chardev"
check "the kernel spelling (memory) works too" bash -c 'echo memory >"$1"' _ "$D/mode"
D=$(ns_dir t1)
check "ndctl says fsdax" jq -e '.mode == "fsdax"' <(ns_json t1)
check_err "an unknown mode is EINVAL" "Invalid argument" \
	bash -c 'echo fastdax >"$1"' _ "$D/mode"
check "and t1 stayed fsdax" jq -e '.mode == "fsdax"' <(ns_json t1)
check "echo 512M > size resizes t1" bash -c 'echo 512M >"$1"' _ "$D/size"
D=$(ns_dir t1)
check "ndctl shows the bigger namespace" jq -e '.size > 400000000' <(ns_json t1)
check "echo 0 > enabled disables t1" bash -c 'echo 0 >"$1"' _ "$D/enabled"
check "ndctl says disabled" jq -e '.state == "disabled"' <(nd_list -N -i | jq -c '.[] | select(.name == "t1")')
check "echo 1 > enabled enables it again" bash -c 'echo 1 >"$1"' _ "$D/enabled"
check "echo 1 > destroy destroys t1" bash -c 'echo 1 >"$1"' _ "$D/destroy"
check "ndctl no longer lists t1" test -z "$(ns_json t1)"

# ---- outside changes show at once ----

check "ndctl creates x1 behind pmemfs's back" \
	nd_json "$J/x1" create-namespace -r "$REGION" -s 64M -m fsdax -n x1
check "namespaces/ shows it on the next listing" \
	test -L "$T/namespaces/$(jqf .dev "$J/x1")"
check "ndctl destroys it" ndctl destroy-namespace -f "$(jqf .dev "$J/x1")"
check "and it is gone from namespaces/" test ! -e "$T/namespaces/$(jqf .dev "$J/x1")"

# ---- the full cycle: provision devdax, serve pmemfs from it ----

check "create a 256M devdax namespace named data" \
	bash -c 'echo "size=256M mode=devdax name=data align=2M" >"$1"' _ "$R/create"
D=$(ns_dir data)
DAX=/dev/$(rd "$D/chardev")
require "its chardev exists" test -c "$DAX"
require "mkfs.pmemfs $DAX" "$MKFS" -q "$DAX"

# A second pmemfs, served from the namespace itself.
CTRL_IMG=$IMG CTRL_MNT=$MNT CTRL_PID=$SERVER_PID
IMG=$DAX MNT=$SCRATCH/mnt-dax SERVER_PID=
require "mount pmemfs on $DAX" pfs_mount
DATA_PID=$SERVER_PID
random_file "$SCRATCH/data" $((2 * 1024 * 1024 + 99))
want=$(sha "$SCRATCH/data")
check "write and fsync a file there" \
	dd if="$SCRATCH/data" of="$MNT/pools/f" bs=1M conv=fsync status=none
check_err "reconfiguring the namespace that backs that mount is EBUSY" \
	"Device or resource busy" bash -c 'echo fsdax >"$1"' _ "$MNT/regions/$REGION/$(basename "$D")/mode"
check "its last_error says it holds the mount" \
	grep -q "holds this pmemfs mount" "$MNT/regions/$REGION/$(basename "$D")/last_error"
check_err "destroying it from the other mount is EBUSY (mapped)" \
	"Device or resource busy" bash -c 'echo 1 >"$1"' _ "$CTRL_MNT/regions/$REGION/$(basename "$D")/destroy"
check "ndctl still lists it as devdax" jq -e '.mode == "devdax"' <(ns_json data)
check "unmount" pfs_umount
require "mount again" pfs_mount
check_out "the file reads back" "$want" sha "$MNT/pools/f"
check "unmount again" pfs_umount
check_rc 0 "fsck.pmemfs -n $DAX is clean" "$FSCK" -n "$DAX"
IMG=$CTRL_IMG MNT=$CTRL_MNT SERVER_PID=$CTRL_PID
: "$DATA_PID"

# A holder outside pmemfs: a process with the chardev open.
sleep 60 <"$DAX" &
HOLDER=$!
check_err "a namespace held open is EBUSY" "Device or resource busy" \
	bash -c 'echo fsdax >"$1"' _ "$D/mode"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
check "destroy it once nothing holds it" bash -c 'echo 1 >"$1"' _ "$D/destroy"
check "ndctl no longer lists data" test -z "$(ns_json data)"

# ---- the label-less region: mode changes only ----

NS0=$(ls "$RO" | grep -m1 '^ns')
check "$OTHER/$NS0/size is read-only" bash -c '[ "$(stat -c %a "$1")" = 444 ]' _ "$RO/$NS0/size"
check "echo devdax > mode on the label-less namespace" \
	bash -c 'echo devdax >"$1"' _ "$RO/$NS0/mode"
check "ndctl agrees" jq -e '.[0].mode == "devdax"' <(nd_list -N -r "$OTHER")
check "and back to raw" bash -c 'echo raw >"$1"' _ "$RO/$(ls "$RO" | grep -m1 '^ns')/mode"

check "unmount the control mount" pfs_umount
finish
