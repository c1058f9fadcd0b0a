#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# mkinitramfs.sh: build what the guest boots, cached in $BUILD_DIR/vm/:
#
#   initramfs-<K>.cpio.gz  busybox-static, the virtio/9p modules of kernel <K>
#                          and tests/vm/init as /init
#   vmlinux-<K>            the kernel, uncompressed, for QEMU's PVH direct boot
#                          (saves seconds of XZ decompression under TCG)
#
# <K> is the newest /boot/vmlinuz-* that has a /lib/modules/<K> (Debian's
# linux-image-amd64; not `uname -r`, which is whatever the host runs), or
# $VM_KERNEL if set. Both files are rebuilt only when missing or older than
# their inputs. Progress goes to stderr; stdout gets one line, for runvm.sh:
#
#   KERNEL_VERSION KERNEL_IMAGE INITRAMFS
set -euo pipefail
export LC_ALL=C

: "${BUILD_DIR:?set BUILD_DIR to the meson build directory}"
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=$BUILD_DIR/vm
mkdir -p "$CACHE"

say() { echo "mkinitramfs: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- the guest kernel ----

K=${VM_KERNEL:-}
if [ -z "$K" ]; then
	for f in $(printf '%s\n' /boot/vmlinuz-* | sort -V -r); do
		v=${f#/boot/vmlinuz-}
		if [ -f "/lib/modules/$v/modules.dep" ]; then
			K=$v
			break
		fi
	done
fi
[ -n "$K" ] || die "no /boot/vmlinuz-* with modules in /lib/modules (install linux-image-amd64)"
VMLINUZ=/boot/vmlinuz-$K
MODDIR=/lib/modules/$K
[ -r "$VMLINUZ" ] && [ -f "$MODDIR/modules.dep" ] || die "kernel $K: $VMLINUZ or $MODDIR missing"

# ---- vmlinux: the XZ payload of the bzImage, decompressed ----

VMLINUX=$CACHE/vmlinux-$K
if [ ! -s "$VMLINUX" ] || [ "$VMLINUZ" -nt "$VMLINUX" ]; then
	say "extracting vmlinux from $VMLINUZ"
	off=$(grep -obUaP '\xfd7zXZ\x00' "$VMLINUZ" | head -n 1 | cut -d: -f1) || true
	tmp=$VMLINUX.tmp.$$
	# xz stops after the first stream (tail then dies of SIGPIPE: no pipe).
	if [ -n "$off" ] &&
		xz -dcq --single-stream <(tail -c +"$((off + 1))" "$VMLINUZ") >"$tmp" 2>/dev/null &&
		[ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
		mv "$tmp" "$VMLINUX"
	else
		# Not an XZ kernel: runvm.sh boots the bzImage instead (slower).
		rm -f "$tmp" "$VMLINUX"
		say "no XZ payload in $VMLINUZ; the guest will boot the compressed image"
	fi
fi
KERNEL_IMAGE=$VMLINUX
[ -s "$VMLINUX" ] || KERNEL_IMAGE=$VMLINUZ

# ---- initramfs ----

INITRD=$CACHE/initramfs-$K.cpio.gz
# Stage 1 needs these to mount the host's root over virtio-9p; the rest of the
# modules (nvdimm, fuse, ext4) load from the host root once it is mounted.
WANT_MODULES=(virtio_pci 9pnet_virtio 9p)

if [ -s "$INITRD" ] && [ "$INITRD" -nt "$HERE/init" ] &&
	[ "$INITRD" -nt "$HERE/mkinitramfs.sh" ] && [ "$INITRD" -nt "$MODDIR/modules.dep" ]; then
	echo "$K $KERNEL_IMAGE $INITRD"
	exit 0
fi

BUSYBOX=$(command -v busybox) || die "busybox is missing (install busybox-static)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked; install busybox-static"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmemfs-initramfs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK"/{bin,dev,proc,sys,newroot,lib/mod}
cp "$BUSYBOX" "$WORK/bin/busybox"
cp "$HERE/init" "$WORK/init"
chmod 0755 "$WORK/init"

# Copy a module and, first, everything it depends on (modules.dep), appending
# each to lib/mod/order in load order. Built-in modules need nothing.
declare -A SEEN=()
add_module() {
	local name=$1 rel deps dep file
	[ -z "${SEEN[$name]:-}" ] || return 0
	SEEN[$name]=1
	rel=$(grep -E "(^|/)$name\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" | head -n 1) || true
	if [ -z "$rel" ]; then
		grep -qE "(^|/)$name\.ko$" "$MODDIR/modules.builtin" 2>/dev/null && return 0
		die "module $name not found for $K"
	fi
	deps=${rel#*:}
	rel=${rel%%:*}
	for dep in $deps; do
		dep=${dep##*/}
		add_module "${dep%%.ko*}"
	done
	file=$name.ko
	case $rel in
	*.ko) cp "$MODDIR/$rel" "$WORK/lib/mod/$file" ;;
	*.ko.xz) xz -dc "$MODDIR/$rel" >"$WORK/lib/mod/$file" ;;
	*.ko.gz) gzip -dc "$MODDIR/$rel" >"$WORK/lib/mod/$file" ;;
	*.ko.zst) zstd -qdc "$MODDIR/$rel" >"$WORK/lib/mod/$file" ;;
	esac
	echo "$file" >>"$WORK/lib/mod/order"
}
: >"$WORK/lib/mod/order"
for m in "${WANT_MODULES[@]}"; do
	# modules.dep spells names with '_' or '-' as the source did.
	add_module "$m"
done

(cd "$WORK" && find . | cpio -o -H newc --quiet | gzip -1) >"$INITRD.tmp.$$"
mv "$INITRD.tmp.$$" "$INITRD"
say "built $INITRD for $K ($(du -h "$INITRD" | cut -f1); modules: $(tr '\n' ' ' <"$WORK/lib/mod/order"))"
echo "$K $KERNEL_IMAGE $INITRD"
