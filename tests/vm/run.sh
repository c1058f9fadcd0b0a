#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run.sh SCRIPT [PROFILE]: run a guest script (tests/vm/guest/*.sh, or any
# script under a path the guest can see) in a fresh VM booted with a profile:
#
#   nvdimm  (default) one labelled DIMM (1 GiB + 128 KiB label area) and one
#           label-less DIMM (1 GiB), fresh backing files
#   memmap  no DIMMs; memmap=256M!1G makes 256 MiB of RAM at 1 GiB a legacy
#           pmem region (nd_e820), with 2 GiB of RAM so that range is RAM
#   plain   no DIMMs, no memmap=: pmemfs on an image file in the guest's tmpfs
#           (for what needs a kernel of its own but no pmem, e.g. nfsd)
#
# BUILD_DIR must name the meson build dir; the rest of runvm.sh's environment
# (TIMEOUT, KEEP_IMAGES, VM_VERBOSE, ...) passes through. Exit status: the
# guest script's.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 SCRIPT [nvdimm|memmap|plain]" >&2; exit 2; }
SCRIPT=$1
PROFILE=${2:-nvdimm}

case $PROFILE in
nvdimm)
	export NVDIMMS="1073872896:128K 1G:0" MEM=1G APPEND_EXTRA=
	;;
memmap)
	export NVDIMMS="" MEM=2G APPEND_EXTRA='memmap=256M!1G'
	;;
plain)
	export NVDIMMS="" MEM=1G APPEND_EXTRA=
	;;
*)
	echo "run.sh: unknown profile '$PROFILE' (nvdimm, memmap, plain)" >&2
	exit 2
	;;
esac
export PROFILE
exec "$HERE/runvm.sh" "$SCRIPT"
