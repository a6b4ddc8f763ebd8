#!/bin/sh
# Dom0 /init (busybox): devices, modules and xenfs; then the scenarios
# (bash) and QEMU's exit through isa-debug-exit.  No xenstored is started
# here: the scenarios choose which one runs.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin:/opt/pvkit
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# devtmpfs has no /dev/fd: Xen's locking.sh would spin without it
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm
mkdir -p /run/xen /run/xenstored /var/lock /var/log/xen/console
rm -rf /var/run
ln -s /run /var/run
echo "PVKIT-INTEROP DOM0-INIT uptime=$(cut -d' ' -f1 /proc/uptime)"
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback \
	xen-netback loop bridge ext4; do
	modprobe $m || echo "DOM0: modprobe $m failed"
done
mount -t xenfs xenfs /proc/xen
if grep -q interop=shell /proc/cmdline; then
	exec setsid cttyhack sh
fi
/bin/bash /interop/scenarios.sh
echo "PVKIT-INTEROP END rc=$?"
# QEMU exits with status 3 (isa-debug-exit, value 1); else power off
printf '\001' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
