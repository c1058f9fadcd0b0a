#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# runvm.sh GUEST_SCRIPT [QEMU_ARGS...]: boot Debian's kernel in QEMU (TCG)
# with emulated NVDIMMs, run GUEST_SCRIPT inside as root and return its exit
# status. The guest sees the host's root read-only at the same paths (so
# $BUILD_DIR and the source tree are where they are here) and has one
# writable share, $BUILD_DIR/vm, at its host path too.
#
# Environment:
#   BUILD_DIR     the meson build dir (required); guest scripts get it too
#   NAME          run name (default: the script's basename); the run's files
#                 are in $BUILD_DIR/vm/run-$NAME/:
#                   console.log  the serial console (kernel + stage 2 + script)
#                   out/         rc, log, results written by the guest
#                   img/         nvN.img, the DIMMs' backing files
#   NVDIMMS       DIMMs as "SIZE:LABEL_SIZE ...", LABEL_SIZE 0 = no label area
#                 (default "1073872896:128K 1G:0": one labelled DIMM of 1 GiB
#                 plus its 128 KiB label area, one label-less DIMM of 1 GiB)
#   KEEP_IMAGES=1 reuse the backing files of the last run (default: fresh)
#   MEM           guest RAM (default 1G); SMP vCPUs (default 2)
#   APPEND_EXTRA  more kernel arguments (memmap=256M!1G, ...)
#   PROFILE       boot profile name, passed to the guest as vmprofile
#   TIMEOUT       seconds before the host kills QEMU (default 300)
#   ACCEL, CPU    default tcg and max; ACCEL=kvm CPU=host where KVM is real
#   VM_VERBOSE=1  show the console while the guest runs
#   INTERACTIVE=1 the serial console is this terminal (-serial mon:stdio;
#                 Ctrl-A X quits QEMU) and the guest script runs with it as
#                 its controlling terminal, so it can end in `bash -i`
#                 (tools/pmemfs-vm). No console.log, no timeout unless
#                 TIMEOUT is set. The terminal's TERM and size go along.
#   ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS, PMEM_IS_PMEM_FORCE: passed on
#                 to the guest script when set
#
# Exit status: the guest script's, or 1 if the guest did not finish (the
# console log is printed then, and whenever the script fails).
set -uo pipefail
export LC_ALL=C

: "${BUILD_DIR:?set BUILD_DIR to the meson build directory}"
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 GUEST_SCRIPT [QEMU_ARGS...]" >&2; exit 2; }
SCRIPT=$(realpath "$1") || exit 1
shift
BUILD_DIR=$(realpath "$BUILD_DIR") || exit 1
[ -f "$SCRIPT" ] || { echo "runvm: no such script: $SCRIPT" >&2; exit 2; }
# Paths travel on the kernel command line, which splits at spaces.
case "$BUILD_DIR$SCRIPT" in
*[[:space:]]*) echo "runvm: paths with spaces are not supported" >&2; exit 2 ;;
esac
# The guest mounts fresh tmpfs on /tmp, /run, /mnt and /var/tmp, hiding what
# the host has there. A checkout or script under them (a CI clone in /tmp)
# comes along as an extra read-only share, mounted at the same path.
hidden() {
	case $1 in
	/tmp/* | /run/* | /mnt/* | /var/tmp/*) return 0 ;;
	*) return 1 ;;
	esac
}
EXTRA=()
for p in "$(realpath "$HERE/../..")" "$BUILD_DIR" "$(dirname "$SCRIPT")"; do
	hidden "$p" || continue
	covered=0
	for e in "${EXTRA[@]}"; do
		case $p/ in "$e"/*) covered=1 ;; esac
	done
	[ "$covered" = 1 ] || EXTRA+=("$p")
done

NAME=${NAME:-$(basename "$SCRIPT" .sh)}
NVDIMMS=${NVDIMMS-1073872896:128K 1G:0}
MEM=${MEM:-1G}
SMP=${SMP:-2}
INTERACTIVE=${INTERACTIVE:-0}
if [ "$INTERACTIVE" = 1 ]; then
	TIMEOUT=${TIMEOUT:-0}
	[ -t 0 ] && [ -t 1 ] || { echo "runvm: INTERACTIVE=1 needs a terminal" >&2; exit 2; }
fi
TIMEOUT=${TIMEOUT:-300}
SHARE=$BUILD_DIR/vm
RUN=$SHARE/run-$NAME
OUT=$RUN/out
IMGDIR=$RUN/img
CONSOLE=$RUN/console.log

command -v qemu-system-x86_64 >/dev/null ||
	{ echo "runvm: qemu-system-x86_64 is missing (install qemu-system-x86)" >&2; exit 1; }
read -r KVER KERNEL INITRD < <("$HERE/mkinitramfs.sh") && [ -n "${INITRD:-}" ] ||
	{ echo "runvm: mkinitramfs.sh failed" >&2; exit 1; }

rm -rf "$OUT" "$CONSOLE"
mkdir -p "$OUT" "$IMGDIR"
[ "${KEEP_IMAGES:-0}" = 1 ] || rm -f "$IMGDIR"/nv*.img

# One memory-backend-file + nvdimm device per DIMM; sparse backing files.
dimm_args=()
i=0
for d in $NVDIMMS; do
	size=${d%%:*}
	label=${d#*:}
	img=$IMGDIR/nv$i.img
	[ -f "$img" ] || truncate -s "$size" "$img" || exit 1
	dimm_args+=(-object "memory-backend-file,id=mem$i,share=on,mem-path=$img,size=$size")
	if [ "$label" = 0 ]; then
		dimm_args+=(-device "nvdimm,id=nvdimm$i,memdev=mem$i")
	else
		dimm_args+=(-device "nvdimm,id=nvdimm$i,memdev=mem$i,label-size=$label")
	fi
	i=$((i + 1))
done
machine=pc,accel=${ACCEL:-tcg}
[ "$i" -gt 0 ] && machine=$machine,nvdimm=on

# quiet + lpj= (no delay-loop calibration) shave seconds off a TCG boot.
append="console=ttyS0 panic=-1 quiet loglevel=4 lpj=10000000"
append+=" vmshare=$SHARE vminit=$HERE/guest-init.sh vmout=$OUT vmscript=$SCRIPT"
append+=" vmprofile=${PROFILE:-none} BUILD_DIR=$BUILD_DIR ${APPEND_EXTRA:-}"
extra_args=()
for i in "${!EXTRA[@]}"; do
	append+=" vmextra$i=${EXTRA[$i]}"
	extra_args+=(-virtfs "local,path=${EXTRA[$i]},mount_tag=extra$i,security_model=none,readonly=on,multidevs=remap")
done
# The sanitizers' and libpmem's settings reach the guest script the same way.
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS PMEM_IS_PMEM_FORCE; do
	val=${!v:-}
	[ -n "$val" ] && [[ $val != *[[:space:]]* ]] && append+=" $v=$val"
done
serial=stdio
if [ "$INTERACTIVE" = 1 ]; then
	# guest-init.sh gives the script the console as its terminal
	serial=mon:stdio
	append+=" vminteractive=1"
	[[ ${TERM:-} =~ ^[A-Za-z0-9._+-]+$ ]] && append+=" vmterm=$TERM"
	if read -r rows cols < <(stty size 2>/dev/null) && [ "${rows:-0}" -gt 0 ]; then
		append+=" vmrows=$rows vmcols=$cols"
	fi
fi

# shellcheck disable=SC2054 # commas separate QEMU sub-options
qemu=(
	qemu-system-x86_64
	-machine "$machine" -cpu "${CPU:-max}" -smp "$SMP"
	# maxmem covers RAM plus every DIMM.
	-m "$MEM,slots=4,maxmem=32G"
	"${dimm_args[@]}"
	-kernel "$KERNEL" -initrd "$INITRD" -append "$append"
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
	-virtfs "local,path=$SHARE,mount_tag=vmshare,security_model=none,multidevs=remap"
	"${extra_args[@]}"
	-device isa-debug-exit,iobase=0xf4,iosize=4
	-nodefaults -no-reboot -display none -vga none -monitor none
	-serial "$serial"
	"$@"
)

echo "runvm: $NAME: kernel $KVER, DIMMs '${NVDIMMS}', mem $MEM, append '${APPEND_EXTRA:-}'"
start=$SECONDS
if [ "$INTERACTIVE" = 1 ]; then
	# QEMU puts the terminal in raw mode and back; stdin stays ours.
	if [ "$TIMEOUT" -gt 0 ]; then
		timeout --foreground -k 5 "$TIMEOUT" "${qemu[@]}"
	else
		"${qemu[@]}"
	fi
	qrc=$?
	rc=$(cat "$OUT/rc" 2>/dev/null)
	[[ $rc =~ ^[0-9]+$ ]] || rc=1
	echo "runvm: $NAME: guest exited with $rc after $((SECONDS - start))s (qemu exit $qrc)"
	exit "$rc"
elif [ "${VM_VERBOSE:-0}" = 1 ]; then
	timeout -k 5 "$TIMEOUT" "${qemu[@]}" </dev/null 2>&1 | tee "$CONSOLE"
	qrc=${PIPESTATUS[0]}
else
	timeout -k 5 "$TIMEOUT" "${qemu[@]}" </dev/null >"$CONSOLE" 2>&1
	qrc=$?
fi
elapsed=$((SECONDS - start))

rc=$(cat "$OUT/rc" 2>/dev/null)
[[ $rc =~ ^[0-9]+$ ]] || rc=
if [ -z "$rc" ]; then
	why="qemu exit $qrc"
	[ "$qrc" -eq 124 ] && why="timed out after ${TIMEOUT}s"
	echo "runvm: $NAME: the guest did not finish ($why)"
	echo "----- guest console ($CONSOLE) -----"
	cat "$CONSOLE"
	echo "----- end of guest console -----"
	exit 1
fi

if [ "$rc" -ne 0 ]; then
	echo "----- guest console ($CONSOLE) -----"
	cat "$CONSOLE"
	echo "----- end of guest console -----"
else
	cat "$OUT/log"
fi
echo "runvm: $NAME: guest script exited with $rc after ${elapsed}s (qemu exit $qrc)"
exit "$rc"
