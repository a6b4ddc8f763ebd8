#!/usr/bin/env bash
# mkimages.sh - build the boot images for the interop harness from the
# host's installed packages (no network, no debootstrap):
#   OUT/xen               the hypervisor (multiboot ELF, QEMU -kernel)
#   OUT/vmlinuz           Debian's kernel, for Dom0 and the DomU
#   OUT/dom0-initrd.gz    busybox + bash + Xen's tools + pvkit's binaries
#   OUT/domu-initrd.gz    busybox + the PV frontend modules (+ pvkit's
#                         frontends when built)
# Usage: mkimages.sh BUILD_DIR OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
out=$2
kver=${KVER:-$(ls /lib/modules | sort -V | tail -1)}
xbin=/usr/lib/xen-4.17/bin

rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)

# copy_bins ROOT FILE...: each file at the same path, plus its libraries
copy_bins() {
	local root=$1 f lib
	shift
	for f in "$@"; do
		mkdir -p "$root$(dirname "$f")"
		rm -f "$root$f" # never write through a busybox symlink
		cp -L "$f" "$root$f"
		for lib in $(ldd "$f" 2>/dev/null | grep -oE '/[^ ]+'); do
			[ -e "$root$lib" ] && continue
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
	done
}

# copy_modules ROOT MODULE...: modules with their dependencies, indexed
copy_modules() {
	local root=$1 m f
	shift
	for m in "$@"; do
		for f in $(modprobe -S "$kver" --show-depends "$m" |
			awk '$1 == "insmod" { print $2 }'); do
			mkdir -p "$root$(dirname "$f")"
			cp "$f" "$root$f"
		done
	done
	cp /lib/modules/"$kver"/modules.{order,builtin,builtin.modinfo} \
		"$root/lib/modules/$kver/" 2>/dev/null || true
	depmod -b "$root" "$kver"
}

base_root() {
	local root=$1 a
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,etc} \
		"$root"/{root,mnt,var/log,var/lib,lib/x86_64-linux-gnu,lib64}
	cp /bin/busybox "$root/bin/busybox"
	for a in $(/bin/busybox --list-full); do
		[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
	echo "root:x:0:" >"$root/etc/group"
}

pack() { # pack ROOT FILE
	(cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) >"$2"
}

# pvkit's executables (not the tests'), wherever meson put them
mapfile -t pvkit_bins < <(find "$build/src" -type f -perm -u+x \
	-name 'pvkit*' ! -path '*.p/*' | sort)
[ ${#pvkit_bins[@]} -gt 0 ] || { echo "no pvkit binaries in $build" >&2; exit 1; }

# ---- DomU ----
du=$out/domu-root
base_root "$du"
# (xen-evtchn, xen-gntalloc, xenfs: pvkit-blkfront's /dev/xen devices)
copy_modules "$du" xen-blkfront xen-netfront ext4 xen-evtchn xen-gntalloc xenfs tun
mkdir -p "$du/opt/pvkit"
for b in "${pvkit_bins[@]}"; do
	case ${b##*/} in
	pvkit-blkfront* | pvkit-netfront*) copy_bins "$du" "$b" && ln -sf "$b" "$du/opt/pvkit/" ;;
	esac
done
# scenario 2's memory check (tests/interop/memstress.c): blkfront's
# memory pattern without blkif, run before pvkit-blkfront
gcc -O2 -Wall -Wextra -Werror -pthread "$here/memstress.c" \
	-o "$du/opt/pvkit/memstress" -lxengnttab
copy_bins "$du" "$(ldd "$du/opt/pvkit/memstress" | grep -o '/[^ ]*libxengnttab[^ ]*')"
copy_bins "$du" /usr/bin/iperf3 # scenario 5: TCP through pvkit-netback
copy_bins "$du" /usr/sbin/mke2fs \
	/lib/x86_64-linux-gnu/libgcc_s.so.1 # pvkit-blkfront's crash backtrace
ln -sf /usr/sbin/mke2fs "$du/sbin/mkfs.ext4"
cp /etc/mke2fs.conf "$du/etc/"
install -m 755 "$here/domu-init.sh" "$du/init"
pack "$du" "$out/domu-initrd.gz"

# the DomU's disk: ext4 with one known file, made without mounting
mkdir -p "$out/disk-src"
echo "pvkit-interop-disk" >"$out/disk-src/hello.txt"
mke2fs -q -t ext4 -L interop -d "$out/disk-src" "$out/domu-disk.img" 16M

# ---- Dom0 ----
d0=$out/dom0-root
base_root "$d0"
copy_bins "$d0" \
	$xbin/xl $xbin/xenstored $xbin/xenconsoled $xbin/xen-init-dom0 \
	$xbin/libxl-save-helper $xbin/test-xenstore $xbin/xenstore-control \
	/usr/bin/xenstore /usr/bin/bash /usr/sbin/ip /usr/sbin/losetup \
	/usr/bin/flock /usr/bin/stat /usr/bin/kmod /usr/bin/iperf3 \
	/lib/x86_64-linux-gnu/libgcc_s.so.1 # xl aborts at exit without it
copy_bins "$d0" "${pvkit_bins[@]}"
mkdir -p "$d0/opt/pvkit"
for b in "${pvkit_bins[@]}"; do ln -sf "$b" "$d0/opt/pvkit/"; done
cp "$du/opt/pvkit/memstress" "$d0/opt/pvkit/memstress" # (soak: Dom0's control)
# Xen's hotplug scripts want the real tools, not busybox's applets
for t in ip losetup flock stat; do
	for d in /bin /sbin /usr/bin /usr/sbin; do
		if [ -L "$d0$d/$t" ]; then rm -f "$d0$d/$t"; fi
	done
done
ln -sf /usr/sbin/ip "$d0/sbin/ip"
ln -sf /usr/bin/bash "$d0/bin/bash"
for t in ls read write list rm exists watch chmod; do
	ln -sf xenstore "$d0/usr/bin/xenstore-$t"
done
ln -sf $xbin/xl "$d0/usr/sbin/xl"
for m in modprobe insmod rmmod lsmod depmod modinfo; do
	rm -f "$d0"/{bin,sbin,usr/bin,usr/sbin}/$m
	ln -sf /usr/bin/kmod "$d0/sbin/$m"
done
mkdir -p "$d0"/etc/xen "$d0"/var/lib/xen "$d0"/var/lib/xenstored \
	"$d0"/var/log/xen/console "$d0"/usr/lib/xen-4.17
cp -a /etc/xen/. "$d0/etc/xen/"
copy_modules "$d0" xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd \
	xen-blkback xen-netback loop bridge ext4 tun
mkdir -p "$d0/interop"
cp /boot/vmlinuz-"$kver" "$d0/interop/vmlinuz"
cp "$out/domu-initrd.gz" "$d0/interop/domu-initrd.gz"
cp "$out/domu-disk.img" "$d0/interop/disk.img"
cp "$here/domu.cfg" "$d0/interop/domu.cfg"
install -m 755 "$here/dom0-init.sh" "$d0/init"
install -m 755 "$here/dom0-scenarios.sh" "$d0/interop/scenarios.sh"
# the DomU for scenario 1: a disk served by pvkit-blkback, no vif; two
# vCPUs, and xen-blkfront asking for two queues of four ring pages each
sed -e 's/^name .*/name    = "interop-blk"/' \
	-e 's/^vcpus .*/vcpus   = 2/' \
	-e 's/loglevel=4"/loglevel=4 interop=blk blkfront_opts=max_queues=2,max_ring_page_order=2"/' \
	-e "s|^disk .*|disk    = [ 'format=raw,vdev=xvda,access=rw,script=/interop/hotplug-none,target=/interop/blk.img' ]|" \
	-e '/^vif /d' "$here/domu.cfg" >"$d0/interop/domu-blk.cfg"
# the DomU for scenario 2: pvkit-blkfront in its userspace with a queue
# thread on each of two vCPUs, xvda served by Dom0's kernel blkback from a
# loop device, no vif
sed -e 's/^name .*/name    = "interop-bf"/' \
	-e 's/^vcpus .*/vcpus   = 2/' \
	-e 's/loglevel=4"/loglevel=4 interop=blkfront"/' \
	-e "s|^disk .*|disk    = [ 'format=raw,vdev=xvda,access=rw,target=/interop/bf.img' ]|" \
	-e '/^vif /d' "$here/domu.cfg" >"$d0/interop/domu-bf.cfg"
# the DomU for scenario 5: Linux xen-netfront on pvkit-netback (which makes
# the vif's TAP; Xen's own vif-bridge, run by libxl, joins it to xenbr0),
# two vCPUs so that Linux asks for two queues, no disk
sed -e 's/^name .*/name    = "interop-net"/' \
	-e 's/^vcpus .*/vcpus   = 2/' \
	-e 's/loglevel=4"/loglevel=4 interop=netback"/' \
	-e '/^disk /d' \
	-e "s|^vif .*|vif     = [ 'mac=00:16:3e:00:00:05,bridge=xenbr0' ]|" \
	"$here/domu.cfg" >"$d0/interop/domu-net.cfg"
# the DomU for scenario 6: pvkit-netfront in its userspace (two queues on
# two vCPUs) on Dom0's kernel netback, with Xen's own vif-bridge; no disk
sed -e 's/^name .*/name    = "interop-nf"/' \
	-e 's/^vcpus .*/vcpus   = 2/' \
	-e 's/loglevel=4"/loglevel=4 interop=netfront"/' \
	-e '/^disk /d' \
	-e "s|^vif .*|vif     = [ 'mac=00:16:3e:00:00:06,bridge=xenbr0' ]|" \
	"$here/domu.cfg" >"$d0/interop/domu-nf.cfg"
# its hotplug script: pvkit-blkback opens params itself, no loop device
printf '#!/bin/sh\n[ "$1" = add ] && xenstore-write "$XENBUS_PATH/hotplug-status" connected\nexit 0\n' >"$d0/interop/hotplug-none"
chmod 755 "$d0/interop/hotplug-none"
pack "$d0" "$out/dom0-initrd.gz"

zcat /boot/xen-4.17-amd64.gz >"$out/xen"
cp /boot/vmlinuz-"$kver" "$out/vmlinuz"
rm -rf "$du" "$d0" "$out/disk-src"
printf 'images: %s (pvkit binaries: %s)\n' "$(du -sh "$out" | cut -f1)" \
	"$(printf '%s ' "${pvkit_bins[@]##*/}")"
