# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared helpers for the guest scripts (tests/vm/guest/*.sh); each sources it
# first:
#
#   . "$(dirname "$0")/lib.sh"
#
# The check helpers, the scratch dir and the server handling are those of the
# integration tests (tests/integration/lib.sh, sourced here), so a guest
# script reads like an integration test: check, check_rc, check_err,
# check_out, require, skip, finish; pfs_mount/pfs_umount mount $IMG, which a
# guest script points at a /dev/daxX.Y or a file on an ext4 -o dax mount.
# Added here: a guard that refuses to run outside the VM (these scripts
# create and destroy namespaces), and helpers for ndctl and its JSON.

if ! tr '\0' ' ' </proc/1/cmdline | grep -q 'tests/vm/guest-init\.sh'; then
	echo "$(basename "$0"): a guest script; run it in the VM: tests/vm/run.sh $0" >&2
	exit 1
fi

# Under runvm.sh's TIMEOUT (300 s), so the watchdog and the EXIT trap run.
TEST_TIMEOUT=${TEST_TIMEOUT:-240}
# shellcheck source=../../integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../integration/lib.sh"

# ---- ndctl ----

# nd_list ARGS...: `ndctl list ARGS...` as a JSON array, always: ndctl prints
# a single object bare and nothing at all when nothing matches.
nd_list() {
	ndctl list "$@" | jq -s 'if length == 0 then [] else .[0] | if type == "array" then . else [.] end end'
}

# nd_json OUT_FILE ARGS...: run `ndctl ARGS...` (numbers as integers, no -u),
# JSON into OUT_FILE; as a check's command, stderr lands in $CHECK_OUT.
nd_json() {
	local out=$1
	shift
	ndctl "$@" >"$out"
}

# jqf FILTER FILE: one value from a JSON file; fails on null or nothing.
jqf() {
	jq -er "$1" "$2"
}

# nd_labelled_dimms: the DIMMs with a label area (read-labels can read it),
# one a line.
nd_labelled_dimms() {
	local d
	for d in /sys/bus/nd/devices/nmem*; do
		[ -e "$d" ] || continue
		d=${d##*/}
		ndctl read-labels -j "$d" 2>/dev/null | jq -e '.[0].index' >/dev/null 2>&1 && echo "$d"
	done
}

# nd_region_of DIMM: the region whose mappings include DIMM.
nd_region_of() {
	nd_list -R -d "$1" | jq -er ".[0].dev"
}

# nd_init_labels DIMM: give DIMM a valid label index if it has none: its
# region must be disabled meanwhile. Afterwards the region is labelled: it has
# an iset_id and its whole capacity is available for namespaces.
nd_init_labels() {
	local dimm=$1 region
	if ndctl check-labels "$dimm" >/dev/null 2>&1; then
		return 0
	fi
	region=$(nd_region_of "$dimm") || return 1
	ndctl disable-region "$region" &&
		ndctl init-labels -f "$dimm" &&
		ndctl enable-region "$region"
}

# nd_dev_of NS_JSON: the device node a created namespace offers, /dev/daxX.Y
# for devdax, /dev/pmemX[.Y] for fsdax.
nd_dev_of() {
	local name
	name=$(jq -er '.chardev // .daxregion.devices[0].chardev // .blockdev' "$1") || return 1
	echo "/dev/$name"
}

# ---- the server ----

# mount_log_mark / server_logged REGEX: did the server log REGEX since the
# mark? (The log of every mount of a test goes to the one $LOG.)
LOG_MARK=0
mount_log_mark() {
	LOG_MARK=$(wc -l <"$LOG")
}
server_logged() {
	tail -n +"$((LOG_MARK + 1))" "$LOG" | grep -E -- "$1"
}
