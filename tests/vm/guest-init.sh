#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Stage 2, PID 1 of the guest, running from the host's root (read-only 9p).
# Loads the nvdimm, dax and fuse modules, runs the guest script $vmscript with
# BUILD_DIR in its environment, keeps its output in $vmout/log, its ok/not ok
# lines and summary in $vmout/results and its exit status in $vmout/rc, then
# leaves QEMU through isa-debug-exit (status (rc << 1) | 1) or, failing
# that, powers off. A missing rc file tells the host the guest never finished.
# With vminteractive=1 (runvm.sh INTERACTIVE=1) the script gets the serial
# console as its controlling terminal instead (stdin too, no log), with the
# host terminal's TERM and size (vmterm, vmrows, vmcols).

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LC_ALL=C TMPDIR=/tmp
export BUILD_DIR vmout vmscript vmprofile

uptime() { cut -d' ' -f1 /proc/uptime; }

mkdir -p /dev/pts /dev/shm
# devtmpfs lacks these links; <(...) process substitution needs /dev/fd.
ln -sfn /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
hostname pmemfs-vm
echo "stage2: up at $(uptime)s"

# Every profile loads the same set: nfit finds emulated NVDIMMs, nd_e820 the
# memmap= ranges; the rest are namespaces (pmem, btt, devdax) and FUSE.
# modprobe's stderr carries harmless noise from Debian's libnvdimm hook
# (ndctl load-keys: no TPM, no master key).
modprobe -a nfit nd_e820 nd_pmem nd_btt dax_pmem device_dax fuse ext4 2>/dev/null ||
	echo "stage2: modprobe failed"
echo "stage2: modules loaded at $(uptime)s"

rc=255
if [ -z "${vmout:-}" ] || ! mkdir -p "$vmout"; then
	echo "stage2: no writable vmout ('${vmout:-}')"
elif [ -z "${vmscript:-}" ] || [ ! -f "$vmscript" ]; then
	echo "stage2: no guest script ('${vmscript:-}')"
	rc=127
else
	echo "stage2: running $vmscript"
	if [ "${vminteractive:-0}" = 1 ]; then
		# Its own session with the console as controlling terminal (-c),
		# so that job control and ^C work in an interactive shell.
		export TERM=${vmterm:-vt100}
		[ -n "${vmrows:-}" ] && stty -F /dev/ttyS0 rows "$vmrows" cols "${vmcols:-80}"
		setsid -c -w bash "$vmscript" </dev/ttyS0 >/dev/ttyS0 2>&1
		rc=$?
	else
		# The script's own session; no stdin. Its output goes to the console too.
		setsid -w bash "$vmscript" </dev/null 2>&1 | tee "$vmout/log"
		rc=${PIPESTATUS[0]}
		grep -E '^(ok|not ok) [0-9]+ |^[0-9]+ passed, [0-9]+ failed' "$vmout/log" >"$vmout/results"
	fi
fi
[ -n "${vmout:-}" ] && echo "$rc" >"$vmout/rc"
echo "stage2: script exited with $rc at $(uptime)s"
sync

printf "\\x$(printf %02x $((rc & 0x7f)))" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
echo o >/proc/sysrq-trigger
sleep 10
