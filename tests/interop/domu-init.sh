#!/bin/sh
# DomU /init (busybox): bring up the PV frontends, report what the kernel
# sees on the console (Dom0 reads it from xenconsoled's log), then wait for
# the toolstack's shutdown request.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
up() { cut -d' ' -f1 /proc/uptime; }
# xenbus "poweroff" runs /sbin/poweroff, which signals pid 1: that is us
trap 'echo "DOMU: poweroff requested at $(up)"; sync; poweroff -f' USR2 TERM INT
echo "DOMU: init at $(up)"
modprobe xen-blkfront
modprobe xen-netfront
modprobe ext4
for i in $(seq 1 100); do
	[ -b /dev/xvda ] && ip link show eth0 >/dev/null 2>&1 && break
	sleep 0.1
done
[ -b /dev/xvda ] && echo "DOMU-XVDA-OK"
ip link show eth0 >/dev/null 2>&1 && echo "DOMU-ETH0-OK"
mkdir -p /mnt
if mount -t ext4 -o ro /dev/xvda /mnt 2>/dev/null; then
	[ "$(cat /mnt/hello.txt)" = pvkit-interop-disk ] && echo "DOMU-DISK-READ-OK"
	umount /mnt
fi
ip link set lo up
ip link set eth0 up
ip addr add 10.99.0.2/24 dev eth0
ping -c 2 -W 3 10.99.0.1 >/dev/null 2>&1 && echo "DOMU-PING-OK"
echo "DOMU-READY at $(up)"
while :; do sleep 1; done
