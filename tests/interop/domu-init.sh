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
if grep -q interop=blk /proc/cmdline; then
	# scenario 1: the disk is pvkit-blkback's; make a file system on it,
	# write, remount, verify
	ok=1
	timeout 60 mkfs.ext4 -q -F /dev/xvda || ok=0
	[ $ok = 1 ] && { timeout 30 mount -t ext4 /dev/xvda /mnt || ok=0; }
	if [ $ok = 1 ]; then
		dd if=/dev/urandom of=/mnt/big bs=1M count=8 2>/dev/null
		for i in 1 2 3 4 5 6 7 8; do
			dd if=/dev/urandom of=/mnt/small$i bs=4k count=$i 2>/dev/null
		done
		(cd /mnt && md5sum big small*) >/sums
		sync
		umount /mnt || ok=0
		echo 3 >/proc/sys/vm/drop_caches
		mount -t ext4 /dev/xvda /mnt || ok=0
		(cd /mnt && md5sum -c /sums >/dev/null) || ok=0
		umount /mnt || ok=0
	fi
	echo "DOMU-BLK-FEATURES max_segments=$(cat /sys/block/xvda/queue/max_segments) hw_queues=$(ls /sys/block/xvda/mq | wc -l) sectors=$(cat /sys/block/xvda/size)"
	[ $ok = 1 ] && echo "DOMU-BLK-OK"
	echo "DOMU-READY at $(up)"
	while :; do sleep 1; done
fi
ip link set lo up
ip link set eth0 up
ip addr add 10.99.0.2/24 dev eth0
ping -c 2 -W 3 10.99.0.1 >/dev/null 2>&1 && echo "DOMU-PING-OK"
echo "DOMU-READY at $(up)"
while :; do sleep 1; done
