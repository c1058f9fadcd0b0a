#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The guest side of tools/pmemfs-vm (run by tests/vm/guest-init.sh): label
# every DIMM that has a label area, mount this build's pmemfs on an image at
# /tmp/pmemfs-demo, then run $vmuserscript there or, on the console, an
# interactive shell. Unmounts on the way out; the exit status is the
# script's or the shell's.
export LC_ALL=C
DEMO=/tmp/pmemfs-demo
IMG=/tmp/pmemfs-demo.img
: "${BUILD_DIR:?}"
export PATH=$BUILD_DIR/fs:$BUILD_DIR/tools:$PATH PMEMFS_DEMO=$DEMO
# The source tree, for scripts that want the VM tests' helpers
# ($PMEMFS_SRC/tests/vm/guest/lib.sh).
PMEMFS_SRC=$(cd "$(dirname "$0")/.." && pwd)
export PMEMFS_SRC

say() { echo "pmemfs-vm: $*"; }

# Labels: a DIMM with a label area but no valid index gets one, with its
# region disabled meanwhile; then each is a labelled region (an iset_id, its
# whole capacity available for namespaces).
for d in /sys/bus/nd/devices/nmem*; do
	[ -e "$d" ] || continue
	nmem=${d##*/}
	ndctl read-labels -j "$nmem" >/dev/null 2>&1 || continue # no label area
	ndctl check-labels "$nmem" >/dev/null 2>&1 && continue
	region=$(ndctl list -R -d "$nmem" | jq -r 'if type == "array" then .[0].dev else .dev end')
	if ndctl disable-region "$region" >/dev/null 2>&1 &&
		ndctl init-labels -f "$nmem" >/dev/null 2>&1 &&
		ndctl enable-region "$region" >/dev/null 2>&1; then
		say "$nmem: labels initialised ($region)"
	else
		say "$nmem: init-labels failed"
	fi
done

mkdir -p "$DEMO"
if ! mkfs.pmemfs -q -s 256M "$IMG" || ! pmemfs "$IMG" "$DEMO" 2>/dev/null; then
	say "cannot mount pmemfs on $DEMO"
	exit 1
fi
cd "$DEMO" || exit 1

banner() {
	cat <<EOF

pmemfs-vm: pmemfs ($(pmemfs --version | head -n 1)) is mounted on $DEMO
(an image in the guest's tmpfs); you are in it. The topology:

$(printf '%s\n' regions/* dimms/* | grep -v '\*$' | xargs -r -n 4 echo "  ")

Try:
  ls regions/region0; cat regions/region0/available_size
  echo "size=256M mode=fsdax name=demo" > regions/region0/create
  cat regions/region0/last_result; ls regions/region0
  echo devdax > regions/region0/ns0/mode; ndctl list -Nu
  mkfs.pmemfs /dev/dax0.0 && mkdir /mnt/pm && pmemfs /dev/dax0.0 /mnt/pm
Files in pools/ are lost at power-off. 'exit' leaves the VM.

EOF
}
banner

rc=0
if [ -n "${vmuserscript:-}" ]; then
	bash "$vmuserscript"
	rc=$?
else
	PS1='pmemfs-vm:\w# ' bash --norc -i
	rc=$?
fi
cd / && fusermount3 -u "$DEMO" 2>/dev/null
exit "$rc"
