#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The script of the vm test pmemfs_vm: `tools/pmemfs-vm -n 2 --size 512M
# --script` runs it in the guest, in the pmemfs mount that pmemfs-vm made at
# $PMEMFS_DEMO. What a newcomer would do there: see both DIMMs' regions,
# labelled by pmemfs-vm, carve a namespace and switch it to devdax.
# shellcheck disable=SC2016 # jq programs, not shell
# pmemfs-vm runs a copy of this script: the helpers are found by PMEMFS_SRC.
. "${PMEMFS_SRC:?run by tools/pmemfs-vm --script}/tests/vm/guest/lib.sh"

D=${PMEMFS_DEMO:?run by tools/pmemfs-vm --script}

check "pmemfs-vm mounted pmemfs at $D" mountpoint -q "$D"
check "the shell starts in it" test "$(pwd)" = "$D"
check_out "regions/ lists the two DIMMs' regions, as ndctl" \
	"$(nd_list -R | jq -r '.[].dev' | sort | xargs)" bash -c 'ls "$1/regions" | xargs' _ "$D"
check_out "dimms/ lists both DIMMs" "$(nd_list -D | jq -r '.[].dev' | sort | xargs)" \
	bash -c 'ls "$1/dimms" | xargs' _ "$D"
for r in $(ls "$D/regions"); do
	check "$r is labelled (pmemfs-vm initialised the labels): it has an iset_id" \
		test -s "$D/regions/$r/iset_id"
	check_out "$r has all 512 MiB available" 536870912 cat "$D/regions/$r/available_size"
done

R=$(ls "$D/regions" | head -n 1)
require "echo 'size=256M mode=fsdax name=demo' > regions/$R/create" \
	bash -c 'echo "size=256M mode=fsdax name=demo" >"$1"' _ "$D/regions/$R/create"
check "last_result says what it did" test -s "$D/regions/$R/last_result"
NS=$(ls "$D/regions/$R" | grep -m 1 '^ns')
require "the namespace appears as regions/$R/${NS:-ns?}" test -n "$NS"
check_out "its mode is fsdax" fsdax cat "$D/regions/$R/$NS/mode"
require "echo devdax > regions/$R/$NS/mode" \
	bash -c 'echo devdax >"$1"' _ "$D/regions/$R/$NS/mode"
check_out "its mode is devdax" devdax cat "$D/regions/$R/$NS/mode"
check "ndctl agrees: namespace demo is devdax" \
	jq -e 'any(.[]; .name == "demo" and .mode == "devdax")' <(nd_list -N)
DAX=/dev/$(cat "$D/regions/$R/$NS/chardev" 2>/dev/null || nd_list -N | jq -r '.[] | select(.name == "demo") | .chardev')
check "$DAX is a character device" test -c "$DAX"

# And the newcomer's next step: pmemfs on the new devdax namespace.
IMG=$DAX
require "mkfs.pmemfs $DAX" "$MKFS" -q "$DAX"
mount_log_mark
require "pmemfs mounts $DAX" pfs_mount
check "libpmem maps it as real pmem" server_logged 'real pmem: yes'
check "a file in pools/" bash -c 'echo hello >"$1/pools/hello" && sync "$1/pools/hello"' _ "$MNT"
check "clean unmount" pfs_umount
check_rc 0 "fsck.pmemfs -n $DAX is clean" "$FSCK" -n "$DAX"

finish
